"""Local search on a partition: move nodes to an adjacent stage while precedence holds.

Slicing one order optimally still fixes the order.  The moves here reach
partitions that the order's slicing does not give:

* *closure moves* (:func:`improve`, default): node ``v`` of stage ``s`` goes to
  stage ``s - 1`` together with its ancestors inside stage ``s`` (they must go
  first), or to ``s + 1`` with its descendants inside stage ``s``.  Every such
  move keeps precedence, and when ``v`` has no such ancestor (descendant) it is
  the plain single-node move;
* *single moves* (``improve(..., moves="single")``): only nodes whose
  predecessors (successors) are already in earlier (later) stages;
* *border re-cuts* (:func:`resplit_borders`): the nodes around the border of
  two adjacent stages re-split exactly, several of them crossing both ways at
  once (a branch forward while another comes back).
* *feeder pulls* (:func:`pull_feeders`): a node whose outputs all go to a
  slowest stage or later (with the like nodes it feeds) joins that stage from
  however many stages before it.

:func:`improve` prices every move at once by the two stage costs it changes
(:func:`pjpart.cost.stage_cost`) and applies the best one under the key
``(bottleneck, stages at the bottleneck, sum of squared stage costs)``, until a
local optimum, ``max_rounds`` or ``should_stop()``.

A border re-cut takes stages ``s`` and ``s + 1``.  Its *window*
(:func:`border_window`) is a tail of stage ``s`` (closed under successors inside
``s``) and a head of ``s + 1`` (closed under predecessors inside it): the last
nodes of each in a topological order, or every branch's last (first) layers;
every other node keeps its stage.  Any downset ``X`` of the subgraph the window
induces gives a valid partition (``X`` to ``s``, the rest of the window to
``s + 1``).  So enumerating the window's downsets
(:func:`pjpart.lattice.small_downsets`) and pricing both stages of each at once
(:func:`split_costs`) gives the best re-cut of that border: lowest cost of the
slower of the two, then lowest sum of their squares (balance leaves room for
the next border's re-cut).  :func:`resplit_borders` re-cuts borders, the
slowest pair of stages first, until none changes.

:func:`improve_and_reslice` alternates them with an exact re-slicing of the
order that lists the improved stages one after the other (the slicing may move
every border at once), until none helps.  Every result is a valid partition
never worse than the input.

Example
-------
>>> import numpy as np, pjpart
>>> from pjpart.search.local import improve, resplit_borders
>>> g = pjpart.Graph.from_arrays(work=[4, 1, 1, 4], edges=[(0, 1), (1, 2), (2, 3)])
>>> improve(g, np.array([0, 0, 0, 1]), 2, pjpart.CostModel()).tolist()
[0, 0, 1, 1]
>>> g = pjpart.Graph.from_arrays(work=[5, 3, 1, 4], edges=[(0, 2), (1, 3)])
>>> pjpart.evaluate(g, [0, 0, 1, 1], 2).tolist()   # moving node 1 or node 2 alone gives 8 or 9
[8.0, 5.0]
>>> resplit_borders(g, np.array([0, 0, 1, 1]), np.arange(4), 2, pjpart.CostModel()).tolist()
[0, 1, 0, 1]
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..cost import (CostModel, _block_cost, border_traffic, evaluate, producer_starts, stage_block_cost,
                    stage_breakdown, stage_cost)
from ..errors import ConfigError
from ..graph import Graph
from ..banded import slice_exactly
from ..lattice import mask_bits, small_downsets
from .moves import improve_single, legal_moves, partition_key

# closure masks are (2n, n) booleans: above this many nodes only single moves are tried
CLOSURE_MAX_NODES = 4000


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


def improve(graph: Graph, assignment: np.ndarray, k: int, cost_model: CostModel, max_rounds: int = 200,
            batch: int = 512, should_stop: Callable[[], bool] | None = None, moves: str = "closure") -> np.ndarray:
    """Best-improvement moves until none helps (see the module docstring).

    ``moves``: ``"closure"`` (default) or ``"single"``; above ``CLOSURE_MAX_NODES`` nodes,
    single moves priced from local counts (:func:`pjpart.search.moves.improve_single`).
    ``should_stop()`` stops it early, keeping the best so far.
    """
    if moves not in ("closure", "single"):
        raise ConfigError(f"moves must be 'closure' or 'single', got {moves!r}")
    if graph.n > CLOSURE_MAX_NODES:  # moves priced from local counts (:mod:`.moves`)
        return improve_single(graph, assignment, k, cost_model, max_rounds, should_stop)
    find = closure_moves if moves == "closure" else _single_moves
    current = np.asarray(assignment, dtype=np.int64).copy()
    costs = evaluate(graph, current, k, cost_model)
    cur_key = partition_key(costs[None])[0]
    # the new costs of the two stages a move touches, per (node, direction); a move whose
    # stages the last applied move did not touch has the same nodes and costs as before
    priced = np.full((graph.n, 2, 2), np.nan)
    touched = np.arange(k)
    for _ in range(max_rounds):
        if should_stop is not None and should_stop():
            break
        masks, nodes, to = find(graph, current, k)
        if not len(nodes):  # no legal move (k = 1, or every node pinned by its neighbours)
            break
        frm = current[nodes]
        way = (to > frm).astype(np.int64)
        stale = np.flatnonzero(np.isin(frm, touched) | np.isin(to, touched))
        for start in range(0, len(stale), batch):
            if start and should_stop is not None and should_stop():
                return current  # mid-round: the moves priced so far are not all priced
            rows = stale[start: start + batch]
            cand = np.where(masks[rows], to[rows, None], current[None])
            priced[nodes[rows], way[rows], 0] = stage_cost(graph, cand, frm[rows], cost_model)
            priced[nodes[rows], way[rows], 1] = stage_cost(graph, cand, to[rows], cost_model)
        new = np.repeat(costs[None], len(nodes), axis=0)
        rows = np.arange(len(nodes))
        new[rows, frm] = priced[nodes, way, 0]
        new[rows, to] = priced[nodes, way, 1]
        keys = partition_key(new)
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


def feeder_pulls(graph: Graph, assignment: np.ndarray, stage: int, depth: int = 3,
                 max_size: int = 8) -> np.ndarray:
    """Boolean ``(M, n)`` masks of node sets that may join ``stage`` from earlier stages.

    A node ``v`` before ``stage`` is a *private feeder* of it when each of its successors
    is in ``stage`` or later, or is itself a private feeder at most ``depth`` edges from
    the stage (on a chain every earlier node would be one: the depth keeps the sets
    small).  Row ``r`` is such a ``v`` with every private feeder it reaches, kept when
    that set feeds ``stage`` itself and has at most ``max_size`` nodes.  Moving a row to ``stage`` keeps precedence:
    its members' successors outside it are in ``stage`` or later, their predecessors
    earlier.  Such sets may sit many stages before their consumer (an input-free node
    and the node it feeds, whose consumer comes tens of stages later on gpt2-small
    k=64), where neither sliced orders nor moves to an adjacent stage bring them.
    """
    a = np.asarray(assignment)
    if graph.m == 0:
        return np.zeros((0, graph.n), dtype=bool)
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    starts = producer_starts(src)
    sources = src[starts]
    later = a[dst] >= stage
    feeder = np.zeros(graph.n, dtype=bool)
    for _ in range(depth):  # each pass admits the feeders one edge further from the stage
        ok = np.logical_and.reduceat(later | feeder[dst], starts)
        new = np.zeros(graph.n, dtype=bool)
        new[sources[ok]] = True
        new &= a < stage
        if np.array_equal(new, feeder):
            break
        feeder = new
    members = np.flatnonzero(feeder)
    if len(members) == 0:
        return np.zeros((0, graph.n), dtype=bool)
    into = np.zeros(graph.n, dtype=bool)  # nodes with a successor in ``stage`` itself
    into[src[a[dst] == stage]] = True
    reach: dict[int, int] = {}  # feeder -> bitmask of itself and the feeders it reaches
    rank = np.empty(graph.n, dtype=np.int64)
    rank[graph.topological_order()] = np.arange(graph.n)
    for v in members[np.argsort(-rank[members])].tolist():
        succ = graph.successors(v)
        mask = 1 << v
        for w in succ[feeder[succ]].tolist():
            mask |= reach[w]
        reach[v] = mask
    rows = mask_bits([reach[v] for v in members.tolist()], graph.n)
    return rows[(rows & into).any(axis=1) & (rows.sum(axis=1) <= max_size)]


def pull_feeders(graph: Graph, assignment: np.ndarray, k: int, cost_model: CostModel, max_rounds: int = 100,
                 should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Move private feeders (:func:`feeder_pulls`) into the stages at the bottleneck, best move
    first under :func:`improve`'s key, until none helps, ``max_rounds`` or ``should_stop()``.
    Never worse than ``assignment``; a move is priced by the stages it changes
    (:func:`pjpart.cost.stage_cost`), as :func:`improve` prices its moves."""
    current = np.asarray(assignment, dtype=np.int64).copy()
    costs = evaluate(graph, current, k, cost_model)
    cur_key = partition_key(costs[None])[0]
    for _ in range(max_rounds):
        if should_stop is not None and should_stop():
            break
        top = np.flatnonzero(costs >= costs.max() * (1 - 1e-12))
        cands = [np.where(mask, t, current) for t in top.tolist() if t > 0
                 for mask in feeder_pulls(graph, current, t)]
        if not cands:
            break
        cands = np.array(cands)
        # price only the stages a move changes: the target and those its nodes leave
        r, v = np.nonzero(cands != current)
        changed = np.zeros((len(cands), k), dtype=bool)
        changed[r, current[v]] = True
        changed[r, cands[r, v]] = True
        rows, stages = np.nonzero(changed)
        new = np.repeat(costs[None], len(cands), axis=0)
        new[rows, stages] = stage_cost(graph, cands[rows], stages, cost_model)
        keys = partition_key(new)
        i = int(np.lexsort(keys.T[::-1])[0])
        if not tuple(keys[i]) < tuple(cur_key):
            break
        current, costs, cur_key = cands[i], new[i], keys[i]
    return current


# the border re-cuts of improve_and_reslice, in turn: (window shape, size); small windows first,
# then wider ones, reach better partitions than the widest alone, in well under a second
RECUTS = (("order", 8), ("order", 16), ("layers", 2), ("layers", 3))


def improve_and_reslice(graph: Graph, assignment: np.ndarray, order: np.ndarray, k: int,
                        cost_model: CostModel, slicer: Callable[[np.ndarray], np.ndarray] | None = None,
                        should_stop: Callable[[], bool] | None = None, max_passes: int = 20,
                        recuts: tuple[tuple[str, int], ...] = RECUTS) -> tuple[np.ndarray, np.ndarray]:
    """``(assignment, order)``: :func:`improve`, :func:`pull_feeders`, then :func:`resplit_borders`
    with each ``(shape, size)`` of ``recuts`` in turn, then slice :func:`stage_major_order` exactly, and
    again while the bottleneck drops.  ``slicer(order) -> assignment`` slices an order
    optimally (default: :func:`pjpart.banded.slice_exactly`)."""
    if slicer is None:
        def slicer(o):
            return slice_exactly(graph, o, k, cost_model)
    best = np.asarray(assignment, dtype=np.int64)
    for _ in range(max_passes):
        moved = improve(graph, best, k, cost_model, should_stop=should_stop)
        moved = pull_feeders(graph, moved, k, cost_model, should_stop=should_stop)
        order = stage_major_order(moved, order)
        for shape, size in recuts:
            moved = resplit_borders(graph, moved, order, k, cost_model, size=size, shape=shape, should_stop=should_stop)
            order = stage_major_order(moved, order)
        if should_stop is not None and should_stop():
            return moved, order
        sliced = slicer(order)
        if not evaluate(graph, sliced, k, cost_model).max() < evaluate(graph, moved, k, cost_model).max():
            return moved, order  # the moves never worsen: moved is at least as good as best
        best = sliced
    return best, order


WINDOWS = ("order", "layers")


def border_window(graph: Graph, assignment: np.ndarray, order: np.ndarray, s: int, size: int,
                  shape: str = "order") -> np.ndarray:
    """The nodes around the border of stages ``s`` and ``s + 1`` that a re-cut may move:

    * ``shape="order"``: the last ``size`` nodes of stage ``s`` and the first ``size``
      of ``s + 1`` in :func:`stage_major_order` of ``order`` (fewer where a stage has fewer);
    * ``shape="layers"``: the nodes of stage ``s`` with a path of under ``size`` edges
      to its last nodes inside it (every branch's tail, whatever the order) and the
      nodes of ``s + 1`` with a path of under ``size`` edges from its first ones.

    Either way the part in ``s`` is closed under successors inside ``s`` and the part
    in ``s + 1`` under predecessors inside ``s + 1``: any downset of the window re-cuts
    the border validly.
    """
    if shape == "order":
        ranked = stage_major_order(assignment, order)
        stages = assignment[ranked]
        first = ranked[stages == s][-size:] if size else ranked[:0]
        return np.concatenate([first, ranked[stages == s + 1][:size]])
    if shape != "layers":
        raise ValueError(f"window shape must be one of {WINDOWS}, got {shape!r}")
    rank = np.empty(graph.n, dtype=np.int64)
    rank[np.asarray(order)] = np.arange(graph.n)
    # edges inside each of the two stages, in order: longest paths by one pass of relaxations
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    height = np.zeros(graph.n, dtype=np.int64)  # stage s: edges to its last nodes
    depth = np.zeros(graph.n, dtype=np.int64)   # stage s + 1: edges from its first nodes
    for stage, dist, forward in ((s, height, False), (s + 1, depth, True)):
        inner = np.flatnonzero((assignment[src] == stage) & (assignment[dst] == stage))
        inner = inner[np.argsort(rank[dst[inner]] if forward else -rank[src[inner]], kind="stable")]
        for e in inner.tolist():
            u, v = (src[e], dst[e]) if forward else (dst[e], src[e])
            dist[v] = max(dist[v], dist[u] + 1)
    return np.concatenate([np.flatnonzero((assignment == s) & (height < size)),
                           np.flatnonzero((assignment == s + 1) & (depth < size))])


def split_costs(graph: Graph, assignment: np.ndarray, s: int, window: np.ndarray, to_first: np.ndarray,
                cost_model: CostModel, parts: dict | None = None) -> np.ndarray:
    """``(D, 2)`` float64 costs of stages ``s`` and ``s + 1`` when, in row ``d``, the window's
    nodes with ``to_first[d]`` go to ``s`` and its others to ``s + 1`` (the rest as in
    ``assignment``).  Rows are not checked for precedence.

    Only producers in the window or feeding it can change what a stage sends or receives:
    their share is recomputed per row, everyone else's is the assignment's (``parts``: its
    :func:`pjpart.cost.stage_breakdown`, when the caller has it).
    """
    a = np.asarray(assignment, dtype=np.int64)
    window = np.asarray(window, dtype=np.int64)
    to_first = np.atleast_2d(np.asarray(to_first, dtype=bool))
    feeders = graph.pred_idx[np.concatenate([np.arange(graph.pred_ptr[v], graph.pred_ptr[v + 1])
                                             for v in window.tolist()] or [np.zeros(0, np.int64)])]
    producers = np.union1d(window, feeders)
    edges = graph.edges[np.isin(graph.edges[:, 0], producers)]  # still grouped by producer
    touched = np.union1d(producers, edges[:, 1])
    local = np.full(graph.n, -1, dtype=np.int64)
    local[touched] = np.arange(len(touched))
    labels = np.repeat(a[touched][None], len(to_first) + 1, axis=0)  # row 0: the assignment itself
    labels[1:, local[window]] = np.where(to_first, s, s + 1)
    base = stage_breakdown(graph, a, max(int(a.max()) + 1, s + 2), cost_model) if parts is None else parts
    in_window = np.zeros(graph.n, dtype=bool)
    in_window[window] = True
    costs = np.empty((len(to_first), 2))
    for col, stage in enumerate((s, s + 1)):
        fixed = (a == stage) & ~in_window
        mine = to_first if stage == s else ~to_first
        work = fixed @ graph.work + mine @ graph.work[window]
        params = fixed @ graph.params + mine @ graph.params[window]
        hetero = cost_model.heterogeneous  # out and in apart: they travel on different links (SPEC 5)
        comm = np.ones(len(to_first)) * (np.array([[base["out"][stage]], [base["in"][stage]]]) if hetero
                                         else base["in"][stage] + base["out"][stage])
        if len(edges):
            inside = labels == stage
            starts = producer_starts(edges[:, 0])
            share = border_traffic(inside[:, local[edges[:, 0]]], inside[:, local[edges[:, 1]]], starts,
                                   graph.sizeout[edges[starts, 0]], split=hetero)
            comm = comm - share[..., :1] + share[..., 1:]
        costs[:, col] = stage_block_cost(work, comm[1], comm[0], params, cost_model, stage) if hetero \
            else _block_cost(work, comm, cost_model.overflow(params), cost_model)
    return costs


def _pair_key(c0: np.ndarray, c1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(c0, c1), c0 * c0 + c1 * c1


def best_split(graph: Graph, assignment: np.ndarray, order: np.ndarray, s: int, cost_model: CostModel,
               size: int = 8, shape: str = "order", max_downsets: int = 4096, parts: dict | None = None) -> np.ndarray:
    """The assignment with border ``s``'s window (:func:`border_window`) re-cut as well as it
    can be (see the module docstring); the window shrinks (``size`` halved for ``"order"``,
    one layer less for ``"layers"``) until it has at most 63 nodes and ``max_downsets``
    downsets (:func:`~pjpart.lattice.small_downsets`).  Never
    worse than ``assignment`` in the pair's key (its own cut is one of the downsets)."""
    a = np.asarray(assignment, dtype=np.int64)
    while True:
        window = border_window(graph, a, order, s, size, shape)
        sets = small_downsets(graph, window, max_downsets) if len(window) <= 63 else None
        if sets is not None or size <= 1:
            break
        size = size // 2 if shape == "order" else size - 1
    if sets is None or len(window) == 0:
        return a
    to_first = mask_bits(sets, len(window))
    costs = split_costs(graph, a, s, window, to_first, cost_model, parts)
    top, squares = _pair_key(costs[:, 0], costs[:, 1])
    best = int(np.lexsort((squares, top))[0])
    out = a.copy()
    out[window] = np.where(to_first[best], s, s + 1)
    return out


def resplit_borders(graph: Graph, assignment: np.ndarray, order: np.ndarray, k: int, cost_model: CostModel,
                    size: int = 8, shape: str = "order", max_downsets: int = 4096,
                    should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """Re-cut borders (:func:`best_split`), the slowest pair of stages first, until none changes
    or ``should_stop()``.  ``order`` is a topological order
    (it ranks nodes inside a stage).  The result keeps precedence and has no higher bottleneck,
    each accepted re-cut checked with the float64 reference evaluator."""
    a = np.asarray(assignment, dtype=np.int64).copy()
    parts = stage_breakdown(graph, a, k, cost_model)
    costs = parts["cost"]
    settled = np.zeros(max(0, k - 1), dtype=bool)  # re-cut without gain since its stages last changed
    while not settled.all():
        if should_stop is not None and should_stop():
            break
        open_ = np.flatnonzero(~settled)
        s = int(open_[np.argmax(np.maximum(costs[open_], costs[open_ + 1]))])
        new = best_split(graph, a, order, s, cost_model, size, shape, max_downsets, parts)
        if np.array_equal(new, a):  # the border's own cut is its best
            settled[s] = True
            continue
        new_parts = stage_breakdown(graph, new, k, cost_model)
        new_costs = new_parts["cost"]
        old_key = _pair_key(costs[s], costs[s + 1])
        new_key = _pair_key(new_costs[s], new_costs[s + 1])
        if new_key[0] < old_key[0] * (1 - 1e-12) or (new_key[0] <= old_key[0]
                                                       and new_key[1] < old_key[1] * (1 - 1e-12)):
            a, parts, costs = new, new_parts, new_costs
            settled[max(0, s - 1): s + 2] = False  # the neighbours' windows changed
        else:
            settled[s] = True
    return a
