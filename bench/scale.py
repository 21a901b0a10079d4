"""Scale: partition graphs of 10^4 to 10^5 nodes within a time limit, each run in a fresh
process (peak RSS), multilevel (``coarsen_min_nodes=1``: in-trees contracted, then intervals
of the best seed order) vs single-level search (``coarsen_min_nodes=0``) at equal time,
against the greedy and chain-balanced baselines.

Graphs: DNN-like (:func:`pjpart.generators.dnn_like`), operator-level decoders traced
with ``from_jax`` (:func:`pjpart.data.make_zoo_jax.decoder_graph`: the zoo's
``llama-32l-op``, and wider, deeper ones for 3 x 10^4 and 10^5 nodes), and the zoo's
multi-branch NASNet-Mobile stacked 40 and 130 times (:func:`pjpart.generators.stacked`),
where the order of the branches matters, built once into
``bench/results/scale_graphs/`` (git-ignored) and loaded by every run.

Writes ``bench/results/scale.{json,md,png}``.

    python bench/scale.py [--graphs dnn-10000,...] [--ks 16,64] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import child_json, machine_info  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
#: op-level decoders: (layers, heads, width, ffn); about layers * (32 + 17 heads) nodes
DECODERS = {"decoder-op-30k": (48, 36, 4608, 12288), "decoder-op-100k": (96, 60, 7680, 20480)}
#: stacks of the zoo's NASNet-Mobile (770 layers, many branches): copies in series
STACKS = {"nasnet-x40": ("nasnetmobile", 40), "nasnet-x130": ("nasnetmobile", 130)}
GRAPHS = ["dnn-10000", "dnn-30000", "dnn-100000", "llama-32l-op", "decoder-op-30k", "decoder-op-100k",
          *STACKS]

CHILD = r"""
import json, resource, sys, time
import pjpart
path, k, limit, mode = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
g = pjpart.load_graph(path)
t = time.perf_counter()
if mode in ("greedy", "chain-balanced"):
    r = pjpart.baseline(g, k, mode)
else:
    r = pjpart.partition(g, k, time_limit=limit, coarsen_min_nodes=0 if mode == "single-level" else 1)
wall = time.perf_counter() - t
# VmHWM: this process's own peak (ru_maxrss keeps the forking bench's size across exec);
# the bounds' worker processes, ended by now, count through RUSAGE_CHILDREN
with open("/proc/self/status") as fh:
    hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
rss = max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"n": g.n, "m": g.m, "k": k, "mode": mode, "wall": round(wall, 2), "seconds": round(r.seconds, 2),
                  "bottleneck": r.bottleneck, "bound": r.lower_bound, "bound_method": r.bound_method, "gap": r.gap,
                  "evaluations": r.evaluations, "method": r.method, "peak_rss_mb": rss // 1024}))
"""


def graph_file(name: str, directory: str) -> str:
    """The graph's file, built on first use."""
    import pjpart
    from pjpart import zoo

    path = os.path.join(directory, f"{name}.json.gz")
    if os.path.exists(path):
        return path
    os.makedirs(directory, exist_ok=True)
    if name.startswith("dnn-"):
        from pjpart.generators import dnn_like
        g = dnn_like(int(name.split("-")[1]), seed=3)
    elif name in DECODERS:
        from pjpart.data.make_zoo_jax import decoder_graph
        layers, heads, width, ffn = DECODERS[name]
        g = decoder_graph(layers, heads, width, ffn, tokens=512)
    elif name in STACKS:
        from pjpart.generators import stacked
        model, copies = STACKS[name]
        g = stacked(zoo.load(model), copies, name=name)
    else:
        g = zoo.load(name)
    pjpart.save_graph(g, path)
    return path


def plot(rows: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    for mode, marker in (("single-level", "o"), ("multilevel", "s")):
        for k in sorted({r["k"] for r in rows}):
            pts = sorted((r["n"], r["peak_rss_mb"], r["vs_greedy"]) for r in rows
                         if r["mode"] == mode and r["k"] == k and "error" not in r)
            if pts:
                ax0.plot([p[0] for p in pts], [p[1] for p in pts], marker, label=f"{mode} k={k}")
                ax1.plot([p[0] for p in pts], [p[2] for p in pts], marker, label=f"{mode} k={k}")
    ax0.set(xscale="log", yscale="log", xlabel="nodes", ylabel="peak RSS (MB)")
    ax1.set(xscale="log", xlabel="nodes", ylabel="bottleneck / greedy's")
    ax0.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--graphs", default=",".join(GRAPHS))
    ap.add_argument("--ks", default="16,64")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--modes", default="greedy,chain-balanced,single-level,multilevel")
    ap.add_argument("--merge", action="store_true",
                    help="replace these runs' rows in the existing scale.json, keep the others")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    info = machine_info()
    rows = []
    kept = []
    if args.merge:
        with open(os.path.join(args.out, "scale.json")) as fh:
            kept = json.load(fh)["rows"]
    for name in args.graphs.split(","):
        path = graph_file(name, os.path.join(args.out, "scale_graphs"))
        for k in [int(x) for x in args.ks.split(",")]:
            for mode in args.modes.split(","):
                ok, out = child_json(CHILD, path, k, args.time_limit, mode)
                if not ok:
                    rows.append({"graph": name, "k": k, "mode": mode, "error": out})
                else:
                    rows.append(dict(out, graph=name, commit=info.get("commit")))
                print(json.dumps(rows[-1]), flush=True)
    fresh = {(r["graph"], r["k"], r["mode"]) for r in rows}
    kept = [r for r in kept if (r["graph"], r["k"], r["mode"]) not in fresh]
    kept_commit = ", ".join(sorted({str(r.get("commit")) for r in kept}))  # each row's in scale.json
    rows = kept + rows
    order = {name: i for i, name in enumerate(GRAPHS)}
    modes = ["greedy", "chain-balanced", "single-level", "multilevel"]
    rows.sort(key=lambda r: (order.get(r["graph"], len(order)), r["k"], modes.index(r["mode"])))
    for r in rows:
        ref = {x["mode"]: x for x in rows if x["graph"] == r["graph"] and x["k"] == r["k"] and "error" not in x}
        if "error" not in r:
            r["vs_greedy"] = r["bottleneck"] / ref["greedy"]["bottleneck"]
            r["vs_chain_balanced"] = r["bottleneck"] / ref["chain-balanced"]["bottleneck"]
            if "single-level" in ref:
                r["vs_single_level"] = r["bottleneck"] / ref["single-level"]["bottleneck"]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "scale.json"), "w") as fh:
        json.dump({"machine": info, "time_limit": args.time_limit, "rows": rows}, fh, indent=1)
    plot(rows, os.path.join(args.out, "scale.png"))
    lines = [f"# Scale ({info['date']}, {info['cpus']} CPUs, commit {info.get('commit')}): time limit "
             f"{args.time_limit:g} s, each run a fresh process"
             + (f" (rows of {args.modes} on {args.graphs} rerun at this commit, the others kept from "
                f"{kept_commit})" if args.merge else ""), "",
             "| graph | n | k | method | wall (s) | evaluations | bottleneck | vs greedy | vs chain-balanced | "
             "vs single-level | gap (bound method) | peak RSS (MB) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['graph']} | | {r['k']} | {r['mode']} | - | - | {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['graph']} | {r['n']} | {r['k']} | {r['mode']} ({r['method']}) | {r['wall']:.2f} | "
                     f"{r['evaluations']} | {r['bottleneck']:.6g} | {r['vs_greedy']:.4f} | "
                     f"{r['vs_chain_balanced']:.4f} | {r.get('vs_single_level', float('nan')):.4f} | "
                     f"{100 * r['gap']:.2f}% ({r['bound_method']}) | {r['peak_rss_mb']} |")
    with open(os.path.join(args.out, "scale.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
