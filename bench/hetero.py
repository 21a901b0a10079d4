"""Heterogeneous pipelines (SPEC section 5): a partition that knows each stage's device and
link, against the homogeneous partition re-costed on the same mixed pipeline.

Per zoo model and pipeline: the heterogeneity-aware partition (``pjpart.partition`` with the
pipeline's cost model, its certified gap), the homogeneous one (the graph's own scalar cost
model, every stage an H100) evaluated in float64 on the mixed pipeline, and DeepSpeed-style
balancing of the graph's order by work (``chain-balanced``) on the mixed pipeline.  Both
searches get the same time limit, one after the other (2 cores: never two at once).

Pipelines (``pjpart.hardware.pipeline_cost_model``, speeds are peak-FLOP ratios to the H100
the zoo's work is costed for):

* ``2xH100+2xL4``: NVLink between the H100s, then 16 GB/s and 32 GB/s PCIe links (uneven);
* ``4xH100+4xL4``: NVLink among the H100s, then PCIe links alternating 32 and 16 GB/s.

Writes ``bench/results/hetero.{json,csv,md,png}``.

    python bench/hetero.py [--time-limit 20] [--models bert-base,...]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = "bert-base,gpt2-small,inceptionv3,resnet50,vit-b16,mobilenetv2"


def pipelines() -> dict:
    from pjpart.hardware import pipeline_cost_model

    two = pipeline_cost_model("h100,h100,l4,l4")
    two = two.replace(link_bandwidth=[450e9, 16e9, 32e9])
    four = pipeline_cost_model(["h100"] * 4 + ["l4"] * 4)
    four = four.replace(link_bandwidth=[450e9] * 3 + [16e9, 32e9, 16e9, 32e9])
    return {"2xH100+2xL4": two, "4xH100+4xL4": four}


def one(name: str, label: str, mixed, time_limit: float, certify_seconds: float) -> dict:
    import pjpart
    from pjpart.cost import evaluate

    g = pjpart.resolve_graph(name)
    k = mixed.stages
    base = pjpart.cost_model_for(g)
    mixed = mixed.replace(memory=base.memory, memory_limit=base.memory_limit)
    aware = pjpart.partition(g, k, mixed, time_limit=time_limit, seed=0)
    homog = pjpart.partition(g, k, base, time_limit=time_limit, seed=0)
    recost = float(evaluate(g, homog.assignment, k, mixed).max())
    chain = pjpart.baseline(g, k, "chain-balanced", mixed)
    # a longer certificate of the aware answer, as `pjpart bound` gives it (the bounds only, 60 s)
    longer = aware.lower_bound if aware.gap == 0 else pjpart.lower_bound(
        g, k, mixed, time_limit=certify_seconds, upper_bound=aware.bottleneck).value
    longer = max(longer, aware.lower_bound)
    return {"certified_gap": aware.bottleneck / longer - 1, "certify_seconds": certify_seconds,
            "model": name, "n": g.n, "pipeline": label, "k": k, "aware": aware.bottleneck,
            "aware_bound": aware.lower_bound, "aware_bound_method": aware.bound_method, "aware_gap": aware.gap,
            "aware_seconds": aware.seconds, "aware_method": aware.method,
            "homogeneous_on_h100": homog.bottleneck, "homogeneous_recosted": recost,
            "chain_balanced": chain.bottleneck, "speedup_vs_homogeneous": recost / aware.bottleneck,
            "speedup_vs_chain_balanced": chain.bottleneck / aware.bottleneck,
            "aware_stage_costs": aware.stage_costs.tolist(), "homogeneous_stage_costs":
            evaluate(g, homog.assignment, k, mixed).tolist()}


def write(rows: list[dict], info: dict, out: str, time_limit: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    with open(out + ".json", "w") as f:
        json.dump({"machine": info, "time_limit": time_limit, "rows": rows}, f, indent=1)
    keys = [key for key in rows[0] if not key.endswith("stage_costs")]
    with open(out + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    lines = ["# Heterogeneous pipelines: aware vs homogeneous partitions", "",
             f"`python bench/hetero.py --time-limit {time_limit:g}` on {info.get('cpus')} CPUs, "
             f"{info.get('date')}, commit {info.get('commit')}, jax {info.get('jax')}.", "",
             "Bottlenecks in seconds per inference on the mixed pipeline (float64 re-evaluation). "
             "*aware*: `pjpart.partition` with the pipeline's cost model, its certified gap and bound method; "
             "*homogeneous*: the partition for k identical H100 stages re-costed on the pipeline; "
             "*chain-balanced*: the graph's order split by work alone, costed on the pipeline; "
             f"*gap after certify*: the aware answer's gap once `pjpart.lower_bound` has had {rows[0]['certify_seconds']:g} s "
             "more (only where the run left a gap).", "",
             "| model | n | pipeline | aware | gap | bound | gap after certify | homogeneous | x faster "
             "| chain-balanced | x faster |",
             "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['n']} | {r['pipeline']} | {r['aware']:.4g} | {100 * r['aware_gap']:.2f}% "
                     f"| {r['aware_bound_method']} | {100 * r['certified_gap']:.2f}% | {r['homogeneous_recosted']:.4g} | "
                     f"{r['speedup_vs_homogeneous']:.2f} | {r['chain_balanced']:.4g} | "
                     f"{r['speedup_vs_chain_balanced']:.2f} |")
    speed = np.array([r["speedup_vs_homogeneous"] for r in rows])
    lines += ["", f"Geometric-mean speedup of the aware partition over the homogeneous one: "
                  f"{float(np.exp(np.log(speed).mean())):.2f}x (min {speed.min():.2f}x, max {speed.max():.2f}x)."]
    with open(out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["homogeneous_recosted"] / r["aware"] for r in rows], 0.4, label="homogeneous / aware")
    ax.bar(x + 0.2, [r["chain_balanced"] / r["aware"] for r in rows], 0.4, label="chain-balanced / aware")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, [f"{r['model']}\n{r['pipeline']}" for r in rows], rotation=60, fontsize=7)
    ax.set_ylabel("bottleneck relative to the aware partition")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--certify", type=float, default=60.0, help="seconds of bounds alone where the run left a gap")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "hetero"))
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    from common import machine_info

    rows = []
    for name in args.models.split(","):
        for label, mixed in pipelines().items():
            row = one(name, label, mixed, args.time_limit, args.certify)
            print(json.dumps({k: v for k, v in row.items() if not k.endswith("stage_costs")}), flush=True)
            rows.append(row)
    write(rows, machine_info(), args.out, args.time_limit)


if __name__ == "__main__":
    main()
