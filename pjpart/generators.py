"""Synthetic graphs: DNN-like DAGs for benchmarks, stacks of a model's copies, and random
small DAGs for tests.

Example
-------
>>> from pjpart.generators import dnn_like
>>> g = dnn_like(200, seed=0)
>>> g.n
200
"""

from __future__ import annotations

import numpy as np

from .graph import Graph


def dnn_like(n: int, seed: int = 0, name: str | None = None) -> Graph:
    """A DNN-shaped DAG of ``n`` ops: a backbone of blocks with residual skips and parallel branches.

    Blocks mimic ResNet/Inception/transformer structure: a block of 3-10 ops is
    either a chain with a residual add, or 2-4 parallel branches joined by a
    concat.  Costs are drawn to look like real layers: heavy convs/matmuls with
    weights, cheap elementwise ops without; activations shrink with depth.
    Units: work in microseconds, params and sizeout in KiB, so the default
    ``bandwidth = 1`` means 1 KiB/us (about 1 GB/s, a PCIe-class link).
    """
    rng = np.random.default_rng(seed)
    work = np.zeros(n)
    params = np.zeros(n)
    sizeout = np.zeros(n)
    edges: list[tuple[int, int]] = []

    def node(v: int, depth_frac: float) -> None:
        heavy = rng.random() < 0.45
        act = 2.0 ** rng.integers(2, 8) * (1.2 - depth_frac)  # KiB of the activation
        sizeout[v] = round(float(act), 3)
        if heavy:
            params[v] = round(float(2 ** rng.uniform(2, 12)), 3)
            work[v] = round(float(rng.lognormal(np.log(200.0), 0.8)), 3)
        else:
            work[v] = round(float(rng.lognormal(np.log(10.0), 0.7)), 3)

    v = 0
    node(0, 0.0)
    tail = 0
    v = 1
    while v < n:
        size = int(min(n - v, rng.integers(3, 11)))
        start = v
        if size >= 4 and rng.random() < 0.4:
            # parallel branches from `tail`, joined by the last op of the block
            nb = int(min(rng.integers(2, 5), size - 1))
            body = list(range(start, start + size - 1))
            join = start + size - 1
            branches = np.array_split(np.array(body), nb)
            for br in branches:
                prev = tail
                for x in br.tolist():
                    edges.append((prev, x))
                    prev = x
                edges.append((prev, join))
        else:
            prev = tail
            for x in range(start, start + size):
                edges.append((prev, x))
                prev = x
            if size >= 2 and rng.random() < 0.7:
                edges.append((tail, start + size - 1))  # residual connection
        for x in range(start, start + size):
            node(x, x / n)
        tail = start + size - 1
        v = start + size
    g = Graph.from_arrays(work=work, params=params, sizeout=sizeout, edges=edges,
                          name=name or f"dnn_like_{n}_{seed}")
    object.__setattr__(g, "units", {"work": "us", "params": "KiB", "sizeout": "KiB"})
    return g


def random_dag(n: int, rng: np.random.Generator, density: float = 0.3, zero_frac: float = 0.1) -> Graph:
    """A random DAG on ``n`` nodes with random costs (some exact zeros), for tests.

    Node indices are shuffled so that the node order is not a topological order.
    """
    perm = rng.permutation(n)
    edges = [(int(perm[i]), int(perm[j])) for i in range(n) for j in range(i + 1, n) if rng.random() < density]

    def col() -> np.ndarray:
        x = rng.random(n)
        x[rng.random(n) < zero_frac] = 0.0
        return x

    return Graph.from_arrays(work=col(), params=col(), sizeout=col(), edges=edges, name=f"random_{n}")


def stacked(graph: Graph, copies: int, name: str | None = None) -> Graph:
    """``copies`` of a single-source, single-sink ``graph`` in series: a deeper model of its cells.

    Copy ``c``'s sink feeds copy ``c + 1``'s source, so the result has ``copies * n`` nodes
    and ``copies * m + copies - 1`` edges; costs, units and metadata (the hardware the costs
    were measured on) are the graph's.  Node ``v`` of copy ``c`` has index ``c * n + v`` and
    id ``"c/id"``.

    Example
    -------
    >>> g = Graph.from_arrays(work=[1.0, 2.0], edges=[(0, 1)])
    >>> s = stacked(g, 3)
    >>> s.n, s.m, s.ids[2]
    (6, 5, '1/0')
    """
    n = graph.n
    indeg = np.bincount(graph.edges[:, 1], minlength=n)
    outdeg = np.bincount(graph.edges[:, 0], minlength=n)
    sources, sinks = np.flatnonzero(indeg == 0), np.flatnonzero(outdeg == 0)
    if copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    if len(sources) != 1 or len(sinks) != 1:
        raise ValueError(f"graph {graph.name!r} must have one source and one sink to be stacked, "
                         f"it has {len(sources)} and {len(sinks)}")
    offsets = np.arange(copies, dtype=np.int64) * n
    inner = (graph.edges[None, :, :] + offsets[:, None, None]).reshape(-1, 2)
    links = np.stack([offsets[:-1] + sinks[0], offsets[1:] + sources[0]], axis=1)
    g = Graph.from_arrays(work=np.tile(graph.work, copies), params=np.tile(graph.params, copies),
                          sizeout=np.tile(graph.sizeout, copies), edges=np.concatenate([inner, links]),
                          ids=[f"{c}/{x}" for c in range(copies) for x in graph.ids],
                          name=name or f"{graph.name}x{copies}", meta=graph.meta)
    if getattr(graph, "units", None):
        object.__setattr__(g, "units", dict(graph.units))
    return g
