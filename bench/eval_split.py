"""Where an evaluation's time goes at large n: decoding keys to orders vs the banded tables
and the DP, per candidate, on DNN-like graphs (the kernel evaluator, ``slicing="kernel"``,
chunks of 32, exact up to the best seed order's cost, as a time-limited run builds it); the
host's exact float64 slicing of one order (:func:`pjpart.banded.slice_order_banded`) beside
it, and the evaluator slicing on the host (``slicing="host"``, its threads) on the same keys.

    python bench/eval_split.py [--sizes 1000,5000,10000,30000] [--k 16]

Writes ``bench/results/eval_split.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import best_seconds, machine_info  # noqa: E402


def main() -> int:
    import pjpart
    from pjpart.banded import slice_order_banded
    from pjpart.generators import dnn_like
    from pjpart.problem import Problem
    from pjpart.reference import decode_keys
    from pjpart.search.finish import seed_candidate
    from pjpart.search.seeds import seed_orders

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,5000,10000,30000")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    rows, rng, P = [], np.random.default_rng(0), 32
    for n in [int(x) for x in args.sizes.split(",")]:
        g = dnn_like(n, seed=3)
        start = seed_candidate(Problem.validated(g, args.k, None), seed_orders(g))
        ev = pjpart.Evaluator(g, args.k, upper_bound=start.value, chunk_size=P, slicing="kernel")
        on_host = pjpart.Evaluator(g, args.k, upper_bound=start.value, chunk_size=P // 2, slicing="host")
        keys = rng.random((P, n))
        t = time.perf_counter()
        ev.evaluate(keys)
        first = time.perf_counter() - t
        total = best_seconds(lambda: ev.evaluate(keys))
        decode = best_seconds(lambda: ev._decode_chunk(keys))  # the decode kernel alone, on the same chunk
        order = decode_keys(g, keys[0])
        host = best_seconds(lambda: slice_order_banded(g, order, args.k))
        on_host.evaluate(keys[:2])
        host_total = best_seconds(lambda: on_host.evaluate(keys), reps=2)
        rows.append({"n": n, "k": args.k, "candidates": P, "first_call_s": round(first, 2),
                     "host_evaluator_ms_per_candidate": 1e3 * host_total / P, "host_threads": on_host.threads,
                     "ms_per_candidate": 1e3 * total / P, "decode_ms_per_candidate": 1e3 * decode / P,
                     "decode_share": decode / total, "host_slice_ms": 1e3 * host, "bands": sorted(ev.bands_used)})
        print(json.dumps(rows[-1]), flush=True)
    info = machine_info()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "eval_split.json"), "w") as fh:
        json.dump({"machine": info, "rows": rows}, fh, indent=1)
    lines = [f"# Evaluation split ({info['date']}, {info['cpus']} CPUs, commit {info.get('commit')}): dnn_like, "
             f"k = {args.k}, chunks of {P}", "",
             "| n | first call (s) | ms / candidate | decode ms / candidate | decode share | tables + DP share | "
             "host float64 slicing of one order (ms) | host evaluator ms / candidate (threads) | host / kernel throughput | "
             "bands |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['first_call_s']} | {r['ms_per_candidate']:.2f} | "
                     f"{r['decode_ms_per_candidate']:.2f} | {100 * r['decode_share']:.0f}% | "
                     f"{100 * (1 - r['decode_share']):.0f}% | {r['host_slice_ms']:.1f} | "
                     f"{r['host_evaluator_ms_per_candidate']:.2f} ({r['host_threads']}) | "
                     f"{r['ms_per_candidate'] / r['host_evaluator_ms_per_candidate']:.2f}x | {r['bands']} |")
    with open(os.path.join(args.out, "eval_split.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
