"""``pjpart zoo run``: partition every (zoo model, k), resumable, with a results table and plots.

Files written under ``out``: ``results.json`` (rewritten after every run, so an
interrupted run resumes from it), ``results.csv``, ``summary.md`` (per k: the
geometric-mean gap and the median seconds), ``gaps.png`` (gap by model and k)
and ``stages_MODEL.png`` (stage costs of the first model, at the last k this
invocation ran for it; none when everything was resumed).
"""

from __future__ import annotations

import json
import math
import os
import statistics
from typing import Any

from . import zoo
from .graph import GraphError
from .search import NOT_GIVEN
from .sweep import sweep, write_records


def geomean(values) -> float:
    """Geometric mean of the finite positive values (``nan`` if none)."""
    vals = [float(v) for v in values if math.isfinite(v) and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else math.nan


def summary_table(records: list[dict]) -> str:
    """Markdown: per k, runs, geometric mean of (1 + gap) - 1, worst gap, median seconds."""
    ks = sorted({int(r["k"]) for r in records})
    lines = ["| k | runs | geo-mean gap | worst gap | median s |", "|---:|---:|---:|---:|---:|"]
    for k in ks:
        rows = [r for r in records if int(r["k"]) == k]
        gaps = [float(r["gap"]) for r in rows]
        gm = geomean([1 + g for g in gaps]) - 1
        lines.append(f"| {k} | {len(rows)} | {100 * gm:.2f}% | {100 * max(gaps):.2f}% | "
                     f"{statistics.median(float(r['seconds']) for r in rows):.2f} |")
    return "\n".join(lines)


def _plots(records: list[dict], stage_result: Any, out: str) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    import numpy as np

    written = []
    models = sorted({r["graph"] for r in records})
    ks = sorted({int(r["k"]) for r in records})
    grid = np.full((len(models), len(ks)), np.nan)
    for r in records:
        grid[models.index(r["graph"]), ks.index(int(r["k"]))] = 100 * float(r["gap"])
    fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(ks), 1.0 + 0.28 * len(models)))
    im = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set_yticks(range(len(models)), models, fontsize=7)
    ax.set_xlabel("k")
    ax.set_title("certified gap (%)")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    path = os.path.join(out, "gaps.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    if stage_result is not None:
        fig, ax = plt.subplots(figsize=(6, 3))
        costs = stage_result.stage_costs
        ax.bar(range(len(costs)), costs, color=["C3" if c == stage_result.bottleneck else "C0" for c in costs])
        ax.axhline(stage_result.lower_bound, color="k", ls="--", lw=1, label="lower bound")
        ax.set_xlabel("stage")
        ax.set_ylabel("cost (s)")
        ax.set_title(f"{stage_result.graph}, k={stage_result.k}, gap {100 * stage_result.gap:.2f}%")
        ax.legend()
        fig.tight_layout()
        path = os.path.join(out, f"stages_{stage_result.graph}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def run_zoo(models: str | None, ks: list[int], preset: str = "default", time_limit: Any = NOT_GIVEN,
            out: str = "zoo-results", seed: int = 0, progress: bool = True) -> list[dict]:
    """Partition the matching zoo models for every k; see the module docstring for the files."""
    names = zoo.names(models)
    if not names:
        raise GraphError(f"no zoo model matches {models!r}; see `pjpart zoo list`")
    os.makedirs(out, exist_ok=True)
    json_path = os.path.join(out, "results.json")
    previous: list = []
    if os.path.exists(json_path):
        with open(json_path) as fh:
            previous = json.load(fh)
    finished = list(previous)
    last: dict = {}

    def save(rec: dict, result: Any) -> None:
        finished.append(rec)
        last[rec["graph"]] = result
        write_records(finished, json_path)

    graphs = [zoo.load(name) for name in names]
    records = sweep(graphs, ks, [preset], [seed], time_limit=time_limit, resume=previous, progress=progress,
                    on_result=save)
    write_records(records, json_path)
    write_records(records, os.path.join(out, "results.csv"))
    with open(os.path.join(out, "summary.md"), "w") as fh:
        limit = "the preset's time limit" if time_limit is NOT_GIVEN else f"time limit {time_limit} s"
        fh.write(f"# pjpart zoo run: preset {preset}, {limit} per (model, k)\n\n")
        fh.write(summary_table(records) + "\n")
    shown = last.get(names[0])
    _plots(records, shown, out)
    return records
