"""Exact float64 slicing of one order in O(n x band) time and O(k n + band) memory.

:func:`pjpart.reference.slice_order` over :func:`~pjpart.reference.segment_cost_table`
holds an ``(n + 1) x (n + 1)`` table: 0.8 GB at n = 10^4, out of memory beyond.  This
module computes the same optimum row by row of that table, keeping one row at a time.

Band.  Every segment of an optimal slicing costs at most the optimum ``T*``, and a
segment's cost is at least its work (the other terms are non-negative; on a
heterogeneous pipeline, its work over the fastest stage's speed) and is ``inf``
above ``memory_limit`` (the largest stage cap).  So given an upper bound ``U >= T*`` (the cost of any slicing of
the order; by default the order split by work alone, :func:`balanced_upper_bound`),
segments whose work exceeds ``U`` or whose weights exceed the memory limit never occur
in an optimal slicing, and each row needs only the segments up to that length.

Rows.  With the producer events of :func:`pjpart.reference.communication_table`
(rectangles ``[i0, i1] x [j0, j1]`` in start x end), every event of row ``r`` lies at a
column ``>= r``.  Keeping ``G[j]``, the sum over the rows seen of the events at column
``j``, row ``i`` of the communication table is ``S_i + cumsum(G[i:])`` with
``S_i = sum_{j < i} G[j]``, and ``G[j]`` for ``j < i`` no longer changes.

DP.  ``D_b[j] = min_i max(D_{b-1}[i], C[i, j])`` is pushed forward from each row ``i``
to the ends ``j`` in its band (a compiled loop); a strict ``<`` keeps the smallest start
among ties, and an empty stage (``i = j``) is taken only when strictly better, as the
reference's traceback does.

Stages.  Only stages that can be on a slicing within ``U`` are pushed: from ``D_{b-1}[i] <=
U``, and to ends ``j`` whose rest of the order fits the ``k - b`` stages after ``b``, each
of work at most ``U`` (on a heterogeneous pipeline, ``U`` times the fastest speed), i.e.
``b <= k - ceil((W_n - W_j) / U)``.  An optimal slicing (every segment within ``T* <= U``)
meets both at every stage, so its value is still found; the pruned pushes are those no
slicing within ``U`` uses.  With ``U`` near the work-balanced cost, a few stages per end
are left of ``k``: at k = 64 the loop does a tenth of the pushes or less.

>>> import pjpart
>>> from pjpart.reference import segment_cost_table, slice_order
>>> from pjpart.generators import dnn_like
>>> g = dnn_like(60, seed=1)
>>> order = g.topological_order()
>>> value, stages = slice_order_banded(g, order, 4)
>>> ref, _ = slice_order(segment_cost_table(g, order), 4, order)
>>> abs(value - ref) <= 1e-12 * ref
True
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from .cost import DEFAULT_COST_MODEL, CostModel, evaluate, homogeneous_relaxation
from .cost_model import stage_term_array
from .graph import Graph
from .reference import producer_rectangles, segment_cost_table, slice_order


def _events(graph: Graph, pos: np.ndarray, n: int, split: bool = False) -> tuple[np.ndarray, ...]:
    """The 2-D difference events ``(row, column, value, channel)`` of the communication
    table, by row; ``split``: channel 0 for ``in``, 1 for ``out`` (else all 0)."""
    i0, i1, j0, j1, w = producer_rectangles(graph, pos, n)
    channel = np.zeros(len(i0), dtype=np.int64)
    if split:  # the first rectangles, one per edge, are ``in``'s
        channel[len(i0) - int((np.diff(graph.succ_ptr) > 0).sum()):] = 1
    rows = np.concatenate([i0, i0, i1 + 1, i1 + 1])
    cols = np.concatenate([j0, j1 + 1, j0, j1 + 1])
    vals = np.concatenate([w, -w, -w, w])
    by = np.argsort(rows, kind="stable")
    return rows[by], cols[by], vals[by], np.tile(channel, 4)[by]


@functools.lru_cache(maxsize=None)
def _kernel():
    """The row loop, compiled by numba (cached on disk): per row, a band of ends and, per end,
    only the stages that can still lead to a slicing within ``upper`` (see the module
    docstring), where NumPy paid a temporary per row and every stage per end."""
    import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def rows_loop(W, P, reach, bounds, cols, vals, channel, D, arg, terms, hetero, work_cap, keep_below):
        k, n = D.shape[0] - 1, D.shape[1] - 1
        speed, memory, limit, b_in, b_out, obw = terms[0], terms[1], terms[2], terms[3], terms[4], terms[5, 0]
        G = np.zeros((2, n + 2))
        S0, S1 = 0.0, 0.0
        total = W[n]
        for i in range(n + 1):
            for b in range(1, k + 1):  # an empty stage b at i, when strictly better
                if D[b - 1, i] < D[b, i]:
                    D[b, i], arg[b, i] = D[b - 1, i], i
            if i == n:
                break
            for e in range(bounds[i], bounds[i + 1]):
                G[channel[e], cols[e]] += vals[e]
            b_lo = 1
            while b_lo <= k and not D[b_lo - 1, i] <= keep_below:
                b_lo += 1
            acc0, acc1 = G[0, i], G[1, i]
            for j in range(i + 1, reach[i] + 1):
                acc0 += G[0, j]
                acc1 += G[1, j]
                b_hi = k  # the stages after b must hold the rest of the work within the cap
                if 0.0 < work_cap < np.inf:
                    b_hi = min(k, k - int(np.ceil((total - W[j]) / work_cap - 1e-9)))
                if b_lo > b_hi:
                    continue
                d_work, d_params = W[j] - W[i], P[j] - P[i]
                inn, out = S0 + acc0, S1 + acc1
                cost = 0.0
                for b in range(b_lo, b_hi + 1):
                    s = b - 1 if hetero else 0
                    if hetero or b == b_lo:
                        over = 0.0
                        if d_params > limit[s]:
                            over = np.inf
                        elif d_params > memory[s]:
                            over = (d_params - memory[s]) / obw
                        if hetero:
                            cost = d_work / speed[s] + inn / b_in[s] + out / b_out[s] + over
                        else:
                            cost = d_work + inn / b_in[0] + over
                    value = max(D[b - 1, i], cost)
                    if value < D[b, j]:
                        D[b, j], arg[b, j] = value, i
            S0 += G[0, i]
            S1 += G[1, i]

    return rows_loop


def balance_work(work: np.ndarray, k: int) -> np.ndarray:
    """Stage per position splitting ``work`` (in order) into <= k contiguous parts with the least max sum.

    Bisection on the largest part; each probe fills parts greedily by binary search on the
    prefix sums (``k`` searches, where a loop over the nodes took 30 ms a probe at 10^5 nodes).
    """
    n = len(work)
    W = np.r_[0.0, np.cumsum(work)]
    total = float(W[-1])
    lo, hi = float(work.max(initial=0.0)), total

    def parts(cap: float) -> np.ndarray | None:
        ends, start = [], 0
        while start < n:
            if len(ends) == k:
                return None
            # the longest part from ``start`` within ``cap`` (one node at least: none is heavier than lo)
            end = max(int(np.searchsorted(W, W[start] + cap, side="right")) - 1, start + 1)
            ends.append(min(end, n))
            start = ends[-1]
        return np.repeat(np.arange(len(ends)), np.diff(np.r_[0, ends])) if ends else np.zeros(0, dtype=np.int64)

    for _ in range(100):  # bisection on the largest part
        mid = (lo + hi) / 2
        if parts(mid) is None:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(total, 1e-300):
            break
    return parts(hi)


def balanced_slicing(graph: Graph, order: np.ndarray, k: int, cost_model: CostModel) -> tuple[np.ndarray, float]:
    """``(stages, cost)`` of ``order`` split into ``k`` segments of about equal work: a valid
    slicing, so its cost bounds the order's optimum (``inf`` when it breaks the memory limit)."""
    stages = np.empty(graph.n, dtype=np.int64)
    stages[order] = balance_work(graph.work[order], k)
    return stages, float(evaluate(graph, stages, k, cost_model).max())


def balanced_upper_bound(graph: Graph, order: np.ndarray, k: int, cost_model: CostModel) -> float:
    """The cost of :func:`balanced_slicing`: an upper bound on the order's optimum."""
    return balanced_slicing(graph, order, k, cost_model)[1]


def _banded_dp(graph: Graph, order: np.ndarray, k: int, cm: CostModel, upper: float | None,
               stages: int) -> tuple[np.ndarray, np.ndarray]:
    """``(D, arg)`` of the module docstring's DP with ``stages`` stages (``k`` or ``k + 1``),
    pruned by ``upper`` (default: the balanced ``k``-stage slicing's cost)."""
    order = np.asarray(order, dtype=np.int64)
    n = graph.n
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    W = np.r_[0.0, np.cumsum(graph.work[order])]
    P = np.r_[0.0, np.cumsum(graph.params[order])]
    if upper is None:
        upper = balanced_upper_bound(graph, order, k, cm)
    hetero = cm.heterogeneous
    if hetero:
        cm.check_stages(stages)
    relaxed = homogeneous_relaxation(graph, cm)[1]  # its cap is the largest stage cap
    fastest = cm.fastest_speed
    starts = np.arange(n + 1)
    reach = np.full(n + 1, n)  # the last end a segment from each start may have
    if math.isfinite(upper):
        reach = np.minimum(reach, np.searchsorted(W, W + upper * fastest * (1 + 1e-9), side="right") - 1)
    if math.isfinite(relaxed.memory_limit):
        reach = np.minimum(reach, np.searchsorted(P, P + relaxed.memory_limit, side="right") - 1)
    reach = np.maximum(reach, starts)
    rows, cols, vals, channel = _events(graph, pos, n, split=hetero)
    bounds = np.searchsorted(rows, np.arange(n + 2))
    D = np.full((stages + 1, n + 1), np.inf)
    D[0, 0] = 0.0
    arg = np.tile(np.arange(n + 1), (stages + 1, 1))  # start of stage b ending at j (j itself: empty)
    finite = math.isfinite(upper)
    _kernel()(W, P, reach, bounds, cols, vals, channel, D, arg, stage_term_array(cm, stages), hetero,
              upper * fastest * (1 + 1e-9) if finite else math.inf, upper * (1 + 1e-9) if finite else math.inf)
    return D, arg


def slice_order_banded(graph: Graph, order: np.ndarray, k: int, cost_model: CostModel | None = None,
                       upper: float | None = None) -> tuple[float, np.ndarray]:
    """The optimal split of ``order`` into at most ``k`` contiguous stages, as
    :func:`pjpart.reference.slice_order` computes it, without an ``n x n`` table.

    Parameters
    ----------
    graph, order, k, cost_model
        The problem and the topological order to slice.
    upper
        Segments longer in work than ``upper`` or than the order split by work alone
        (:func:`balanced_slicing`) costs are not priced (see the module docstring).  Any
        ``upper`` at or above the order's optimum leaves it exact; a smaller one (the cost
        of a better partition, when only orders that beat it matter) gives a valid slicing
        no better than the balanced one: the DP's best within the band, else the balanced.

    Returns
    -------
    (float, numpy.ndarray)
        The optimum (``inf``: no feasible slicing) and each node's stage.
    """
    cm = cost_model or DEFAULT_COST_MODEL
    order = np.asarray(order, dtype=np.int64)
    n = graph.n
    balanced_stages, balanced = balanced_slicing(graph, order, k, cm)
    D, arg = _banded_dp(graph, order, k, cm, _pruning(balanced, upper), k)
    if not D[k, n] <= balanced * (1 + 1e-9):  # nothing within a bound below the order's optimum
        return balanced, balanced_stages
    stages_by_pos = np.zeros(n, dtype=np.int64)
    j = n
    for b in range(k, 0, -1):
        i = int(arg[b, j])
        stages_by_pos[i:j] = b - 1
        j = i
    stages = np.empty(n, dtype=np.int64)
    stages[order] = stages_by_pos
    return float(D[k, n]), stages


def _pruning(balanced: float, upper: float | None) -> float:
    """The DP's pruning bound: the balanced slicing's cost, or ``upper`` when smaller."""
    return balanced if upper is None else min(balanced, float(upper))


def bottleneck_pair(graph: Graph, order: np.ndarray, k: int, cost_model: CostModel | None = None,
                    upper: float | None = None) -> tuple[float, float]:
    """The optimum of ``order`` with at most ``k`` stages and with at most ``k + 1`` (the
    search's tie-break), exact in float64, from one DP with ``k + 1`` stages (the pruning
    for ``k + 1`` stages keeps every ``k``-stage slicing within the bound).  On a
    heterogeneous pipeline there is no stage ``k + 1``: the second value is the first.
    ``upper`` as in :func:`slice_order_banded`: exact up to it; an order whose optimum
    is above it gets a real slicing's cost (both values), so it ranks above it.

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
    >>> bottleneck_pair(g, g.topological_order(), 2)
    (6.0, 4.0)
    """
    cm = cost_model or DEFAULT_COST_MODEL
    order = np.asarray(order, dtype=np.int64)
    if cm.heterogeneous:
        value = slice_order_banded(graph, order, k, cm, upper)[0]
        return value, value
    balanced = balanced_upper_bound(graph, order, k, cm)
    D, _ = _banded_dp(graph, order, k, cm, _pruning(balanced, upper), k + 1)
    first = float(D[k, graph.n])
    if not first <= balanced * (1 + 1e-9):  # as in slice_order_banded
        return balanced, balanced
    return first, float(D[k + 1, graph.n])


def slice_candidates(graph: Graph, orders: Any, k: int, cost_model: CostModel, pairs: bool = False,
                     should_stop: Callable[[], bool] | None = None, upper: float | None = None) -> np.ndarray:
    """Each order's optimum ``(B,)`` (``pairs``: with ``k`` and ``k + 1`` stages, ``(B, 2)``,
    :func:`bottleneck_pair`) in float64, one after another (the compiled loop releases the
    GIL, so threads can share a population); orders that would start once ``should_stop()``
    holds stay ``nan`` (at 10^5 nodes one order takes about a second).  ``upper``: exact up
    to it, above it a real slicing's cost (:func:`slice_order_banded`)."""
    out = np.full((len(orders), 2) if pairs else (len(orders),), np.nan)
    for r, order in enumerate(orders):
        if r and should_stop is not None and should_stop():
            break
        order = np.asarray(order, dtype=np.int64)
        out[r] = bottleneck_pair(graph, order, k, cost_model, upper) if pairs else \
            slice_order_banded(graph, order, k, cost_model, upper)[0]
    return out


#: up to this many nodes the full segment table is small (18 MB) and the reference slices
FULL_TABLE_MAX_NODES = 1500


def slice_exactly(graph: Graph, order: np.ndarray, k: int, cost_model: CostModel | None = None,
                  upper: float | None = None) -> np.ndarray:
    """Each node's stage in an optimal float64 slicing of ``order``: the reference DP over
    the full table up to :data:`FULL_TABLE_MAX_NODES` nodes, the banded one beyond (memory
    ``O(k n + band)`` instead of ``n^2``; ``upper`` as in :func:`slice_order_banded`: an
    order whose optimum is above it may get the balanced slicing instead).

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
    >>> slice_exactly(g, g.topological_order(), 2).tolist()
    [0, 0, 0, 1]
    """
    tables = (cost_model.stages or 1) if cost_model is not None and cost_model.heterogeneous else 1
    if graph.n * math.sqrt(tables) <= FULL_TABLE_MAX_NODES:  # one table per stage when heterogeneous
        return slice_order(segment_cost_table(graph, order, cost_model), k, order)[1]
    return slice_order_banded(graph, order, k, cost_model, upper)[1]


__all__ = ["FULL_TABLE_MAX_NODES", "balance_work", "balanced_slicing", "balanced_upper_bound", "bottleneck_pair", "slice_candidates",
           "slice_exactly", "slice_order_banded"]
