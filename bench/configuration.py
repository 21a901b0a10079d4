"""The configuration bound against bottleneck guessing on one mixture-of-experts layer.

The held-out cells with the largest gaps (``bench/heldout.py``: mixtures of experts, per-head
decoders at k = 8, 16) stall because the windowed LP of :mod:`pjpart.bounds.guess` splits the
parallel experts between stages for free.  This bench takes the first expert layer of
``moe-2l-8e-op`` (``decoder_graph(layers=2, heads=8, width=512, ffn=1408, tokens=256, experts=8)``,
nodes ``layers.0/mlp``: router, 8 experts, their sum; with the tensor they read as a source of no
work) and, at ``c`` stages, compares

* the search's best partition of the layer (``--search-seconds``),
* ``guess``'s bound with ``--guess-seconds``,
* the largest guess the configuration bound (:mod:`pjpart.bounds.configuration`) refutes, by
  bisection between ``guess``'s bound and the partition's cost (``--steps`` guesses), with its time.

    python bench/configuration.py [-c 7] [--out bench/results]

Writes ``configuration.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402


def expert_layer():
    """``(layer graph, cost model)``: the nodes of ``layers.0/mlp`` and a source for their input."""
    import pjpart
    from pjpart.cost_model import cost_model_for
    from pjpart.data.make_zoo_jax import decoder_graph

    g = decoder_graph(layers=2, heads=8, width=512, ffn=1408, tokens=256, experts=8)
    g = pjpart.Graph.from_json(g.to_json(), name="moe-2l-8e-op")
    inside = [v for v, name in enumerate(g.ids) if "layers.0/mlp" in name]
    slot = {v: i for i, v in enumerate(inside)}
    outside = sorted({u for v in inside for u in g.predecessors(v).tolist() if u not in slot})
    for u in outside:
        slot[u] = len(slot)
    keep = inside + outside
    edges = [(slot[u], slot[v]) for u, v in g.edges.tolist() if u in slot and v in slot]
    work = np.concatenate([g.work[inside], np.zeros(len(outside))])
    params = np.concatenate([g.params[inside], np.zeros(len(outside))])
    layer = pjpart.Graph.from_arrays(work=work, params=params, sizeout=g.sizeout[keep], edges=edges)
    return layer, cost_model_for(g)


def main(argv: list[str] | None = None) -> int:
    import pjpart
    from pjpart.bounds.configuration import cover_bound

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-c", type=int, default=7)
    ap.add_argument("--search-seconds", type=float, default=20.0)
    ap.add_argument("--guess-seconds", type=float, default=60.0)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    layer, cm = expert_layer()
    c = args.c
    found = pjpart.partition(layer, c, cm, time_limit=args.search_seconds).bottleneck
    t0 = time.perf_counter()
    guess = pjpart.lower_bound(layer, c, cm, methods=["guess"], time_limit=args.guess_seconds, upper_bound=found).value
    guess_s = time.perf_counter() - t0
    lo, hi, rows = guess, found, []
    for _ in range(args.steps):
        T = 0.5 * (lo + hi)
        t0 = time.perf_counter()
        out = cover_bound(layer, cm, T, stop_above=c * (1 + 1e-6) + 1e-9)
        seconds = time.perf_counter() - t0
        refuted = out.blocks > c * (1 + 1e-6) + 1e-9
        rows.append({"T": T, "blocks": out.blocks, "lp": out.lp, "rounds": out.rounds, "status": out.status,
                     "refuted": refuted, "seconds": seconds})
        print(json.dumps(rows[-1]), flush=True)
        lo, hi = (T, hi) if refuted else (lo, T)
    result = {"machine": machine_info(), "graph": "moe-2l-8e-op layers.0/mlp", "n": layer.n, "c": c,
              "found": found, "guess": guess, "guess_seconds": guess_s, "configuration": lo, "guesses": rows}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "configuration.json"), "w") as f:
        json.dump(result, f, indent=1)
    lines = ["# Configuration bound against bottleneck guessing (one expert layer)", "",
             f"Machine and commit: `{json.dumps(machine_info())}`", "",
             f"Command: `python bench/configuration.py -c {c}`; graph: {result['graph']} (n = {layer.n}), "
             f"{c} stages.", "",
             f"- search's partition ({args.search_seconds:g} s): {found:.6g}",
             f"- guess bound ({guess_s:.0f} s): {guess:.6g} ({guess / found:.3f} of the partition)",
             f"- configuration bound (largest guess refuted below): {lo:.6g} ({lo / found:.3f} of the partition)", "",
             "| T | T / partition | blocks needed (proven) | cover LP | rounds | refuted | s |",
             "|---:|---:|---:|---:|---:|---|---:|"]
    lines += [f"| {r['T']:.6g} | {r['T'] / found:.3f} | {r['blocks']:.4f} | {r['lp']:.4f} | {r['rounds']} | "
              f"{r['refuted']} | {r['seconds']:.1f} |" for r in rows]
    with open(os.path.join(args.out, "configuration.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
