"""Local search on a partition: move single nodes between adjacent stages while precedence holds.

Slicing one order optimally still fixes the order; moving a node ``v`` from
stage ``s`` to ``s - 1`` (all its predecessors already at ``<= s - 1``) or to
``s + 1`` (all its successors at ``>= s + 1``) reaches partitions no single
order sliced the same way gives.  Each round evaluates every legal move at once
(a batch of assignments through the float64 reference evaluator) and applies
the best one under the key ``(bottleneck, stages at the bottleneck, sum of
squared stage costs)``; it stops at a local optimum or after ``max_rounds``.
Every move keeps precedence, so the result is a valid partition never worse
than the input.

Example
-------
>>> import numpy as np, pjpart
>>> from pjpart.search.local import improve
>>> g = pjpart.Graph.from_arrays(work=[4, 1, 1, 4], edges=[(0, 1), (1, 2), (2, 3)])
>>> improve(g, np.array([0, 0, 0, 1]), 2, pjpart.CostModel()).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import time

import numpy as np

from ..cost import CostModel, evaluate
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


def _key(costs: np.ndarray) -> np.ndarray:
    """Per row: (bottleneck, number of stages at it, sum of squares) as a sortable structured key."""
    top = costs.max(axis=1)
    ties = (costs >= top[:, None] * (1 - 1e-12)).sum(axis=1)
    return np.stack([top, ties.astype(np.float64), (costs ** 2).sum(axis=1)], axis=1)


def improve(graph: Graph, assignment: np.ndarray, k: int, cost_model: CostModel, max_rounds: int = 200,
            batch: int = 4096, deadline: float | None = None) -> np.ndarray:
    """Best-improvement single-node moves until none helps (see the module docstring).

    ``deadline`` (a ``time.perf_counter()`` value) stops it early, keeping the best so far.
    """
    current = np.asarray(assignment, dtype=np.int64).copy()
    cur_key = _key(evaluate(graph, current, k, cost_model)[None])[0]
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        nodes, stages = legal_moves(graph, current, k)
        if len(nodes) == 0:
            break
        best_key, best_row = cur_key, None
        for start in range(0, len(nodes), batch):
            nd, st = nodes[start: start + batch], stages[start: start + batch]
            cand = np.repeat(current[None], len(nd), axis=0)
            cand[np.arange(len(nd)), nd] = st
            keys = _key(evaluate(graph, cand, k, cost_model))
            order = np.lexsort(keys.T[::-1])
            i = int(order[0])
            if tuple(keys[i]) < tuple(best_key):
                best_key, best_row = keys[i], cand[i]
        if best_row is None:
            break
        current, cur_key = best_row, best_key
    return current
