"""The two search engines at equal wall time: host loop (NumPy state) vs compiled loop (JAX state).

For each graph and preset, ``pjpart.partition`` with ``engine="host"`` and
``engine="jit"`` in the same run; prints and writes generations, evaluations,
evaluations/s and the best bottleneck to ``OUT/engines_TAG.json``.  This is the
measurement behind ``engine="auto"`` (``bench/gpu.sh`` runs it on a GPU).

    python bench/engines.py --graphs resnet50,dnn:1000 -k 16 --time-limit 20 --presets default,large
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402


def load(name: str):
    import pjpart
    from pjpart.generators import dnn_like

    if name.startswith("dnn:"):
        return dnn_like(int(name[4:]), seed=0), None
    from pjpart import zoo

    g = zoo.load(name)
    return g, pjpart.cost_model_for(g)


def main(argv: list[str] | None = None) -> int:
    import pjpart

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", default="resnet50,dnn:1000")
    ap.add_argument("-k", type=int, default=16)
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--presets", default="default,large")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    ap.add_argument("--tag", default="cpu")
    args = ap.parse_args(argv)
    rows = []
    for name in args.graphs.split(","):
        g, cm = load(name)
        for preset in args.presets.split(","):
            for engine in ("host", "jit"):
                r = pjpart.partition(g, args.k, cm, preset=preset, time_limit=args.time_limit, engine=engine,
                                     exact_max_downsets=0, bound_methods="combinatorial", local_search=False)
                gens = len(r.history)
                row = {"graph": name, "n": g.n, "k": args.k, "preset": preset, "engine": engine,
                       "bottleneck": r.bottleneck, "evaluations": r.evaluations, "seconds": r.seconds,
                       "evals_per_s": r.evaluations / r.seconds, "reports": gens, "stopped_by": r.stopped_by}
                rows.append(row)
                print(json.dumps(row), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"engines_{args.tag}.json"), "w") as fh:
        json.dump({"machine": machine_info(), "settings": vars(args), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
