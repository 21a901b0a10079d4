"""``sweep``: run a grid of (graph, k, method, seed, cost model) and return flat records.

A method is a search preset (``paper``, ``fast``, ``default``, ``large``), a
baseline (``greedy``, ``chain-balanced``, ``random``) or a callable of the user's own,
``method(graph, k, seed, cost_model) -> PartitionResult`` (its record names it
``module.qualname``).  Records are flat dicts, ready for ``pandas.DataFrame(records)``,
and :func:`write_records` saves them as CSV or JSON.

Honest records.  A record carries, besides its results, everything that determines
them (:data:`SETTINGS`): the graph (name, content hash ``graph_hash``, n, m), k,
method, seed, the time limit (``time_limit``: as given, else the preset's; ``None``:
none), the evaluation budget (``max_evaluations``), the cost model's fields and the
other ``overrides`` (as JSON); and what does not: ``pjpart_version`` and the machine
that ran it (``hostname``, ``cpus``), ``seconds``.  ``status`` is ``"ok"``, or
``"failed"`` for a cell whose run raised an unexpected error or whose worker died
twice (``error`` says why; no bottleneck).  With ``resume=`` a list of earlier
records, a cell whose settings all equal an earlier ok record's is not run again
(``pjpart zoo run`` uses this to resume); failed records and records that lack one of
the settings (written by an older pjpart) match nothing.

Comparable gaps.  Every bound is proven ``<=`` the optimum, so the best of them is
too: the records of one (graph content, cost model, k) share the best bound of the
sweep's runs (:func:`share_bounds`): ``bound``/``bound_method`` are that best bound and
the method that proved it, ``gap`` is measured against it, and ``own_bound``/
``own_bound_method`` keep the run's own.

Backends (:mod:`pjpart.backends`): ``sequential`` (this process), ``processes``
(local loky processes), ``dask`` (a loopback LocalCluster, or ``address``) and ``ray``.
Cells go out group by group, (graph, k) groups ``n_jobs`` at a time with their cells
taken in turn (:func:`pjpart.backends.spread`), so that a worker tends to meet the shapes it compiled;
workers on one machine share the on-disk kernel cache (``compile_cache``, by default the
one this process enabled).  The records come back in grid order whatever the backend.

Example
-------
>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)], name="chain")
>>> recs = pjpart.sweep([g], ks=[2], methods=["greedy"], progress=False)
>>> recs[0]["graph"], recs[0]["k"], recs[0]["bottleneck"], recs[0]["status"]
('chain', 2, 6.0, 'ok')
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import os
import socket
import sys
from typing import Any, Callable, Iterable

from .backends import check as _check_backend
from .backends import run_cells, spread, usable_cores
from .cost import STAGE_FIELDS, CostModel, cost_model_for
from .examples import resolve_graph
from .errors import ConfigError, PjpartError
from .graph import Graph
from .result import PartitionResult, relative_gap
from .search import BASELINES, NOT_GIVEN, PRESETS, Solver, baseline, load_preset
from .search.config import run_time_limit

FIELDS = ("graph", "n", "m", "k", "method", "seed", "time_limit", "max_evaluations", "status", "bottleneck",
          "bound", "bound_method", "gap", "own_bound", "own_bound_method", "evaluations", "seconds", "stopped_by",
          "graph_hash", "pjpart_version", "hostname", "cpus")

#: the cost model's fields, as columns of a record
COST_FIELDS = tuple(f.name for f in dataclasses.fields(CostModel))

#: what determines a record's result: the resume key
SETTINGS = ("graph", "graph_hash", "n", "m", "k", "method", "seed", "time_limit",
            "max_evaluations") + COST_FIELDS + ("overrides",)

#: settings a record may lack: the per-stage lists of a heterogeneous pipeline (absent: scalar)
OPTIONAL_FIELDS = STAGE_FIELDS + ("stage_device",)

#: fields that depend on the machine and the moment, not on the settings
MACHINE_FIELDS = ("seconds", "hostname", "cpus", "pjpart_version")

#: a user's method: ``method(graph, k, seed, cost_model) -> PartitionResult``
Method = Callable[[Graph, int, int, CostModel], PartitionResult]


def graph_hash(graph: Graph) -> str:
    """The graph's content: sha256 (16 hex digits) of its node ids, arrays and edges as
    sorted JSON; the name, units and other metadata do not count.

    >>> a = Graph.from_arrays(work=[1, 2], edges=[(0, 1)], name="a")
    >>> graph_hash(a) == graph_hash(Graph.from_arrays(work=[1, 2], edges=[(0, 1)], name="b"))
    True
    """
    data = graph.to_json()
    text = json.dumps({"nodes": data["nodes"], "edges": data["edges"]}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def method_name(method: str | Method) -> str:
    """A method's name in records: a preset's or baseline's, else ``module.qualname`` of the
    callable (of the function a ``functools.partial`` wraps)."""
    if isinstance(method, str):
        return method
    fn = getattr(method, "func", method)
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def settings(graph: Graph, k: int, method: str | Method, seed: int = 0, cost_model: CostModel | None = None,
             time_limit: Any = NOT_GIVEN, overrides: dict | None = None, content: str | None = None) -> dict:
    """The fields of :data:`SETTINGS` for one cell, resolved: ``time_limit`` not given is the
    preset's (``pjpart.load_preset(method).stop.time_limit``; a baseline's or callable's:
    ``None``), the cost model not given is the graph's (:func:`pjpart.cost_model_for`),
    ``inf`` is ``None``; ``content``: the :func:`graph_hash` if known.

    >>> g = Graph.from_arrays(work=[1, 2], edges=[(0, 1)], name="two")
    >>> s = settings(g, 2, "default")
    >>> s["time_limit"], s["max_evaluations"], s["bandwidth"], s["memory"], s["overrides"]
    (10.0, None, 1.0, None, '{}')
    """
    overrides = dict(overrides or {})
    if isinstance(method, str) and method in PRESETS:
        limit = run_time_limit(time_limit, overrides.get("max_evaluations", NOT_GIVEN),
                               overrides.get("generations", NOT_GIVEN))
        stop = load_preset(method, time_limit=limit, **{k: v for k, v in overrides.items() if k != "time_limit"}).stop
        limit, evals = stop.time_limit, stop.max_evaluations
    else:
        limit = None if time_limit is NOT_GIVEN else time_limit
        evals = overrides.get("max_evaluations")
    cm = cost_model if cost_model is not None else cost_model_for(graph)
    rest = {key: val for key, val in overrides.items() if key not in ("max_evaluations", "time_limit")}
    return {"graph": graph.name, "graph_hash": content or graph_hash(graph), "n": graph.n, "m": graph.m,
            "k": int(k), "method": method_name(method), "seed": seed,
            "time_limit": None if limit is None else float(limit),
            "max_evaluations": None if evals is None else int(evals), **cm.to_json(),
            "overrides": json.dumps(rest, sort_keys=True, default=str)}


def resume_key(rec: dict) -> str | None:
    """The resume key of a record (``None`` when it lacks one of :data:`SETTINGS`)."""
    if any(name not in rec for name in SETTINGS if name not in OPTIONAL_FIELDS):
        return None

    def norm(x: Any) -> Any:  # 10 and 10.0 (CSV, JSON) are one setting
        return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x

    return json.dumps([norm(rec.get(name)) for name in SETTINGS], default=str)


def machine() -> dict:
    """``pjpart_version``, ``hostname`` and ``cpus`` (usable cores) of this process."""
    from . import __version__

    return {"pjpart_version": __version__, "hostname": socket.gethostname(), "cpus": usable_cores()}


def record(graph: Graph, result: PartitionResult, method: str | Method, *, seed: Any = NOT_GIVEN,
           time_limit: Any = NOT_GIVEN, overrides: dict | None = None, content: str | None = None,
           **extra: Any) -> dict:
    """The flat record of one run: its :func:`settings` (the cost model: the result's; the
    seed: the result's unless given), then its results and :func:`machine`."""
    seed = result.seed if seed is NOT_GIVEN else seed
    rec = settings(graph, result.k, method, seed, result.cost_model, time_limit, overrides, content)
    rec.update({"status": "ok", "bottleneck": result.bottleneck, "bound": result.lower_bound,
                "bound_method": result.bound_method, "gap": result.gap, "own_bound": result.lower_bound,
                "own_bound_method": result.bound_method, "evaluations": int(result.evaluations),
                "seconds": round(result.seconds, 4), "stopped_by": result.stopped_by, **machine(), **extra})
    return rec


def failed_record(cell_settings: dict, error: str, **machine_fields: Any) -> dict:
    """The record of a cell that gave no result: its settings, ``status="failed"`` and ``error``."""
    from . import __version__

    rec = dict(cell_settings)
    rec.update({name: None for name in FIELDS if name not in rec})
    rec.update({"status": "failed", "error": error, "pjpart_version": __version__, **machine_fields})
    return rec


def run_one(graph: Graph, k: int, method: str | Method, seed: int = 0, cost_model: CostModel | None = None,
            time_limit: Any = NOT_GIVEN, solver: Solver | None = None, **overrides: Any) -> PartitionResult:
    """One cell: a preset through :meth:`pjpart.Solver.partition`, a baseline, or a callable
    (given the cost model resolved).

    ``time_limit`` not given: the preset's (a baseline's: none)."""
    if callable(method):
        return method(graph, k, seed, cost_model if cost_model is not None else cost_model_for(graph))
    if method in BASELINES:
        kw = {"max_evaluations": overrides["max_evaluations"]} if "max_evaluations" in overrides else {}
        return baseline(graph, k, method, cost_model, seed=seed,
                        time_limit=None if time_limit is NOT_GIVEN else time_limit, **kw)
    if method not in PRESETS:
        raise ConfigError(f"unknown method {method!r}; presets {', '.join(PRESETS)}, baselines {', '.join(BASELINES)}")
    return (solver or Solver()).partition(graph, k, cost_model, preset=method, seed=seed, time_limit=time_limit,
                                          **overrides)


@dataclasses.dataclass
class Cell:
    """One cell of a sweep, as a worker gets it."""

    graph: Graph
    content: str
    k: int
    method: str | Method
    seed: int
    cost_model: CostModel | None
    time_limit: Any
    overrides: dict
    settings: dict
    compile_cache: str | None = None
    release_compiled: bool = True


#: what a worker process keeps between cells: its Solver, the graph it ran last, its kernel cache
_WORKER: dict = {"solver": None, "content": None, "cache": None}


def execute(cell: Cell, solver: Solver | None = None) -> tuple:
    """Run one cell in this process (what every backend's workers call): ``("ok", record,
    result)``; ``("failed", record)`` for an unexpected error; ``("raise", error)`` for a
    :class:`pjpart.PjpartError` (bad input: the sweep raises it).

    A worker (no ``solver`` given) keeps one Solver, enables ``compile_cache`` before its
    first search, and releases the compiled kernels when a cell of another graph comes."""
    if solver is None:
        if cell.compile_cache and _WORKER["cache"] != cell.compile_cache:
            from .compile_cache import enable_compilation_cache

            try:
                enable_compilation_cache(cell.compile_cache)
            except OSError:
                pass  # only the cache is lost
            _WORKER["cache"] = cell.compile_cache
        if cell.release_compiled and _WORKER["content"] not in (None, cell.content) and "jax" in sys.modules:
            import jax

            jax.clear_caches()
        _WORKER["content"] = cell.content
        solver = _WORKER["solver"] = _WORKER["solver"] or Solver()
    try:
        result = run_one(cell.graph, cell.k, cell.method, cell.seed, cell.cost_model, cell.time_limit, solver,
                         **cell.overrides)
        if not isinstance(result, PartitionResult):
            raise TypeError(f"method {method_name(cell.method)} returned {type(result).__name__}, "
                            f"not a PartitionResult")
    except PjpartError as exc:
        return ("raise", exc)
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        return ("failed", failed_record(cell.settings, f"{type(exc).__name__}: {exc}", **machine()))
    rec = record(cell.graph, result, cell.method, seed=cell.seed, time_limit=cell.time_limit,
                 overrides=cell.overrides or None, content=cell.content)
    return ("ok", rec, result)


def share_bounds(records: list[dict]) -> list[dict]:
    """Give the records of each (graph content, cost model, k) the best bound any of them proved.

    Every bound is proven ``<=`` the optimum, so their maximum is too.

    Parameters
    ----------
    records
        Sweep records; changed in place.  In each group of ok records with the same
        ``graph_hash``, cost-model fields and ``k``: ``bound`` and ``bound_method`` become
        the group's best ``own_bound`` (a record without one: its ``bound``) and the method
        that proved it, ``gap`` is recomputed against it (:func:`pjpart.result.relative_gap`);
        ``own_bound``/``own_bound_method`` keep each run's own.  Failed records and those of
        an older pjpart (no ``graph_hash``) are left as they are.

    Returns
    -------
    list of dict
        ``records``.

    Examples
    --------
    >>> import pjpart
    >>> recs = [{"graph_hash": "ab", "k": 2, "bottleneck": 10.0, "bound": 8.0, "bound_method": "mip"},
    ...         {"graph_hash": "ab", "k": 2, "bottleneck": 12.0, "bound": 5.0, "bound_method": "combinatorial"}]
    >>> [(r["bound"], r["bound_method"], r["own_bound"], r["gap"]) for r in pjpart.share_bounds(recs)]
    [(8.0, 'mip', 8.0, 0.25), (8.0, 'mip', 5.0, 0.5)]
    """
    groups: dict = {}
    for r in records:
        if r.get("status", "ok") != "ok" or "graph_hash" not in r or r.get("bottleneck") is None:
            continue
        if r.get("own_bound") is None:
            r["own_bound"], r["own_bound_method"] = r.get("bound"), r.get("bound_method")
        if r["own_bound"] is None:
            continue
        key = (r["graph_hash"], int(r["k"]), json.dumps([r.get(name) for name in COST_FIELDS], default=str))
        groups.setdefault(key, []).append(r)
    for rows in groups.values():
        best = max(rows, key=lambda r: float(r["own_bound"]))  # the first of equal bounds
        for r in rows:
            r["bound"], r["bound_method"] = best["own_bound"], best["own_bound_method"]
            r["gap"] = relative_gap(float(r["bottleneck"]), float(r["bound"]))
    return records


def _caller_cache() -> str | None:
    """The kernel cache folder this process enabled (before or after importing JAX), if any."""
    if "jax" in sys.modules:
        import jax

        folder = getattr(jax.config, "jax_compilation_cache_dir", None)
        if folder:
            return folder
    return os.environ.get("JAX_COMPILATION_CACHE_DIR") or None


def sweep(graphs: Iterable, ks: Iterable[int], methods: Iterable[str | Method] = ("default",),
          seeds: Iterable[int] = (0,), *, cost_model: CostModel | None = None,
          cost_models: Iterable[CostModel | None] | None = None, time_limit: Any = NOT_GIVEN,
          overrides: dict | None = None, resume: list | None = None, progress: bool = True,
          on_result: Callable[[dict, PartitionResult | None], None] | None = None,
          release_compiled: bool = True, backend: str = "sequential", n_jobs: int | None = None,
          address: str | None = None, compile_cache: Any = NOT_GIVEN) -> list[dict]:
    """Run every (graph, k, method, seed, cost model); graphs are :class:`Graph` objects, files,
    examples or zoo names.  Returns the records in grid order (see the module docstring).

    Parameters
    ----------
    methods
        Presets, baselines or callables ``method(graph, k, seed, cost_model) ->
        PartitionResult`` (picklable for a backend other than ``sequential``).
    cost_model, cost_models
        One cost model, or a list of them (``None`` in it: the graph's own) as a dimension
        of the grid; neither: each graph's own.
    resume
        Earlier records: a cell with the settings of an ok one is not run again.
    on_result
        ``on_result(record, result)`` as each cell finishes (``result`` is ``None`` for a
        failed cell); the records' bounds are shared only after the whole sweep.
    release_compiled
        Every graph shape and k compiles its own kernels.  ``jax.clear_caches()`` runs
        after each graph's cells (in a worker: when a cell of another graph comes):
        without it a sweep over a whole zoo exhausted the process's memory mappings
        after about 80 (model, k) cells (LLVM "Cannot allocate memory").  It also drops
        the caller's own compiled JAX functions, which then compile again on their next call.
    backend, n_jobs, address
        Where cells run (:data:`pjpart.backends.BACKENDS`): ``n_jobs`` workers (default: the
        usable cores; 1 for ``sequential``), ``address`` a Dask scheduler or Ray cluster.
    compile_cache
        The kernel cache folder the workers enable (not given: the one this process
        enabled, :func:`pjpart.enable_compilation_cache`; ``None``: none).

    One :class:`pjpart.Solver` (per worker) runs every cell, so that no cell compiles a
    kernel that an earlier time-limited cell left compiling.  A :class:`pjpart.PjpartError`
    (bad input) raises; any other error in a cell, and a worker that dies twice, make a
    failed record, and the sweep goes on.
    """
    n_jobs = _check_backend(backend, n_jobs, address)
    if cost_model is not None and cost_models is not None:
        raise ConfigError("give cost_model or cost_models, not both")
    models = [cost_model] if cost_models is None else list(cost_models)
    if not models:
        raise ConfigError("cost_models is empty")
    methods, ks, seeds = list(methods), [int(k) for k in ks], list(seeds)
    for m in methods:
        if not callable(m) and m not in PRESETS and m not in BASELINES:
            raise ConfigError(f"unknown method {m!r}; presets {', '.join(PRESETS)}, baselines "
                              f"{', '.join(BASELINES)}, or a callable")
    graphs = [g if isinstance(g, Graph) else resolve_graph(str(g)) for g in graphs]
    contents = [graph_hash(g) for g in graphs]
    cache = (_caller_cache() if compile_cache is NOT_GIVEN else compile_cache) if backend != "sequential" else None
    over = dict(overrides or {})
    cells = [Cell(g, h, k, m, s, cm, time_limit, over, settings(g, k, m, s, cm, time_limit, over, h), cache,
                  release_compiled)
             for g, h in zip(graphs, contents) for k in ks for cm in models for m in methods for s in seeds]
    done = {key: r for r in (resume or []) if r.get("status", "ok") == "ok" and (key := resume_key(r)) is not None}
    records: list = [None] * len(cells)
    todo = []
    for i, cell in enumerate(cells):
        key = resume_key(cell.settings)
        if key in done:
            records[i] = dict(done[key])
        else:
            todo.append(i)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(cells), initial=len(cells) - len(todo), unit="run", dynamic_ncols=True)
    solver = Solver()
    sequential = backend == "sequential"
    if sequential:
        after = dict(zip(todo, todo[1:] + [None]))  # the cell run next

        def work(i: int) -> tuple:
            cell = cells[i]
            if bar is not None:
                bar.set_description(f"{cell.graph.name} k={cell.k} {method_name(cell.method)}")
            outcome = execute(cell, solver)
            last = after[i] is None or cells[after[i]].content != cell.content
            if release_compiled and last and "jax" in sys.modules:  # the graph's last cell
                import jax

                jax.clear_caches()
            return outcome

        outcomes = run_cells([(i, i) for i in todo], work, "sequential")
    else:
        outcomes = run_cells([(i, cells[i]) for i in spread(todo, cells, n_jobs)], execute, backend, n_jobs,
                             address)
    try:
        for i, ok, value in outcomes:
            if not ok:
                value = ("failed", failed_record(cells[i].settings, value, hostname=None, cpus=None))
            if value[0] == "raise":
                raise value[1]
            rec, result = value[1], (value[2] if value[0] == "ok" else None)
            records[i] = rec
            if on_result is not None:
                on_result(rec, result)
            if bar is not None:
                bar.update(1)
                gap = rec["gap"]
                bar.set_postfix(gap="failed" if gap is None else f"{100 * gap:.2f}%" if math.isfinite(gap) else "inf")
    finally:
        outcomes.close()  # a local cluster shuts down now, also after an error or Ctrl-C
        if bar is not None:
            bar.close()
    return share_bounds(records)


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
