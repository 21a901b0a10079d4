"""The bound methods behind :func:`pjpart.lower_bound`, one per name in :data:`REGISTRY`: each
``method(request: BoundRequest, budget: Budget) -> MethodBound``, stopping by the budget.
Their proofs are in the modules named in :mod:`pjpart.bounds.api`'s table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

import numpy as np

from ..budget import Budget
from ..cost import CostModel, evaluate
from ..errors import InfeasibleError
from ..graph import Graph
from .combinatorial import combinatorial_bound

#: below this many seconds left a solver problem is not started
_MIN_SOLVER_SECONDS = 0.05
#: ``guess`` works on the graph less its light strays (:func:`.series.without_strays`) when the graph
#: has at least this many nodes and the strays are at least :data:`GUESS_STRAYS_SHARE` of them: a
#: graph traced at operator level computes each norm's scale from its weights in a few light ops
GUESS_STRAYS_MIN_NODES = 500
GUESS_STRAYS_SHARE = 0.1
#: ... for at most this share of its time, or until it is this close (relative) to the known
#: partition's cost: the rest is the graph's own, whose MIP can prove that partition optimal
GUESS_STRAYS_TIME = 0.85
GUESS_STRAYS_CLOSE = 0.005


@dataclass(frozen=True)
class BoundRequest:
    """What every bound method is given: the problem, and the best bound proven before it.

    Parameters
    ----------
    graph, k, cost_model
        The partitioning problem.
    max_downsets
        ``exact-dp`` runs only on lattices with at most this many downsets (fewer when the
        budget leaves less time to enumerate them: :func:`downset_limit`).
    floor
        The best bound so far (``<= T*``); solver formulations add it as a valid row.
    upper
        A known partition's cost (``inf``: none): the large lattice DP prunes by it.
    progress
        ``progress(method, value, seconds, note)``, called by a long method (``guess``) each time
        it raises the bound above ``floor`` and its own before, ``value`` being proven already
        (``None``: not called).
    latest_upper
        ``latest_upper()``: the cost of the best partition known now, at most ``upper`` (a search
        running alongside lowers it); read by ``configuration`` between its guesses (``None``: ``upper``).
    resume
        The method's own unfinished result from an earlier run (a cached ``MethodBound.to_json()``):
        ``mincut`` goes on after the nodes it did (``done``), the superblock families after the
        coarsenings solved to optimality (``optimal_caps``); the value it had stays proven.
    """

    graph: Graph
    k: int
    cost_model: CostModel
    max_downsets: int = 1_000_000
    floor: float = 0.0
    resume: dict = field(default_factory=dict)
    upper: float = math.inf
    progress: Callable[[str, float, float, str], None] | None = field(default=None, compare=False)
    latest_upper: Callable[[], float] | None = field(default=None, compare=False)
    #: the share of its budget a method may take while it proves nothing (:data:`IDLE_SHARES`)
    idle_share: float = 1.0


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
    partition : numpy.ndarray or None
        A partition the method found on the way (every node's stage; ``guess``'s MIP finds
        them), of the graph it was given; not part of :meth:`to_json`.

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
    partition: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        return {"method": self.method, "value": self.value, "status": self.status,
                "seconds": round(self.seconds, 4), **self.detail}


def _spread(lo: int, hi: int) -> list[int]:
    """``lo..hi`` in coverage order: middle first, then quarters, eighths, ... (each value once)."""
    out, spans = [], [(lo, hi)]
    while spans:  # the spans are disjoint, so no middle comes twice
        mids = [((a + b) // 2, a, b) for a, b in spans if a <= b]
        out += [mid for mid, _, _ in mids]
        spans = [span for mid, a, b in mids for span in ((a, mid - 1), (mid + 1, b))]
    return out


def _family(request: BoundRequest, caps_list: list[tuple], budget: Budget, name: str,
            per_problem: float | None) -> MethodBound:
    """Max over coarsenings, each solved within the budget; the dual bound of the last one counts too."""
    from .stages import solve_stage_problem, stage_problem

    t0 = time.perf_counter()
    best, best_caps, solved, statuses = 0.0, None, 0, set()
    optimal = [tuple(c) for c in request.resume.get("optimal_caps", [])]
    if optimal:  # solved by an earlier run: their best value stays proven
        best, best_caps = float(request.resume.get("value", 0.0)), request.resume.get("caps")
    for caps in [c for c in caps_list if tuple(c) not in optimal]:
        left = budget.remaining()
        if left <= _MIN_SOLVER_SECONDS:
            break
        limit = left if per_problem is None else min(left, per_problem)
        sol = solve_stage_problem(stage_problem(request.graph, caps, request.cost_model, floor=request.floor),
                                  time_limit=limit)
        solved += 1
        statuses.add(sol.status)
        if sol.status == "optimal":
            optimal.append(tuple(caps))
        if sol.bound > best:
            best, best_caps = sol.bound, caps
    done = len(set(optimal) & {tuple(c) for c in caps_list})
    status = "optimal" if done == len(caps_list) else (
        f"partial ({done}/{len(caps_list)} coarsenings)" if solved or done else "no time")
    return MethodBound(name, best, status, time.perf_counter() - t0,
                       {"caps": list(best_caps) if best_caps else None, "solved": solved,
                        "optimal_caps": [list(c) for c in optimal]})


def _combinatorial(request: BoundRequest, budget: Budget) -> MethodBound:
    t0 = time.perf_counter()
    value = combinatorial_bound(request.graph, request.k, request.cost_model)
    return MethodBound("combinatorial", value, "proven", time.perf_counter() - t0)


def _averaging(request: BoundRequest, budget: Budget) -> MethodBound:
    from .averaging import MAX_NODES, averaging_bound

    t0 = time.perf_counter()
    value = averaging_bound(request.graph, request.k, request.cost_model, should_stop=budget.stopper())
    status = f"combinatorial only (more than {MAX_NODES} nodes)" if request.graph.n > MAX_NODES else \
        ("no time" if budget.expired() else "proven")
    return MethodBound("averaging", value, status, time.perf_counter() - t0)


def _mincut(request: BoundRequest, budget: Budget) -> MethodBound:
    from .mincut import block_partition, cheapest_block, node_closure_values

    t0 = time.perf_counter()
    n = request.graph.n
    before = int(request.resume.get("done", 0))  # nodes an earlier run did, heaviest first as here
    order = np.argsort(-request.graph.work, kind="stable")
    vals, done = node_closure_values(request.graph, request.cost_model, budget.stopper(), nodes=order[before:])
    value = max(float(vals.max(initial=0.0)), float(request.resume.get("value", 0.0)) if before else 0.0)
    done += before
    status = ("proven" if done == n else f"partial ({done}/{n} nodes)") + (" (cached)" if before >= n else "")
    # the node that gives the bound (kept in the cache: a later run rebuilds the partition around
    # its block with one cut), and that partition
    node = int(np.argmax(vals)) if done > before and vals.max() >= value else request.resume.get("node")
    stages = None
    if request.k > 1 and node is not None and not budget.expired():
        stages = block_partition(request.graph, request.k, request.cost_model,
                                 cheapest_block(request.graph, request.cost_model, node),
                                 request.upper if math.isfinite(request.upper) else None)
    detail = {"done": done} if node is None else {"done": done, "node": node}
    return MethodBound("mincut", value, status, time.perf_counter() - t0, detail, stages)


#: downsets enumerated per second (491,403 in 4.1 s on the 2-core machine of bench/results), for
#: :func:`downset_limit`
DOWNSETS_PER_SECOND = 100_000


def downset_limit(request: BoundRequest, budget: Budget) -> int:
    """``max_downsets``, or fewer: what a quarter of the time left enumerates, so a lattice too
    big to finish is given up early (a lattice DP needs its downsets listed first)."""
    from ..lattice import DENSE_MAX_DOWNSETS

    left = budget.remaining()
    if not math.isfinite(left):
        return request.max_downsets
    return min(request.max_downsets, max(DENSE_MAX_DOWNSETS, int(DOWNSETS_PER_SECOND * max(left, 0.0) / 4)))


def _exact_dp(request: BoundRequest, budget: Budget) -> MethodBound:
    from ..lattice import exact_partition

    t0 = time.perf_counter()
    limit = downset_limit(request, budget)
    exact = exact_partition(request.graph, request.k, request.cost_model, limit,
                            should_stop=budget.stopper(), upper=request.upper, seconds=budget.remaining())
    if exact is None:
        status = "no time" if budget.expired() else \
            f"skipped (more than {limit} downsets, or more than the time or memory left)"
        return MethodBound("exact-dp", 0.0, status, time.perf_counter() - t0)
    if not math.isfinite(exact[0]):
        caps = request.cost_model.stage_memory_limit
        limit = f"stage_memory_limit {list(caps)}" if caps else f"memory_limit {request.cost_model.memory_limit:g}"
        raise InfeasibleError(f"no feasible partition: the exact DP over all downsets finds none with "
                              f"k = {request.k} stages of {limit}")
    return MethodBound("exact-dp", exact[0], "optimal", time.perf_counter() - t0)


def _relaxed_dp(request: BoundRequest, budget: Budget) -> MethodBound:
    """The exact DP on the graph less its cheapest sources and sinks (a relaxation, proof in
    :func:`pjpart.reduce.drop_free_nodes`), when that lattice fits and the graph's own does not."""
    from ..lattice import downsets, exact_partition
    from ..reduce import drop_free_nodes

    t0 = time.perf_counter()
    g, k, cm = request.graph, request.k, request.cost_model
    limit = downset_limit(request, budget)
    scale = max(request.floor, combinatorial_bound(g, k, cm))
    relaxed = drop_free_nodes(g, cm, k, limit, scale)
    if relaxed is None:
        return MethodBound("relaxed-dp", 0.0, f"skipped (no relaxation with at most {limit} downsets)",
                           time.perf_counter() - t0)
    if downsets(g, limit) is not None:  # enumerated only once a relaxation fits: rarely
        return MethodBound("relaxed-dp", 0.0, "skipped (exact-dp fits)", time.perf_counter() - t0)
    exact = exact_partition(relaxed[0], k, cm, limit, should_stop=budget.stopper(), upper=request.upper,
                            seconds=budget.remaining())
    if exact is None:
        return MethodBound("relaxed-dp", 0.0, "no time", time.perf_counter() - t0)
    value = float(exact[0]) if math.isfinite(exact[0]) else 0.0
    return MethodBound("relaxed-dp", value, f"proven ({relaxed[1]} nodes dropped)", time.perf_counter() - t0,
                       {"dropped": relaxed[1]})


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


def _guess(request: BoundRequest, budget: Budget) -> MethodBound:
    """Bottleneck guessing (:mod:`.guess`): the largest guess refuted by stage windows, the LP, then
    the MIP, between the best bound so far and the known partition's cost.

    On a large graph with many light strays (:func:`.series.stray_relaxation`: each of work and
    transfer at most :data:`.series.STRAY_SHARE` of the best bound so far, or of the known partition's
    cost over ``k`` when more) it first runs on the graph less them, a relaxation (the proof of
    :func:`pjpart.reduce.drop_free_nodes`) whose LP and MIP are often a third of the size, for at most
    :data:`GUESS_STRAYS_TIME` of the time or until within :data:`GUESS_STRAYS_CLOSE` of the known
    partition's cost (its ceiling is posed that much lower: a ceiling only bounds the guesses tried;
    not at all when the floor is that close already); then on the graph itself, from the bound
    reached and under the known partition's cost, where the MIP can prove that partition optimal
    (the relaxed optimum lies a little below it).  A partition the first MIP finds is lifted to the
    graph (:func:`.series.lift_strays`) and re-costed by the caller."""
    from ..reduce import subgraph
    from ..result import PROOF_TOLERANCE
    from .guess import guess_bound
    from .series import STRAY_SHARE, lift_strays, stray_relaxation

    t0 = time.perf_counter()
    if request.k == 1:
        return MethodBound("guess", 0.0, "skipped (k = 1)", 0.0)
    if budget.remaining() <= _MIN_SOLVER_SECONDS:
        return MethodBound("guess", 0.0, "no time", 0.0)
    report = None
    if request.progress is not None:
        def report(v, own: float) -> None:
            request.progress("guess", own, time.perf_counter() - t0, f"{v.kind} {v.status} at T = {v.T:.6g}")
    g, k, cm = request.graph, request.k, request.cost_model
    floor, verdicts, detail = request.floor, [], {}
    found: tuple[float, np.ndarray | None] = (math.inf, None)
    scale = max(floor, request.upper / k if math.isfinite(request.upper) else 0.0)
    # a floor that close to the known cost leaves the relaxed run no guess to try
    keep = None if floor >= request.upper * (1 - GUESS_STRAYS_CLOSE) else \
        stray_relaxation(g, cm, STRAY_SHARE * scale, GUESS_STRAYS_MIN_NODES, GUESS_STRAYS_SHARE)
    if keep is not None:
        first = budget.within(GUESS_STRAYS_TIME * max(budget.remaining(), 0.0)) if budget.limited else budget
        out = guess_bound(subgraph(g, keep), k, cm, first, floor=floor,
                          upper=request.upper * (1 - GUESS_STRAYS_CLOSE), on_rise=report)
        verdicts += out.verdicts
        floor = max(floor, out.value)
        detail["strays_dropped"] = g.n - len(keep)
        if out.partition is not None:
            lifted = lift_strays(g, keep, out.partition)
            cost = float(evaluate(g, lifted, k, cm).max())  # inf when a dropped node's weights break a cap
            if math.isfinite(cost):
                found = (cost, lifted)
    out = guess_bound(g, k, cm, budget, floor=floor, upper=request.upper, on_rise=report)
    if out.partition is not None and out.partition_cost < found[0]:
        found = (out.partition_cost, out.partition)
    own = max((v.low for v in verdicts + list(out.verdicts)), default=0.0)
    refuted = [v.T for v in verdicts + list(out.verdicts) if v.status == "refuted"]  # T* > T: both graphs
    left_open = [v.T for v in out.verdicts if v.status in ("open", "bounded")]  # the graph's own only
    detail = {"guesses": len(verdicts) + len(out.verdicts), "refuted": max(refuted, default=None),
              "open": min(left_open, default=None), "reach_cuts": out.reach_cuts, **detail}
    status = out.status if out.verdicts or not verdicts else "partial"  # the graph's run had no time left
    if status not in ("optimal", "proven") and own >= found[0] * (1 - PROOF_TOLERANCE):
        status = "proven"  # the lifted partition is the graph's own
    return MethodBound("guess", own, status, time.perf_counter() - t0, detail, found[1])


def _chain(request: BoundRequest, budget: Budget) -> MethodBound:
    """The chain bound (:mod:`.chain`): groups in series, each priced by a small MIP, joined by a DP
    over the stage of each cut node; guesses descend from the known partition's cost, then bisect."""
    from .chain import chain_bound

    t0 = time.perf_counter()
    if budget.remaining() <= _MIN_SOLVER_SECONDS:
        return MethodBound("chain", 0.0, "no time", 0.0)
    report = None
    if request.progress is not None:
        def report(value: float) -> None:
            request.progress("chain", value, time.perf_counter() - t0, f"refuted T = {value:.6g}")
    out = chain_bound(request.graph, request.k, request.cost_model, budget, floor=request.floor, upper=request.upper,
                      on_rise=report, latest_upper=request.latest_upper, idle_share=request.idle_share)
    detail = {"guesses": len(out.guesses), "refuted": max((T for T, c in out.guesses if c > request.k), default=None),
              "open": min((T for T, c in out.guesses if c <= request.k), default=None)}
    return MethodBound("chain", out.value, out.status, time.perf_counter() - t0, detail)


def _configuration(request: BoundRequest, budget: Budget) -> MethodBound:
    """The configuration bound (:mod:`.configuration`): the largest guess below the known
    partition's cost (or a sliced order's; the latest, when a search alongside lowers it) that the
    cover LP refutes, descending from that cost, then bisecting; never below the best bound so far."""
    from .configuration import configuration_bound

    t0 = time.perf_counter()
    if budget.remaining() <= _MIN_SOLVER_SECONDS:
        return MethodBound("configuration", 0.0, "no time", 0.0)
    report = None
    if request.progress is not None:
        def report(T: float, rounds: int) -> None:
            request.progress("configuration", T, time.perf_counter() - t0, f"refuted T = {T:.6g} ({rounds} rounds)")
    out = configuration_bound(request.graph, request.k, request.cost_model, budget, floor=request.floor,
                              upper=request.upper, on_rise=report, latest_upper=request.latest_upper)
    detail = {"guesses": len(out.guesses), "refuted": out.value or None,
              "open": min((T for T, c in out.guesses if c.status not in ("proved",)), default=None)}
    return MethodBound("configuration", out.value, out.status, time.perf_counter() - t0, detail)


def _spine(request: BoundRequest, budget: Budget) -> MethodBound:
    from .spine import spine_method

    return MethodBound("spine", *spine_method(request, budget))


def _lp(request: BoundRequest, budget: Budget) -> MethodBound:
    return _whole(request, budget, "lp", integer=False)


def _mip(request: BoundRequest, budget: Budget) -> MethodBound:
    return _whole(request, budget, "mip", integer=True)


#: every bound method, by name: ``method(request, budget) -> MethodBound``, stopping by the budget
REGISTRY: dict[str, Callable[[BoundRequest, Budget], MethodBound]] = {
    "combinatorial": _combinatorial,
    "averaging": _averaging,
    "mincut": _mincut,
    "exact-dp": _exact_dp,
    "relaxed-dp": _relaxed_dp,
    "chain": _chain,
    "configuration": _configuration,
    "spine": _spine,
    "guess": _guess,
    "superblock2": _superblock2,
    "superblock3": _superblock3,
    "lp": _lp,
    "mip": _mip,
}
#: the names of :data:`REGISTRY`, in its order: the one list the API, the CLI and the search use
METHODS = tuple(REGISTRY)
#: what ``methods="auto"`` runs, in this order
AUTO = ("combinatorial", "averaging", "mincut", "exact-dp", "relaxed-dp", "chain", "configuration", "spine",
        "guess", "superblock2", "superblock3")
#: the share of the time left a method may take when other methods follow it (configuration: beside a
#: search its guesses converge slowly, while guess's bound levels off early on the graphs it gates;
#: relaxed-dp: its DP estimated on an idle machine runs slower beside a search, and it is a bound only)
SHARES = MappingProxyType({"relaxed-dp": 0.5, "chain": 0.85, "configuration": 0.75, "spine": 0.4})
#: ... while it proves nothing, where configuration follows and counts the groups (chain: two guesses)
IDLE_SHARES = MappingProxyType({"chain": 0.5})
#: the methods that run without CVXPY (``guess`` calls HiGHS through highspy directly, ``configuration``
#: through SciPy); a run's bounds process keeps its priority until they have reported
#: (:meth:`pjpart.search.certify.BoundSource.deprioritise`)
SOLVER_FREE = ("combinatorial", "averaging", "mincut", "exact-dp", "relaxed-dp", "chain", "configuration", "spine",
               "guess")


__all__ = ["AUTO", "DOWNSETS_PER_SECOND", "IDLE_SHARES", "METHODS", "REGISTRY", "SHARES", "SOLVER_FREE",
           "BoundRequest", "MethodBound", "downset_limit"]
