"""Optimum-preserving reductions: cheap nodes merged into a neighbour, proven to keep an
optimal partition, so the exact DP and the bounds work on a smaller graph and lattice.

Each rule merges a node ``v`` into one neighbour ``x`` when, from *every* partition, moving
``v`` into ``x``'s stage gives a partition no stage of which costs more (an exchange
argument).  Then some optimal partition has ``v`` with ``x``, and contracting them loses
nothing: the reduced graph has the same optimum, the same feasible costs (each member in its
group's stage, :meth:`pjpart.coarsen.Coarsening.project`), and every lower bound of it bounds
the original.  A group exports at most one tensor (the rules only merge along an edge whose
other tensors stay inside), so its ``sizeout`` is that tensor's and its costs are exact.

Below, ``c_in = min over stages b >= 1 of speed_b / link_in_b`` and ``c_out = min over stages
b <= k - 2 of speed_b / link_out_b`` (``1 / bandwidth`` for a scalar model): the worth, in
work, of one byte less received or sent by whichever stage the move lands in.  Every rule
asks ``params(v) = 0``, so no stage's memory term changes.

* **S, a source into its consumer.**  ``v`` has no producer and one consumer ``w``, and
  ``work(v) <= c_in sizeout(v)``.  Moving ``v`` from ``s(v) < s(w)`` to ``s(w)``: stage ``s(v)``
  loses ``v``'s work and no longer sends ``v``'s tensor; stage ``s(w)`` gains ``work(v)``
  (``work(v) / speed`` in time) and no longer receives it (``v`` has no other consumer):
  ``work(v) / speed_b - sizeout(v) / link_in_b <= 0``.  No other stage changes.
* **T, a sink into its producer.**  ``v`` has no consumer and one producer ``u``, and either
  ``work(v) = 0``, or ``u``'s only consumer is ``v`` and ``work(v) <= c_out sizeout(u)``.
  Moving ``v`` from ``s(v) > s(u)`` to ``s(u)``: stage ``s(v)`` loses ``v`` and receives
  ``u``'s tensor no more than before; stage ``s(u)`` gains ``work(v)`` and sends ``u``'s
  tensor no more than before (no longer at all when ``v`` was its only consumer).
* **C, a chain node backward.**  ``u -> v`` with ``u``'s only consumer ``v`` and ``v``'s only
  producer ``u``, ``sizeout(v) <= sizeout(u)`` and ``work(v) <= c_out (sizeout(u) -
  sizeout(v))``.  Moving ``v`` to ``s(u)``: stage ``s(u)`` no longer sends ``u``'s tensor and
  sends ``v``'s at most; stage ``s(v)`` no longer receives ``u``'s tensor, receives ``v``'s
  at most (when a consumer of ``v`` stays there) and sends ``v``'s no longer.  A pooling or
  projection that shrinks its input.
* **F, a chain node forward.**  ``p -> u -> v`` with ``u``'s only producer ``p`` and only
  consumer ``v``, ``sizeout(p) <= sizeout(u)`` and ``work(u) <= c_in (sizeout(u) -
  sizeout(p))``.  Moving ``u`` to ``s(v)``: stage ``s(u)`` loses ``u``, no longer sends
  ``u``'s tensor and sends ``p``'s at most (when ``p`` stays there); stage ``s(v)`` gains
  ``work(u)``, no longer receives ``u``'s tensor and receives ``p``'s at most.  An op that
  expands its input (a broadcast, an upsampling).

Rules are applied until none fires (a merged node is a node like any other).  With ``k = 1``
nothing is merged (there is nothing to gain).  :func:`drop_free_nodes`, separately, is a
relaxation only: a smaller graph whose optimum is *at most* the original's, for bounds.

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[0.5, 4, 3], sizeout=[2, 1, 0], edges=[(0, 1), (1, 2)],
...                              ids=["mask", "attn", "head"])
>>> r = reduce_graph(g, pjpart.CostModel(), k=2)   # the mask (0.5 <= 2 bytes at 1 B/s) joins attn
>>> r.graph.ids, r.graph.work.tolist(), r.members.tolist()
(('attn', 'head'), [4.5, 3.0], [0, 0, 1])
"""

from __future__ import annotations

import numpy as np

from .coarsen import Coarsening
from .cost import CostModel
from .graph import Graph


def byte_worth(cost_model: CostModel, k: int) -> tuple[float, float]:
    """``(c_in, c_out)`` of the module docstring: the work one received (sent) byte is worth
    at least, on any stage that can receive (send)."""
    if not cost_model.heterogeneous:
        return 1.0 / cost_model.bandwidth, 1.0 / cost_model.bandwidth
    t = cost_model.stage_terms()
    c_in = float((t.speed[1:] / t.bandwidth_in[1:]).min()) if k > 1 else 0.0
    c_out = float((t.speed[:-1] / t.bandwidth_out[:-1]).min()) if k > 1 else 0.0
    return c_in, c_out


def _merges(g: Graph, c_in: float, c_out: float) -> dict[int, int]:
    """One pass: ``{v: x}``, each node merged into a neighbour by a rule, no node both merged
    and a target (so the pass's merges are independent)."""
    indeg, outdeg = np.diff(g.pred_ptr), np.diff(g.succ_ptr)
    into: dict[int, int] = {}
    used: set[int] = set()

    def take(v: int, x: int) -> None:
        if v not in used and x not in used:
            into[v] = x
            used.update((v, x))

    for v in np.flatnonzero(g.params == 0).tolist():
        work = g.work[v]
        if indeg[v] == 0 and outdeg[v] == 1:                                   # S
            if work <= c_in * g.sizeout[v]:
                take(v, int(g.successors(v)[0]))
        elif outdeg[v] == 0 and indeg[v] == 1:                                 # T
            u = int(g.predecessors(v)[0])
            if work == 0 or (outdeg[u] == 1 and work <= c_out * g.sizeout[u]):
                take(v, u)
        elif indeg[v] == 1 and outdeg[v] >= 1:
            u = int(g.predecessors(v)[0])
            if outdeg[u] == 1 and g.sizeout[v] <= g.sizeout[u] and work <= c_out * (g.sizeout[u] - g.sizeout[v]):
                take(v, u)                                                     # C
            elif outdeg[v] == 1 and g.sizeout[u] <= g.sizeout[v] and \
                    work <= c_in * (g.sizeout[v] - g.sizeout[u]):
                take(v, int(g.successors(v)[0]))                               # F
    return into


def _contract(g: Graph, into: dict[int, int]) -> tuple[Graph, np.ndarray]:
    """The graph with each ``v`` of ``into`` merged into its target: ``(graph, group of each node)``."""
    target = np.arange(g.n)
    for v, x in into.items():
        target[v] = x
    keep = np.flatnonzero(target == np.arange(g.n))
    index = np.full(g.n, -1, dtype=np.int64)
    index[keep] = np.arange(len(keep))
    group = index[target]
    work, params = np.zeros(len(keep)), np.zeros(len(keep))
    np.add.at(work, group, g.work)
    np.add.at(params, group, g.params)
    sizeout = g.sizeout[keep].copy()
    outdeg = np.diff(g.succ_ptr)
    for v, x in into.items():
        if outdeg[v] and v in g.successors(x).tolist():  # rule C: the group exports v's tensor, x's is inside
            sizeout[group[x]] = g.sizeout[v]
    e = group[g.edges] if g.m else np.zeros((0, 2), np.int64)
    e = np.unique(e[e[:, 0] != e[:, 1]], axis=0) if len(e) else e
    reduced = Graph.from_arrays(work=work, params=params, sizeout=sizeout, edges=e.tolist(),
                                ids=[g.ids[v] for v in keep], name=g.name, meta=dict(g.meta))
    return reduced, group


def reduce_graph(graph: Graph, cost_model: CostModel, k: int) -> Coarsening:
    """Apply the rules of the module docstring until none fires.

    Parameters
    ----------
    graph, cost_model, k
        The problem (the rules depend on the bandwidths, and with ``k = 1`` none is applied).

    Returns
    -------
    Coarsening
        ``.graph`` (the reduced graph: the same optimum), ``.members`` (each node's reduced
        node) and :meth:`~pjpart.coarsen.Coarsening.project` (a reduced assignment on the
        graph's nodes, with the same stage costs); ``.graph is graph`` when nothing merged.
    """
    members = np.arange(graph.n)
    g = graph
    if k > 1:
        c_in, c_out = byte_worth(cost_model, k)
        while True:
            into = _merges(g, c_in, c_out)
            if not into:
                break
            g, group = _contract(g, into)
            members = group[members]
    order = np.argsort(members, kind="stable")
    starts = np.searchsorted(members[order], np.arange(g.n + 1))
    return Coarsening(g, members, order, starts)


def drop_free_nodes(graph: Graph, cost_model: CostModel, k: int, max_downsets: int, scale: float,
                    shares: tuple = (1e-4, 1e-3, 1e-2, 3e-2)) -> tuple[Graph, int] | None:
    """A **relaxation** (not optimum-preserving): the graph without its cheapest sources and
    sinks, once it has at most ``max_downsets`` downsets; ``(graph, nodes dropped)`` or ``None``.

    Proof that it bounds.  Delete a node ``v`` and its edges.  Every partition of the graph,
    restricted to the other nodes, is a partition of the smaller graph (its precedences are a
    subset), and no stage costs more: ``v``'s stage loses ``v``'s work and weights (the overflow
    is non-decreasing in them), and every ``in(S)`` and ``out(S)`` counts producers through
    edges of which the smaller graph keeps a subset.  So the smaller graph's optimum is at most
    the graph's: its exact optimum is a lower bound (per-stage speeds and links included).

    Why sources and sinks.  A source or sink lies on no path between two other nodes, so
    dropping it loses no precedence among them, while a weightless source with one consumer
    (an attention mask) multiplies the downsets by the positions it may take.  Nodes go in
    rounds of growing cost, ``work / slowest speed + sizeout / slowest link`` at most
    ``share * scale`` (``scale``: a bound, so the loss stays a small share of it), sources and
    sinks of the previous round's graph each time, until the lattice fits.

    One enumeration when none fits.  Deleting a source ``v`` maps each downset ``D`` of the
    smaller graph to the downset ``D + v``, deleting a sink to ``D`` itself, one-to-one: the
    smaller graph has no more downsets.  So when the most relaxed graph (every round's nodes gone)
    has more than ``max_downsets``, every round's has, and the rounds are not enumerated.
    """
    from .lattice import downsets

    t = cost_model.stage_terms()
    slowest = float(t.speed.min())
    links = t.bandwidth_in[1:] if cost_model.heterogeneous and k > 1 else np.array([cost_model.bandwidth])
    link = float(links.min())
    # nodes above the largest share are never dropped: with more of them than max_downsets
    # no round can fit (a graph of N nodes has at least N + 1 downsets)
    top = max(shares) * scale
    if np.count_nonzero(graph.work / slowest + graph.sizeout / link > top) + 1 > max_downsets:
        return None
    most, most_dropped = _peel(graph, slowest, link, top)
    if not most_dropped or downsets(most, max_downsets) is None:
        return None
    g, dropped = graph, 0
    for share in shares:
        if share * scale >= top:
            break  # the most relaxed graph: known to fit
        g, more = _peel(g, slowest, link, share * scale)
        dropped += more
        if dropped and downsets(g, max_downsets) is not None:
            return g, dropped
    return most, most_dropped


def _peel(graph: Graph, slowest: float, link: float, cap: float) -> tuple[Graph, int]:
    """The graph without its sources and sinks of cost at most ``cap``, again and again until
    none is left (or every node would go), and how many nodes went."""
    g, dropped = graph, 0
    while True:
        indeg, outdeg = np.diff(g.pred_ptr), np.diff(g.succ_ptr)
        cost = g.work / slowest + g.sizeout / link
        free = ((indeg == 0) | (outdeg == 0)) & (cost <= cap)
        if not free.any() or free.all():
            return g, dropped
        g = subgraph(g, np.flatnonzero(~free))
        dropped += int(free.sum())


def subgraph(graph: Graph, keep: np.ndarray) -> Graph:
    """The graph on the nodes ``keep`` (sorted indices) and the edges among them, ids and name kept:
    a relaxation when nodes go (the proof of :func:`drop_free_nodes`)."""
    index = np.full(graph.n, -1, dtype=np.int64)
    index[keep] = np.arange(len(keep))
    e = index[graph.edges] if graph.m else np.zeros((0, 2), np.int64)
    e = e[(e >= 0).all(axis=1)] if len(e) else e
    return Graph.from_arrays(work=graph.work[keep], params=graph.params[keep], sizeout=graph.sizeout[keep],
                             edges=e.tolist(), ids=[graph.ids[v] for v in keep], name=graph.name)


__all__ = ["byte_worth", "drop_free_nodes", "reduce_graph", "subgraph"]
