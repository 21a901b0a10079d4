"""Plain NumPy reference algorithms (SPEC section 2): the oracle for the kernels.

* :func:`decode_keys` - random keys -> topological order (Kahn, smallest key first,
  ties by node index);
* :func:`segment_cost_table` - the cost of every segment of one order in
  O(n^2 + m) with prefix sums and 2-D difference arrays;
* :func:`slice_order` - the optimal min-max slicing of an order into at most k
  contiguous stages, with the traceback giving every node's stage;
* :func:`exhaustive_partition` - the true optimum of a tiny graph by enumerating
  every precedence-respecting stage assignment (tests only);
* :func:`topological_orders` - every topological order of a tiny graph.

These are correct and simple, not fast; the fast path lives in ``pjpart.kernels``.

Example
-------
>>> import numpy as np
>>> from pjpart import Graph
>>> from pjpart.reference import decode_keys, segment_cost_table, slice_order
>>> g = Graph.from_arrays(work=[3, 1, 1, 3], edges=[(0, 1), (0, 2), (1, 3), (2, 3)])
>>> order = decode_keys(g, np.array([0.5, 0.9, 0.1, 0.0]))
>>> order.tolist()
[0, 2, 1, 3]
>>> value, stages = slice_order(segment_cost_table(g, order), 2, order)
>>> float(value), stages.tolist()   # each node's stage: nodes 0 and 2 first
(4.0, [0, 1, 0, 1])
"""

from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from .cost import CostModel, DEFAULT_COST_MODEL, evaluate, stage_block_cost
from .graph import Graph, GraphError, check_k


def decode_keys(graph: Graph, keys: np.ndarray) -> np.ndarray:
    """Topological order(s) from random keys: Kahn's algorithm, smallest key first, ties by index.

    ``keys`` is ``(n,)`` or ``(P, n)``; returns int64 orders of the same shape.
    """
    keys = np.asarray(keys, dtype=np.float64)
    if keys.shape[-1:] != (graph.n,):
        raise GraphError(f"keys have shape {keys.shape}, expected (..., {graph.n})")
    if keys.ndim == 2:
        return np.stack([decode_keys(graph, row) for row in keys]) if len(keys) else np.zeros((0, graph.n), np.int64)
    return graph.kahn_order(keys)


def order_to_keys(order: np.ndarray) -> np.ndarray:
    """Keys in [0, 1) that :func:`decode_keys` turns back into ``order`` (a topological order)."""
    order = np.asarray(order, dtype=np.int64)
    keys = np.empty(len(order), dtype=np.float64)
    keys[order] = np.arange(len(order)) / len(order)
    return keys


def _rectangles(D: np.ndarray, i0, i1, j0, j1, s) -> None:
    """Add ``s`` on the index rectangles [i0, i1] x [j0, j1] of a 2-D difference array."""
    np.add.at(D, (i0, j0), s)
    np.add.at(D, (i0, j1 + 1), -s)
    np.add.at(D, (i1 + 1, j0), -s)
    np.add.at(D, (i1 + 1, j1 + 1), s)


def communication_table(graph: Graph, order: np.ndarray) -> np.ndarray:
    """``T[i, j] = in(S) + out(S)`` in bytes for the segment ``S = order[i:j]``, shape (n+1, n+1).

    Producer ``u`` at position ``a`` whose consumers sit at positions
    ``c_1 < ... < c_r`` (all after ``a``):

    * ``out``: ``u`` is in ``S`` and its last consumer is not: ``i <= a < j <= c_r``;
    * ``in``: ``u`` is not in ``S`` but a consumer is.  With ``c_0 = a``, the first
      consumer at or after ``i`` is ``c_t`` exactly when ``c_{t-1} < i <= c_t``,
      and it lies in ``S`` when ``j > c_t``.

    Each case is a union of disjoint index rectangles, so ``u`` is counted once
    per segment; the O(m) rectangles go into a 2-D difference array that two
    cumulative sums turn into the table.
    """
    return sum(communication_tables(graph, order))


def communication_tables(graph: Graph, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(IN, OUT)``: :func:`communication_table` with ``in(S)`` and ``out(S)`` apart (a
    heterogeneous pipeline prices them on different links)."""
    n = graph.n
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    i0, i1, j0, j1, s = producer_rectangles(graph, pos, n)
    received = len(i0) - int((np.diff(graph.succ_ptr) > 0).sum())  # the first rectangles: one per edge
    tables = []
    for part in (slice(0, received), slice(received, None)):
        D = np.zeros((n + 2, n + 2), dtype=np.float64)
        _rectangles(D, i0[part], i1[part], j0[part], j1[part], s[part])
        tables.append(np.cumsum(np.cumsum(D, axis=0), axis=1)[: n + 1, : n + 1])
    return tables[0], tables[1]


def producer_rectangles(graph: Graph, pos: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """``(i0, i1, j0, j1, s)``: the index rectangles of :func:`communication_table` (start in
    ``[i0, i1]``, end in ``[j0, j1]``, ``s`` bytes), for the order with positions ``pos``."""
    if not graph.m:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty, np.zeros(0)
    u, v = graph.edges[:, 0], graph.edges[:, 1]
    a, c = pos[u], pos[v]
    if np.any(c <= a):
        e = int(np.flatnonzero(c <= a)[0])
        raise GraphError(f"order is not topological: edge ({graph.ids[u[e]]!r}, {graph.ids[v[e]]!r})")
    srt = np.lexsort((c, u))
    u, a, c = u[srt], a[srt], c[srt]
    s = graph.sizeout[u]
    first = np.r_[True, u[1:] != u[:-1]]
    last = np.r_[u[1:] != u[:-1], True]
    prev = np.where(first, a, np.r_[0, c[:-1]])
    # in: i in [prev+1, c], j in [c+1, n]; out: i in [0, a], j in [a+1, c_last]
    return (np.r_[prev + 1, np.zeros(int(last.sum()), np.int64)], np.r_[c, a[last]], np.r_[c + 1, a[last] + 1],
            np.r_[np.full_like(c, n), c[last]], np.r_[s, s[last]])


def segment_cost_table(graph: Graph, order: np.ndarray, cost_model: CostModel | None = None) -> np.ndarray:
    """``C[i, j] = f(order[i:j])`` for ``0 <= i <= j <= n`` (``C[i, i] = 0``); ``inf`` below the diagonal.

    For a heterogeneous model (SPEC section 5) one table per stage, ``(k, n + 1, n + 1)``:
    ``C[b, i, j] = f_b(order[i:j])``; :func:`slice_order` takes either.
    """
    cm = cost_model or DEFAULT_COST_MODEL
    order = np.asarray(order, dtype=np.int64)
    n = graph.n
    if sorted(order.tolist()) != list(range(n)):
        raise GraphError("order must be a permutation of the node indices")
    W = np.r_[0.0, np.cumsum(graph.work[order])]
    P = np.r_[0.0, np.cumsum(graph.params[order])]
    if cm.heterogeneous:
        inn, out = communication_tables(graph, order)
        b = np.arange(cm.stages)[:, None, None]
        C = stage_block_cost((W[None, :] - W[:, None])[None], inn[None], out[None],
                             np.maximum(P[None, :] - P[:, None], 0.0)[None], cm, b)
    else:
        C = (W[None, :] - W[:, None]) + communication_table(graph, order) / cm.bandwidth
        C = C + cm.overflow(np.maximum(P[None, :] - P[:, None], 0.0))
    C[..., np.tril_indices(n + 1, -1)[0], np.tril_indices(n + 1, -1)[1]] = np.inf
    C[..., np.arange(n + 1), np.arange(n + 1)] = 0.0
    return C


def slice_order(table: np.ndarray, k: int, order: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Optimal split of an order into at most ``k`` contiguous segments (min of the max cost).

    ``D_b[j] = min_{i <= j} max(D_{b-1}[i], C[i, j])`` with ``D_0 = [0, inf, ...]``;
    with one table per stage ``(k, n + 1, n + 1)`` (a heterogeneous model), stage ``b`` reads
    its own.
    Returns ``(bottleneck, stages)``: ``stages[p]`` is the stage of position ``p``,
    or, when ``order`` is given, of node ``v`` (indexed by node).
    """
    k = check_k(k)
    n = table.shape[-1] - 1
    if table.ndim == 3 and len(table) != k:
        raise GraphError(f"{len(table)} stage tables for k = {k}")
    stage_table = (lambda b: table[b - 1]) if table.ndim == 3 else (lambda b: table)
    D = np.full((k + 1, n + 1), np.inf)
    D[0, 0] = 0.0
    for b in range(1, k + 1):
        D[b] = np.maximum(D[b - 1][:, None], stage_table(b)).min(axis=0)
    stages_by_pos = np.empty(n, dtype=np.int64)
    j = n
    for b in range(k, 0, -1):
        i = int(np.argmin(np.maximum(D[b - 1][: j + 1], stage_table(b)[: j + 1, j])))
        stages_by_pos[i:j] = b - 1
        j = i
    if order is None:
        return float(D[k, n]), stages_by_pos
    stages = np.empty(n, dtype=np.int64)
    stages[np.asarray(order)] = stages_by_pos
    return float(D[k, n]), stages


def monotone_assignments(graph: Graph, k: int) -> np.ndarray:
    """Every stage assignment with ``s(u) <= s(v)`` on each edge, as a ``(count, n)`` array."""
    k = check_k(k)
    rows = np.zeros((1, graph.n), dtype=np.int8)
    for v in graph.topological_order().tolist():
        preds = graph.predecessors(v)
        lo = rows[:, preds].max(axis=1) if len(preds) else np.zeros(len(rows), np.int8)
        parts = []
        for s in range(k):
            sel = rows[lo <= s].copy()
            sel[:, v] = s
            parts.append(sel)
        rows = np.concatenate(parts)
    return rows


def exhaustive_partition(graph: Graph, k: int, cost_model: CostModel | None = None,
                         max_assignments: int = 2_000_000) -> tuple[float, np.ndarray]:
    """The exact optimum ``(bottleneck, assignment)`` of a tiny graph, by enumeration (tests only)."""
    k = check_k(k)
    if k ** graph.n > 50 * max_assignments:
        raise GraphError(f"graph too large for exhaustive search (n={graph.n}, k={k})")
    rows = monotone_assignments(graph, k)
    if len(rows) > max_assignments:
        raise GraphError(f"{len(rows)} assignments exceed the exhaustive limit {max_assignments}")
    best_val, best_row = np.inf, rows[0]
    for start in range(0, len(rows), 100_000):
        chunk = rows[start : start + 100_000]
        bott = evaluate(graph, chunk, k, cost_model).max(axis=1)
        i = int(np.argmin(bott))
        if bott[i] < best_val:
            best_val, best_row = float(bott[i]), chunk[i]
    return best_val, best_row.astype(np.int64)


def topological_orders(graph: Graph, limit: int | None = None) -> Iterator[np.ndarray]:
    """Yield every topological order (up to ``limit`` of them), lexicographically by node index."""
    indeg = np.diff(graph.pred_ptr).tolist()
    succ = [graph.successors(v).tolist() for v in range(graph.n)]
    ready = sorted(v for v in range(graph.n) if indeg[v] == 0)
    prefix: list[int] = []
    count = itertools.count()

    def rec(ready: list[int]):
        if len(prefix) == graph.n:
            yield np.asarray(prefix, dtype=np.int64)
            return
        for idx, v in enumerate(ready):
            nxt = ready[:idx] + ready[idx + 1 :]
            for w in succ[v]:
                indeg[w] -= 1
                if indeg[w] == 0:
                    nxt.append(w)
            prefix.append(v)
            yield from rec(sorted(nxt))
            prefix.pop()
            for w in succ[v]:
                indeg[w] += 1

    for order in rec(ready):
        if limit is not None and next(count) >= limit:
            return
        yield order
