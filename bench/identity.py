"""Identity check for refactors: fixed-seed, evaluation-budgeted runs (no time limit) whose
bottlenecks and assignments must not change when the code is only reorganised.

Runs the six ``bench/search_quality.py`` models at k = 4 and 16 with the default preset,
seed 0, ``max_evaluations`` and no time limit, bounds ``combinatorial,mincut`` (both
deterministic, so the stop and the local search see the same bound in every run), and
writes one JSON record per cell: bottleneck (``repr``), a SHA-256 of the assignment,
method, evaluations, stopped_by.  Compare two outputs with ``--compare A B``.

    python bench/identity.py --out before.json
    python bench/identity.py --out after.json
    python bench/identity.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time

MODELS = ("inceptionv3", "nasnetmobile", "inceptionresnetv2", "bert-base", "gpt2-small", "t5-base")
KS = (4, 16)


def _no_time_limit_kwargs() -> dict:
    """``partition`` keywords for 'no time limit'.  Code from before the ``time_limit=None``
    sentinel (where ``None`` meant the preset's 10 s) gets it by patching its preset loader."""
    import pjpart

    if hasattr(pjpart, "NOT_GIVEN"):
        return {"time_limit": None}
    from pjpart.search import driver

    original = driver.load_preset
    driver.load_preset = lambda name="default", **ov: dataclasses.replace(original(name, **ov), time_limit=None)
    return {}


def run(models, ks, evaluations: int) -> list[dict]:
    import pjpart

    extra = _no_time_limit_kwargs()
    records = []
    for name in models:
        g = pjpart.resolve_graph(name)
        for k in ks:
            t = time.perf_counter()
            r = pjpart.partition(g, k, seed=0, max_evaluations=evaluations, bound_methods="combinatorial,mincut",
                                 **extra)
            rec = {"model": name, "k": k, "bottleneck": repr(float(r.bottleneck)),
                   "assignment_sha256": hashlib.sha256(r.assignment.astype("int64").tobytes()).hexdigest(),
                   "method": r.method, "evaluations": r.evaluations, "stopped_by": r.stopped_by,
                   "seconds": round(time.perf_counter() - t, 2)}
            print(json.dumps(rec), flush=True)
            records.append(rec)
    return records


def compare(a: str, b: str) -> int:
    keys = ("bottleneck", "assignment_sha256", "method", "evaluations", "stopped_by")
    left = {(r["model"], r["k"]): r for r in json.load(open(a))["records"]}
    right = {(r["model"], r["k"]): r for r in json.load(open(b))["records"]}
    bad = 0
    for cell in sorted(set(left) | set(right)):
        x, y = left.get(cell), right.get(cell)
        same = x is not None and y is not None and all(x[f] == y[f] for f in keys)
        bad += not same
        print(f"{cell[0]:>18} k={cell[1]:<3} {'identical' if same else 'DIFFERENT'}  "
              f"{x and x['bottleneck']}  {y and y['bottleneck']}")
    print(f"{len(set(left) | set(right)) - bad} identical, {bad} different")
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--ks", default=",".join(map(str, KS)))
    p.add_argument("--evaluations", type=int, default=3000)
    p.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = p.parse_args()
    if args.compare:
        return compare(*args.compare)
    import subprocess

    records = run(args.models.split(","), [int(k) for k in args.ks.split(",")], args.evaluations)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"commit": commit, "evaluations": args.evaluations, "records": records}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
