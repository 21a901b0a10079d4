"""Wall time of one evaluation-budgeted sweep on each backend (sequential, processes, dask).

The grid: zoo models x k x seeds with the ``fast`` preset, ``max_evaluations`` and no
time limit, bounds ``combinatorial`` (so every backend gives the same records, which the
script checks), and greedy as a baseline.  Each measurement runs in a fresh Python
process (JAX not started yet, like a worker), twice: without an on-disk kernel cache
(every worker compiles its own kernels) and with a fresh, empty one shared by the
sweep's workers (what ``pjpart zoo run`` does).  The Dask times include starting and
stopping the local cluster.  Writes ``bench/results/sweep_backends.md``.

    python bench/sweep_backends.py [--jobs 2] [--evals 4000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ("resnet50", "bert-base", "mobilenetv2", "gpt2-small")
KS = (4, 16)
SEEDS = (0, 1)


def one(backend: str, jobs: int, evals: int, cache: str | None) -> dict:
    """One sweep in this process: wall seconds, the sum of the cells' own, a hash of the records."""
    import pjpart
    from pjpart.sweep import MACHINE_FIELDS

    if cache:
        pjpart.enable_compilation_cache(cache)
    t = time.perf_counter()
    recs = pjpart.sweep(list(MODELS), ks=list(KS), methods=["fast", "greedy"], seeds=list(SEEDS),
                        overrides={"max_evaluations": evals, "bound_methods": "combinatorial"}, progress=False,
                        backend=backend, n_jobs=None if backend == "sequential" else jobs)
    wall = time.perf_counter() - t
    same = [{k: v for k, v in r.items() if k not in MACHINE_FIELDS} for r in recs]
    return {"wall": wall, "cells": len(recs), "own": sum(r["seconds"] for r in recs),
            "hash": hashlib.sha256(json.dumps(same, sort_keys=True, default=str).encode()).hexdigest()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--evals", type=int, default=4000)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "sweep_backends.md"))
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.jobs, args.evals, args.cache)))
        return
    sys.path.insert(0, HERE)
    from common import machine_info

    rows = []
    for cached in (False, True):
        for backend in ("sequential", "processes", "dask"):
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [sys.executable, __file__, "--one", backend, "--jobs", str(args.jobs), "--evals",
                       str(args.evals)] + (["--cache", tmp] if cached else [])
                load = os.getloadavg()[0]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                res = json.loads(out.strip().splitlines()[-1])
            rows.append((cached, backend, 1 if backend == "sequential" else args.jobs, res, load))
            print(f"cache={cached} {backend:<11} wall={res['wall']:.1f}s own={res['own']:.1f}s load={load:.1f}",
                  flush=True)
    info = machine_info()
    lines = ["# Sweep backends: wall time of one sweep", "",
             f"{len(MODELS)} zoo models ({', '.join(MODELS)}) x k {list(KS)} x seeds {list(SEEDS)} x "
             f"[fast, greedy] = {rows[0][3]['cells']} cells: fast with max_evaluations={args.evals}, no time "
             f"limit, bounds combinatorial.  Each sweep in a fresh process; the Dask time includes starting "
             f"and stopping a LocalCluster of {args.jobs} one-thread processes on 127.0.0.1.  Kernel cache: "
             f"none (every worker compiles), or a fresh one shared by the sweep's workers.", "",
             f"Machine: {info['cpus']} CPUs ({info['machine']}), Python {info['python']}, JAX {info['jax']}, "
             f"commit {info.get('commit')}, {info['date']}.  Load average (1 min) before each sweep in the "
             f"table: the machine was shared with other work.", "",
             "| kernel cache | backend | jobs | wall s | sum of cells' own s | wall vs sequential | load |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for cached, backend, jobs, res, load in rows:
        base = next(r[3]["wall"] for r in rows if r[0] == cached and r[1] == "sequential")
        lines.append(f"| {'shared' if cached else 'none'} | {backend} | {jobs} | {res['wall']:.1f} | "
                     f"{res['own']:.1f} | {res['wall'] / base:.2f} | {load:.1f} |")
    same = len({r[3]["hash"] for r in rows}) == 1
    lines += ["", f"Records identical across backends and cache settings (seconds and machine fields aside): "
                  f"{same}."]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
