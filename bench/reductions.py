"""The optimum-preserving reductions (pjpart.reduce.reduce_graph) and the relaxation for bounds
(drop_free_nodes) on every zoo graph: nodes and downsets before and after.

Downsets are counted up to 10^6 (">1e6" beyond).  The reductions depend on the cost model (a
node merges when its work is worth less than the bytes it saves); each graph's own, k = 8.
Writes bench/results/reductions.md.

    python bench/reductions.py [--k 8] [--limit 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def count(graph, limit: int) -> str:
    from pjpart.lattice import downsets

    sets = downsets(graph, limit)
    return f">{limit:.0e}".replace("+0", "") if sets is None else str(len(sets))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--limit", type=int, default=10 ** 6)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "reductions.md"))
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    import pjpart
    from common import machine_info
    from pjpart import zoo
    from pjpart.bounds import combinatorial_bound
    from pjpart.reduce import drop_free_nodes, reduce_graph

    rows = []
    for name in zoo.names(granularity=None):
        g = pjpart.resolve_graph(f"zoo:{name}")
        cm = pjpart.cost_model_for(g)
        t = time.perf_counter()
        r = reduce_graph(g, cm, args.k).graph
        seconds = time.perf_counter() - t
        relaxed = drop_free_nodes(r, cm, args.k, 100_000, combinatorial_bound(r, args.k, cm))
        rows.append((name, g.n, r.n, count(g, args.limit), count(r, args.limit),
                     "-" if relaxed is None else f"{relaxed[1]} dropped: {count(relaxed[0], args.limit)}", seconds))
        print(rows[-1], flush=True)
    info = machine_info()
    lines = ["# Reductions on the zoo", "",
             f"`python bench/reductions.py --k {args.k} --limit {args.limit}` ({info.get('date')}, commit "
             f"{info.get('commit')}, downsets counted up to the limit). "
             "Nodes and downsets of each zoo graph, of its reduction (`pjpart.reduce.reduce_graph`: the same "
             "optimum) and of the relaxation `drop_free_nodes` (a lower optimum, for bounds only; the "
             "`relaxed-dp` bound uses it where the reduced lattice has more than 10^5 downsets).", "",
             "| graph | n | n reduced | downsets | downsets reduced | relaxation (nodes dropped: downsets) | seconds |",
             "|---|---:|---:|---:|---:|---|---:|"]
    lines += [f"| {a} | {b} | {c} | {d} | {e} | {f} | {s:.3f} |" for a, b, c, d, e, f, s in rows]
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
