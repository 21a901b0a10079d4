"""The research paper's experiment on pjpart's zoo: upper bounds, lower bounds, certified gaps.

For every zoo model (layer granularity by default; ``--models`` picks others)
and every k in ``--ks``, on this machine, one cell at a time:

* upper bounds (searches): ``brkga-100`` (P=10, G=10) and ``brkga-10000``
  (P=100, G=100), the paper's BRKGA with pjpart's exact solver, bounds and
  local search switched off; ``random-10000`` (10^4 random orders, each sliced
  optimally); pjpart's ``default`` and ``large`` presets, both given the same
  wall time ``--budget`` seconds (everything pjpart does: exact solver when the
  downset lattice is small, seeds, bounds within 25% of the time, islands,
  local search);
* lower bounds: ``combinatorial``, ``mincut``, ``exact-dp`` (exact when the
  downset lattice has at most 4096 downsets), the ``lp`` relaxation, the
  ``superblock2`` and ``superblock3`` families and the time-limited exact
  ``mip``, each on its own with ``--bound-time`` seconds and checked against
  the best partition found (a bound above it stops the run: a bound bug);
  ``best`` is the largest of them and of the bound the ``default`` run proved.

Tables (the paper's shapes), per k, geometric mean over models of
bound / best found per bound method, of found / best found per search method,
the certified gap of pjpart's ``default`` result (``default / best bound - 1``)
and of the best found, and seconds per method.

Resumable: cells already in ``OUT/TAG.json`` are kept, so an interrupted run
continues where it stopped.  Writes ``OUT/TAG.{json,csv,md}`` and the plots
``OUT/TAG_bounds.png`` (bound ratio vs k per method, like the paper's figure),
``OUT/TAG_gaps.png`` (certified gap per model and k) and
``OUT/TAG_convergence.png`` (best vs seconds for each search method on one model).

    python bench/paper_experiment.py --budget 5 --bound-time 2            # the whole zoo, all six k
    python bench/paper_experiment.py --models resnet50-op,mobilenetv2-op,bert-base-op \\
        --searches default --tag paper_experiment_op                      # op granularity
    python bench/paper_experiment.py --table-only                         # rewrite tables and plots
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import finish_plot, geomean, machine_info, zoo_parser  # noqa: E402

SEARCHES = ["brkga-100", "brkga-10000", "random-10000", "default", "large"]
BOUNDS = ["combinatorial", "mincut", "exact-dp", "lp", "superblock2", "superblock3", "mip"]


def thin(history: list, points: int = 60) -> list:
    """At most ``points`` entries of a (seconds, evaluations, best) history, first and last kept."""
    if len(history) <= points:
        return [list(h) for h in history]
    step = (len(history) - 1) / (points - 1)
    return [list(history[round(i * step)]) for i in range(points)]


def run_searches(g, k: int, cm, budget: float, searches: list[str]) -> tuple[dict, dict, float]:
    """Each search method on ``(g, k)``: values, seconds, evaluations; thinned histories; the
    best bound a search proved on the way (the ``default`` preset's)."""
    import pjpart
    from pjpart.search.baselines import baseline

    paper_off = dict(exact_max_downsets=0, bound_methods="combinatorial", local_search=False)
    runs = {
        "brkga-100": lambda: pjpart.partition(g, k, cm, preset="paper", population=10, generations=10, **paper_off),
        "brkga-10000": lambda: pjpart.partition(g, k, cm, preset="paper", **paper_off),
        "random-10000": lambda: baseline(g, k, "random", cm, max_evaluations=10_000),
        "default": lambda: pjpart.partition(g, k, cm, preset="default", time_limit=budget, seed=0),
        "large": lambda: pjpart.partition(g, k, cm, preset="large", time_limit=budget, seed=0),
    }
    row, curves, proved = {}, {}, 0.0
    for method in searches:
        r = runs[method]()
        row[method] = r.bottleneck
        row[f"{method}_seconds"] = round(r.seconds, 3)
        row[f"{method}_evaluations"] = int(r.evaluations)
        row[f"{method}_how"] = r.method
        curves[method] = thin(r.history)
        if method in ("default", "large"):
            proved = max(proved, r.lower_bound)
    return row, curves, proved


def run_bounds(g, k: int, cm, bound_time: float, upper: float, bounds: list[str]) -> dict:
    """Each bound method alone, ``bound_time`` seconds, refusing (raising on) a value above ``upper``."""
    import pjpart

    row = {}
    for method in bounds:
        b = pjpart.lower_bound(g, k, cm, methods=[method], time_limit=bound_time, upper_bound=upper, strict=True)
        res = b.results[-1]
        row[f"{method}_bound"] = res.value
        row[f"{method}_bound_status"] = res.status
        row[f"{method}_bound_seconds"] = round(b.seconds, 3)
    return row


def run_cell(name: str, k: int, budget: float, bound_time: float, searches: list[str],
             bounds: list[str]) -> tuple[dict, dict]:
    import pjpart
    from pjpart import zoo

    t = time.perf_counter()
    g = zoo.load(name)
    cm = pjpart.cost_model_for(g)
    row = {"model": name, "n": g.n, "m": g.m, "k": k}
    found, curves, proved = run_searches(g, k, cm, budget, searches)
    row.update(found)
    best = min(found[m] for m in searches)
    row.update(run_bounds(g, k, cm, bound_time, best, bounds))
    # exact-dp that finished is the optimum: a partition as good as any search's
    if row.get("exact-dp_bound_status") == "optimal":
        best = min(best, row["exact-dp_bound"])
    row["best_found"] = best
    row["default_proved_bound"] = proved
    row["best_bound"] = max([proved] + [row[f"{m}_bound"] for m in bounds])
    row["best_bound_method"] = max([(m, row[f"{m}_bound"]) for m in bounds] + [("default run", proved)],
                                   key=lambda mv: mv[1])[0]
    row["gap"] = gap(best, row["best_bound"])
    if "default" in found:
        row["default_gap"] = gap(found["default"], row["best_bound"])
    row["cell_seconds"] = round(time.perf_counter() - t, 2)
    return row, curves


def gap(value: float, bound: float) -> float:
    return value / bound - 1 if bound > 0 else math.inf


def methods_in(rows: list[dict], candidates: list[str], suffix: str = "") -> list[str]:
    return [m for m in candidates if all(f"{m}{suffix}" in r for r in rows)]


def table(rows: list[dict], settings: dict) -> str:
    ks = sorted({r["k"] for r in rows})
    searches = methods_in(rows, SEARCHES)
    bounds = methods_in(rows, BOUNDS, "_bound")
    lines = [f"Budget per (model, k): `default` and `large` {settings['budget']} s of wall time each; each bound "
             f"method {settings['bound_time']} s; brkga and random run their evaluation budgets.", "",
             "**Lower bounds**: geometric mean over models of bound / best found (1 = certified optimal); a method "
             "that proved nothing in its time counts as the combinatorial bound.", "",
             "| k | models | " + " | ".join(bounds) + " | best |", "|" + "---:|" * (len(bounds) + 3)]
    for k in ks:
        rs = [r for r in rows if r["k"] == k]
        cells = [f"{geomean(max(r[f'{m}_bound'], r['combinatorial_bound']) / r['best_found'] for r in rs):.4f}"
                 for m in bounds]
        lines.append(f"| {k} | {len(rs)} | " + " | ".join(cells)
                     + f" | {geomean(r['best_bound'] / r['best_found'] for r in rs):.4f} |")
    lines += ["", "**Searches**: geometric mean over models of found / best found (1 = found the best known).",
              "", "| k | " + " | ".join(searches) + " |", "|" + "---:|" * (len(searches) + 1)]
    for k in ks:
        rs = [r for r in rows if r["k"] == k]
        lines.append(f"| {k} | " + " | ".join(f"{geomean(r[m] / r['best_found'] for r in rs):.4f}"
                                              for m in searches) + " |")
    lines += ["", "**Certified gaps** (geometric mean over models of found / best bound, minus 1) and how many "
              "cells are proven optimal (gap < 1e-6):", "",
              "| k | pjpart default gap | best-found gap | proven optimal | default misses best found by |",
              "|---:|---:|---:|---:|---:|"]
    for k in ks:
        rs = [r for r in rows if r["k"] == k]
        dgap = geomean(1 + r["default_gap"] for r in rs) - 1 if "default" in searches else math.nan
        bgap = geomean(1 + r["gap"] for r in rs) - 1
        miss = geomean(r["default"] / r["best_found"] for r in rs) - 1 if "default" in searches else math.nan
        opt = sum(r["gap"] < 1e-6 for r in rs)
        lines.append(f"| {k} | {100 * dgap:.2f}% | {100 * bgap:.2f}% | {opt}/{len(rs)} | {100 * miss:.2f}% |")
    lines += ["", "**Seconds** (mean per cell):", "",
              "| k | " + " | ".join(searches + bounds) + " | cell |", "|" + "---:|" * (len(searches + bounds) + 2)]
    for k in ks:
        rs = [r for r in rows if r["k"] == k]
        secs = [sum(r[f"{m}_seconds"] for r in rs) / len(rs) for m in searches]
        secs += [sum(r[f"{m}_bound_seconds"] for r in rs) / len(rs) for m in bounds]
        lines.append(f"| {k} | " + " | ".join(f"{s:.1f}" for s in secs)
                     + f" | {sum(r['cell_seconds'] for r in rs) / len(rs):.0f} |")
    return "\n".join(lines)


def per_model_table(rows: list[dict]) -> str:
    """Certified gap of the best found per model and k (the detail behind the geometric means)."""
    ks = sorted({r["k"] for r in rows})
    by = {(r["model"], r["k"]): r for r in rows}
    models = sorted({r["model"] for r in rows}, key=lambda m: (next(r["n"] for r in rows if r["model"] == m), m))
    lines = ["| model | n | " + " | ".join(f"k={k}" for k in ks) + " |", "|---|---:|" + "---:|" * len(ks)]
    for m in models:
        n = next(r["n"] for r in rows if r["model"] == m)
        cells = [f"{100 * by[(m, k)]['gap']:.2f}%" if (m, k) in by else "" for k in ks]
        lines.append(f"| {m} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plots(data: dict, prefix: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = data["rows"]
    ks = sorted({r["k"] for r in rows})
    bounds = methods_in(rows, BOUNDS, "_bound")
    fig, ax = plt.subplots(figsize=(7, 4))
    for m in bounds + ["best"]:
        key = "best_bound" if m == "best" else f"{m}_bound"
        ax.plot(ks, [geomean(max(r[key], r["combinatorial_bound"]) / r["best_found"] for r in rows if r["k"] == k)
                     for k in ks], marker="o", label=m, lw=2.5 if m == "best" else 1.2)
    finish_plot(fig, ax, prefix + "_bounds.png", xlabel="k (stages)", ylabel="geo-mean bound / best found",
                log2x=True, ylim=(0, 1.05), title=f"Lower bounds on {len({r['model'] for r in rows})} zoo models")

    models = sorted({r["model"] for r in rows}, key=lambda m: next(r["n"] for r in rows if r["model"] == m))
    by = {(r["model"], r["k"]): r for r in rows}
    grid = np.array([[100 * by[(m, k)]["gap"] if (m, k) in by else np.nan for k in ks] for m in models])
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(models) + 1.5))
    im = ax.imshow(grid, aspect="auto", cmap="viridis_r", vmin=0, vmax=max(5.0, float(np.nanmax(grid))))
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set_yticks(range(len(models)), models, fontsize=7)
    ax.set_xlabel("k")
    for i in range(len(models)):
        for j in range(len(ks)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=6,
                        color="white" if grid[i, j] > 2.5 else "black")
    fig.colorbar(im, ax=ax, label="certified gap (%)")
    ax.set_title("best found / best bound - 1")
    fig.tight_layout()
    fig.savefig(prefix + "_gaps.png", dpi=120)
    plt.close(fig)

    key = data["settings"].get("curve") or ""
    if key not in data["curves"]:
        key = max(data["curves"], key=lambda c: next((r["n"] for r in rows
                                                      if f"{r['model']}/k={r['k']}" == c and r["k"] == 16), 0))
    fig, ax = plt.subplots(figsize=(7, 4))
    for method, hist in data["curves"][key].items():
        if hist:
            sec, _, best = zip(*hist)
            ax.step(sec, best, where="post", label=method)
    finish_plot(fig, ax, prefix + "_convergence.png", xlabel="seconds", ylabel="best bottleneck (s)", logx=True,
                title=f"Convergence: {key}")


def write_outputs(data: dict, prefix: str) -> str:
    rows = data["rows"]
    with open(prefix + ".csv", "w", newline="") as fh:
        keys = sorted({key for r in rows for key in r}, key=lambda x: (x not in ("model", "n", "m", "k"), x))
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    m = data["machine"]
    md = (f"# The paper's experiment on the pjpart zoo\n\n"
          f"Machine: {m['cpus']} CPUs ({m['machine']}), Python {m['python']}, jax {m['jax']} ({m['backend']}), "
          f"numpy {m['numpy']}, cvxpy {m.get('cvxpy', '-')}; commit {m.get('commit')}; run started {m['date']}.\n\n"
          f"Settings: `{json.dumps(data['settings'])}`\n\n{table(rows, data['settings'])}\n\n"
          f"**Certified gap of the best found, per model**:\n\n{per_model_table(rows)}\n")
    with open(prefix + ".md", "w") as fh:
        fh.write(md)
    plots(data, prefix)
    return md


def default_models() -> str:
    from pjpart import zoo

    layer = [name for name in zoo.names() if zoo.info(name).get("granularity", "layer") == "layer"]
    return ",".join(sorted(layer, key=lambda name: (zoo.info(name)["n"], name)))


def main(argv: list[str] | None = None) -> int:
    ap = zoo_parser(__doc__, "")
    ap.add_argument("--budget", type=float, default=5.0, help="wall seconds for each of default and large")
    ap.add_argument("--bound-time", type=float, default=2.0, help="seconds per lower-bound method")
    ap.add_argument("--searches", default=",".join(SEARCHES), help="comma-separated search methods")
    ap.add_argument("--bounds", default=",".join(BOUNDS), help="comma-separated bound methods")
    ap.add_argument("--tag", default="paper_experiment", help="output file name stem")
    ap.add_argument("--curve", default="", help="MODEL/k=K for the convergence plot")
    ap.add_argument("--time-budget", type=float, default=None, help="stop starting new cells after this many s")
    ap.add_argument("--table-only", action="store_true", help="only rewrite tables and plots from the JSON")
    args = ap.parse_args(argv)
    import jax
    from tqdm import tqdm

    os.makedirs(args.out, exist_ok=True)
    prefix = os.path.join(args.out, args.tag)
    searches = [s for s in args.searches.split(",") if s]
    bounds = [b for b in args.bounds.split(",") if b]
    unknown = (set(searches) - set(SEARCHES)) | (set(bounds) - set(BOUNDS))
    if unknown:
        ap.error(f"unknown method(s) {sorted(unknown)}")
    settings = {"budget": args.budget, "bound_time": args.bound_time, "searches": searches, "bounds": bounds,
                "curve": args.curve}
    data = {"machine": machine_info(), "settings": settings, "rows": [], "curves": {}}
    if os.path.exists(prefix + ".json"):
        with open(prefix + ".json") as fh:
            old = json.load(fh)
        same = old["settings"]["budget"] == args.budget and old["settings"]["bound_time"] == args.bound_time
        if not (same or args.table_only):
            ap.error(f"{prefix}.json was run with other budgets {old['settings']}; use another --tag")
        data.update({key: old[key] for key in ("machine", "rows", "curves") + (("settings",) * args.table_only)})
    if not args.table_only:
        models = [m for m in (args.models or default_models()).split(",") if m]
        ks = [int(x) for x in args.ks.split(",")]
        done = {(r["model"], r["k"]) for r in data["rows"]}
        todo = [(m, k) for m in models for k in ks if (m, k) not in done]
        t0 = time.perf_counter()
        bar = tqdm(todo, unit="cell", dynamic_ncols=True)
        for name, k in bar:
            if args.time_budget is not None and time.perf_counter() - t0 > args.time_budget:
                bar.write(f"time budget of {args.time_budget} s spent; rerun to continue")
                break
            bar.set_description(f"{name} k={k}")
            row, curves = run_cell(name, k, args.budget, args.bound_time, searches, bounds)
            data["rows"].append(row)
            data["curves"][f"{name}/k={k}"] = curves
            bar.set_postfix(gap=f"{100 * row['gap']:.2f}%", cell=f"{row['cell_seconds']:.0f}s")
            bar.write(f"{name:<18} k={k:>2} best {row['best_found']:.5g} bound {row['best_bound']:.5g} "
                      f"gap {100 * row['gap']:.2f}% ({row['best_bound_method']})  {row['cell_seconds']:.0f} s")
            with open(prefix + ".json", "w") as fh:
                json.dump(data, fh)
            # every (model, k) compiles its own kernels: drop them, or a long run exhausts the
            # process's memory mappings (LLVM "Cannot allocate memory" after ~80 cells)
            jax.clear_caches()
    if data["rows"]:
        print(write_outputs(data, prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
