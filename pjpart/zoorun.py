"""``pjpart zoo run``: partition every (zoo model, k), resumable, with a results table and plots.

Files written under ``out``: ``results.json`` (rewritten after every run, so an
interrupted run resumes from it), ``results.csv``, ``summary.md`` (per preset, time
limit and k: the geometric-mean gap and the median seconds), ``gaps.png`` (gap by
model and k, this invocation's rows) and ``stages_MODEL.png`` (stage costs of the first
model, at the last k this invocation ran for it; none when everything was resumed).

A run resumes a cell only from a record with the same settings
(:data:`pjpart.sweep.SETTINGS`: model, k, preset, seed, time limit, evaluation budget,
cost model), and merges its records into the files already in ``out``: rows of other
models, k, time limits or presets are kept, a row with the same settings is replaced;
nothing is truncated.  A failed row (``status="failed"``: its worker died twice, or it
raised an unexpected error) does not count as done: the next run reruns it.  The rows of
one (model content, cost model, k) share the best bound among them
(:func:`pjpart.sweep.share_bounds`), so gaps of every preset and time limit in the
files are measured against one bound.  ``summary.md`` summarises every row of
``results.json``, one line per (preset, time limit, k), failed rows counted apart.

``backend``, ``n_jobs`` and ``address`` choose where the cells run (:mod:`pjpart.backends`);
the files are written by this process as results arrive, whatever the backend.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from typing import Any

from . import zoo
from .errors import ConfigError
from .graph import GraphError
from .search import NOT_GIVEN
from .sweep import resume_key, share_bounds, sweep, write_records


def geomean(values) -> float:
    """Geometric mean of the finite positive values (``nan`` if none)."""
    vals = [float(v) for v in values if math.isfinite(v) and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else math.nan


def _limit(value: Any) -> str:
    return "none" if value is None else f"{float(value):g} s"


def summary_table(records: list[dict]) -> str:
    """Markdown: per (method, time limit, evaluation budget, k): runs, geometric mean of
    (1 + gap) - 1, worst gap, median seconds.  Records without a ``time_limit`` (older
    files) show ``?``."""
    def group(r: dict) -> tuple:
        return (str(r.get("method", "?")), "?" if "time_limit" not in r else _limit(r["time_limit"]),
                "?" if "max_evaluations" not in r else str(r["max_evaluations"] or "none"), int(r["k"]))

    groups: dict = {}
    for r in records:
        groups.setdefault(group(r), []).append(r)
    lines = ["| preset | time limit | max evaluations | k | runs | geo-mean gap | worst gap | median s | failed |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (method, limit, evals, k), rows in sorted(groups.items(), key=lambda t: (t[0][0], t[0][1], t[0][2],
                                                                                  t[0][3])):
        ok = [r for r in rows if not _failed(r)]
        failed = len(rows) - len(ok)
        if not ok:
            lines.append(f"| {method} | {limit} | {evals} | {k} | 0 | - | - | - | {failed} |")
            continue
        gaps = [float(r["gap"]) for r in ok]
        gm = geomean([1 + g for g in gaps]) - 1
        lines.append(f"| {method} | {limit} | {evals} | {k} | {len(ok)} | {100 * gm:.2f}% | "
                     f"{100 * max(gaps):.2f}% | {statistics.median(float(r['seconds']) for r in ok):.2f} | "
                     f"{failed} |")
    return "\n".join(lines)


def _failed(r: dict) -> bool:
    return r.get("status", "ok") != "ok" or r.get("gap") is None


def _describe(records: list[dict]) -> str:
    """What the rows of ``summary.md`` are: models, presets and time limits."""
    models = sorted({r["graph"] for r in records})
    limits: dict = {}
    for r in records:
        key = f"{r.get('method', '?')}, time limit {_limit(r['time_limit']) if 'time_limit' in r else '?'}"
        limits[key] = limits.get(key, 0) + 1
    parts = "; ".join(f"{key}: {count} row{'s' if count > 1 else ''}" for key, count in sorted(limits.items()))
    old = any("time_limit" not in r for r in records)
    return (f"{len(records)} rows of results.json ({len(models)} models): {parts}."
            + (" Rows with time limit `?` were written by an older pjpart." if old else ""))


def read_results(path: str) -> list[dict]:
    """The records of an earlier ``results.json`` (``[]`` when there is none)."""
    if not os.path.exists(path):
        return []
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a results file (malformed JSON: {exc}); move it away or choose "
                          f"another --out") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) and "graph" in r and "k" in r for r in data):
        raise ConfigError(f"{path}: not a results file (expected a JSON list of records); move it away or "
                          f"choose another --out")
    return data


def _plots(records: list[dict], stage_result: Any, out: str) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    import numpy as np

    written = []
    records = [r for r in records if not _failed(r)]
    if not records:
        return written
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
            out: str = "zoo-results", seed: int = 0, progress: bool = True, backend: str = "sequential",
            n_jobs: int | None = None, address: str | None = None) -> list[dict]:
    """Partition the matching zoo models for every k; see the module docstring for the files.

    Returns this invocation's records (resumed ones included); the files hold them merged
    with every earlier row in ``out``.
    """
    names = zoo.names(models)
    if models:  # a model named exactly runs at any granularity (`--models bert-base-op`)
        exact = [m.strip() for m in models.split(",") if m.strip() in zoo.index()]
        names = sorted(set(names) | set(exact))
    if not names:
        raise GraphError(f"no zoo model matches {models!r}; see `pjpart zoo list`")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ConfigError(f"--out {out!r} is a file, not a folder")
    os.makedirs(out, exist_ok=True)
    json_path = os.path.join(out, "results.json")
    previous = read_results(json_path)
    merged = list(previous)
    where = {key: i for i, r in enumerate(merged) if (key := resume_key(r)) is not None}
    last: dict = {}

    def merge(rec: dict) -> None:
        key = resume_key(rec)
        if key in where:
            merged[where[key]] = rec
        else:
            where[key] = len(merged)
            merged.append(rec)

    def save(rec: dict, result: Any) -> None:
        merge(rec)
        if result is not None:
            last[rec["graph"]] = result
        write_records(merged, json_path)

    graphs = [zoo.load(name) for name in names]
    records = sweep(graphs, ks, [preset], [seed], time_limit=time_limit, resume=previous, progress=progress,
                    on_result=save, backend=backend, n_jobs=n_jobs, address=address)
    for rec in records:
        merge(rec)
    share_bounds(merged)
    write_records(merged, json_path)
    write_records(merged, os.path.join(out, "results.csv"))
    with open(os.path.join(out, "summary.md"), "w") as fh:
        fh.write("# pjpart zoo run\n\n")
        fh.write(_describe(merged) + "\n\n")
        fh.write(summary_table(merged) + "\n")
    shown = last.get(names[0])
    _plots(records, shown, out)
    return records
