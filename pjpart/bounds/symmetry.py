"""Interchangeable branches of a graph (attention heads, identical experts), for symmetry breaking.

Twins.  Let ``U`` be the nodes that :func:`colour_classes` leaves alone in their class (the hubs a
group of heads hangs between) and any others named as hubs, and ``A``, ``B`` two components of the
graph less ``U`` with a bijection ``phi: A -> B``.  Write ``sigma`` for the permutation of the nodes
that swaps ``a`` and ``phi(a)`` and fixes every other node.  :func:`twin_branches` keeps ``A, B``
only when ``sigma`` is an automorphism of the graph with its node data: ``a`` and ``phi(a)`` have the
same work, params and sizeout, and ``sigma`` maps the predecessors and the successors of each ``a``
onto those of ``phi(a)`` (no edge joins two components, so every edge meeting ``B`` is the image of
one meeting ``A``, and ``sigma`` maps the edge set onto itself).  Every term of the cost model (work,
params, ``in`` and ``out`` of a stage, each producer once) is defined by the node data and the edges
alone, so moving each node ``v`` of a partition to the stage of ``sigma(v)`` gives a partition of the
same stage costs, and as the edges map onto edges it keeps every edge forward.

Symmetry breaking.  With twins ``A_1, ..., A_m`` (every ``A_1 <-> A_i`` an automorphism, so every
permutation of the ``m`` branches is one) and any function ``key`` of a branch's stages read through
the bijections, each partition has an image under such a permutation whose keys are in order
``key(A_1) <= ... <= key(A_m)``: sort the branches by key.  A problem whose constraints are all defined
by the graph and its node data (or hold for every partition of bottleneck ``<= T``, as the windows of
:mod:`.windows` do) keeps, beside each solution, that image, of the same objective; adding
the order loses no optimum, and a MIP's dual bound with it is a bound without it.
(:func:`pjpart.bounds.windows.guess_problem` uses the sum of the branch's stages as the key.)

Example
-------
Two heads between a source and a sink, each a chain of two nodes: one class of two twins, node for
node:

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 2, 3, 1], edges=[(0, 1), (1, 2), (0, 3), (3, 4), (2, 5), (4, 5)])
>>> [t.tolist() for t in twin_branches(g)]
[[[1, 2], [3, 4]]]
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph


def colour_classes(graph: Graph) -> np.ndarray:
    """Colour refinement (1-dimensional Weisfeiler-Leman) on the DAG: nodes start coloured by
    ``(work, params, sizeout)`` and are split by the multisets of their predecessors' and
    successors' colours until no class splits.  Nodes that an automorphism maps onto each other
    share a colour (the converse need not hold; :func:`twin_branches` checks its pairs)."""
    n = graph.n
    attrs = np.stack([graph.work, graph.params, graph.sizeout], axis=1)
    _, colour = np.unique(attrs, axis=0, return_inverse=True)
    colour = colour.ravel()
    preds = [graph.predecessors(v).tolist() for v in range(n)]
    succs = [graph.successors(v).tolist() for v in range(n)]
    classes = len(set(colour.tolist()))
    while True:
        keys = [(int(colour[v]), tuple(sorted(int(colour[p]) for p in preds[v])),
                 tuple(sorted(int(colour[s]) for s in succs[v]))) for v in range(n)]
        index = {key: i for i, key in enumerate(sorted(set(keys)))}
        colour = np.array([index[key] for key in keys], dtype=np.int64)
        if len(index) == classes:
            return colour
        classes = len(index)


def _components(graph: Graph, keep: np.ndarray) -> list[np.ndarray]:
    """The weakly connected components of the graph induced by the nodes in ``keep`` (a mask)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    e = graph.edges
    inside = keep[e[:, 0]] & keep[e[:, 1]] if len(e) else np.zeros(0, dtype=bool)
    adj = sp.coo_matrix((np.ones(int(inside.sum())), (e[inside, 0], e[inside, 1])), shape=(graph.n, graph.n))
    _, label = connected_components(adj, directed=True, connection="weak")
    nodes = np.flatnonzero(keep)
    order = np.argsort(label[nodes], kind="stable")
    nodes, labels = nodes[order], label[nodes][order]
    cuts = np.flatnonzero(np.diff(labels)) + 1
    return np.split(nodes, cuts) if len(nodes) else []


def _swaps(graph: Graph, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether swapping ``a[i] <-> b[i]`` (every other node fixed) is an automorphism of the graph
    with its node data (module docstring)."""
    sigma = {int(x): int(y) for x, y in zip(a, b)}
    sigma.update({int(y): int(x) for x, y in zip(a, b)})
    for x, y in zip(a.tolist(), b.tolist()):
        if (graph.work[x] != graph.work[y] or graph.params[x] != graph.params[y]
                or graph.sizeout[x] != graph.sizeout[y]):
            return False
        for near in (graph.predecessors, graph.successors):
            if {sigma.get(int(p), int(p)) for p in near(x)} != {int(p) for p in near(y)}:
                return False
    return True


def twin_branches(graph: Graph, min_size: int = 1, hubs: np.ndarray | None = None) -> list[np.ndarray]:
    """Classes of interchangeable branches: each an ``(m, s)`` array whose rows are ``m >= 2``
    twins of ``s >= min_size`` nodes, row ``i``'s ``j``-th node the image of row 0's ``j``-th (each
    row listed in topological order of row 0).  Branches of the same colours are matched colour by
    colour, nodes of one colour in the order of their indices (a tracer writes each head's ops in
    the same order); each pair is checked (module docstring), a pair the match gets wrong is left
    out.  ``hubs``
    (node indices) are left out of every branch, as the nodes alone in their colour are (a causal
    mask and rotary tables that colour alike but that no swap exchanges)."""
    colour = colour_classes(graph)
    size = np.bincount(colour, minlength=int(colour.max()) + 1) if graph.n else np.zeros(0, dtype=np.int64)
    keep = size[colour] > 1
    if hubs is not None:
        keep[np.asarray(hubs, dtype=np.int64)] = False
    by_signature: dict[tuple, list[np.ndarray]] = {}
    for comp in _components(graph, keep):
        if len(comp) >= min_size:
            by_signature.setdefault(tuple(sorted(colour[comp].tolist())), []).append(comp)
    position = np.empty(graph.n, dtype=np.int64)
    position[graph.topological_order()] = np.arange(graph.n)
    classes = []
    for comps in by_signature.values():
        if len(comps) < 2:
            continue
        ref, *others = [comp[np.lexsort((comp, colour[comp]))] for comp in comps]  # by colour, then index
        rows = [ref]
        for image in others:
            if _swaps(graph, ref, image):
                rows.append(image)
        if len(rows) >= 2:
            rows = np.stack(rows)
            classes.append(rows[:, np.argsort(position[ref], kind="stable")])  # row 0 in topological order
    return classes


def symmetric_windows(first: np.ndarray, last: np.ndarray, twins) -> tuple[np.ndarray, np.ndarray]:
    """Windows (changed in place) widened to the same span on every twin of a class, node for node:
    each stays implied by a bottleneck ``<= T`` (a wider window is), and the problem they pose is the
    same under any permutation of twins, whatever rounding set them apart."""
    for rows_of in twins:
        first[rows_of] = first[rows_of].min(axis=0)
        last[rows_of] = last[rows_of].max(axis=0)
    return first, last


__all__ = ["colour_classes", "symmetric_windows", "twin_branches"]
