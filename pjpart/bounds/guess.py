"""Bottleneck guessing: guess ``T``, pin every node to the few stages a partition of bottleneck
``<= T`` leaves it, and let the LP, then the MIP, prove that none exists.

Feasibility is monotone in ``T`` (a partition of bottleneck ``<= T`` has bottleneck ``<= T'`` for
every ``T' > T``), so a guess refuted proves ``T* > T``; a search over ``T`` between a proven bound
and a known partition's cost finds the largest guess the solver refutes in the time given (the
bottleneck-guessing relaxations of Archer et al. 2023).  What makes a guess cheap to refute is
that, with the bottleneck fixed, every node can sit on only a few stages.

1-2. **Windows** (:mod:`pjpart.bounds.windows`, where they are proved).  Pinned to stage ``b``, a node's
   ancestors and it fill stages ``0..b``, its descendants and it stages ``b..k-1``: the cheapest
   downset and upset holding it (minimum cuts) give each node a window ``first(v)..last(v)`` of
   stages that every partition of bottleneck ``<= T`` respects; an empty window refutes ``T`` at
   once.
3. **The windowed problem** (:mod:`pjpart.bounds.windows`, item 3): the exact MIP over binaries
   ``Y[v, b] = [s(v) <= b]`` inside the windows, minimising the bottleneck ``t <= T``.  Every
   partition of bottleneck ``<= T`` is a point of it, so: infeasible means ``T* > T``; any lower
   bound ``t_low`` on its minimum (the LP relaxation's optimum, HiGHS's dual bound at a time limit)
   gives ``T* >= min(T, t_low)``; and a minimum the MIP proves is the optimum ``T*`` itself.
4. **The search over T.**  ``lo`` (proven) starts at the floor, ``hi`` at the known partition's
   cost.  The LP phase climbs from ``lo`` (0.5% first, doubling) and bisects to where the LP
   relaxation stops refuting (it is monotone in ``T``: a wider window only adds points; cheap: one
   LP a guess, each answer raising ``lo`` to ``min(T, LP value)``); the MIP phase then steps up from ``lo``
   (2% first, doubled after each quick refutation; ``hi`` itself once within ``LP_TOLERANCE``), each
   guess with a share of the time left: a refuted guess raises ``lo`` to ``T``, one left open is
   bisected below and raises ``lo`` to ``min(T, dual bound)``.  Every point the MIP finds is a partition:
   re-costed by the float64 reference, it lowers ``hi`` and is returned (the search takes it when
   it beats its own); a MIP solved to optimality ends the search with the optimum.
5. **Copies.**  A partition of bottleneck ``<= T`` puts a producer ``u`` and its consumers on at
   least ``r_u(T)`` distinct stages (:mod:`pjpart.bounds.averaging`, item 3: a chain of its
   consumers too heavy for one stage), and at an integer point of 3 ``sum_b out[u, b] + in[u, b]``
   is exactly that number of stages when it is 2 or more (``out`` once on ``u``'s stage, ``in`` once
   on every other).  So ``sum_b out[u, b] + in[u, b] >= r_u(T)`` holds for every such partition; it
   keeps the LP from spreading a broadcast tensor's copies away (T5's position bias, an encoder's
   output).

Numerics.  A guess ``T`` is posed as ``T' = T (1 + ROOM)`` (windows and rows, costs divided by
``T'`` so they are near 1): a partition of cost ``<= T`` satisfies every row with a relative
``ROOM`` to spare, so the solver's feasibility tolerances cannot refute it (a problem posed with no
room, its optimum on the boundary, was once declared infeasible by HiGHS's presolve).  No row carries
the floor for the same reason.  A refuted guess counts as ``T (1 - REL_SLACK) - ABS_SLACK T``, a
solver value ``v`` as ``min(T, v T') (1 - REL_SLACK) - ABS_SLACK T`` (the rule of
:func:`pjpart.bounds.stages.safe_bound`).

Example
-------
A chain ``4 -> 4 -> 4`` in two stages: no guess below 8 survives (the middle node's window is empty),
and the MIP at 8 finds the optimum; the bound is 8 less the safety slack:

>>> import pjpart
>>> from pjpart.budget import Budget
>>> g = pjpart.Graph.from_arrays(work=[4, 4, 4], edges=[(0, 1), (1, 2)])
>>> out = guess_bound(g, 2, pjpart.CostModel(), Budget(None), upper=9.0)
>>> round(out.value, 4), out.status, out.partition_cost  # [0, 0, 1] or [0, 1, 1]: both cost 8
(8.0, 'optimal', 8.0)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..budget import Budget
from ..cost import CostModel, evaluate
from ..graph import Graph
from ..result import PROOF_TOLERANCE
from .averaging import MAX_NODES as AVERAGING_MAX_NODES
from .averaging import copies_at, producer_spans
from .combinatorial import combinatorial_bound
from .highs_child import GRACE, HighsChild, run_highs
from .stages import ABS_SLACK, REL_SLACK, _quiet_stdout
from .windows import GuessProblem, Stages, guess_problem, reach_costs, stage_windows

#: a guess's problem is not built beyond this many binaries (the MIP would not move)
MAX_BINARIES = 200_000
#: the LP phase stops when its bracket is this narrow, relative to its lower end
LP_TOLERANCE = 1e-3
#: the MIP phase stops when its bracket is this narrow, relative
MIP_TOLERANCE = 1e-4
#: the MIP phase's first step above the LP's reach, relative
MIP_FIRST_STEP = 0.02
#: the LP phase's first step above the floor, relative
LP_FIRST_STEP = 0.005
#: a guess ``T`` is posed as ``T (1 + ROOM)``: a partition of cost ``<= T`` then satisfies every row with
#: that much to spare, so a solver's tolerances cannot refute it
ROOM = 1e-5
#: at most this many guesses (the LP phase takes about 12, the MIP phase's steps a quarter each)
MAX_GUESSES = 200
#: below this many seconds left no solver problem is started
MIN_SECONDS = 0.05

@dataclass(frozen=True)
class Verdict:
    """One guess's answer.  ``reach`` is what it proves before the safety rule (``T`` when
    refuted, else ``min(T, solver bound)``, in cost units; it steers the search) and ``low`` the
    same made safe (what is reported).  ``stage`` is a partition the MIP found (every node's stage;
    with status ``"optimal"`` an optimal one)."""

    T: float
    kind: str          # "windows", "lp" or "mip"
    status: str        # "refuted", "bounded", "optimal" or "open"
    reach: float
    seconds: float
    stage: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def low(self) -> float:
        return max(0.0, self.reach * (1 - REL_SLACK) - ABS_SLACK * self.T)


def solve_guess(problem: GuessProblem, *, integer: bool, time_limit: float | None,
                claim: float | None = None, child: HighsChild | None = None) -> Verdict:
    """Solve the windowed problem (its LP relaxation, or the MIP) with HiGHS and read the bound:
    ``claim`` (``<= problem.T``; by default ``problem.T``) is what an infeasible problem proves.
    With a ``child`` (:class:`~pjpart.bounds.highs_child.HighsChild`) and a time limit the solve
    runs there and is given up :data:`~pjpart.bounds.highs_child.GRACE` seconds after its limit.
    A MIP's optimum is read as its dual bound (at most the incumbent's value)."""
    t0 = time.perf_counter()
    cost = np.zeros(problem.columns)
    cost[problem.t_col] = 1.0
    request = dict(cost=cost, col_lo=problem.col_lo, col_hi=problem.col_hi, matrix=problem.matrix,
                   row_lo=problem.row_lo, row_hi=problem.row_hi, integer=problem.binaries if integer else 0,
                   time_limit=time_limit, keep=problem.binaries)
    if child is not None and time_limit is not None:
        reply = child.solve(request, wait=1.1 * time_limit + GRACE)
    else:
        with _quiet_stdout():
            reply = run_highs(request)
    seconds = time.perf_counter() - t0
    kind, scale = ("mip" if integer else "lp"), problem.T
    T = scale if claim is None else min(float(claim), scale)
    if reply is None:  # overran its clock and was killed
        return Verdict(T, kind, "open", 0.0, seconds)
    if reply["status"] == "infeasible":
        return Verdict(T, kind, "refuted", T, seconds)
    stage = problem.stage_of(reply["values"]) if integer and reply["values"] is not None else None
    if reply["status"] == "optimal":
        value = reply["objective"]
        if integer and math.isfinite(reply["dual"]):
            value = min(value, reply["dual"])
        return Verdict(T, kind, "optimal" if integer else "bounded", min(T, value * scale), seconds, stage)
    dual = reply["dual"]
    return Verdict(T, kind, "open", min(T, dual * scale) if math.isfinite(dual) else 0.0, seconds, stage)


@dataclass(frozen=True)
class GuessOutcome:
    """What :func:`guess_bound` proved: ``value`` (safe), how it ended, every guess, and the best
    partition the MIP found on the way (``partition``, costing ``partition_cost`` in float64)."""

    value: float
    status: str
    verdicts: tuple = ()
    reach_cuts: int = 0
    partition: np.ndarray | None = field(default=None, compare=False, repr=False)
    partition_cost: float = math.inf


def guess_bound(graph: Graph, k: int, cost_model: CostModel, budget: Budget, *, floor: float = 0.0,
                upper: float = math.inf, lp_tolerance: float = LP_TOLERANCE,
                mip_share: float = 1 / 3, on_rise: Callable[[Verdict, float], None] | None = None) -> GuessOutcome:
    """The largest guess refuted within ``budget`` (item 4 of the module docstring).

    Parameters
    ----------
    graph, k, cost_model
        The problem.
    budget
        Its clock; every solver call is limited to what is left.
    floor
        A bound already proven (``<= T*``): the search starts there.
    upper
        A known partition's cost (``inf``: none; the phases then climb from the floor with no
        ceiling, their steps doubled while refuted).  A cheaper partition the MIP finds takes its place.
    lp_tolerance
        The LP phase ends when its bracket is this narrow (relative).
    mip_share
        Each MIP guess gets this share of the time left (at least a second).
    on_rise
        ``on_rise(verdict, value)``: called after each guess that raises the bound (above ``floor``
        and every guess before) to ``value`` (safe, as returned), for a live line in long runs.

    Returns
    -------
    GuessOutcome
        The safe bound; status ``"optimal"`` when a MIP proved a partition optimal (returned
        with it), ``"proven"`` when the bound reached ``upper`` (that partition is optimal), else
        ``"partial"`` (or ``"no time"`` when no guess was answered).
    """
    stages = Stages.of(cost_model, k)
    best = max(float(floor), combinatorial_bound(graph, k, cost_model))  # safe: both proven
    if k == 1 or graph.n == 0:
        return GuessOutcome(best, "skipped (k = 1)" if k == 1 else "skipped (empty graph)")
    # the cuts may take a quarter of the time: on large graphs the guesses matter more
    cut_budget = budget.within(None if not budget.limited else 0.25 * max(budget.remaining(), 0.0))
    before, after, cuts = reach_costs(graph, stages, cut_budget.stopper())
    spans = producer_spans(graph, cut_budget.stopper()) if 0 < graph.n <= AVERAGING_MAX_NODES else None
    links = stages.link_out[:-1]  # the k - 1 links (k > 1 here)
    verdicts: list[Verdict] = []
    lo = best  # what the guesses proved before the safety rule: it steers the search
    hi = float(upper)
    found: tuple[float, np.ndarray | None] = (math.inf, None)
    stop = budget.stopper()
    # a clocked solve runs in a child that is killed when HiGHS overruns the clock (highs_child.py)
    child = HighsChild() if budget.limited else None

    def late() -> bool:
        return budget.remaining() <= MIN_SECONDS or (stop is not None and stop()) or len(verdicts) >= MAX_GUESSES

    def attempt(T: float, integer: bool, time_limit: float | None) -> Verdict | None:
        nonlocal lo, best, hi, found
        t0 = time.perf_counter()
        model = T * (1 + ROOM)
        first, last = stage_windows(graph, model, before, after, stages.speed)
        if np.any(first > last):
            v = Verdict(T, "windows", "refuted", T, time.perf_counter() - t0)
        elif int((last - first).sum()) > MAX_BINARIES:
            return None
        else:
            left = budget.remaining()
            if math.isfinite(left):
                time_limit = left if time_limit is None else min(time_limit, left)
            copies = copies_at(spans, model, stages.speed, links) if spans else None
            v = solve_guess(guess_problem(graph, k, stages, model, first, last, copies), integer=integer,
                            time_limit=time_limit, claim=T, child=child)
        verdicts.append(v)
        if on_rise is not None and v.low > best:  # a rise of the bound, not only of the guesses' own
            on_rise(v, v.low)
        lo, best = max(lo, v.reach), max(best, v.low)
        if v.stage is not None:
            cost = float(evaluate(graph, v.stage, k, cost_model).max())  # the float64 reference
            if cost < found[0]:
                found = (cost, v.stage)
                hi = min(hi, cost)
        return v

    optimal = False
    try:
        if not math.isfinite(hi) and lo <= 0:  # nothing to climb from: double until the LP stops refuting
            hi = 1.0
            while not late():
                v = attempt(hi, False, None)
                if v is None or v.status != "refuted":
                    break
                hi *= 2
        # LP phase: climbs from lo, its step doubled after each refutation, then bisects below the
        # first guess it does not refute (the LP is monotone in T: one it leaves open just above lo
        # ends the phase at once), in at most half the time left (at k = 16 an LP takes seconds)
        lp_open, step = hi, LP_FIRST_STEP * lo
        lp_end = time.perf_counter() + 0.5 * budget.remaining()
        while lp_open - lo > lp_tolerance * lo and not late() and time.perf_counter() < lp_end:
            T = min(lo + step, 0.5 * (lo + lp_open))
            v = attempt(T, False, max(lp_end - time.perf_counter(), MIN_SECONDS) if budget.limited else None)
            if v is None or v.status != "refuted":
                lp_open, step = T, 0.5 * (T - lo)
            else:
                step *= 2
        # MIP phase: steps up from lo, doubled after a quick refutation (the known cost may be far:
        # a run's bounds start from its seed partition), the known cost itself once close (the MIP
        # then finds the optimum), bisection below a guess left open
        open_at = math.inf  # the least guess the MIP left open
        step = MIP_FIRST_STEP * lo
        while not late():
            if not math.isfinite(min(float(upper), found[0])) and lo >= hi * (1 - lp_tolerance):
                hi *= 2  # no partition known, and every guess up to hi refuted: hi was only the LP's
            if best >= hi * (1 - PROOF_TOLERANCE) or lo >= open_at * (1 - MIP_TOLERANCE):
                break  # proven, or closed in below a guess left open
            T = min(lo + step, 0.5 * (lo + open_at), hi)
            if open_at > hi and hi - lo <= lp_tolerance * hi:
                T = hi
            limit = max(1.0, budget.remaining() * mip_share) if budget.limited else None
            v = attempt(T, True, limit)
            if v is not None and v.status == "optimal":
                optimal = True
                break
            if v is None or v.status != "refuted":
                open_at = T
                step = 0.5 * (T - lo)
            elif limit is None or v.seconds < 0.25 * limit:
                step *= 2
    finally:
        if child is not None:
            child.close()
    known = min(float(upper), found[0])
    if optimal and found[1] is not None:
        status = "optimal"
    elif math.isfinite(known) and best >= known * (1 - PROOF_TOLERANCE):
        status = "proven"
    else:
        status = "partial" if verdicts else "no time"
    return GuessOutcome(best, status, tuple(verdicts), cuts, found[1], found[0])


__all__ = ["GuessOutcome", "Verdict", "guess_bound", "solve_guess"]
