"""The column DP (``pjpart.lattice_dp``) on large lattices: its time estimate against its run time.

``exact-dp`` and ``relaxed-dp`` start the DP only when its estimate fits the time they have; an
estimate far below the run time lets a DP eat a run's whole budget and return nothing (it did, on
MobileNetV3-Large at operator level, k = 4).  Per case: the relaxed graph of ``relaxed-dp``
(:func:`pjpart.reduce.drop_free_nodes`), its downsets ``D``, the (J, I) pairs the loop prices (from 64
windows drawn by length), the downsets its windows test (exactly), the estimate, and the measured seconds of
:func:`pjpart.lattice_dp.large_exact_partition` with the given upper bound, one case at a time.

    python bench/heldout.py --graphs mobilenetv3large-op,resnet50v2-op   # builds the graphs (Keras)
    python bench/column_dp.py [--cases GRAPH:K:UPPER,...] [--graph-dir /tmp/pjpart-heldout]

Writes ``column_dp.{json,md}`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402

#: graph, k, upper bound (a partition's cost from bench/results/heldout.json)
CASES = "mobilenetv3large-op:4:0.000165533,resnet50v2-op:4:inf,resnet50v2-op:8:inf"
MAX_DOWNSETS = 10 ** 6


def one(path: str, k: int, upper: float) -> dict:
    import numpy as np

    import pjpart
    from pjpart import lattice_dp as L
    from pjpart.bounds.methods import combinatorial_bound
    from pjpart.lattice import downsets
    from pjpart.reduce import drop_free_nodes

    g = pjpart.load_graph(path)
    cm = pjpart.cost_model_for(g)
    relaxed = drop_free_nodes(g, cm, k, MAX_DOWNSETS, combinatorial_bound(g, k, cm))
    if relaxed is None:
        return {"status": "no relaxation fits"}
    rg = relaxed[0]
    sets = downsets(rg, MAX_DOWNSETS)
    lat = L._Lattice(rg, sets)
    reach = upper * cm.fastest_speed * (1 + 1e-9)
    by_work = np.argsort(lat.work, kind="stable")
    stages = L._stage_ranges(lat.work, reach, k)
    pairs, candidates = L._loop_counts(lat, by_work, reach, stages)
    estimate = pairs * L.SECONDS_PER_PAIR + candidates * L.SECONDS_PER_CANDIDATE + len(sets) * L.SECONDS_PER_COLUMN
    t0 = time.perf_counter()
    out = L.large_exact_partition(rg, k, cm, MAX_DOWNSETS, upper=upper)
    seconds = time.perf_counter() - t0
    return {"status": "ok", "n": rg.n, "dropped": relaxed[1], "downsets": len(sets), "pairs": pairs,
            "candidates": candidates, "estimate": estimate, "seconds": seconds,
            "value": None if out is None else float(out[0])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=CASES)
    ap.add_argument("--graph-dir", default="/tmp/pjpart-heldout")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    rows = []
    for case in args.cases.split(","):
        name, k, upper = case.split(":")
        row = {"graph": name, "k": int(k), "upper": float(upper),
               **one(os.path.join(args.graph_dir, f"{name}.json.gz"), int(k), float(upper))}
        print(json.dumps(row), flush=True)
        rows.append(row)
    machine = machine_info()
    with open(os.path.join(args.out, "column_dp.json"), "w") as f:
        json.dump({"machine": machine, "rows": rows}, f, indent=1)
    lines = ["# The column DP: estimate and run time", "",
             f"Date: {machine.get('date')}. Command: `python bench/column_dp.py` (one case at a time, 2 cores).", "",
             "| graph | k | upper | nodes (dropped) | downsets | pairs (estimated) | window tests | estimate s | run s | value |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['graph']} | {r['k']} | {r['upper']:.6g} | {r['status']} | | | | | | |")
            continue
        lines.append(f"| {r['graph']} | {r['k']} | {r['upper']:.6g} | {r['n']} ({r['dropped']}) | {r['downsets']} | "
                     f"{r['pairs']:.3g} | {r['candidates']:.3g} | {r['estimate']:.1f} | {r['seconds']:.1f} | "
                     f"{r['value']:.9g} |")
    with open(os.path.join(args.out, "column_dp.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
