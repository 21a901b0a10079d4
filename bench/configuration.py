"""The configuration bound against bottleneck guessing on mixtures of experts.

The held-out cells with the largest gaps (``bench/heldout.py``: mixtures of experts, per-head
decoders at k = 8, 16) stall because the windowed LP of :mod:`pjpart.bounds.guess` splits the
parallel experts between stages for free.  This bench runs, with the same seconds each,
``lower_bound(methods=["guess"])`` and ``lower_bound(methods=["configuration"])``
(:mod:`pjpart.bounds.configuration`) against the search's best partition (``--search-seconds``), on

* the first expert layer of ``moe-2l-8e-op`` (``decoder_graph(layers=2, heads=8, width=512,
  ffn=1408, tokens=256, experts=8)``, nodes ``layers.0/mlp``: router, 8 experts, their sum; with
  the tensor they read as a source of no work) at ``c`` stages (``-c``, default 7);
* the whole graph ``moe-2l-8e-op`` (n = 499) at ``-k`` stages (default 16; the cover is counted
  group by group there).

    python bench/configuration.py [-c 7] [-k 16] [--seconds 60] [--out bench/results]

Writes ``configuration.{json,md}`` (per case: the partition, each method's bound, its share of
the partition, seconds, status; the configuration bound's guesses).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402


def moe_graph():
    """``(graph, cost model)``: ``moe-2l-8e-op`` as ``bench/heldout.py`` builds it."""
    import pjpart
    from pjpart.cost_model import cost_model_for
    from pjpart.data.make_zoo_jax import decoder_graph

    g = decoder_graph(layers=2, heads=8, width=512, ffn=1408, tokens=256, experts=8)
    g = pjpart.Graph.from_json(g.to_json(), name="moe-2l-8e-op")
    return g, cost_model_for(g)


def expert_layer(g):
    """The nodes of ``layers.0/mlp`` and a source of no work for each tensor they read."""
    import pjpart

    inside = [v for v, name in enumerate(g.ids) if "layers.0/mlp" in name]
    slot = {v: i for i, v in enumerate(inside)}
    outside = sorted({u for v in inside for u in g.predecessors(v).tolist() if u not in slot})
    for u in outside:
        slot[u] = len(slot)
    keep = inside + outside
    edges = [(slot[u], slot[v]) for u, v in g.edges.tolist() if u in slot and v in slot]
    work = np.concatenate([g.work[inside], np.zeros(len(outside))])
    params = np.concatenate([g.params[inside], np.zeros(len(outside))])
    return pjpart.Graph.from_arrays(work=work, params=params, sizeout=g.sizeout[keep], edges=edges,
                                    name="moe-2l-8e-op layers.0/mlp")


def case(graph, cm, k: int, seconds: float, search_seconds: float) -> dict:
    """The search's partition, then each bound method alone with ``seconds`` against it."""
    import pjpart

    found = pjpart.partition(graph, k, cm, time_limit=search_seconds, bound_methods="combinatorial").bottleneck
    row = {"graph": graph.name, "n": graph.n, "k": k, "found": found, "methods": {}}
    for method in ("guess", "configuration"):
        t0 = time.perf_counter()
        b = pjpart.lower_bound(graph, k, cm, methods=[method], time_limit=seconds, upper_bound=found)
        res = next(r for r in b.results if r.method == method)
        row["methods"][method] = {"bound": res.value, "share": res.value / found, "seconds": time.perf_counter() - t0,
                                  "status": res.status, "detail": res.detail}
        print(json.dumps({"graph": graph.name, "k": k, "method": method, **row["methods"][method]}, default=str),
              flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", type=int, default=7, help="stages for the expert layer")
    ap.add_argument("-k", type=int, default=16, help="stages for the whole graph")
    ap.add_argument("--seconds", type=float, default=60.0, help="per bound method and case")
    ap.add_argument("--search-seconds", type=float, default=30.0)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    g, cm = moe_graph()
    rows = [case(expert_layer(g), cm, args.c, args.seconds, args.search_seconds),
            case(g, cm, args.k, args.seconds, args.search_seconds)]
    result = {"machine": machine_info(), "seconds": args.seconds, "search_seconds": args.search_seconds, "cases": rows}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "configuration.json"), "w") as f:
        json.dump(result, f, indent=1, default=str)
    lines = ["# Configuration bound against bottleneck guessing (mixture of experts)", "",
             f"Machine and commit: `{json.dumps(machine_info())}`", "",
             f"Command: `python bench/configuration.py -c {args.c} -k {args.k} --seconds {args.seconds:g}` "
             f"(each method alone, {args.seconds:g} s, against the search's partition after "
             f"{args.search_seconds:g} s; gap = partition / bound - 1)", "",
             "| graph | n | stages | partition | method | bound | bound / partition | gap | s | status |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        for method, m in r["methods"].items():
            gap = r["found"] / m["bound"] - 1 if m["bound"] > 0 else float("inf")
            lines.append(f"| {r['graph']} | {r['n']} | {r['k']} | {r['found']:.6g} | {method} | {m['bound']:.6g} | "
                         f"{m['share']:.3f} | {100 * gap:.2f}% | {m['seconds']:.1f} | {m['status']} |")
    with open(os.path.join(args.out, "configuration.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
