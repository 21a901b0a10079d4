"""``sweep``: run a grid of (graph, k, method, seed) and return flat records.

A method is a search preset (``paper``, ``fast``, ``default``, ``large``) or a
baseline (``greedy``, ``chain-balanced``, ``random``).  Records are flat dicts,
ready for ``pandas.DataFrame(records)``, and :func:`write_records` saves them as
CSV or JSON.  With ``resume=`` a list of earlier records, finished cells are not
run again (``pjpart zoo run`` uses this to resume).

Example
-------
>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)], name="chain")
>>> recs = pjpart.sweep([g], ks=[2], methods=["greedy"], progress=False)
>>> recs[0]["graph"], recs[0]["k"], recs[0]["bottleneck"]
('chain', 2, 6.0)
"""

from __future__ import annotations

import csv
import json
import math
from typing import Any, Callable, Iterable

from .cost import CostModel
from .examples import resolve_graph
from .errors import ConfigError
from .graph import Graph
from .result import PartitionResult
from .search import BASELINES, NOT_GIVEN, PRESETS, Solver, baseline

FIELDS = ("graph", "n", "m", "k", "method", "seed", "bottleneck", "bound", "bound_method", "gap", "evaluations",
          "seconds", "stopped_by")


def record(graph: Graph, result: PartitionResult, method: str, **extra: Any) -> dict:
    """The flat record of one run."""
    return {"graph": graph.name, "n": graph.n, "m": graph.m, "k": result.k, "method": method, "seed": result.seed,
            "bottleneck": result.bottleneck, "bound": result.lower_bound, "bound_method": result.bound_method,
            "gap": result.gap, "evaluations": int(result.evaluations), "seconds": round(result.seconds, 4),
            "stopped_by": result.stopped_by, **extra}


def run_one(graph: Graph, k: int, method: str, seed: int = 0, cost_model: CostModel | None = None,
            time_limit: Any = NOT_GIVEN, solver: Solver | None = None, **overrides: Any) -> PartitionResult:
    """One cell: a preset through :meth:`pjpart.Solver.partition`, or a baseline.

    ``time_limit`` not given: the preset's (a baseline's: none)."""
    if method in BASELINES:
        kw = {"max_evaluations": overrides["max_evaluations"]} if "max_evaluations" in overrides else {}
        return baseline(graph, k, method, cost_model, seed=seed,
                        time_limit=None if time_limit is NOT_GIVEN else time_limit, **kw)
    if method not in PRESETS:
        raise ConfigError(f"unknown method {method!r}; presets {', '.join(PRESETS)}, baselines {', '.join(BASELINES)}")
    return (solver or Solver()).partition(graph, k, cost_model, preset=method, seed=seed, time_limit=time_limit,
                                          **overrides)


def sweep(graphs: Iterable, ks: Iterable[int], methods: Iterable[str] = ("default",), seeds: Iterable[int] = (0,),
          *, cost_model: CostModel | None = None, time_limit: Any = NOT_GIVEN, overrides: dict | None = None,
          resume: list | None = None, progress: bool = True,
          on_result: Callable[[dict, PartitionResult], None] | None = None,
          release_compiled: bool = True) -> list[dict]:
    """Run every (graph, k, method, seed); graphs are :class:`Graph` objects, files, examples or zoo names.

    Every graph shape and k compiles its own kernels.  With ``release_compiled``
    (the default) ``jax.clear_caches()`` runs after each graph's cells: without it
    a sweep over a whole zoo exhausted the process's memory mappings after about 80
    (model, k) cells (LLVM "Cannot allocate memory").  It also drops the caller's
    own compiled JAX functions, which then compile again on their next call.
    One :class:`pjpart.Solver` runs every cell, so that no cell compiles a kernel that an
    earlier time-limited cell left compiling.
    """
    graphs = [g if isinstance(g, Graph) else resolve_graph(str(g)) for g in graphs]
    cells = [(g, k, m, s) for g in graphs for k in ks for m in methods for s in seeds]
    done = {(r["graph"], int(r["k"]), r["method"], r["seed"]): r for r in (resume or [])}
    records = []
    solver = Solver()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(cells), unit="run", dynamic_ncols=True)
    for i, (g, k, m, s) in enumerate(cells):
        key = (g.name, int(k), m, s)
        if bar is not None:
            bar.set_description(f"{g.name} k={k} {m}")
        if key in done:
            records.append(done[key])
        else:
            result = run_one(g, int(k), m, s, cost_model, time_limit, solver, **(overrides or {}))
            rec = record(g, result, m)
            records.append(rec)
            if on_result is not None:
                on_result(rec, result)
        if release_compiled and (i + 1 == len(cells) or cells[i + 1][0] is not g):  # the graph's last cell
            import jax

            jax.clear_caches()
        if bar is not None:
            bar.update(1)
            last = records[-1]
            bar.set_postfix(gap=f"{100 * last['gap']:.2f}%" if math.isfinite(last["gap"]) else "inf")
    if bar is not None:
        bar.close()
    return records


def write_records(records: list[dict], path: str) -> None:
    """Save records as CSV (``.csv``) or JSON (anything else)."""
    if path.endswith(".csv"):
        keys = list(FIELDS) + sorted({key for r in records for key in r} - set(FIELDS))
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(records)
    else:
        with open(path, "w") as fh:
            json.dump(records, fh, indent=1)
