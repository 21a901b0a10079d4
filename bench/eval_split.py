"""Where an evaluation's time goes at large n, and the slicing DP on work windows against the DP
on the band's stage windows, measured in the same run.

DNN-like graphs, the kernel evaluator as a time-limited search builds it (``slicing="kernel"``,
chunks of 32, exact up to the best seed order's cost) and the kernel the search calls, the
bottleneck pair (``D_k``, ``D_{k+1}``).  Per candidate on one thread: decoding keys to orders,
the banded table alone, and the DP (the rest); then the throughput on every core, with the DP
on work windows (:func:`pjpart.kernels.slice_windowed`, the default under a finite bound) and
on the band's stage windows (:func:`pjpart.kernels.slice_bottleneck_pair`, forced by turning
the choice off), and the host evaluator (``slicing="host"``, exact float64) on the same keys.
Both kernel variants must agree on every candidate within the bound.

    python bench/eval_split.py [--sizes 5000,10000,20000] [--ks 16,64]

Writes ``bench/results/eval_split.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from unittest import mock

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import best_seconds, machine_info  # noqa: E402

CHUNK, P = 32, 64  # two chunks: one per thread on 2 cores


def split_row(n: int, k: int, rng) -> dict:
    import jax
    import jax.numpy as jnp

    import pjpart
    from pjpart.generators import dnn_like
    from pjpart.kernels import segment_costs
    from pjpart.problem import Problem
    from pjpart.search.finish import seed_candidate
    from pjpart.search.seeds import seed_orders

    g = dnn_like(n, seed=3)
    start = seed_candidate(Problem.validated(g, k, None), seed_orders(g))
    keys = rng.random((P, n))
    row = {"n": n, "k": k, "candidates": P, "upper_over_balanced": start.value * k / float(np.sum(g.work))}
    values = {}
    for variant, cheaper in (("band", lambda *a: False), ("work", None)):
        with mock.patch("pjpart.kernel_inputs.window_cheaper", cheaper) if cheaper else nullcontext():
            one = pjpart.Evaluator(g, k, upper_bound=start.value, chunk_size=CHUNK, slicing="kernel", threads=1)
            t = time.perf_counter()
            values[variant] = one.evaluate_pairs(keys)
            row[f"{variant}_first_call_s"] = round(time.perf_counter() - t, 2)
            row[f"{variant}_one_thread_ms"] = 1e3 * best_seconds(lambda: one.evaluate_pairs(keys), reps=2) / P
            every = pjpart.Evaluator(g, k, upper_bound=start.value, chunk_size=CHUNK, slicing="kernel")
            every.evaluate_pairs(keys)
            row[f"{variant}_ms"] = 1e3 * best_seconds(lambda: every.evaluate_pairs(keys), reps=2) / P
    within = values["band"][:, 0] <= start.value
    assert np.allclose(values["work"][within], values["band"][within], rtol=1e-6), "the two DPs disagree"
    row["within_bound"] = int(within.sum())
    row["decode_ms"] = 1e3 * best_seconds(lambda: one._decode_chunk(keys[:CHUNK])) / CHUNK
    chunk, needed = one._decode_chunk(keys[:CHUNK])
    band = one._band(needed)
    tables = jax.jit(lambda orders: jax.lax.map(lambda o: jnp.min(segment_costs(one._arrays, one._cost, o, band)),
                                                 orders))
    tables(chunk).block_until_ready()
    row["table_ms"] = 1e3 * best_seconds(lambda: tables(chunk).block_until_ready(), reps=2) / CHUNK
    row["band"] = band
    for variant in ("band", "work"):
        row[f"{variant}_dp_ms"] = max(0.0, row[f"{variant}_one_thread_ms"] - row["decode_ms"] - row["table_ms"])
    on_host = pjpart.Evaluator(g, k, upper_bound=start.value, slicing="host")
    on_host.evaluate_pairs(keys[:2])
    row["host_ms"] = 1e3 * best_seconds(lambda: on_host.evaluate_pairs(keys), reps=1) / P
    row["threads"] = every.threads
    return row


def write_results(rows: list[dict], info: dict, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "eval_split.json"), "w") as fh:
        json.dump({"machine": info, "rows": rows}, fh, indent=1)
    lines = [f"# Evaluation split ({info['date']}, {info['cpus']} CPUs, commit {info.get('commit')}): dnn_like, "
             f"bottleneck pairs of {P} candidates in chunks of {CHUNK}, exact up to the best seed order's cost U", "",
             "ms per candidate.  One thread: decode, banded table, DP (the rest) with the DP on the band's stage "
             "windows (before) and on work windows (now).  Every core: the kernel evaluator both ways and the "
             "host's float64 slicing.", "",
             "| n | k | U / (W/k) | band | decode | table | DP before | DP now | one thread before | now | "
             "every core before | now | speed-up | host | host / now |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['k']} | {r['upper_over_balanced']:.4f} | {r['band']} | {r['decode_ms']:.2f} | "
                     f"{r['table_ms']:.2f} | {r['band_dp_ms']:.2f} | {r['work_dp_ms']:.2f} | "
                     f"{r['band_one_thread_ms']:.2f} | {r['work_one_thread_ms']:.2f} | {r['band_ms']:.2f} | "
                     f"{r['work_ms']:.2f} | {r['band_ms'] / r['work_ms']:.2f}x | {r['host_ms']:.2f} | "
                     f"{r['host_ms'] / r['work_ms']:.2f}x |")
    with open(os.path.join(out, "eval_split.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5000,10000,20000")
    ap.add_argument("--ks", default="16,64")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    rows, rng = [], np.random.default_rng(0)
    for n in [int(x) for x in args.sizes.split(",")]:
        for k in [int(x) for x in args.ks.split(",")]:
            rows.append(split_row(n, k, rng))
            print(json.dumps(rows[-1]), flush=True)
    write_results(rows, machine_info(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
