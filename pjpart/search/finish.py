"""Finishing a search: the best order sliced exactly in float64, improved by local search,
and the float32 near-ties re-sliced, within the finishing time.

float32 fitness cannot rank candidates within its rounding (prefix sums over hundreds
of nodes: about 1e-6 relative), so the answer is never worse than the best seed order's
partition and the near-ties (:meth:`Tracker.keep_finalists`) get a float64 look.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from ..backends import usable_cores
from ..banded import FULL_TABLE_MAX_NODES, balanced_upper_bound, slice_exactly
from ..coarsen import Coarsening
from ..cost import evaluate
from ..evaluator import Evaluator
from ..problem import Problem
from ..reference import decode_keys
from .config import FinishPolicy
from .local import improve_and_reslice
from .seeds import best_slicing
from .tracker import Tracker


@dataclass(frozen=True)
class Candidate:
    """A partition with its float64 cost, the order it was sliced from and how it was found."""

    assignment: np.ndarray
    value: float
    order: np.ndarray
    method: str


def seed_candidate(problem: Problem, orders: list[np.ndarray]) -> Candidate:
    """The best of the seed orders, each sliced exactly (the first partition of a run, and
    the upper bound its bounds are checked against).  Beyond the full table's size the
    orders are sliced in threads (the compiled loop releases the GIL), each pruned by the
    best of their work-balanced slicings' costs: only an order that beats it matters."""
    g, k, cm = problem.graph, problem.k, problem.cost_model
    if g.n <= FULL_TABLE_MAX_NODES:
        sliced = [best_slicing(g, order, k, cm, None) for order in orders]
    else:
        upper = min(balanced_upper_bound(g, order, k, cm) for order in orders)
        with ThreadPoolExecutor(min(len(orders), usable_cores())) as pool:
            sliced = list(pool.map(lambda order: best_slicing(g, order, k, cm, None, upper), orders))
    best = int(np.argmin([value for _, value in sliced]))  # the first among equals
    return Candidate(sliced[best][0], sliced[best][1], orders[best], "seed-order")


def finish(problem: Problem, policy: FinishPolicy, run: Tracker, start: Candidate,
           evaluator: Evaluator) -> Candidate:
    """The run's answer: the search's best (if better than ``start``, the best seed),
    improved by local search, then the near-ties re-sliced while the time lasts."""
    g, k, cm = problem.graph, problem.k, problem.cost_model
    # a kernel call that outlasted the search may still be compiling: finish on the host
    # (the float64 reference slicing), not with kernels that could compile too
    kernels = None if run.budget.abandoned else evaluator

    def slicing(order: np.ndarray) -> tuple[np.ndarray, float]:
        return best_slicing(g, order, k, cm, kernels)

    best = start
    if run.best_keys is not None:  # else compiling took the whole search time
        order = decode_keys(g, run.best_keys)
        assignment, value = slicing(order)
        # its first population holds the seed orders; the method says the search ran
        best = Candidate(assignment, value, order, "brkga") if value <= start.value else \
            Candidate(start.assignment, start.value, start.order, "brkga")
    if policy.local_search and run.stopped_by != "interrupted" and run.gap(best.value) > 1e-9:
        # before the near-ties: their float64 slicing can take the whole finishing time, and moves gain more
        improved, _ = improve_and_reslice(g, best.assignment, best.order, k, cm,
                                          should_stop=run.budget.stopper("finish"),
                                          slicer=lambda o: slicing(o)[0])
        value = float(evaluate(g, improved, k, cm).max())
        if value < best.value:
            best = Candidate(improved, value, best.order, best.method + "+local")
    seen = {best.order.tobytes()}
    for keys in run.finalists:
        if run.budget.expired("finish"):
            break
        other = decode_keys(g, keys)
        if other.tobytes() in seen:
            continue
        seen.add(other.tobytes())
        assignment, value = slicing(other)
        if value < best.value:
            best = Candidate(assignment, value, other, "brkga")
    return best


def lift(problem: Problem, coarse: Coarsening, candidate: Candidate) -> Candidate:
    """A coarse candidate as a partition of the graph, priced there (never above its coarse
    cost; the same cost when the coarsening is exact), its order projected too."""
    assignment = coarse.project(candidate.assignment)
    value = float(evaluate(problem.graph, assignment, problem.k, problem.cost_model).max())
    return Candidate(assignment, value, coarse.project_order(candidate.order), candidate.method)


def refine(problem: Problem, coarse: Coarsening, best: Candidate, policy: FinishPolicy, run: Tracker,
           floor: Candidate) -> Candidate:
    """A coarse answer on the graph itself: lifted (:func:`lift`), its order sliced exactly
    at the graph's granularity (coarse nodes may now be cut: never worse), the graph's own
    best seed partition (``floor``) taken instead when better, then improved by local
    search while the finishing time lasts."""
    g, k, cm = problem.graph, problem.k, problem.cost_model
    best = lift(problem, coarse, replace(best, method=best.method + "+coarse"))
    order = best.order
    if run.stopped_by != "interrupted" and not run.budget.expired("finish"):
        assignment = slice_exactly(g, order, k, cm)
        value = float(evaluate(g, assignment, k, cm).max())
        if value < best.value:
            best = Candidate(assignment, value, order, best.method)
    if floor.value < best.value:
        best = floor
    if policy.local_search and run.stopped_by != "interrupted" and run.gap(best.value) > 1e-9 \
            and not run.budget.expired("finish"):
        improved, _ = improve_and_reslice(g, best.assignment, best.order, k, cm,
                                          should_stop=run.budget.stopper("finish"))
        value = float(evaluate(g, improved, k, cm).max())
        if value < best.value:
            best = Candidate(improved, value, best.order, best.method + "+local")
    return best


__all__ = ["Candidate", "finish", "lift", "refine", "seed_candidate"]
