"""Scale: partition DNN-like graphs of 10^4 and more nodes within a time limit, each run in a
fresh process (peak RSS), multilevel (chains contracted: ``coarsen_min_nodes=2000``) vs
single-level search at equal time, against greedy and chain-balanced.

Writes ``bench/results/scale.{json,md}``.

    python bench/scale.py [--sizes 10000,30000] [--ks 16,64] [--time-limit 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import pjpart
from pjpart.generators import dnn_like
n, k, limit, mode = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
g = dnn_like(n, seed=3)
t = time.perf_counter()
if mode in ("greedy", "chain-balanced"):
    r = pjpart.baseline(g, k, mode)
else:
    r = pjpart.partition(g, k, time_limit=limit, coarsen_min_nodes=0 if mode == "single-level" else 2000)
wall = time.perf_counter() - t
print(json.dumps({"n": n, "m": g.m, "k": k, "mode": mode, "wall": round(wall, 2), "seconds": round(r.seconds, 2),
                  "bottleneck": r.bottleneck, "bound": r.lower_bound, "bound_method": r.bound_method, "gap": r.gap,
                  "evaluations": r.evaluations, "method": r.method,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,30000")
    ap.add_argument("--ks", default="16,64")
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        for k in [int(x) for x in args.ks.split(",")]:
            for mode in ("greedy", "chain-balanced", "single-level", "multilevel"):
                out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(k), str(args.time_limit), mode],
                                     capture_output=True, text=True)
                if out.returncode != 0:
                    rows.append({"n": n, "k": k, "mode": mode, "error": out.stderr.strip().splitlines()[-1]})
                else:
                    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps(rows[-1]), flush=True)
    info = machine_info()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "scale.json"), "w") as fh:
        json.dump({"machine": info, "time_limit": args.time_limit, "rows": rows}, fh, indent=1)
    lines = [f"# Scale ({info['date']}, {info['cpus']} CPUs, commit {info.get('commit')}): DNN-like graphs, "
             f"time limit {args.time_limit:g} s", "",
             "| n | k | method | wall (s) | evaluations | bottleneck | vs greedy | gap (bound method) | peak RSS (MB) |",
             "|---:|---:|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['n']} | {r['k']} | {r['mode']} | - | - | {r['error']} | | | |")
            continue
        greedy = next(x for x in rows if x["n"] == r["n"] and x["k"] == r["k"] and x["mode"] == "greedy")
        lines.append(f"| {r['n']} | {r['k']} | {r['mode']} ({r['method']}) | {r['wall']:.2f} | {r['evaluations']} | "
                     f"{r['bottleneck']:.6g} | {r['bottleneck'] / greedy['bottleneck']:.4f} | "
                     f"{100 * r['gap']:.2f}% ({r['bound_method']}) | {r['peak_rss_mb']} |")
    with open(os.path.join(args.out, "scale.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
