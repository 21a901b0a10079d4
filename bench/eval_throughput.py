"""Candidates per second: JAX kernels vs the NumPy reference vs a plain-Python DP, same run.

    python bench/eval_throughput.py [--grid small|full] [--out bench/results]

For each (n, k, P) of the grid, on a DNN-like DAG (``pjpart.generators.dnn_like``;
costs in us / KiB, bandwidth 1 KiB/us):

* ``kernel``: ``Evaluator.evaluate`` on P random keys (decode + banded tables + DP),
  after a first call that compiles (reported apart as ``compile_s``), fastest of 3
  runs; ``kernel_one_thread``: the same with ``threads=1`` (one chunk at a time);
* ``numpy_reference``: ``decode_keys`` + ``segment_cost_table`` + ``slice_order`` one
  candidate at a time (timed on a few candidates);
* ``python_dp``: the same table, sliced by a DP written in plain Python loops
  (timed on one candidate, skipped above n = 1000 where it takes minutes).

Writes ``eval_throughput.json`` (machine, versions, date, rows), ``.csv`` and, if
matplotlib is installed, ``eval_throughput.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import best_seconds, machine_info  # noqa: E402

GRIDS = {
    "full": [(200, 8, 1024), (500, 16, 1024), (1000, 16, 1024), (1000, 64, 1024), (3000, 16, 256)],
    "small": [(200, 8, 256), (500, 16, 256)],
}


def python_dp(table: list[list[float]], k: int) -> float:
    n = len(table) - 1
    inf = float("inf")
    prev = [0.0] + [inf] * n
    for _ in range(k):
        cur = [inf] * (n + 1)
        for j in range(n + 1):
            best = inf
            for i in range(j + 1):
                v = prev[i] if prev[i] > table[i][j] else table[i][j]
                if v < best:
                    best = v
            cur[j] = best
        prev = cur
    return prev[n]


def run_grid(grid, reps_ref: int = 3, python_max_n: int = 1000) -> list[dict]:
    import pjpart
    from pjpart.generators import dnn_like
    from pjpart.reference import decode_keys, segment_cost_table, slice_order

    rows = []
    for n, k, P in grid:
        g = dnn_like(n, seed=0)
        rng = np.random.default_rng(0)
        keys = rng.random((P, n))
        t0 = time.perf_counter()
        ev = pjpart.Evaluator(g, k)
        ev.evaluate(keys[: ev.chunk_size])
        compile_s = time.perf_counter() - t0
        kernel_s = best_seconds(lambda: ev.evaluate(keys))
        values = ev.evaluate(keys)
        one = pjpart.Evaluator(g, k, threads=1)  # the same kernels, one chunk at a time
        one.evaluate(keys[: one.chunk_size])
        one_thread_s = best_seconds(lambda: one.evaluate(keys))
        t0 = time.perf_counter()
        ref_values = []
        for row in keys[:reps_ref]:
            order = decode_keys(g, row)
            ref_values.append(slice_order(segment_cost_table(g, order), k)[0])
        ref_s = (time.perf_counter() - t0) / reps_ref
        agree = float(np.max(np.abs(values[:reps_ref] - ref_values) / np.maximum(1e-30, np.abs(ref_values))))
        py_rate = None
        if n <= python_max_n:
            table = segment_cost_table(g, decode_keys(g, keys[0])).tolist()
            t0 = time.perf_counter()
            python_dp(table, k)
            py_rate = 1.0 / (time.perf_counter() - t0)
        row = {"n": n, "m": g.m, "k": k, "P": P, "band": sorted(ev.bands_used), "chunk": ev.chunk_size,
               "threads": ev.threads, "compile_s": round(compile_s, 3), "kernel_per_s": P / kernel_s,
               "kernel_one_thread_per_s": P / one_thread_s, "numpy_reference_per_s": 1 / ref_s,
               "python_dp_per_s": py_rate, "kernel_over_numpy": (P / kernel_s) * ref_s,
               "max_rel_diff_vs_reference": agree}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", choices=sorted(GRIDS), default="full")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    ap.add_argument("--tag", default="cpu")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    info = machine_info()
    rows = run_grid(GRIDS[args.grid])
    base = os.path.join(args.out, f"eval_throughput_{args.tag}")
    with open(base + ".json", "w") as fh:
        json.dump({"info": info, "rows": rows}, fh, indent=1)
    with open(base + ".csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return 0
    labels = [f"n={r['n']}\nk={r['k']}" for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 4))
    for off, key, name in ((-0.25, "kernel_per_s", "JAX kernels"), (0, "numpy_reference_per_s", "NumPy reference"),
                           (0.25, "python_dp_per_s", "plain-Python DP")):
        ax.bar(x + off, [r[key] or 0 for r in rows], width=0.25, label=name)
    ax.set_yscale("log")
    ax.set_xticks(x, labels)
    ax.set_ylabel("candidates / s")
    ax.set_title(f"pjpart evaluation throughput ({info['backend']}, {info['cpus']} cpus, {info['date'][:10]})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
