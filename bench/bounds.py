"""Lower bounds on the bundled zoo: bound / best-found per method and k, solve seconds, final gap.

For each (model, k): every registered bound method (:data:`pjpart.bounds.METHODS`) on
its own with ``--bound-time`` seconds, ``auto`` with four times that, and pjpart's search
(``default`` preset, ``--search-time`` seconds, combinatorial bound only so the
search time is all search) for the best found.  Best found = the smallest of
the search and any method that proved an optimum.  Prints and writes, per k,
the geometric mean over models of bound / best-found per method (the paper's
table shape), and the certified gap with the best bound.

    python bench/bounds.py --models resnet50,inceptionv3 --ks 2,4,8,16,32,64

Resumable: rows already in ``bench/results/bounds.json`` are kept (those measured before a
method was registered are run again).
Writes ``bench/results/bounds.{json,csv,md,png}``.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import finish_plot, geomean, machine_info, zoo_parser  # noqa: E402

from pjpart.bounds import METHODS as REGISTERED  # noqa: E402

METHODS = [*REGISTERED, "auto"]  # every registered method on its own, then auto
DEFAULT_MODELS = ("resnet50,inceptionv3,densenet121,mobilenetv2,efficientnetb0,xception,nasnetmobile,"
                  "bert-base,gpt2-small,vit-b16,t5-base,llama-1b-gqa")


def run_cell(name: str, k: int, bound_time: float, search_time: float) -> dict:
    import pjpart
    from pjpart import zoo

    g = zoo.load(name)
    cm = pjpart.cost_model_for(g)
    t = time.perf_counter()
    found = pjpart.partition(g, k, cm, time_limit=search_time, bound_methods="combinatorial", seed=0)
    row = {"model": name, "n": g.n, "m": g.m, "k": k, "search_bottleneck": found.bottleneck,
           "search_method": found.method, "search_seconds": found.seconds}
    best = found.bottleneck
    for method in METHODS:
        b = pjpart.lower_bound(g, k, cm, methods="auto" if method == "auto" else [method],
                               time_limit=bound_time * (4 if method == "auto" else 1), upper_bound=best, strict=True)
        res = b.results[-1] if method != "auto" else None
        row[f"{method}_bound"] = b.value if method == "auto" else res.value
        row[f"{method}_seconds"] = b.seconds
        row[f"{method}_status"] = (f"{b.method}" if method == "auto" else res.status)
    row["best_found"] = best
    row["best_bound"] = max(row[f"{m}_bound"] for m in METHODS)
    row["gap"] = row["best_found"] / row["best_bound"] - 1 if row["best_bound"] > 0 else float("inf")
    row["cell_seconds"] = time.perf_counter() - t
    return row


def table(rows: list[dict]) -> str:
    ks = sorted({r["k"] for r in rows})
    head = "| k | models | " + " | ".join(METHODS) + " | best | geo-mean gap | search s |"
    lines = ["Geometric mean over models of bound / best found (1 = certified optimal); each method's column is",
             "max(method, combinatorial), so a method that was skipped or proved nothing in its time counts as",
             "the combinatorial bound:", "", head,
             "|" + "---:|" * (len(METHODS) + 5)]
    for k in ks:
        rs = [r for r in rows if r["k"] == k]
        # a method that proved nothing (skipped, out of time) still has the free combinatorial bound
        cells = [f"{geomean(max(r[f'{m}_bound'], r['combinatorial_bound']) / r['best_found'] for r in rs):.4f}"
                 for m in METHODS]
        best = geomean(r["best_bound"] / r["best_found"] for r in rs)
        gap = geomean(1 + r["gap"] for r in rs) - 1
        secs = sum(r["search_seconds"] for r in rs) / len(rs)
        lines.append(f"| {k} | {len(rs)} | " + " | ".join(cells) + f" | {best:.4f} | {100 * gap:.2f}% | {secs:.1f} |")
    lines += ["", "Mean solve seconds per method:", "", "| k | " + " | ".join(METHODS) + " |",
              "|" + "---:|" * (len(METHODS) + 1)]
    for k in ks:
        rs = [r for r in rows if r["k"] == k]
        lines.append(f"| {k} | " + " | ".join(f"{sum(r[f'{m}_seconds'] for r in rs) / len(rs):.2f}"
                                              for m in METHODS) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = sorted({r["k"] for r in rows})
    fig, ax = plt.subplots(figsize=(7, 4))
    for m in METHODS:
        ax.plot(ks, [geomean(max(r[f"{m}_bound"], r["combinatorial_bound"]) / r["best_found"]
                             for r in rows if r["k"] == k) for k in ks],
                marker="o", label=m)
    finish_plot(fig, ax, path, xlabel="k (stages)", ylabel="geo-mean bound / best found", log2x=True,
                ylim=(0, 1.05))


def main(argv: list[str] | None = None) -> int:
    ap = zoo_parser(__doc__, DEFAULT_MODELS)
    ap.add_argument("--bound-time", type=float, default=5.0, help="seconds per method (auto gets 4x)")
    ap.add_argument("--search-time", type=float, default=10.0)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "bounds.json")
    data = {"machine": machine_info(), "settings": vars(args), "rows": []}
    if os.path.exists(path):
        with open(path) as fh:
            data["rows"] = [r for r in json.load(fh)["rows"] if all(f"{m}_bound" in r for m in METHODS)]
    done = {(r["model"], r["k"]) for r in data["rows"]}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        for k in [int(x) for x in args.ks.split(",")]:
            if (name, k) in done:
                continue
            row = run_cell(name, k, args.bound_time, args.search_time)
            data["rows"].append(row)
            print(f"{name:<16} k={k:>2} best {row['best_found']:.4g} bound {row['best_bound']:.4g} "
                  f"gap {100 * row['gap']:.2f}%  comb {row['combinatorial_bound'] / row['best_found']:.3f}  "
                  f"({row['cell_seconds']:.0f} s)", flush=True)
            with open(path, "w") as fh:
                json.dump(data, fh, indent=1)
    rows = data["rows"]
    with open(os.path.join(args.out, "bounds.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    md = table(rows)
    with open(os.path.join(args.out, "bounds.md"), "w") as fh:
        fh.write(f"# Lower bounds on the zoo ({data['machine']['date']}, {data['machine']['cpus']} CPUs)\n\n"
                 f"Settings: {json.dumps(data['settings'])}\n\n{md}\n")
    plot(rows, os.path.join(args.out, "bounds.png"))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
