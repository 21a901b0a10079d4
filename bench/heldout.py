"""Certification on graphs that are not in the zoo: wide CNNs and operator-level graphs built here.

Issue 19 asks for certified gaps on "wide and operator-level graphs that are not in the
repository".  This bench builds such graphs (nothing of them is committed) and partitions each
with the default preset, one fresh process per cell:

* layer level (Keras 3 on JAX, ``keras.applications(weights=None)``, batch 8, H100 profile, as the
  zoo's CNNs): ``nasnetlarge`` (cells of parallel branches, the zoo has only NASNet-Mobile),
  ``efficientnetv2m`` and ``inceptionresnetv2``; ``--time-limit`` (default 10 s), k = 2..64;
* operator level (one node per jaxpr equation): ``inceptionv3-op``, ``efficientnetb0-op``,
  ``xception-op``, ``resnet50v2-op``, ``densenet121-op``, ``mobilenetv3large-op``, ``nasnetmobile-op``
  (3370 nodes), ``inceptionresnetv2-op`` (2752 nodes), ``resnet101-op`` (1712 nodes, 1146 of them the
  batch norms' scales computed from their weights) and ``efficientnetv2s-op`` (Keras traced at op
  granularity), dense
  decoders with per-head branches ``decoder-4l-12h-op``, ``decoder-8l-16h-op`` (2445 nodes) and three
  mixtures of experts ``moe-2l-8e-op``, ``moe-3l-16e-op``, ``moe-4l-4e-op``, and ``rope-4l-8h-op``,
  a decoder whose causal mask and rotary tables are computed once and read by every layer, as in an
  exported model (:func:`pjpart.data.make_zoo_jax.decoder_graph`: JAX, not the zoo's PyTorch decoders);
  ``--op-time-limit`` (default 60 s), k = 2, 4, 8, 16.

    pip install 'pjpart[zoo]'   # Keras, for the Keras graphs (skipped without it)
    python bench/heldout.py [--graphs NAME,...] [--out bench/results]

Writes ``heldout.{json,md}`` (per cell: n, k, bottleneck, bound, gap, the bound's method, seconds,
how the run stopped; per granularity and k, the geometric-mean gap).  Resumable: cells already in
``heldout.json`` with the same time limit are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import child_json, geomean, machine_info  # noqa: E402

LAYER_KS = (2, 4, 8, 16, 32, 64)
OP_KS = (2, 4, 8, 16)
KERAS = {"nasnetlarge": ("NASNetLarge", "module"), "efficientnetv2m": ("EfficientNetV2M", "module"),
         "inceptionv3-op": ("InceptionV3", "op"), "efficientnetb0-op": ("EfficientNetB0", "op"),
         "xception-op": ("Xception", "op"), "resnet50v2-op": ("ResNet50V2", "op"),
         "densenet121-op": ("DenseNet121", "op"), "inceptionresnetv2": ("InceptionResNetV2", "module"),
         "mobilenetv3large-op": ("MobileNetV3Large", "op"), "nasnetmobile-op": ("NASNetMobile", "op"),
         "inceptionresnetv2-op": ("InceptionResNetV2", "op"), "resnet101-op": ("ResNet101", "op"),
         "efficientnetv2s-op": ("EfficientNetV2S", "op")}
#: the input shape where a constructor leaves it open (MobileNetV3) or the default is not the usual one
SHAPES = {"InceptionResNetV2": (299, 299, 3), "MobileNetV3Large": (224, 224, 3), "NASNetMobile": (224, 224, 3)}
DECODERS = {"decoder-4l-12h-op": dict(layers=4, heads=12, width=768, ffn=3072, tokens=256),
            "moe-2l-8e-op": dict(layers=2, heads=8, width=512, ffn=1408, tokens=256, experts=8),
            "moe-3l-16e-op": dict(layers=3, heads=4, width=512, ffn=1024, tokens=128, experts=16),
            "decoder-8l-16h-op": dict(layers=8, heads=16, width=1024, ffn=4096, tokens=512),
            "moe-4l-4e-op": dict(layers=4, heads=8, width=512, ffn=1408, tokens=256, experts=4),
            "rope-4l-8h-op": dict(layers=4, heads=8, width=512, ffn=1408, tokens=512, computed_tables=True)}


def build(name: str, folder: str) -> str | None:
    """The graph's file (built once into ``folder``), or ``None`` when Keras is missing."""
    import pjpart

    path = os.path.join(folder, f"{name}.json.gz")
    if os.path.exists(path):
        return path
    if name in DECODERS:
        from pjpart.data.make_zoo_jax import decoder_graph

        g = decoder_graph(**DECODERS[name])
    else:
        from pjpart.importers.keras import from_keras, import_keras

        try:
            keras = import_keras()
        except Exception as exc:  # noqa: BLE001  (Keras is optional here)
            print(f"{name}: skipped ({exc})", flush=True)
            return None
        ctor, gran = KERAS[name]
        keras.backend.clear_session()
        shape = {"input_shape": SHAPES[ctor]} if ctor in SHAPES else {}
        g = from_keras(getattr(keras.applications, ctor)(weights=None, **shape), batch_size=8, granularity=gran,
                       name=name)
    os.makedirs(folder, exist_ok=True)
    pjpart.save_graph(pjpart.Graph.from_json(g.to_json(), name=name), path)
    return path


CELL = """
import json, sys, pjpart
g = pjpart.load_graph(sys.argv[1])
r = pjpart.partition(g, int(sys.argv[2]), time_limit=float(sys.argv[3]))
print(json.dumps({"n": g.n, "m": g.m, "bottleneck": r.bottleneck, "bound": r.lower_bound, "gap": r.gap,
                  "bound_method": r.bound_method, "method": r.method, "seconds": r.seconds,
                  "stopped_by": r.stopped_by, "evaluations": r.evaluations}))
"""


def run_cell(path: str, k: int, time_limit: float) -> dict:
    """One partition in a fresh process (no cell inherits another's compiled kernels or memory)."""
    t0 = time.perf_counter()
    ok, out = child_json(CELL, path, k, time_limit, timeout=10 * time_limit + 300)
    if not ok:
        return {"status": "failed", "error": [out], "wall": time.perf_counter() - t0}
    return {"status": "ok", **out, "wall": time.perf_counter() - t0}


def table(rows: list[dict]) -> str:
    lines = ["| graph | level | n | k | bottleneck | bound | gap | bound by | found by | s | stopped by |",
             "|---|---|---:|---:|---:|---:|---:|---|---|---:|---|"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['graph']} | {r['level']} | | {r['k']} | failed: {r.get('error')} | | | | | | |")
            continue
        lines.append(f"| {r['graph']} | {r['level']} | {r['n']} | {r['k']} | {r['bottleneck']:.6g} | {r['bound']:.6g} | "
                     f"{r['gap']:.2%} | {r['bound_method']} | {r['method']} | {r['seconds']:.1f} | {r['stopped_by']} |")
    lines += ["", "Geometric-mean gap (1 + gap, less 1) per level and k; proven = gap <= 2e-6:", "",
              "| level | k | graphs | geo-mean gap | worst | proven |", "|---|---:|---:|---:|---:|---:|"]
    for level in ("layer", "op"):
        for k in sorted({r["k"] for r in rows if r["level"] == level}):
            cell = [r for r in rows if r["level"] == level and r["k"] == k and r["status"] == "ok"]
            if cell:
                gaps = [r["gap"] for r in cell]
                lines.append(f"| {level} | {k} | {len(cell)} | {geomean([1 + g for g in gaps]) - 1:.2%} | "
                             f"{max(gaps):.2%} | {sum(g <= 2e-6 for g in gaps)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graphs", default=",".join(list(KERAS) + list(DECODERS)))
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--op-time-limit", type=float, default=60.0)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    ap.add_argument("--graph-dir", default="/tmp/pjpart-heldout")
    args = ap.parse_args(argv)
    json_path = os.path.join(args.out, "heldout.json")
    old = json.load(open(json_path)) if os.path.exists(json_path) else {"rows": []}
    rows, machine, ran = old["rows"], old.get("machine"), False
    for name in [x.strip() for x in args.graphs.split(",") if x.strip()]:
        path = build(name, args.graph_dir)
        if path is None:
            continue
        level = "op" if name.endswith("-op") else "layer"
        limit = args.op_time_limit if level == "op" else args.time_limit
        for k in OP_KS if level == "op" else LAYER_KS:
            if any(r["graph"] == name and r["k"] == k and r["time_limit"] == limit and r["status"] == "ok"
                   for r in rows):
                continue
            if not ran:  # this run's machine and commit, taken once
                machine, ran = machine_info(), True
            row = {"graph": name, "level": level, "k": k, "time_limit": limit, "commit": machine["commit"],
                   **run_cell(path, k, limit)}
            rows = [r for r in rows if not (r["graph"] == name and r["k"] == k and r["time_limit"] == limit)] + [row]
            print(json.dumps(row), flush=True)
            with open(json_path, "w") as f:
                json.dump({"machine": machine, "rows": rows}, f, indent=1)
    text = table(sorted(rows, key=lambda r: (r["level"], r["graph"], r["k"])))
    # a resumed run keeps earlier cells: each row names the commit it was measured at
    at = ", ".join(f"{c} ({n} cells)" for c, n in Counter(r.get("commit") for r in rows).items())
    with open(os.path.join(args.out, "heldout.md"), "w") as f:
        f.write(f"# Certification on graphs not in the zoo\n\nMachine of the latest cells: `{json.dumps(machine)}`\n\n"
                f"Cells measured at: {at} (per cell: `commit` in heldout.json)\n\n"
                f"Command: `python bench/heldout.py` (layer level {args.time_limit:g} s, operator level "
                f"{args.op_time_limit:g} s per cell, one process each; default preset)\n\n{text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
