"""Single-node moves: the legal ones (:func:`legal_moves`), the key local search ranks
partitions by (:func:`partition_key`), and their prices from local counts, for local search
on graphs of 10^4-10^5 nodes.

:func:`pjpart.search.local.improve` prices a move by :func:`pjpart.cost.stage_cost` of the
whole moved assignment, ``O(n + m)`` per move: at 10^5 nodes one batch of moves takes
seconds.  A single-node move of ``v`` from stage ``s`` to an adjacent stage ``t`` changes
only stages ``s`` and ``t``, and their traffic only through the producers ``v`` and the
predecessors of ``v``.  With ``c(u, X)``, the number of consumers of producer ``u`` in
stage ``X``, and ``ext(u)``, those outside ``u``'s own stage (a producer's bytes count once
per direction: stage ``X`` receives ``u``'s tensor iff ``u`` is elsewhere and ``c(u, X) >
0``, and ``u``'s stage sends it iff ``ext(u) > 0``):

* ``v`` itself (in ``s`` before, ``t`` after): ``s`` stops sending it when ``ext(v) > 0``
  and starts receiving it when ``c(v, s) > 0``; ``t`` stops receiving it when ``c(v, t) > 0``
  and sends it when ``v`` keeps a consumer outside ``t`` (``outdeg(v) - c(v, t) > 0``);
* each predecessor ``u`` of ``v`` in stage ``a``: ``c(u, s)`` drops by one and ``c(u, t)``
  grows by one (edges are unique), which changes whether ``s`` or ``t`` receives ``u``'s
  tensor (where ``a`` is not that stage) and, when ``a`` is ``s`` or ``t``, whether ``a``
  sends it (``ext(u)`` grows or drops by one).

Work and weights move with ``v``.  So every legal move is priced in ``O(deg(v))``, all of
them at once by array operations; the tests check the prices against ``stage_cost``.

>>> import numpy as np, pjpart
>>> g = pjpart.Graph.from_arrays(work=[4, 1, 1, 4], sizeout=[1, 1, 1, 0], edges=[(0, 1), (1, 2), (2, 3)])
>>> single_move_costs(g, np.array([0, 0, 1, 1]), 2, np.array([1, 2]), np.array([1, 0])).tolist()
[[5.0, 7.0], [5.0, 7.0]]
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..cost import DEFAULT_COST_MODEL, CostModel, _block_cost, stage_block_cost, stage_breakdown
from ..graph import Graph


def legal_moves(graph: Graph, assignment: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(nodes, new_stages)`` of every single-node move to an adjacent stage that keeps precedence."""
    n = graph.n
    lo = np.zeros(n, dtype=np.int64)      # the node may go down to max stage of its predecessors
    hi = np.full(n, k - 1, dtype=np.int64)  # and up to min stage of its successors
    if graph.m:
        src, dst = graph.edges[:, 0], graph.edges[:, 1]
        np.maximum.at(lo, dst, assignment[src])
        np.minimum.at(hi, src, assignment[dst])
    down = np.flatnonzero(assignment - 1 >= lo)
    up = np.flatnonzero(assignment + 1 <= hi)
    return np.concatenate([down, up]), np.concatenate([assignment[down] - 1, assignment[up] + 1])


def partition_key(costs: np.ndarray) -> np.ndarray:
    """Per row: (bottleneck, number of stages at it, sum of squares) as a sortable structured key."""
    top = costs.max(axis=1)
    ties = (costs >= top[:, None] * (1 - 1e-12)).sum(axis=1)
    return np.stack([top, ties.astype(np.float64), (costs ** 2).sum(axis=1)], axis=1)


def single_move_costs(graph: Graph, assignment: np.ndarray, k: int, nodes: np.ndarray, to: np.ndarray,
                      cost_model: CostModel | None = None, parts: dict | None = None) -> np.ndarray:
    """``(M, 2)``: the costs of stage ``assignment[nodes[r]]`` after node ``nodes[r]`` leaves
    it and of stage ``to[r]`` after it joins (see the module docstring); ``parts`` is
    :func:`pjpart.cost.stage_breakdown` of ``assignment`` when the caller has it.  Moves
    must keep precedence (the caller's, as :func:`legal_moves`)."""
    cm = cost_model or DEFAULT_COST_MODEL
    A = np.asarray(assignment, dtype=np.int64)
    nodes, to = np.asarray(nodes, dtype=np.int64), np.asarray(to, dtype=np.int64)
    frm = A[nodes]
    parts = stage_breakdown(graph, A, k, cm) if parts is None else parts
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    keys, counts = np.unique(src * k + A[dst], return_counts=True)

    def consumers(u: np.ndarray, stage: np.ndarray) -> np.ndarray:  # c(u, stage)
        if not len(keys):
            return np.zeros(len(u), dtype=np.int64)
        key = u * k + stage
        at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        return np.where(keys[at] == key, counts[at], 0)

    outdeg = np.diff(graph.succ_ptr)
    size = graph.sizeout
    d_in, d_out = np.zeros((len(nodes), 2)), np.zeros((len(nodes), 2))
    # v itself
    z = size[nodes]
    d_out[:, 0] -= z * (outdeg[nodes] - consumers(nodes, frm) > 0)
    d_in[:, 0] += z * (consumers(nodes, frm) > 0)
    c_t = consumers(nodes, to)
    d_in[:, 1] -= z * (c_t > 0)
    d_out[:, 1] += z * (outdeg[nodes] - c_t > 0)
    # the predecessors of v, one row per (move, in-edge)
    indeg = np.diff(graph.pred_ptr)[nodes]
    row = np.repeat(np.arange(len(nodes)), indeg)
    first = np.repeat(graph.pred_ptr[nodes] - np.cumsum(indeg) + indeg, indeg)
    u = graph.pred_idx[first + np.arange(len(row))]
    s, t, a, z = frm[row], to[row], A[u], size[u]
    before_s, before_t = consumers(u, s), consumers(u, t)
    ext = outdeg[u] - consumers(u, a)
    np.add.at(d_in[:, 0], row, z * (a != s) * ((before_s - 1 > 0).astype(float) - (before_s > 0)))
    np.add.at(d_in[:, 1], row, z * (a != t) * ((before_t + 1 > 0).astype(float) - (before_t > 0)))
    np.add.at(d_out[:, 0], row, z * (a == s) * ((ext + 1 > 0).astype(float) - (ext > 0)))
    np.add.at(d_out[:, 1], row, z * (a == t) * ((ext - 1 > 0).astype(float) - (ext > 0)))
    stage = np.stack([frm, to], axis=1)
    sign = np.array([-1.0, 1.0])
    work = parts["work"][stage] + sign * graph.work[nodes][:, None]
    params = parts["params"][stage] + sign * graph.params[nodes][:, None]
    inb, outb = parts["in"][stage] + d_in, parts["out"][stage] + d_out
    if cm.heterogeneous:
        return stage_block_cost(work, inb, outb, params, cm, stage)
    return _block_cost(work, inb + outb, cm.overflow(params), cm)


def improve_single(graph: Graph, assignment: np.ndarray, k: int, cost_model: CostModel, max_rounds: int = 200,
                   should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Best-improvement single-node moves (:func:`legal_moves`) until
    none lowers the key ``(bottleneck, stages at it, sum of squared costs)``, ``max_rounds``
    or ``should_stop()``; each round prices every legal move by :func:`single_move_costs`
    and recomputes the stage costs exactly (no drift).  Never worse than the input."""
    current = np.asarray(assignment, dtype=np.int64).copy()
    for _ in range(max_rounds):
        if should_stop is not None and should_stop():
            break
        parts = stage_breakdown(graph, current, k, cost_model)
        nodes, to = legal_moves(graph, current, k)
        if not len(nodes):
            break
        priced = single_move_costs(graph, current, k, nodes, to, cost_model, parts)
        new = np.repeat(parts["cost"][None], len(nodes), axis=0)
        rows = np.arange(len(nodes))
        new[rows, current[nodes]] = priced[:, 0]
        new[rows, to] = priced[:, 1]
        keys = partition_key(new)
        i = int(np.lexsort(keys.T[::-1])[0])
        if not tuple(keys[i]) < tuple(partition_key(parts["cost"][None])[0]):
            break
        current[nodes[i]] = to[i]
    return current


__all__ = ["improve_single", "legal_moves", "partition_key", "single_move_costs"]
