"""Stage packing on and off: the search's answer and the certified gap on wide multi-branch graphs.

The search starts from :mod:`pjpart.search.packing`'s partition on graphs that ``chain`` cannot cut,
with the time for ``PACK_MIN_GUESSES`` guesses.  This bench partitions each cell twice, in a fresh
process each, with the default preset: packing on, and off (``PACK_SHARE`` set to 0 in that
process); the two runs of a cell one after the other, never two at once.

    python bench/packing.py [--graphs nasnetlarge,nasnetmobile] [--ks 8,16,32] [--time-limit 60]
                            [--graph-dir DIR] [--out bench/results]

``nasnetlarge`` is built by ``bench/heldout.py`` (Keras) into ``--graph-dir`` when missing; other
names are zoo models.  Writes ``packing_{LIMIT}s.{json,md}`` (``packing_60s.md`` at the default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import child_json, machine_info  # noqa: E402

CELL = """
import json, sys, pjpart, pjpart.search.solver as solver
path, k, limit, mode = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
if mode == "off":
    solver.PACK_SHARE = 0.0
g = pjpart.load_graph(path) if path.endswith(".json.gz") else pjpart.resolve_graph(path)
r = pjpart.partition(g, k, time_limit=limit, quiet=True)
print(json.dumps(dict(n=g.n, bottleneck=r.bottleneck, bound=r.lower_bound, gap=r.gap, method=r.method,
                      bound_method=r.bound_method, evaluations=r.evaluations, seconds=r.seconds)))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", default="nasnetlarge,nasnetmobile")
    ap.add_argument("--ks", default="8,16,32")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--graph-dir", default="/tmp/pjpart-heldout")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    import heldout

    rows = []
    for name in args.graphs.split(","):
        path = name
        if name in heldout.KERAS:
            path = os.path.join(args.graph_dir, f"{name}.json.gz")
            if not os.path.exists(path):
                heldout.build(name, args.graph_dir)
        for k in map(int, args.ks.split(",")):
            for mode in ("on", "off"):
                ok, out = child_json(CELL, path, k, args.time_limit, mode)
                row = dict(graph=name, k=k, packing=mode, time_limit=args.time_limit,
                           **(out if ok else {"error": out}))
                rows.append(row)
                print(json.dumps(row), flush=True)
    name = f"packing_{args.time_limit:g}s"
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump({"machine": machine_info(), "rows": rows}, f, indent=1)
    lines = ["# Stage packing on and off", "", f"`python bench/packing.py --graphs {args.graphs} --ks {args.ks} "
             f"--time-limit {args.time_limit:g}` (default preset, one process per run, 2 cores).", "",
             "| graph | n | k | packing | found | bound | gap | method | bound by | evaluations |",
             "|---|---:|---:|---|---:|---:|---:|---|---|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['graph']} | | {r['k']} | {r['packing']} | error: {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['graph']} | {r['n']} | {r['k']} | {r['packing']} | {r['bottleneck']:.5g} | "
                     f"{r['bound']:.5g} | {r['gap']:.2%} | {r['method']} | {r['bound_method']} | {r['evaluations']} |")
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
