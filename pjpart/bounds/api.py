"""``lower_bound``: run bound formulations under a time limit and return the best, made safe.

Methods (each a proven lower bound on the optimal bottleneck; proofs in the
modules named):

=================  ==========================================================  =======================
name               what                                                        proof
=================  ==========================================================  =======================
``combinatorial``  ``max(work(V)/k, max_v work(v))`` + overflow terms           ``combinatorial.py``
``mincut``         max over nodes of the cheapest block holding it (min cuts)   ``mincut.py``
``exact-dp``       min-max DP over the downset lattice (exact; small lattices)  ``pjpart/lattice.py``
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
mincut (what decides communication-bound models at large k), exact-dp (when
the lattice is small it IS the optimum), superblock2, superblock3, then the
exact MIP with the time that is left.  Each solver formulation also carries
the best bound found before it as a row ``T >= bound`` (valid: the bound is
``<= T*``), so a later method never reports less than an earlier one proved.

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

import math

import importlib.util
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..budget import Budget
from ..cost import CostModel, check_feasible, cost_model_for
from ..errors import ConfigError, InfeasibleError
from ..result import PROOF_TOLERANCE
from ..graph import Graph, check_k
from .combinatorial import combinatorial_bound

#: below this many seconds left a solver problem is not started
_MIN_SOLVER_SECONDS = 0.05


class BoundError(AssertionError):
    """A bound above a feasible partition's cost: always a bug."""


@dataclass(frozen=True)
class BoundRequest:
    """What every bound method is given: the problem, and the best bound proven before it.

    Parameters
    ----------
    graph, k, cost_model
        The partitioning problem.
    max_downsets
        ``exact-dp`` runs only on lattices with at most this many downsets.
    floor
        The best bound so far (``<= T*``); solver formulations add it as a valid row.
    """

    graph: Graph
    k: int
    cost_model: CostModel
    max_downsets: int = 4096
    floor: float = 0.0


@dataclass(frozen=True)
class MethodBound:
    """One method's outcome: its safe value (0 when it proved nothing), status and time.

    Attributes
    ----------
    method : str
        The method's name (:data:`METHODS`).
    value : float
        Its safe lower bound; 0 when it proved nothing.
    status : str
        How it ended: e.g. ``"proven"``, ``"optimal"``, ``"no time"``, ``"refused"``, or the
        solver's status.
    seconds : float
        The time it took.
    detail : dict
        Method-specific extras (e.g. ``refused_value``), added to :meth:`to_json`.

    Examples
    --------
    >>> MethodBound("combinatorial", 9.0, "proven", 0.25).to_json()
    {'method': 'combinatorial', 'value': 9.0, 'status': 'proven', 'seconds': 0.25}
    """

    method: str
    value: float
    status: str
    seconds: float
    detail: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"method": self.method, "value": self.value, "status": self.status,
                "seconds": round(self.seconds, 4), **self.detail}


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

    def by_method(self) -> dict:
        return {r.method: r.value for r in self.results}

    def to_json(self) -> dict:
        return {"k": self.k, "lower_bound": self.value, "method": self.method, "seconds": round(self.seconds, 4),
                "methods": [r.to_json() for r in self.results]}


def _spread(lo: int, hi: int) -> list[int]:
    """``lo..hi`` in coverage order: middle first, then quarters, eighths, ... (each value once)."""
    out: list[int] = []
    seen = set()
    spans = [(lo, hi)]
    while spans:
        nxt = []
        for a, b in spans:
            if a > b:
                continue
            mid = (a + b) // 2
            if mid not in seen:
                seen.add(mid)
                out.append(mid)
            nxt += [(a, mid - 1), (mid + 1, b)]
        spans = nxt
    return out


def _family(request: BoundRequest, caps_list: list[tuple], budget: Budget, name: str,
            per_problem: float | None) -> MethodBound:
    """Max over coarsenings, each solved within the budget; the dual bound of the last one counts too."""
    from .stages import solve_stage_problem, stage_problem

    t0 = time.perf_counter()
    best, best_caps, solved, statuses = 0.0, None, 0, set()
    for caps in caps_list:
        left = budget.remaining()
        if left <= _MIN_SOLVER_SECONDS:
            break
        limit = left if per_problem is None else min(left, per_problem)
        sol = solve_stage_problem(stage_problem(request.graph, caps, request.cost_model, floor=request.floor),
                                  time_limit=limit)
        solved += 1
        statuses.add(sol.status)
        if sol.bound > best:
            best, best_caps = sol.bound, caps
    status = "optimal" if statuses == {"optimal"} and solved == len(caps_list) else (
        f"partial ({solved}/{len(caps_list)} coarsenings)" if solved else "no time")
    return MethodBound(name, best, status, time.perf_counter() - t0,
                       {"caps": list(best_caps) if best_caps else None, "solved": solved})


def _combinatorial(request: BoundRequest, budget: Budget) -> MethodBound:
    t0 = time.perf_counter()
    value = combinatorial_bound(request.graph, request.k, request.cost_model)
    return MethodBound("combinatorial", value, "proven", time.perf_counter() - t0)


def _mincut(request: BoundRequest, budget: Budget) -> MethodBound:
    from .mincut import node_closure_values

    t0 = time.perf_counter()
    n = request.graph.n
    vals, done = node_closure_values(request.graph, request.cost_model, budget.stopper())
    status = "proven" if done == n else f"partial ({done}/{n} nodes)"
    return MethodBound("mincut", float(vals.max(initial=0.0)), status, time.perf_counter() - t0)


def _exact_dp(request: BoundRequest, budget: Budget) -> MethodBound:
    from ..lattice import exact_partition

    t0 = time.perf_counter()
    exact = exact_partition(request.graph, request.k, request.cost_model, request.max_downsets,
                            should_stop=budget.stopper())
    if exact is None:
        status = "no time" if budget.expired() else f"skipped (more than {request.max_downsets} downsets)"
        return MethodBound("exact-dp", 0.0, status, time.perf_counter() - t0)
    if not math.isfinite(exact[0]):
        caps = request.cost_model.stage_memory_limit
        limit = f"stage_memory_limit {list(caps)}" if caps else f"memory_limit {request.cost_model.memory_limit:g}"
        raise InfeasibleError(f"no feasible partition: the exact DP over all downsets finds none with "
                              f"k = {request.k} stages of {limit}")
    return MethodBound("exact-dp", exact[0], "optimal", time.perf_counter() - t0)


def _solver_time_left(name: str, budget: Budget, t0: float) -> MethodBound | None:
    """Import CVXPY, then a "no time" result when too little time is left for a problem (else None)."""
    import cvxpy  # noqa: F401  (its first import is slow: counted before a problem's time limit is set)

    if budget.remaining() <= _MIN_SOLVER_SECONDS:
        return MethodBound(name, 0.0, "no time", time.perf_counter() - t0)
    return None


def _superblock(request: BoundRequest, budget: Budget, name: str, caps: Callable[[int], list[tuple]]) -> MethodBound:
    t0 = time.perf_counter()
    # one coarsening may not eat the whole budget: a later, better one would never run
    per = max(1.0, budget.remaining() / 4)
    late = _solver_time_left(name, budget, t0)
    if late is not None:
        return late
    if request.k == 1:
        return MethodBound(name, 0.0, "skipped (k = 1)", 0.0)
    return _family(request, caps(request.k), budget, name, per)


def _superblock2(request: BoundRequest, budget: Budget) -> MethodBound:
    return _superblock(request, budget, "superblock2", lambda k: [(c, k - c) for c in _spread(1, k - 1)])


def _superblock3(request: BoundRequest, budget: Budget) -> MethodBound:
    return _superblock(request, budget, "superblock3", lambda k: [(b, 1, k - 1 - b) for b in _spread(0, k - 1)])


def _whole(request: BoundRequest, budget: Budget, name: str, integer: bool) -> MethodBound:
    """The exact stage-assignment problem (the MIP, or its LP relaxation) with all the time left."""
    t0 = time.perf_counter()
    late = _solver_time_left(name, budget, t0)
    if late is not None:
        return late
    from .stages import solve_stage_problem, stage_problem

    left = budget.remaining()
    if left <= _MIN_SOLVER_SECONDS:
        return MethodBound(name, 0.0, "no time", 0.0)
    prob = stage_problem(request.graph, (1,) * request.k, request.cost_model, integer=integer, floor=request.floor)
    sol = solve_stage_problem(prob, time_limit=left)
    return MethodBound(name, sol.bound, sol.status, time.perf_counter() - t0)


def _lp(request: BoundRequest, budget: Budget) -> MethodBound:
    return _whole(request, budget, "lp", integer=False)


def _mip(request: BoundRequest, budget: Budget) -> MethodBound:
    return _whole(request, budget, "mip", integer=True)


#: every bound method, by name: ``method(request, budget) -> MethodBound``, stopping by the budget
REGISTRY: dict[str, Callable[[BoundRequest, Budget], MethodBound]] = {
    "combinatorial": _combinatorial,
    "mincut": _mincut,
    "exact-dp": _exact_dp,
    "superblock2": _superblock2,
    "superblock3": _superblock3,
    "lp": _lp,
    "mip": _mip,
}
#: the names of :data:`REGISTRY`, in its order: the one list the API, the CLI and the search use
METHODS = tuple(REGISTRY)
#: what ``methods="auto"`` runs, in this order
AUTO = ("combinatorial", "mincut", "exact-dp", "superblock2", "superblock3", "mip")
#: the methods that run without CVXPY
SOLVER_FREE = ("combinatorial", "mincut", "exact-dp")


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
                max_downsets: int = 4096, on_method: Callable[[MethodBound], None] | None = None) -> Bound:
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
        ``exact-dp`` runs only on lattices with at most this many downsets.
    on_method
        Called with each method's checked result as soon as it is known (a search running
        alongside can use a bound before the slower ones end).

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
    names = _names(methods)
    if "combinatorial" not in names:
        names.insert(0, "combinatorial")
    results: list[MethodBound] = []
    best = MethodBound("combinatorial", 0.0, "", 0.0)
    for name in names:
        if results and budget.expired():
            results.append(MethodBound(name, 0.0, "no time", 0.0))
            continue
        res = REGISTRY[name](BoundRequest(graph, k, cm, max_downsets, best.value), budget)
        if upper_bound is not None and res.value > upper_bound * (1 + 1e-9):
            msg = (f"bound method {name!r} gave {res.value!r} above a feasible partition's cost "
                   f"{upper_bound!r}: a bound bug")
            if strict:
                raise BoundError(msg)
            warnings.warn(msg + "; value refused", RuntimeWarning, stacklevel=2)
            res = MethodBound(name, 0.0, "refused", res.seconds, {"refused_value": res.value})
        results.append(res)
        if on_method is not None:
            on_method(res)
        if res.value > best.value:
            best = res
        if upper_bound is not None and best.value >= upper_bound * (1 - PROOF_TOLERANCE):
            break  # proven optimal, up to the solvers' tolerance: nothing left to gain
        if name == "exact-dp" and res.status == "optimal":
            break  # the optimum itself
    return Bound(value=float(best.value), method=best.method, k=k, results=tuple(results),
                 seconds=time.perf_counter() - t0)


__all__ = ["AUTO", "METHODS", "REGISTRY", "SOLVER_FREE", "Bound", "BoundError", "BoundRequest", "MethodBound",
           "available_methods", "lower_bound"]
