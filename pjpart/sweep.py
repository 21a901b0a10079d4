"""``sweep``: run a grid of (graph, k, method, seed) and return flat records.

A method is a search preset (``paper``, ``fast``, ``default``, ``large``) or a
baseline (``greedy``, ``chain-balanced``, ``random``).  Records are flat dicts,
ready for ``pandas.DataFrame(records)``, and :func:`write_records` saves them as
CSV or JSON.  A record carries, besides its results, everything that determines
them (:data:`SETTINGS`): the graph (name, n, m), k, method, seed, the time limit
(``time_limit``: as given, else the preset's; ``None``: none), the evaluation budget
(``max_evaluations``), the cost model's fields and the other ``overrides`` (as
JSON).  With ``resume=`` a list of earlier records, a cell whose settings all equal
an earlier record's is not run again (``pjpart zoo run`` uses this to resume); a
record that lacks one of the settings (written by an older pjpart) matches nothing.

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
import dataclasses
import json
import math
from typing import Any, Callable, Iterable

from .cost import CostModel, cost_model_for
from .examples import resolve_graph
from .errors import ConfigError
from .graph import Graph
from .result import PartitionResult
from .search import BASELINES, NOT_GIVEN, PRESETS, Solver, baseline, load_preset
from .search.config import run_time_limit

FIELDS = ("graph", "n", "m", "k", "method", "seed", "time_limit", "max_evaluations", "bottleneck", "bound",
          "bound_method", "gap", "evaluations", "seconds", "stopped_by")


#: the cost model's fields, as columns of a record
COST_FIELDS = tuple(f.name for f in dataclasses.fields(CostModel))

#: what determines a record's result: the resume key
SETTINGS = ("graph", "n", "m", "k", "method", "seed", "time_limit", "max_evaluations") + COST_FIELDS + ("overrides",)


def settings(graph: Graph, k: int, method: str, seed: int = 0, cost_model: CostModel | None = None,
             time_limit: Any = NOT_GIVEN, overrides: dict | None = None) -> dict:
    """The fields of :data:`SETTINGS` for one cell, resolved: ``time_limit`` not given is the
    preset's (``pjpart.load_preset(method).stop.time_limit``; a baseline's: ``None``), the
    cost model not given is the graph's (:func:`pjpart.cost_model_for`), ``inf`` is ``None``.

    >>> g = Graph.from_arrays(work=[1, 2], edges=[(0, 1)], name="two")
    >>> s = settings(g, 2, "default")
    >>> s["time_limit"], s["max_evaluations"], s["bandwidth"], s["memory"], s["overrides"]
    (10.0, None, 1.0, None, '{}')
    """
    overrides = dict(overrides or {})
    if method in PRESETS:
        limit = run_time_limit(time_limit, overrides.get("max_evaluations", NOT_GIVEN),
                               overrides.get("generations", NOT_GIVEN))
        stop = load_preset(method, time_limit=limit, **{k: v for k, v in overrides.items() if k != "time_limit"}).stop
        limit, evals = stop.time_limit, stop.max_evaluations
    else:
        limit = None if time_limit is NOT_GIVEN else time_limit
        evals = overrides.get("max_evaluations")
    cm = cost_model if cost_model is not None else cost_model_for(graph)
    rest = {key: val for key, val in overrides.items() if key not in ("max_evaluations", "time_limit")}
    return {"graph": graph.name, "n": graph.n, "m": graph.m, "k": int(k), "method": method, "seed": seed,
            "time_limit": None if limit is None else float(limit),
            "max_evaluations": None if evals is None else int(evals), **cm.to_json(),
            "overrides": json.dumps(rest, sort_keys=True, default=str)}


def resume_key(rec: dict) -> str | None:
    """The resume key of a record (``None`` when it lacks one of :data:`SETTINGS`)."""
    if any(name not in rec for name in SETTINGS):
        return None

    def norm(x: Any) -> Any:  # 10 and 10.0 (CSV, JSON) are one setting
        return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x

    return json.dumps([norm(rec[name]) for name in SETTINGS], default=str)


def record(graph: Graph, result: PartitionResult, method: str, *, seed: Any = NOT_GIVEN,
           time_limit: Any = NOT_GIVEN, overrides: dict | None = None, **extra: Any) -> dict:
    """The flat record of one run: its :func:`settings` (the cost model: the result's; the
    seed: the result's unless given), then its results."""
    seed = result.seed if seed is NOT_GIVEN else seed
    rec = settings(graph, result.k, method, seed, result.cost_model, time_limit, overrides)
    rec.update({"bottleneck": result.bottleneck, "bound": result.lower_bound, "bound_method": result.bound_method,
                "gap": result.gap, "evaluations": int(result.evaluations), "seconds": round(result.seconds, 4),
                "stopped_by": result.stopped_by, **extra})
    return rec


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
    done = {key: r for r in (resume or []) if (key := resume_key(r)) is not None}
    records = []
    solver = Solver()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(cells), unit="run", dynamic_ncols=True)
    for i, (g, k, m, s) in enumerate(cells):
        key = resume_key(settings(g, int(k), m, s, cost_model, time_limit, overrides))
        if bar is not None:
            bar.set_description(f"{g.name} k={k} {m}")
        if key in done:
            records.append(done[key])
        else:
            result = run_one(g, int(k), m, s, cost_model, time_limit, solver, **(overrides or {}))
            rec = record(g, result, m, seed=s, time_limit=time_limit, overrides=overrides)
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
