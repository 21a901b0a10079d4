"""Time limits hold: ``pjpart partition ... --time-limit T`` in fresh processes, cold (no disk
cache: JAX imported and every kernel compiled inside the run) and warm (a disk cache filled by
an earlier run), own clock (the result's ``seconds``) and wall time from process start.

Writes ``bench/results/time_limits.{json,md}``.  The bound checked: own clock within
``T x 1.1 + 0.1`` s; wall within ``T`` + the interpreter's start-up (``python -m pjpart
--version``, measured in the same run) + 0.3 s.

    python bench/time_limits.py [--cells bert-base-op:16,inceptionv3:4] [--limits 1,2,5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402

CELLS = "bert-base-op:4,bert-base-op:16,nasnetmobile:16,inceptionv3:4,t5-base:16,bert-base:32"


def run(graph: str, k: int, limit: float, cache: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        cmd = [sys.executable, "-m", "pjpart", "partition", graph, "-k", str(k), "--time-limit", str(limit),
               "--quiet", "--json", out] + (["--compile-cache", cache] if cache else ["--no-compile-cache"])
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        r = json.load(open(out))
    return {"graph": graph, "k": k, "time_limit": limit, "cache": "warm" if cache else "cold", "wall": round(wall, 3),
            "own": r["seconds"], "method": r["method"], "evaluations": r["evaluations"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", default=CELLS)
    ap.add_argument("--limits", default="1,2,5")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pjpart", "--version"], capture_output=True, check=True)
    startup = time.perf_counter() - t
    rows = []
    for cell in args.cells.split(","):
        graph, k = cell.split(":")
        for limit in [float(x) for x in args.limits.split(",")]:
            rows.append(run(graph, int(k), limit, None))
            with tempfile.TemporaryDirectory() as cache:
                run(graph, int(k), max(limit, 10.0), cache)  # fills the cache
                rows.append(run(graph, int(k), limit, cache))
            for r in rows[-2:]:
                r["own_ok"] = r["own"] <= r["time_limit"] * 1.1 + 0.1
                r["wall_ok"] = r["wall"] <= r["time_limit"] + startup + 0.3
                print(json.dumps(r), flush=True)
    info = machine_info()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "time_limits.json"), "w") as fh:
        json.dump({"machine": info, "startup": startup, "rows": rows}, fh, indent=1)
    lines = [f"# Time limits ({info['date']}, {info['cpus']} CPUs, commit {info.get('commit')})", "",
             f"Interpreter start-up (`python -m pjpart --version`): {startup:.2f} s.", "",
             "| graph | k | T (s) | cache | own clock (s) | wall (s) | method | evaluations | own <= 1.1 T + 0.1 |"
             " wall <= T + start-up + 0.3 |", "|---|---:|---:|---|---:|---:|---|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['graph']} | {r['k']} | {r['time_limit']:g} | {r['cache']} | {r['own']:.2f} | "
                     f"{r['wall']:.2f} | {r['method']} | {r['evaluations']} | {'yes' if r['own_ok'] else 'NO'} | "
                     f"{'yes' if r['wall_ok'] else 'NO'} |")
    bad = [r for r in rows if not (r["own_ok"] and r["wall_ok"])]
    lines += ["", f"{len(rows) - len(bad)} of {len(rows)} runs within both bounds."]
    with open(os.path.join(args.out, "time_limits.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines[-1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
