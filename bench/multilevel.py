"""Multilevel against single-level search on graphs of a few thousand nodes, in the same run.

The default ``coarsen_min_nodes`` decides which graphs are searched over contracted in-trees
(:func:`pjpart.coarsen.contract_in_trees`) and refined on the graph.  This bench runs every cell
twice, each in a fresh process with the default preset otherwise: ``single`` with
``coarsen_min_nodes=0`` (never multilevel) and ``multi`` with ``coarsen_min_nodes=1`` (always), and
reports the ratio of the bottlenecks found (below 1: multilevel better) and both gaps against the
larger of the two bounds.

    python bench/multilevel.py [--graphs PATH_OR_NAME,...] [--ks 4,8,16] [--time-limit 10]

Graph files not in the zoo come from ``bench/heldout.py`` (built into ``/tmp/pjpart-heldout``).
Writes ``multilevel.{json,md}``; rows of the same graph, k and time limit are replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import child_json, machine_info  # noqa: E402

CELL = """
import json, sys, pjpart
g = pjpart.resolve_graph(sys.argv[1])
r = pjpart.partition(g, int(sys.argv[2]), time_limit=float(sys.argv[3]), coarsen_min_nodes=int(sys.argv[4]))
print(json.dumps({"n": g.n, "bottleneck": r.bottleneck, "bound": r.lower_bound, "method": r.method,
                  "seconds": r.seconds}))
"""
MODES = (("single", 0), ("multi", 1))


def cell(graph: str, k: int, time_limit: float) -> dict:
    """Both modes on one cell (``status`` failed with the error when either run fails)."""
    row = {"graph": os.path.basename(graph).split(".")[0], "k": k, "time_limit": time_limit}
    for mode, min_nodes in MODES:
        ok, out = child_json(CELL, graph, k, time_limit, min_nodes, timeout=10 * time_limit + 300)
        if not ok:
            return {**row, "status": "failed", "error": out}
        row["n"] = out.pop("n")
        row.update({f"{mode}_{key}": value for key, value in out.items()})
    bound = max(row["single_bound"], row["multi_bound"])
    row.update(status="ok", ratio=row["multi_bottleneck"] / row["single_bottleneck"],
               single_gap=row["single_bottleneck"] / bound - 1, multi_gap=row["multi_bottleneck"] / bound - 1)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| graph | n | k | s | single-level | multilevel | multi / single | gap single | gap multi | found by (multi) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['graph']} | | {r['k']} | {r['time_limit']:g} | failed: {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['graph']} | {r['n']} | {r['k']} | {r['time_limit']:g} | {r['single_bottleneck']:.6g} | "
                     f"{r['multi_bottleneck']:.6g} | {r['ratio']:.4f} | {r['single_gap']:.2%} | {r['multi_gap']:.2%} | "
                     f"{r['multi_method']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", default=",".join(f"/tmp/pjpart-heldout/{name}.json.gz" for name in (
        "nasnetmobile-op", "decoder-8l-16h-op", "inceptionresnetv2-op", "efficientnetv2s-op")))
    ap.add_argument("--ks", default="4,8,16")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    json_path = os.path.join(args.out, "multilevel.json")
    rows = json.load(open(json_path))["rows"] if os.path.exists(json_path) else []
    machine = machine_info()
    for graph in [x.strip() for x in args.graphs.split(",") if x.strip()]:
        for k in [int(x) for x in args.ks.split(",")]:
            row = {**cell(graph, k, args.time_limit), "commit": machine["commit"]}
            rows = [r for r in rows if (r["graph"], r["k"], r["time_limit"]) != (row["graph"], k, args.time_limit)]
            rows.append(row)
            print(json.dumps(row), flush=True)
            with open(json_path, "w") as f:
                json.dump({"machine": machine, "rows": rows}, f, indent=1)
    text = table(sorted(rows, key=lambda r: (r["time_limit"], r["graph"], r["k"])))
    with open(os.path.join(args.out, "multilevel.md"), "w") as f:
        f.write(f"# Multilevel vs single-level search\n\nMachine: `{json.dumps(machine)}`\n\n"
                f"Command: `python bench/multilevel.py` (each run a fresh process, default preset but "
                f"`coarsen_min_nodes`; per row: `commit` in multilevel.json)\n\n{text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
