"""Graphs in series: clean cut nodes, the groups they cut a graph into, and the light stray sources
and sinks that stop them (dropped as a relaxation).  Used by :mod:`.configuration`."""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..reduce import subgraph


def _cut_positions(graph: Graph, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cuts, stray sources, stray sinks)`` of a topological order: the positions ``p`` where every
    edge over the gap after ``p`` leaves ``order[p]``, the sources after the first such position and
    the sinks before the last (node indices)."""
    n = graph.n
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    out_deg, in_deg = np.diff(graph.succ_ptr), np.diff(graph.pred_ptr)
    over = np.zeros(n + 1, dtype=np.int64)  # edges over the gap after each position
    np.add.at(over, pos[src], 1), np.add.at(over, pos[dst], -1)
    over = np.cumsum(over)[:n]
    cuts = np.flatnonzero(over[:n - 1] == out_deg[order][:n - 1])
    if not len(cuts):
        return cuts, cuts, cuts
    strays_in = order[cuts[0] + 1:][in_deg[order[cuts[0] + 1:]] == 0]
    strays_out = order[:cuts[-1]][out_deg[order[:cuts[-1]]] == 0]
    return cuts, strays_in, strays_out


def without_strays(graph: Graph, light: float, bandwidth: float = 1.0) -> np.ndarray:
    """The nodes kept when the sources and sinks that stop clean cuts (:func:`series_groups`) are
    dropped: a relaxation-only reduction (sorted node indices).

    Only nodes of ``work + sizeout / bandwidth <= light`` are dropped (a norm's weights, a
    constant), a few rounds at most.  Validity: the subgraph's optimum is at most the graph's (the
    proof of :func:`pjpart.reduce.drop_free_nodes`, which drops every light source and sink), so a
    bound on it bounds the graph.
    """
    keep = np.arange(graph.n)
    for _ in range(4):
        sub = subgraph(graph, keep)
        _, strays_in, strays_out = _cut_positions(sub, sub.kahn_order())
        strays = np.union1d(strays_in, strays_out)
        strays = strays[sub.work[strays] + sub.sizeout[strays] / bandwidth <= light]
        if not len(strays):
            break
        keep = np.delete(keep, strays)
    return keep


def series_groups(graph: Graph, heavier_than: float) -> list[np.ndarray]:
    """The graph cut into groups ``G_1, ..., G_r`` in series, each of work ``> heavier_than``
    (one group when the graph cannot be cut so): every node of ``G_i`` is an ancestor of every node
    of ``G_j`` for ``i < j``, through the last node of ``G_i`` (a clean cut node).

    In a topological order, position ``p`` is a clean cut when every edge over the gap after ``p``
    leaves ``a = order[p]``, no node before ``p`` is a sink and none after it a source.  Then every
    node before ``p`` reaches ``a`` (by induction from ``p`` down: its successors sit at most at
    ``p``, and it has one) and every node after ``p`` is reached from ``a`` (likewise).  Segments end at
    clean cuts; consecutive ones are merged until heavier than ``heavier_than``, and a light
    rest joins the group before it.
    """
    n = graph.n
    if n == 0:
        return []
    order = graph.kahn_order()
    cuts, _, _ = _cut_positions(graph, order)
    out_deg, in_deg = np.diff(graph.succ_ptr)[order], np.diff(graph.pred_ptr)[order]
    sinks_before = np.cumsum(out_deg == 0)  # at positions <= p
    sources_after = np.cumsum((in_deg == 0)[::-1])[::-1]  # at positions >= p
    clean = [int(p) for p in cuts if sinks_before[p] == 0 and sources_after[p + 1] == 0]
    groups, start = [], 0
    for p in clean + [n - 1]:
        if float(graph.work[order[start:p + 1]].sum()) > heavier_than or p == n - 1:
            groups.append(order[start:p + 1])
            start = p + 1
    if len(groups) > 1 and float(graph.work[groups[-1]].sum()) <= heavier_than:
        groups[-2:] = [np.concatenate(groups[-2:])]
    return groups


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


__all__ = ["closure_work", "series_groups", "without_strays"]
