"""Graphs in series: clean cut nodes, the groups they cut a graph into, and the light stray sources
and sinks that stop them (dropped as a relaxation, and placed back in a partition found without
them).  Used by :mod:`.chain`, :mod:`.configuration` and ``guess`` (:mod:`.methods`)."""

from __future__ import annotations

import numpy as np

from ..cost import CostModel
from ..cost_model import homogeneous_relaxation
from ..graph import Graph
from ..reduce import subgraph


#: :func:`without_strays` peels at most this many rounds of sources and sinks
STRAY_ROUNDS = 64
#: strays are dropped when they weigh at most this share of a proven bound or a guess (the methods'
#: own scale): each one lowers the optimum by little
STRAY_SHARE = 0.01


def _cut_positions(graph: Graph, order: np.ndarray, broadcast: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cuts, stray sources, stray sinks)`` of a topological order: the positions ``p`` where every
    edge over the gap after ``p`` leaves ``order[p]`` or a node of ``broadcast`` (a mask), every
    broadcast node before ``p`` has a successor at ``p`` or before, and, with nothing broadcast,
    every node after ``p`` has a predecessor at ``p`` or after; the sources after the first such
    position and the sinks before the last (node indices).  (Past broadcast nodes, a node after ``p``
    that is not reached from ``order[p]`` floats: :func:`series_groups`.)"""
    n = graph.n
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    out_deg, in_deg = np.diff(graph.succ_ptr), np.diff(graph.pred_ptr)
    wide = np.zeros(n, dtype=bool) if broadcast is None else np.asarray(broadcast, dtype=bool)
    plain = ~wide[src]
    over = np.zeros(n + 1, dtype=np.int64)  # edges not from a broadcast node over the gap after each position
    np.add.at(over, pos[src[plain]], 1), np.add.at(over, pos[dst[plain]], -1)
    over = np.cumsum(over)[:n]
    own = np.where(wide, 0, out_deg)[order]  # the node at p sends its own edges over the gap
    bad = np.zeros(n + 1, dtype=np.int64)  # positions where a broadcast node or a later node is cut off

    def spoil(lo: np.ndarray, hi: np.ndarray) -> None:  # the positions lo..hi - 1
        keep = lo < hi
        np.add.at(bad, lo[keep], 1), np.add.at(bad, hi[keep], -1)

    if len(src):
        first_succ = np.full(n, n, dtype=np.int64)
        np.minimum.at(first_succ, src, pos[dst])
        b = np.flatnonzero(wide & (out_deg > 0))
        spoil(pos[b] + 1, first_succ[b])
        if broadcast is None:
            last_pred = np.full(n, -1, dtype=np.int64)
            np.maximum.at(last_pred, dst, pos[src])
            w = np.flatnonzero(in_deg > 0)
            spoil(last_pred[w] + 1, pos[w])
    bad = np.cumsum(bad)[:n]
    cuts = np.flatnonzero((over[:n - 1] == own[:n - 1]) & (bad[:n - 1] == 0))
    if not len(cuts):
        return cuts, cuts, cuts
    strays_in = order[cuts[0] + 1:][in_deg[order[cuts[0] + 1:]] == 0]
    strays_out = order[:cuts[-1]][out_deg[order[:cuts[-1]]] == 0]
    return cuts, strays_in, strays_out


def broadcast_producers(graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    """``(broadcast, order)``: the producers read far apart (a causal mask, rotary tables, an
    encoder's output read by every layer, an embedding shared by an encoder and its decoder: two
    consumers or more spread over a third of the Kahn order or more, where a layer's own hubs spread
    over its layer), and the Kahn order with each node that reads such producers alone (a reshape of
    a table, a decoder's first sublayer beside its encoder; directly or through other such nodes)
    moved just before its first consumer, where it floats (:func:`series_groups`).  Any choice is
    valid for :func:`series_groups`; this one frees the cuts such tensors stop."""
    n = graph.n
    order = graph.kahn_order()
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    lo, hi = np.full(n, n, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    if len(src):
        np.minimum.at(lo, src, pos[dst]), np.maximum.at(hi, src, pos[dst])
    wide = (np.diff(graph.succ_ptr) >= 2) & (hi - lo >= n / 3)
    loose = np.zeros(n, dtype=bool)
    for v in order.tolist():  # reading broadcast or such nodes only
        pred = graph.predecessors(v)
        loose[v] = len(pred) > 0 and not wide[v] and bool(np.all(wide[pred] | loose[pred]))
    key = pos.astype(np.float64)
    for v in order[::-1].tolist():  # just before the first consumer, itself placed so
        succ = graph.successors(v)
        if loose[v] and len(succ):
            key[v] = key[succ].min() - 1e-6
    return wide, np.argsort(key, kind="stable")


def without_strays(graph: Graph, light: float, bandwidth: float = 1.0) -> np.ndarray:
    """The nodes kept when the sources and sinks that stop clean cuts (:func:`series_groups`) are
    dropped: a relaxation-only reduction (sorted node indices).

    Only nodes of ``work + sizeout / bandwidth <= light`` are dropped (a norm's weights, a
    constant), round after round until none is left (at most :data:`STRAY_ROUNDS`): a batch norm's
    scale computed from its weights in the graph is a chain of five or six light ops.  Validity:
    the subgraph's optimum is at most the graph's (the proof of :func:`pjpart.reduce.drop_free_nodes`,
    which drops every light source and sink), so a bound on it bounds the graph.
    """
    keep = np.arange(graph.n)
    for _ in range(STRAY_ROUNDS):
        sub = subgraph(graph, keep)
        _, strays_in, strays_out = _cut_positions(sub, sub.kahn_order())
        strays = np.union1d(strays_in, strays_out)
        strays = strays[sub.work[strays] + sub.sizeout[strays] / bandwidth <= light]
        if not len(strays) or len(strays) >= sub.n:  # a graph of light pieces keeps them all
            break
        keep = np.delete(keep, strays)
    return keep


def stray_relaxation(graph: Graph, cost_model: CostModel, light: float, min_nodes: int,
                     share: float) -> np.ndarray | None:
    """The nodes :func:`without_strays` keeps (strays of ``work + sizeout / bandwidth <= light`` under
    :func:`pjpart.cost_model.homogeneous_relaxation`), when ``graph`` has at least ``min_nodes`` nodes
    and at least ``share`` of them go; else ``None``.  A relaxation: deleting nodes only lowers the
    optimum, whatever the cost model (the proof of :func:`pjpart.reduce.drop_free_nodes`)."""
    if graph.n < min_nodes:
        return None
    scalar, cm = homogeneous_relaxation(graph, cost_model)
    keep = without_strays(scalar, light, cm.bandwidth)
    return keep if 0 < len(keep) <= (1 - share) * graph.n else None


def lift_strays(graph: Graph, keep: np.ndarray, stages: np.ndarray) -> np.ndarray:
    """Every node's stage: ``stages`` (a partition of ``subgraph(graph, keep)``, ``keep`` from
    :func:`without_strays`) for the kept nodes, and each dropped node beside its neighbours, so that
    the result is a partition of ``graph`` (its cost is whatever the reference evaluator says).

    Proof.  A node peeled as a source had all its predecessors peeled in earlier rounds, as sources
    (a sink of an earlier round has no successor left, so none peeled later), so by induction no
    dropped source has a kept ancestor; likewise no dropped sink has a kept descendant.  Call a
    dropped node *early* when it has no kept ancestor and *late* otherwise (a dropped sink, with no
    kept descendant).  An edge into an early node leaves an early node, and one out of a late node
    enters a late node.  Late nodes, in topological order, take the latest stage of their kept and
    late predecessors (one exists: a kept ancestor's path enters through one); early nodes, in
    reverse topological order, the earliest stage of their successors (all placed by then; stage 0
    when none).  Every edge then goes forward: into a late node by the maximum, out of an early node
    by the minimum, and between kept nodes as in ``stages``.

    >>> g = Graph.from_arrays(work=[0, 4, 4, 0], edges=[(0, 1), (1, 2), (2, 3)])
    >>> lift_strays(g, np.array([1, 2]), np.array([0, 1])).tolist()
    [0, 0, 1, 1]
    """
    out = np.full(graph.n, -1, dtype=np.int64)
    out[keep] = stages
    order = graph.topological_order()
    dropped = order[out[order] < 0].tolist()  # in topological order
    early = out < 0
    for v in dropped:  # no kept ancestor: every predecessor early (a source has none)
        early[v] = bool(np.all(early[graph.predecessors(v)]))
    for v in dropped:
        if not early[v]:
            pred = graph.predecessors(v)
            out[v] = int(out[pred[~early[pred]]].max())
    for v in dropped[::-1]:
        if early[v]:
            succ = graph.successors(v)
            out[v] = int(out[succ].min()) if len(succ) else 0
    return out


def series_groups(graph: Graph, heavier_than: float, broadcast: np.ndarray | None = None,
                  order: np.ndarray | None = None) -> list[np.ndarray]:
    """The graph cut into groups ``G_1, ..., G_r`` in series, each of work ``> heavier_than``
    (one group when the graph cannot be cut so): every node of ``G_i`` is an ancestor of every node
    of ``G_j`` for ``i < j``, through the last node of ``G_i`` (a clean cut node).

    In a topological order, position ``p`` is a clean cut when every edge over the gap after ``p``
    leaves ``a = order[p]``, no node before ``p`` is a sink and none after it a source.  Then every
    node before ``p`` reaches ``a`` (by induction from ``p`` down: its successors sit at most at
    ``p``, and it has one) and every node after ``p`` is reached from ``a`` (likewise).  Segments end at
    clean cuts; consecutive ones are merged until heavier than ``heavier_than``, and a light
    rest joins the group before it.

    With ``broadcast`` (a mask of nodes), edges over the gap may also leave a broadcast node, when
    every broadcast node before ``p`` has a successor at ``p`` or before, and a node after ``p`` need
    not be reached from ``a``: the nodes of ``G_i`` that do not descend from the last node of
    ``G_{i-1}`` *float* (:func:`floating_nodes`), and ``a`` must not be one of them.  The first
    induction holds as it stands (a broadcast node reaches ``a`` through that successor), so every
    node of ``G_i`` reaches its last node ``c_i``; every other node of ``G_i`` but the floating ones
    descends from ``c_{i-1}`` by definition, and so does ``c_i``.  An edge into ``G_i`` from outside
    crosses the gap after ``c_{i-1}``, so it leaves ``c_{i-1}`` or a broadcast node, an ancestor of
    ``c_{i-1}``; a floating node reads only such broadcast nodes and floating nodes of ``G_i`` (a
    predecessor that descends from ``c_{i-1}``, or is ``c_{i-1}``, would make it descend).
    ``order``: the topological order to cut (default: Kahn's).

    >>> g = Graph.from_arrays(work=[1, 1, 1, 1, 1], edges=[(0, 1), (1, 2), (2, 3), (0, 3), (3, 4)])
    >>> [grp.tolist() for grp in series_groups(g, 0.0)]
    [[0], [1, 2, 3], [4]]
    >>> wide = np.array([True, False, False, False, False])
    >>> [grp.tolist() for grp in series_groups(g, 0.0, wide)]
    [[0], [1], [2], [3], [4]]
    """
    n = graph.n
    if n == 0:
        return []
    order = graph.kahn_order() if order is None else order
    cuts, _, _ = _cut_positions(graph, order, broadcast)
    out_deg, in_deg = np.diff(graph.succ_ptr)[order], np.diff(graph.pred_ptr)[order]
    sinks_before = np.cumsum(out_deg == 0)  # at positions <= p
    sources_after = np.cumsum((in_deg == 0)[::-1])[::-1]  # at positions >= p
    clean = {int(p) for p in cuts if sinks_before[p] == 0 and sources_after[p + 1] == 0}
    work = np.cumsum(graph.work[order])
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    groups, start = [], 0
    anchored = np.ones(n, dtype=bool)  # the nodes of the group so far that descend from the cut before it
    for p, v in enumerate(order.tolist()):
        if start and broadcast is not None:
            pred = graph.predecessors(v)
            anchored[v] = bool(np.any(anchored[pred] & (pos[pred] >= start - 1)))
        if p == n - 1 or (p in clean and anchored[v] and work[p] - (work[start - 1] if start else 0.0) > heavier_than):
            groups.append(order[start:p + 1])
            start = p + 1
    if len(groups) > 1 and float(graph.work[groups[-1]].sum()) <= heavier_than:
        groups[-2:] = [np.concatenate(groups[-2:])]
    return groups


def floating_nodes(graph: Graph, groups: list[np.ndarray]) -> np.ndarray:
    """The nodes of each group but the first that do not descend from the last node of the group
    before it (a mask): those :func:`series_groups` lets float past broadcast nodes."""
    floating = np.zeros(graph.n, dtype=bool)
    for before, grp in zip(groups, groups[1:]):
        reached = np.zeros(graph.n, dtype=bool)
        reached[int(before[-1])] = True
        for v in grp.tolist():  # in topological order
            reached[v] = bool(reached[graph.predecessors(v)].any())
        floating[grp] = ~reached[grp]
    return floating


def closure_work(graph: Graph, nodes: np.ndarray, downward: bool) -> np.ndarray:
    """Per node of ``nodes`` (a convex set, in topological order), the work of its descendants in
    ``nodes`` (itself included; ``downward=False``: of its ancestors)."""
    m = len(nodes)
    local = np.full(graph.n, -1)
    local[nodes] = np.arange(m)
    reach = np.eye(m, dtype=bool)
    steps = range(m - 1, -1, -1) if downward else range(m)
    for i in steps:
        v = nodes[i]
        nbrs = local[graph.successors(v) if downward else graph.predecessors(v)]
        nbrs = nbrs[nbrs >= 0]
        if len(nbrs):
            reach[i] |= reach[nbrs].any(axis=0)
    return reach @ graph.work[nodes]


__all__ = ["STRAY_SHARE", "broadcast_producers", "closure_work", "floating_nodes", "lift_strays", "series_groups",
           "stray_relaxation", "without_strays"]
