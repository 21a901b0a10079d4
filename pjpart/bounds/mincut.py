"""The node-closure bound: for every node, the cheapest block that could hold it, by minimum cut.

Validity.  In an optimal partition with bottleneck ``T*`` every node ``v`` lies
in some stage ``S``, and ``T* >= f(S)``.  Dropping the requirement that ``S`` be
a (convex) stage only lowers the minimum, so::

    T* >= max_v  min_{S contains v}  work(S) + (in(S) + out(S)) / bandwidth  +  overflow(params(v))

(the overflow of ``S`` is at least that of ``v`` alone, as params only grow).
The inner minimum over *arbitrary* sets is a minimum s-t cut (source side =
``S``): ``s -> v`` infinite (``v`` in ``S``); ``x -> t`` with capacity
``work(x)``; per producer ``u`` with consumers ``W``, an "in" helper ``a_u``
(``w -> a_u`` infinite for ``w`` in ``W``, ``a_u -> u`` capacity
``sizeout(u)/bandwidth``: paid when a consumer is in ``S`` and ``u`` is not) and
an "out" helper ``b_u`` (``b_u -> w`` infinite, ``u -> b_u`` capacity
``sizeout(u)/bandwidth``: paid when ``u`` is in ``S`` and a consumer is not).
Each producer is charged once per direction, exactly as the SPEC counts it.

Numerics.  SciPy's max-flow takes int32 capacities; finite capacities are
scaled so they sum to at most 2^29 and rounded *down*, which can only lower
each cut, so the bound stays valid; it is divided back by the scale.

Heterogeneous pipelines (SPEC section 5): the bound is computed for the homogeneous
relaxation (:func:`pjpart.cost.homogeneous_relaxation`: fastest speed, fastest link,
largest memory), whose optimum is at most the pipeline's, so it stays valid.

This bound does not depend on ``k``: it is the cost floor a node's
neighbourhood imposes however many stages there are, which is what limits
communication-heavy models at large ``k`` (where ``work(V)/k`` is tiny).

Example
-------
>>> import pjpart
>>> from pjpart.bounds.mincut import node_closure_bound
>>> g = pjpart.Graph.from_arrays(work=[1, 5, 1], sizeout=[9, 9, 0], edges=[(0, 1), (1, 2)])
>>> round(node_closure_bound(g, pjpart.CostModel()), 6)  # v=1 alone pays 5+9+9; with its neighbours 7
7.0
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..cost import CostModel, homogeneous_relaxation
from ..graph import Graph

#: finite capacities are scaled to sum to at most this (SciPy's max-flow takes int32)
FINITE_TOTAL = 2 ** 29
#: an infinite capacity
INF = 2 ** 30


def _network(graph: Graph, cm: CostModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
    """Edge arrays (tail, head, capacity) of the cut network without the source edge; and the scale."""
    n = graph.n
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    producers, pidx = np.unique(src, return_inverse=True)
    p = len(producers)
    a = n + pidx            # in-helper of each edge's producer
    b = n + p + pidx        # out-helper
    comm = graph.sizeout[producers] / cm.bandwidth
    total = float(graph.work.sum() + 2 * comm.sum())
    scale = FINITE_TOTAL / total if total > 0 else 1.0
    t_node = n + 2 * p + 1
    tails = [np.arange(n), dst, n + np.arange(p), b, producers]
    heads = [np.full(n, t_node), a, producers, dst, n + p + np.arange(p)]
    caps = [np.floor(graph.work * scale), np.full(len(dst), INF), np.floor(comm * scale),
            np.full(len(dst), INF), np.floor(comm * scale)]
    return (np.concatenate(tails).astype(np.int64), np.concatenate(heads).astype(np.int64),
            np.concatenate(caps).astype(np.int64), n + 2 * p + 2, scale)


def node_closure_values(graph: Graph, cost_model: CostModel, should_stop: Callable[[], bool] | None = None,
                        nodes: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Per node ``v``, a lower bound on the cost of any block holding ``v``, by one min cut each.

    Parameters
    ----------
    graph
        The graph.
    cost_model
        The block cost's parameters.
    should_stop
        Asked before each node's cut; once it returns True the remaining nodes are left at 0
        (``None``: never stop, e.g. ``Budget.stopper()`` without a time limit).
    nodes
        The nodes to compute, in this order; by default all, heaviest work first.

    Returns
    -------
    values : numpy.ndarray
        ``(n,)``: ``min_{S contains v} f(S)`` made safe (see the module docstring); 0 where
        not computed.
    done : int
        How many nodes were computed before ``should_stop`` said stop.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 5, 1], sizeout=[9, 9, 0], edges=[(0, 1), (1, 2)])
    >>> values, done = node_closure_values(g, pjpart.CostModel())
    >>> values.round(6).tolist(), done
    ([7.0, 7.0, 7.0], 3)
    >>> node_closure_values(g, pjpart.CostModel(), should_stop=lambda: True)[1]
    0
    """
    graph, cost_model = homogeneous_relaxation(graph, cost_model)  # scalar models: unchanged
    cm = cost_model
    tails, heads, caps, N, scale = _network(graph, cm)
    values = np.zeros(graph.n)
    # the heaviest nodes first: they are the likeliest to give the maximum
    order = np.argsort(-graph.work, kind="stable") if nodes is None else np.asarray(nodes, dtype=np.int64)
    flows, done = cuts_from_each(tails, heads, caps, N, order, should_stop)
    values[order[:done]] = flows[:done] / scale + cm.overflow(graph.params)[order[:done]]
    return values, done


def cuts_from_each(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray, size: int, nodes: np.ndarray,
                   should_stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, int]:
    """For each ``v`` of ``nodes`` in turn, the minimum cut (maximum flow) between the network's
    source ``size - 2`` and sink ``size - 1`` once an edge source -> ``v`` of capacity :data:`INF`
    is added: ``(flows, done)``, the flows in the network's integer units, ``done`` how many were
    computed before ``should_stop()`` said stop (the rest are NaN)."""
    from scipy.sparse.csgraph import maximum_flow

    keep = caps > 0
    tails, heads, caps = tails[keep], heads[keep], caps[keep]
    nodes = np.asarray(nodes, dtype=np.int64).tolist()
    flows = np.full(len(nodes), np.nan)
    network = _rooted(tails, heads, caps, size, nodes[0]) if nodes else None
    # the source's one edge is re-pointed at each node in turn: the matrix is built once (a row of
    # one entry stays sorted); a network that gives the source edges of its own is built per node
    reuse = network is not None and not np.any(tails == size - 2)
    slot = int(network.indptr[size - 2]) if reuse else 0
    done = 0
    for i, v in enumerate(nodes):
        if should_stop is not None and should_stop():
            break
        if reuse:
            network.indices[slot] = v
        else:
            network = _rooted(tails, heads, caps, size, v)
        flows[i] = maximum_flow(network, size - 2, size - 1).flow_value
        done += 1
    return flows, done


def _rooted(tails: np.ndarray, heads: np.ndarray, caps: np.ndarray, size: int, v: int):
    """The network (positive capacities) as a SciPy matrix, with the edge source -> ``v`` of
    capacity :data:`INF` that puts ``v`` on the source side."""
    from scipy.sparse import csr_matrix

    m = csr_matrix((np.append(caps, INF).astype(np.int32), (np.append(tails, size - 2), np.append(heads, v))),
                   shape=(size, size))
    m.sum_duplicates()
    return m


def cheapest_block(graph: Graph, cost_model: CostModel, node: int) -> np.ndarray:
    """The set ``S`` that gives ``node`` its value in :func:`node_closure_values` (a mask): the
    source side of that minimum cut, the nodes the source still reaches in its residual network
    (on the homogeneous relaxation, capacities scaled and rounded as there).  Not necessarily a
    block: :func:`block_partition` makes a partition around it.

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 5, 1], sizeout=[9, 9, 0], edges=[(0, 1), (1, 2)])
    >>> cheapest_block(g, pjpart.CostModel(), 1).tolist()  # 7 = 1 + 5 + 1: all three, nothing sent
    [True, True, True]
    """
    from scipy.sparse.csgraph import breadth_first_order, maximum_flow

    graph, cm = homogeneous_relaxation(graph, cost_model)
    tails, heads, caps, size, _ = _network(graph, cm)
    keep = caps > 0
    source = size - 2
    m = _rooted(tails[keep], heads[keep], caps[keep], size, node)
    residual = (m.astype(np.int64) - maximum_flow(m, source, size - 1).flow.astype(np.int64)).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    block = np.zeros(graph.n, dtype=bool)
    block[reached[reached < graph.n]] = True
    return block


def block_partition(graph: Graph, k: int, cost_model: CostModel, block: np.ndarray,
                    upper: float | None = None) -> np.ndarray:
    """A partition built around ``block`` (a mask): the topological order that runs the block's
    ancestors outside its convex hull first, then the hull, then the rest, sliced exactly
    (:func:`pjpart.banded.slice_exactly`; ``upper`` as there).  Where the bottleneck is one node's
    cheapest block, this often meets :func:`node_closure_bound` at once: a partition the search may
    take long to find, and the proof of its optimality.

    The order is topological: the ancestors ``A`` of the block (itself included) form a downset,
    and so do those outside the hull ``H = A & descendants``: a predecessor in ``H`` of a node of
    ``A`` would put that node in the descendants, so in ``H``.

    Node 0's cheapest block is ``{0, 1, 3}`` (cost 8, the bound): around it, three stages meet it.

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[5, 2, 3, 1, 6], sizeout=[5, 3, 7, 3, 1], edges=[(0, 3), (1, 3)])
    >>> block = cheapest_block(g, pjpart.CostModel(), 0)
    >>> block.tolist()
    [True, True, False, True, False]
    >>> stages = block_partition(g, 3, pjpart.CostModel(), block)
    >>> stages.tolist(), pjpart.evaluate(g, stages, 3).tolist()
    ([0, 0, 1, 0, 2], [8.0, 3.0, 6.0])
    """
    from ..banded import slice_exactly

    topo = graph.topological_order()
    ancestors, descendants = block.copy(), block.copy()
    for v in topo[::-1].tolist():  # a node whose successor is an ancestor is one
        succ = graph.successors(v)
        ancestors[v] |= bool(len(succ)) and bool(ancestors[succ].any())
    for v in topo.tolist():
        pred = graph.predecessors(v)
        descendants[v] |= bool(len(pred)) and bool(descendants[pred].any())
    hull = ancestors & descendants
    rank = np.where(hull, 1, np.where(ancestors, 0, 2))[topo]
    order = topo[np.argsort(rank, kind="stable")]
    return slice_exactly(graph, order, k, cost_model, upper)


def node_closure_bound(graph: Graph, cost_model: CostModel, should_stop: Callable[[], bool] | None = None) -> float:
    """``max_v min_{S contains v} f(S)`` (see the module docstring); valid for every ``k``.

    Parameters
    ----------
    graph
        The graph.
    cost_model
        The block cost's parameters.
    should_stop
        As in :func:`node_closure_values`: the maximum over the nodes computed before it said
        stop is still a valid bound.

    Returns
    -------
    float
        The bound (0 for an empty graph or when nothing was computed).

    Examples
    --------
    See the module docstring.
    """
    if graph.n == 0:
        return 0.0
    vals, _ = node_closure_values(graph, cost_model, should_stop)
    return float(vals.max()) if math.isfinite(vals.max()) else 0.0
