"""``lower_bound``: run bound formulations under a time limit and return the best, made safe.

Methods (each a proven lower bound on the optimal bottleneck; proofs in the
modules named):

=================  ==========================================================  =======================
name               what                                                        proof
=================  ==========================================================  =======================
``combinatorial``  ``max(work(V)/k, max_v work(v))`` + overflow terms           ``combinatorial.py``
``averaging``      work + the transfers no partition avoids, over ``k`` stages  ``averaging.py``
``mincut``         max over nodes of the cheapest block holding it (min cuts); ``mincut.py``
                   the partition around the block that gives it comes back
``exact-dp``       min-max DP over the downset lattice (exact; small lattices)  ``pjpart/lattice.py``
``relaxed-dp``     the same DP on the graph less its cheapest sources and sinks ``pjpart/reduce.py``
``guess``          bottleneck guessing: stage windows, then the LP and the MIP  ``guess.py``, ``windows.py``
                   inside them refute guesses; its MIP's partitions come back;
                   a large graph is first relieved of its light strays         ``series.py``, ``reduce.py``
``chain``          groups in series priced by small MIPs, joined by a DP over    ``chain.py``
                   the stage of each cut node; guesses bisected below the known
                   partition's cost
``configuration``  guesses refuted by the cover LP of blocks of cost ``<= T``   ``configuration.py``
                   (column generation), counted per group of a graph in series
``spine``          stages along a heaviest path: each hop's work capped by min   ``spine.py``
                   cuts, a DP over the hops and the stages off the path
``superblock2``    MIPs over 2 superblocks ``(c, k-c)``, max over ``c``           ``stages.py``
``superblock3``    MIPs over ``(b, 1, k-1-b)``: before / at / after stage b     ``stages.py``
``lp``             LP relaxation of the exact MIP (weak; Clarabel, HiGHS fallback) ``stages.py``
``mip``            the exact MIP on HiGHS; its dual bound at the time limit     ``stages.py``
=================  ==========================================================  =======================

Each method is a function ``method(request: BoundRequest, budget: Budget) -> MethodBound``
in :data:`REGISTRY`; :data:`METHODS` lists their names in registry order, and
:data:`SOLVER_FREE` those that run without CVXPY (:func:`available_methods`).

``auto`` runs them in the order of bound per second measured by
``bench/bounds.py`` (results in ``bench/results/bounds.md``): combinatorial,
averaging (as cheap, and what counts a broadcast tensor's copies), mincut (what decides
communication-bound models at large k), exact-dp (when the lattice is small it IS the optimum),
relaxed-dp (with at most half of the time left: a bound only), chain (on graphs cut by clean cut
nodes, or cut past broadcast tables, into groups of at most 400 nodes, with at most 85% of the time
left, half until it refutes a guess where configuration counts the groups: it counts the traffic of
stage boundaries inside transformer sublayers, which the stage LP spreads away),
configuration (on graphs that cut into groups of at most 160 nodes, with at most three
quarters of the time left: it keeps parallel experts whole, where the stage LP splits them), spine (on graphs chain
cannot cut into groups, at k >= 4, with at most 40% of the time left: it counts what each stage of a wide multi-branch net
sends and receives), guess (the exact
MIP inside stage windows, with the time that is left: it certifies the wide and operator-level
graphs no lattice reaches, and finds their optimum when it can), then superblock2 and superblock3
if time remains.  A method with a share in :data:`SHARES` takes at most that share of the time
left when other methods follow it (``chain``: the share in :data:`IDLE_SHARES` until it refutes a
guess, where ``configuration`` follows and counts the graph's groups).  The CVXPY formulations
carry the best bound found before them as a row ``T >= bound`` (valid: the bound is ``<= T*``);
``guess`` starts its search there instead (a row pinned to a bound can make a solver's presolve
refute a feasible sliver).

A method may return a partition it found on the way (:attr:`MethodBound.partition`, on the reduced
graph): ``lower_bound`` projects it to the graph, re-costs it in float64 and keeps the cheapest in
:attr:`Bound.partition`; it counts as a known partition from then on (a later bound above it is
refused, one within :data:`pjpart.result.PROOF_TOLERANCE` of it ends the run).

Heterogeneous pipelines (SPEC 5): all are proven for them (``stages.py`` per superblock); ``mincut``
bounds the homogeneous relaxation (:func:`pjpart.cost.homogeneous_relaxation`).

Safety.  Solver values go through :func:`pjpart.bounds.stages.safe_bound`
(relative 1e-6 plus absolute 1e-7 on costs scaled to about 1).  A method whose
value is above a known partition's cost (``upper_bound``) is refused: with
``strict=True`` that raises :class:`BoundError` (the tests use this), otherwise
it is dropped with a warning and status ``refused``.

Example
-------
>>> import pjpart
>>> g = pjpart.load_graph(pjpart.example_path("tiny"))
>>> b = pjpart.lower_bound(g, 2, methods=["combinatorial", "mip"])
>>> b.method, round(b.value, 5)
('mip', 13.99999)
"""

from __future__ import annotations

import importlib.util
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from ..budget import Budget
from ..cost import CostModel, check_feasible, cost_model_for, evaluate
from ..errors import ConfigError
from ..result import PROOF_TOLERANCE
from ..graph import Graph, check_k
from ..reduce import reduce_graph
from .cache import BoundCache, is_final
from .methods import AUTO, IDLE_SHARES, METHODS, REGISTRY, SHARES, SOLVER_FREE, BoundRequest, MethodBound

class BoundError(AssertionError):
    """A bound above a feasible partition's cost: always a bug."""


@dataclass(frozen=True)
class Bound:
    """The best bound over the methods run, with every method's result.

    What :func:`lower_bound` returns.

    Attributes
    ----------
    value : float
        The best (largest) safe bound on the optimal bottleneck.
    method : str
        The method that gave it.
    k : int
        Number of stages.
    results : tuple
        Every method's :class:`MethodBound`, in the order they ran.
    seconds : float
        The time all the methods took together.
    partition : numpy.ndarray or None
        The cheapest partition a method found on the way (``guess``'s MIP, ``mincut``'s block),
        every node's stage, re-costed in float64 (``partition_cost``), found by ``partition_method``;
        ``None`` when none was found.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.load_graph(pjpart.example_path("tiny"))
    >>> b = lower_bound(g, 2, methods=["combinatorial", "exact-dp"])
    >>> b.value, b.method, b.k, b.by_method()
    (14.0, 'exact-dp', 2, {'combinatorial': 9.0, 'exact-dp': 14.0})
    """

    value: float
    method: str
    k: int
    results: tuple
    seconds: float
    partition: np.ndarray | None = field(default=None, compare=False, repr=False)
    partition_cost: float = math.inf
    partition_method: str = ""

    def by_method(self) -> dict:
        return {r.method: r.value for r in self.results}

    def to_json(self) -> dict:
        out = {"k": self.k, "lower_bound": self.value, "method": self.method, "seconds": round(self.seconds, 4),
               "methods": [r.to_json() for r in self.results]}
        if self.partition is not None:  # every node's stage, in the graph's node order
            out["partition"] = {"bottleneck": self.partition_cost, "method": self.partition_method,
                                "stages": [int(s) for s in self.partition]}
        return out


def _names(methods: str | Sequence[str]) -> list[str]:
    """``methods`` as a list of known names (``"auto"``: :data:`AUTO`); ConfigError on an unknown one."""
    names = list(AUTO if methods == "auto" else ([methods] if isinstance(methods, str) else methods))
    for name in names:
        if name not in REGISTRY:
            raise ConfigError(f"unknown bound method {name!r}; known: {', '.join(METHODS)} or 'auto'")
    return names


def available_methods(methods: str | Sequence[str] = "auto") -> tuple[str, ...]:
    """The requested methods that can run here: without CVXPY, only the :data:`SOLVER_FREE` ones.

    Checks whether CVXPY is installed without importing it, as importing it is slow.

    Parameters
    ----------
    methods
        ``"auto"``, one method name, or a list of names from :data:`METHODS`.

    Returns
    -------
    tuple of str
        The requested names (``"auto"``: :data:`AUTO`) in their order; without CVXPY those
        of them in :data:`SOLVER_FREE`, or ``("combinatorial",)`` when none is.

    Raises
    ------
    ConfigError
        On a name not in :data:`METHODS`.

    Examples
    --------
    >>> available_methods(["combinatorial", "mincut"])
    ('combinatorial', 'mincut')
    >>> set(available_methods("auto")) >= set(SOLVER_FREE)
    True
    """
    names = _names(methods)
    if importlib.util.find_spec("cvxpy") is not None:
        return tuple(names)
    return tuple(n for n in names if n in SOLVER_FREE) or ("combinatorial",)


def lower_bound(graph: Graph, k: int, cost_model: CostModel | None = None, *, methods="auto",
                time_limit: float | None = 30.0, upper_bound: float | None = None, strict: bool = False,
                max_downsets: int = 1_000_000, on_method: Callable[[MethodBound], None] | None = None,
                cache: BoundCache | None = None,
                on_progress: Callable[[str, float, float, str], None] | None = None,
                latest_upper: Callable[[], float] | None = None) -> Bound:
    """A lower bound on the optimal bottleneck of ``graph`` into ``k`` stages.

    Parameters
    ----------
    graph
        The graph to partition.
    k
        Number of stages (an integer >= 1).
    cost_model
        The block cost's parameters; by default the graph's recommended one
        (:func:`pjpart.cost.cost_model_for`).
    methods
        ``"auto"`` (:data:`AUTO`), one name or a list of names from :data:`METHODS`; they
        run in that order until ``time_limit`` is spent.  The combinatorial bound always
        runs (first, when not listed).
    time_limit
        Seconds for all the methods together; ``None`` for no limit.
    upper_bound
        A known partition's cost: the run stops once a bound reaches it, and a value
        above it is refused (see the module docstring).
    strict
        Raise :class:`BoundError` on a refused value instead of warning.
    max_downsets
        ``exact-dp`` and ``relaxed-dp`` run only on lattices with at most this many downsets,
        and at most what a quarter of the time left enumerates (about 10^5 per second).
    on_method
        Called with each method's checked result as soon as it is known (a search running
        alongside can use a bound before the slower ones end).
    on_progress
        ``on_progress(method, value, seconds, note)``: a long method's bound as it rises, before
        the method ends (``guess``, after each guess that raises it; ``value`` is proven).  With a
        ``cache``, each such value is kept there too (status ``partial``).
    latest_upper
        ``latest_upper()``: the cost of a partition found since the call (a search running
        alongside), read by the methods that aim below it (``configuration``); only a guide,
        never a value a bound is checked against.
    cache
        A :class:`~pjpart.bounds.cache.BoundCache`: methods it holds a final result for are not
        run again (status ``"... (cached)"``), its best value is the floor of the others and
        counts toward the result, and every new result is stored (a resumable run).

    Returns
    -------
    Bound
        The best value, the method that gave it, and every method's :class:`MethodBound`.

    Raises
    ------
    ConfigError
        On an unknown method name.
    GraphError
        On a bad ``k``.
    InfeasibleError
        When some node alone exceeds ``memory_limit``.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.load_graph(pjpart.example_path("tiny"))
    >>> b = lower_bound(g, 2, methods=["combinatorial", "exact-dp"])
    >>> b.method, b.value, [r.status for r in b.results]
    ('exact-dp', 14.0, ['proven', 'optimal'])
    """
    t0 = time.perf_counter()
    budget = Budget(None if time_limit is None else float(time_limit), start=t0)
    k = check_k(k)
    cm = cost_model or cost_model_for(graph)
    check_feasible(graph, cm, k)
    reduction = reduce_graph(graph, cm, k)
    reduced = reduction.graph  # the same optimum, so the same bounds hold (pjpart.reduce)
    names = _names(methods)
    if "combinatorial" not in names:
        names.insert(0, "combinatorial")
    results: list[MethodBound] = []
    best = MethodBound("combinatorial", 0.0, "", 0.0)
    found: tuple[float, np.ndarray | None, str] = (math.inf, None, "")  # the cheapest a method found
    cached = _cached(cache, graph, k, cm, upper_bound)
    for name, rec in cached.items():
        if rec["value"] > best.value:
            best = MethodBound(f"{name} (cached)", float(rec["value"]), rec["status"], 0.0)
    for at, name in enumerate(names):
        if results and budget.expired():
            results.append(MethodBound(name, 0.0, "no time", 0.0))
            continue
        # a final cached value stands, but mincut's (its node recorded) runs again: one cut rebuilds its partition
        if name in cached and is_final(cached[name]["status"]) and "node" not in cached[name]:
            rec = cached[name]
            res = MethodBound(name, float(rec["value"]), rec["status"] + " (cached)", 0.0)
        else:
            known = _known(upper_bound, found)
            request = BoundRequest(reduced, k, cm, max_downsets, best.value, cached.get(name, {}), known,
                                   _progress(on_progress, cache, graph, k, cm, known), latest_upper)
            share = SHARES.get(name, 1.0) if at + 1 < len(names) else 1.0
            if share < 1 and name in IDLE_SHARES and _counted_after(names[at + 1:], request):
                request = replace(request, idle_share=min(1.0, IDLE_SHARES[name] / share))
            res = REGISTRY[name](request, budget if share >= 1 or not budget.limited
                                 else budget.within(share * max(budget.remaining(), 0.0)))
            if res.partition is not None:  # on the reduced graph: projected and re-costed here
                res, found = _found_partition(res, reduction.project(res.partition), graph, k, cm, found)
        known = _known(upper_bound, found)
        if res.value > known * (1 + 1e-9):
            msg = (f"bound method {name!r} gave {res.value!r} above a feasible partition's cost "
                   f"{known!r}: a bound bug")
            if strict:
                raise BoundError(msg)
            warnings.warn(msg + "; value refused", RuntimeWarning, stacklevel=2)
            res = MethodBound(name, 0.0, "refused", res.seconds, {"refused_value": res.value})
        if cache is not None and not res.status.endswith("(cached)") and res.status != "refused" \
                and (res.value > 0 or is_final(res.status)):
            cache.store(graph, k, cm, res)  # after the refusal: a refused value is never kept
        results.append(res)
        if on_method is not None:
            on_method(res)
        if res.value > best.value:
            best = res
        if best.value >= known * (1 - PROOF_TOLERANCE):
            break  # proven optimal, up to the solvers' tolerance: nothing left to gain
        if name == "exact-dp" and res.status.startswith("optimal"):
            break  # the optimum itself
    return Bound(value=float(best.value), method=best.method, k=k, results=tuple(results),
                 seconds=time.perf_counter() - t0, partition=found[1], partition_cost=found[0],
                 partition_method=found[2])


def _counted_after(later: Sequence[str], request: BoundRequest) -> bool:
    """Whether ``configuration`` follows and counts this problem's groups (not skipped for their
    size): ``chain`` keeps to its idle share only then (:data:`IDLE_SHARES`)."""
    from .configuration import MAX_NODES, MAX_PART_NODES, counted_groups, cover_graph

    g, upper = request.graph, request.upper
    if "configuration" not in later or not 0 < g.n <= MAX_NODES:
        return False
    if not math.isfinite(upper):
        return True  # its groups follow from an upper bound it slices for itself
    groups = counted_groups(cover_graph(g, request.cost_model, upper)[0], request.floor, upper)
    return max(len(group) for group in groups) <= MAX_PART_NODES


def _progress(on_progress: Callable | None, cache: BoundCache | None, graph: Graph, k: int, cm: CostModel,
              known: float) -> Callable[[str, float, float, str], None] | None:
    """What a long method calls as its bound rises: the caller's ``on_progress``, and the cache
    keeps the value (status ``partial``), so that a run stopped mid-method (Ctrl-C) keeps what it
    proved; a value above a known partition's cost is neither kept nor shown (the method's
    result is refused at its end)."""
    if on_progress is None and cache is None:
        return None

    def progress(method: str, value: float, seconds: float, note: str) -> None:
        if value > known * (1 + 1e-9):
            return
        if cache is not None:
            cache.store(graph, k, cm, MethodBound(method, float(value), "partial", seconds))
        if on_progress is not None:
            on_progress(method, value, seconds, note)

    return progress


def _known(upper_bound: float | None, found: tuple) -> float:
    """The cheapest known partition's cost: the caller's ``upper_bound`` or one a method found."""
    return min(math.inf if upper_bound is None else float(upper_bound), found[0])


def _found_partition(res: MethodBound, assignment: np.ndarray, graph: Graph, k: int, cm: CostModel,
                     found: tuple) -> tuple[MethodBound, tuple]:
    """A method's partition on the graph itself, re-costed by the float64 reference: kept (on the
    result and as the best found) only when cheaper than the best so far; its cost goes in the
    result's ``detail`` as ``partition_cost``."""
    cost = float(evaluate(graph, assignment, k, cm).max())
    if not cost < found[0]:
        return replace(res, partition=None), found
    return (replace(res, partition=assignment, detail={**res.detail, "partition_cost": cost}),
            (cost, assignment, res.method))


def _cached(cache: BoundCache | None, graph: Graph, k: int, cm: CostModel, upper_bound: float | None) -> dict:
    """The cache's results for the problem, less any value above a known partition's cost
    (refused with a warning: a cache written by a buggy run must not certify anything)."""
    if cache is None:
        return {}
    out = {}
    for name, rec in cache.load(graph, k, cm).items():
        if name in REGISTRY and upper_bound is not None and rec["value"] > upper_bound * (1 + 1e-9):
            warnings.warn(f"cached bound {name!r} {rec['value']!r} is above a feasible partition's cost "
                          f"{upper_bound!r}; ignored", RuntimeWarning, stacklevel=3)
        elif name in REGISTRY:
            out[name] = rec
    return out


__all__ = ["AUTO", "METHODS", "REGISTRY", "SOLVER_FREE", "Bound", "BoundError", "BoundRequest", "MethodBound",
           "available_methods", "lower_bound"]
