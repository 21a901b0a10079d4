"""Local search on a partition: move a node, with what must travel with it, to an adjacent stage.

Slicing one order optimally still fixes the order.  The moves here reach
partitions that the order's slicing does not give:

* *closure moves* (default): node ``v`` of stage ``s`` goes to stage ``s - 1``
  together with its ancestors inside stage ``s`` (they must go first), or to
  ``s + 1`` with its descendants inside stage ``s``.  Every such move keeps
  precedence, and when ``v`` has no such ancestor (descendant) it is the plain
  single-node move;
* *single moves* (``moves="single"``): only nodes whose predecessors
  (successors) are already in earlier (later) stages.

Each round prices every move at once by the two stage costs it changes
(:func:`pjpart.cost.stage_cost`) and applies the best one under the key
``(bottleneck, stages at the bottleneck, sum of squared stage costs)``; it
stops at a local optimum, after ``max_rounds`` or at ``deadline``.  The result
is a valid partition never worse than the input.

:func:`improve_and_reslice` alternates it with an exact re-slicing of the order
that lists the improved stages one after the other (the slicing may move every
border at once), until neither helps.

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
from typing import Callable

import numpy as np

from ..cost import CostModel, evaluate, stage_cost
from ..graph import Graph
from ..reference import segment_cost_table, slice_order

# closure masks are (2n, n) booleans: above this many nodes only single moves are tried
CLOSURE_MAX_NODES = 4000


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


def stage_closures(graph: Graph, assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ancestors, descendants)``: boolean ``(n, n)``; row ``v`` marks ``v`` and its ancestors
    (descendants) that are in ``v``'s stage, through paths inside that stage."""
    n = graph.n
    topo = graph.topological_order().tolist()
    anc = np.eye(n, dtype=bool)
    desc = np.eye(n, dtype=bool)
    for v in topo:
        same = graph.predecessors(v)
        for u in same[assignment[same] == assignment[v]].tolist():
            anc[v] |= anc[u]
    for v in reversed(topo):
        same = graph.successors(v)
        for w in same[assignment[same] == assignment[v]].tolist():
            desc[v] |= desc[w]
    return anc, desc


def closure_moves(graph: Graph, assignment: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(masks, nodes, to_stage)`` of every closure move (see the module docstring): row ``r``
    moves the nodes ``masks[r]`` (node ``nodes[r]`` and its ancestors or descendants in its
    stage) from ``assignment[nodes[r]]`` to ``to_stage[r]``; downward moves come first."""
    anc, desc = stage_closures(graph, assignment)
    down = np.flatnonzero(assignment > 0)
    up = np.flatnonzero(assignment < k - 1)
    return (np.concatenate([anc[down], desc[up]]), np.concatenate([down, up]),
            np.concatenate([assignment[down] - 1, assignment[up] + 1]))


def _single_moves(graph: Graph, assignment: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nodes, to = legal_moves(graph, assignment, k)
    masks = np.zeros((len(nodes), graph.n), dtype=bool)
    masks[np.arange(len(nodes)), nodes] = True
    return masks, nodes, to


def _key(costs: np.ndarray) -> np.ndarray:
    """Per row: (bottleneck, number of stages at it, sum of squares) as a sortable structured key."""
    top = costs.max(axis=1)
    ties = (costs >= top[:, None] * (1 - 1e-12)).sum(axis=1)
    return np.stack([top, ties.astype(np.float64), (costs ** 2).sum(axis=1)], axis=1)


def improve(graph: Graph, assignment: np.ndarray, k: int, cost_model: CostModel, max_rounds: int = 200,
            batch: int = 4096, deadline: float | None = None, moves: str = "closure") -> np.ndarray:
    """Best-improvement moves until none helps (see the module docstring).

    ``moves``: ``"closure"`` (default; ``"single"`` above ``CLOSURE_MAX_NODES`` nodes)
    or ``"single"``.  ``deadline`` (a ``time.perf_counter()`` value) stops it early,
    keeping the best so far.
    """
    if moves not in ("closure", "single"):
        raise ValueError(f"moves must be 'closure' or 'single', got {moves!r}")
    find = closure_moves if moves == "closure" and graph.n <= CLOSURE_MAX_NODES else _single_moves
    current = np.asarray(assignment, dtype=np.int64).copy()
    costs = evaluate(graph, current, k, cost_model)
    cur_key = _key(costs[None])[0]
    # the new costs of the two stages a move touches, per (node, direction); a move whose
    # stages the last applied move did not touch has the same nodes and costs as before
    priced = np.full((graph.n, 2, 2), np.nan)
    touched = np.arange(k)
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        masks, nodes, to = find(graph, current, k)
        frm = current[nodes]
        way = (to > frm).astype(np.int64)
        stale = np.flatnonzero(np.isin(frm, touched) | np.isin(to, touched))
        for start in range(0, len(stale), batch):
            rows = stale[start: start + batch]
            cand = np.where(masks[rows], to[rows, None], current[None])
            priced[nodes[rows], way[rows], 0] = stage_cost(graph, cand, frm[rows], cost_model)
            priced[nodes[rows], way[rows], 1] = stage_cost(graph, cand, to[rows], cost_model)
        new = np.repeat(costs[None], len(nodes), axis=0)
        rows = np.arange(len(nodes))
        new[rows, frm] = priced[nodes, way, 0]
        new[rows, to] = priced[nodes, way, 1]
        keys = _key(new)
        i = int(np.lexsort(keys.T[::-1])[0])
        if not tuple(keys[i]) < tuple(cur_key):
            break
        current = np.where(masks[i], to[i], current)
        costs, cur_key = new[i], keys[i]
        touched = np.array([frm[i], to[i]])
    return current


def stage_major_order(assignment: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The nodes stage by stage, each stage in ``order``'s order: a topological order when
    ``assignment`` keeps precedence and ``order`` is topological, and slicing it at the
    stage borders gives ``assignment`` back."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[np.asarray(order)] = np.arange(len(order))
    return np.lexsort((rank, np.asarray(assignment)))


def improve_and_reslice(graph: Graph, assignment: np.ndarray, order: np.ndarray, k: int,
                        cost_model: CostModel, slicer: Callable[[np.ndarray], np.ndarray] | None = None,
                        deadline: float | None = None, max_passes: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``(assignment, order)``: :func:`improve`, then slice :func:`stage_major_order` exactly,
    and again while the bottleneck drops.  ``slicer(order) -> assignment`` slices an order
    optimally (default: the float64 NumPy reference)."""
    if slicer is None:
        def slicer(o):
            return slice_order(segment_cost_table(graph, o, cost_model), k, o)[1]
    best = np.asarray(assignment, dtype=np.int64)
    for _ in range(max_passes):
        moved = improve(graph, best, k, cost_model, deadline=deadline)
        order = stage_major_order(moved, order)
        if deadline is not None and time.perf_counter() >= deadline:
            return moved, order
        sliced = slicer(order)
        if not evaluate(graph, sliced, k, cost_model).max() < evaluate(graph, moved, k, cost_model).max():
            return moved, order  # improve never worsens: moved is at least as good as best
        best = sliced
    return best, order
