"""Shared test inputs: cost-model settings and fixed-shape random DAGs (importable from every
test folder: tests/conftest.py puts this folder on the path)."""

import math

import numpy as np

from pjpart import CostModel, Graph
from pjpart.generators import random_dag

N, M, K = 12, 18, 3  # one shape for all graphs of the kernel tests: the kernels compile once

COST_MODELS = [CostModel(), CostModel(bandwidth=0.4), CostModel(bandwidth=2.0, memory=1.0, overflow_bandwidth=0.5)]


def cost_setting(rng, trial):
    """One of four cost models by ``trial``: plain, a bandwidth, soft memory, soft and hard memory."""
    kind = trial % 4
    if kind == 0:
        return CostModel()
    if kind == 1:
        return CostModel(bandwidth=float(rng.uniform(0.3, 3)))
    if kind == 2:
        return CostModel(bandwidth=0.5, memory=float(rng.uniform(0.2, 1.5)), overflow_bandwidth=2.0)
    return CostModel(bandwidth=float(rng.uniform(0.5, 2)), memory=1.0, overflow_bandwidth=0.5,
                     memory_limit=3.0)


def fixed_shape_dag(rng, n=N, m=M):
    """A random DAG with exactly ``n`` nodes and ``m`` edges, some zero costs."""
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = rng.choice(len(pairs), size=m, replace=False)
    perm = rng.permutation(n)
    edges = [(int(perm[pairs[c][0]]), int(perm[pairs[c][1]])) for c in chosen]
    col = lambda: np.where(rng.random(n) < 0.15, 0.0, rng.random(n))
    return Graph.from_arrays(work=col(), params=col(), sizeout=col(), edges=edges)


def stage_setting(rng, k, graph=None, trial=0):
    """A random heterogeneous pipeline of ``k`` stages (SPEC section 5), by ``trial``: speeds
    and links; plus per-stage soft memories; plus per-stage hard caps (some stage may hold
    no big node)."""
    kind = trial % 3
    fields = {"stage_speed": rng.uniform(0.25, 4, k).tolist(), "bandwidth": float(rng.uniform(0.5, 2))}
    if k > 1:
        fields["link_bandwidth"] = rng.uniform(0.2, 5, k - 1).tolist()
    if kind >= 1:
        fields.update(stage_memory=rng.uniform(0, 1.5, k).tolist(), overflow_bandwidth=float(rng.uniform(0.5, 2)))
    if kind == 2:
        total = float(graph.params.sum()) if graph is not None else 3.0
        fields["stage_memory_limit"] = (rng.uniform(0.4, 1.2, k) * max(total, 1e-9)).tolist()
    return CostModel(**fields)


def series_graph(rng, blocks: int, stray_depth: int = 1):
    """Small random DAGs in series, each joined to the next through a cut node, with a light stray
    source (a norm's weights) feeding a node of the middle block: a chain of ``stray_depth`` light
    nodes (a batch norm's scale computed from its weights in the graph)."""
    work, sizeout, edges = [], [], []
    last = None
    for b in range(blocks):
        part = random_dag(int(rng.integers(2, 4)), rng, density=0.5)
        base = len(work)
        work += part.work.tolist()
        sizeout += part.sizeout.tolist()
        edges += [(base + u, base + v) for u, v in part.edges.tolist()]
        ins = np.diff(part.pred_ptr) == 0
        outs = np.diff(part.succ_ptr) == 0
        if last is not None:
            edges += [(last, base + v) for v in np.flatnonzero(ins)]
        cut = len(work)
        work.append(float(rng.uniform(0.1, 1.0)))
        sizeout.append(float(rng.uniform(0.1, 1.0)))
        edges += [(base + v, cut) for v in np.flatnonzero(outs)]
        last = cut
        if b == blocks // 2:
            for d in range(stray_depth):
                work.append(1e-4)
                sizeout.append(1e-4)
                if d:
                    edges.append((len(work) - 2, len(work) - 1))
            edges.append((len(work) - 1, base))
    return Graph.from_arrays(work=work, sizeout=sizeout, edges=edges)


def heads_graph(rng, heads: int | None = None, size: int | None = None, tail: bool = True):
    """Attention heads in miniature: a fork, ``heads`` copies of one small random DAG (the same work,
    params and sizes) read from the fork by their sources and joined by their sinks into a join node,
    and (``tail``) one node after the join, so the heads form one group in series."""
    heads = int(rng.integers(2, 4)) if heads is None else heads
    size = int(rng.integers(1, 3)) if size is None else size
    part = random_dag(size, rng, density=0.7)
    params = np.where(rng.random(size) < 0.5, rng.uniform(0.0, 1.0, size), 0.0)
    ins = np.flatnonzero(np.diff(part.pred_ptr) == 0)
    outs = np.flatnonzero(np.diff(part.succ_ptr) == 0)
    work, sizes, weights, edges = [float(rng.uniform(0.1, 1.0))], [float(rng.uniform(0.1, 1.0))], [0.0], []
    for _ in range(heads):
        base = len(work)
        work += part.work.tolist()
        sizes += part.sizeout.tolist()
        weights += params.tolist()
        edges += [(base + u, base + v) for u, v in part.edges.tolist()] + [(0, base + int(v)) for v in ins]
    join = len(work)
    edges += [(1 + h * size + int(v), join) for h in range(heads) for v in outs]
    for _ in range(2 if tail else 1):
        work.append(float(rng.uniform(0.1, 1.0)))
        sizes.append(float(rng.uniform(0.1, 1.0)))
        weights.append(0.0)
    if tail:
        edges.append((join, join + 1))
    return Graph.from_arrays(work=work, params=weights, sizeout=sizes, edges=edges)


def broadcast_graph(rng, blocks: int | None = None):
    """Blocks in series (:func:`series_graph`'s shape, one to three nodes each and a cut node) and a
    table (a mask, rotary tables: computed from the first node) read by a node of every block, in
    half the graphs through a floating reshape in the last block; the table's reads span the graph,
    so only cuts past it (:func:`pjpart.bounds.series.broadcast_producers`) split it."""
    blocks = int(rng.integers(3, 5)) if blocks is None else blocks
    work = [float(rng.uniform(0.1, 1.0)), float(rng.uniform(0.05, 1.0))]  # the input, the table
    sizeout = [float(rng.uniform(0.1, 1.0)), float(rng.uniform(0.2, 2.0))]
    edges, last, readers = [(0, 1)], 0, []
    for b in range(blocks):
        size = int(rng.integers(1, 4))
        base = len(work)
        work += rng.uniform(0.1, 1.0, size).tolist()
        sizeout += rng.uniform(0.1, 1.0, size).tolist()
        edges += [(last, base)] + [(base + i, base + i + 1) for i in range(size - 1)]
        if size == 3 and rng.random() < 0.5:
            edges.append((base, base + 2))
        readers.append(base + int(rng.integers(0, size)))
        last = len(work)
        work.append(float(rng.uniform(0.1, 1.0)))
        sizeout.append(float(rng.uniform(0.1, 1.0)))
        edges.append((last - 1, last))
    if rng.random() < 0.5:  # a reshape of the table for the last block: reads the table alone
        work.append(float(rng.uniform(0.0, 0.6)))
        sizeout.append(sizeout[1])
        edges += [(1, len(work) - 1), (len(work) - 1, readers[-1])]
        readers = readers[:-1]
    edges += [(1, r) for r in readers]
    return Graph.from_arrays(work=work, sizeout=sizeout, edges=edges)


def encoder_decoder_graph(rng, layers: int | None = None):
    """An encoder and a decoder sharing their input (an embedding): the encoder a chain of four
    nodes, the decoder's first sublayer a node beside it that reads the input alone, then two or three
    decoder layers of six nodes together, each reading the encoder's output (sent to every layer)
    and the layer before; numbered encoder first, as an exporter lists them, so that in Kahn's order
    the input is read far apart (:func:`pjpart.bounds.series.broadcast_producers`) and the first
    sublayer floats.  Twelve nodes."""
    layers = int(rng.integers(2, 4)) if layers is None else layers
    enc, first = 4, 1
    sizes = [6 // layers] * layers
    n = 1 + enc + first + sum(sizes)
    work = rng.uniform(0.1, 1.0, n)
    work[0], work[enc + 1] = rng.uniform(0.0, 0.3), rng.uniform(0.0, 0.05)  # a light first sublayer
    sizeout = rng.uniform(0.1, 1.0, n)
    sizeout[enc] = rng.uniform(0.5, 2.0)  # the encoder's output
    edges = [(0, 1)] + [(i, i + 1) for i in range(1, enc)] + [(0, enc + 1)]
    edges += [(i, i + 1) for i in range(enc + 1, enc + first)]
    prev, v = enc + first, enc + first + 1
    for size in sizes:
        edges += [(prev, v), (enc, v)] + [(v + i, v + i + 1) for i in range(size - 1)]
        prev, v = v + size - 1, v + size
    return Graph.from_arrays(work=work.tolist(), sizeout=sizeout.tolist(), edges=edges)


def table_graph(rng, blocks: int = 4, longer: float = 0.0, combined: bool = False):
    """Blocks in series as T5 builds its layers: the first block computes a table (a position bias)
    in its middle and sends it on; each later block is a node or two reading the block before and
    the table, and a cut node adding the block's input back (a residual).  The table is heavy to
    send, so where it is received, and whether a stage holding a reader also holds it, decides the
    optimum.  ``4 + 2 blocks`` nodes, or one more where a block has two nodes before its cut node
    (``longer``: the chance of that).  ``combined``: the first block's first node is a second table,
    and each later block reads one or both through a node of its own that reads them alone (rotary
    tables combined for a layer: it floats), ``blocks`` nodes more."""
    work, sizeout = rng.uniform(0.1, 0.5, 4).tolist(), rng.uniform(0.1, 0.8, 4).tolist()
    edges, last = [(0, 1), (1, 2), (2, 3), (0, 3)], 3
    sizeout[2] = float(rng.uniform(0.8, 2.5))  # the table
    for _ in range(blocks):
        size = 3 if rng.random() < longer else 2
        base = len(work)
        work += rng.uniform(0.3, 1.0, size).tolist()
        sizeout += rng.uniform(0.1, 0.8, size).tolist()
        edges += [(last, base), (last, base + size - 1)] + [(base + i, base + i + 1) for i in range(size - 1)]
        reader = base + int(rng.integers(0, size - 1))
        if combined:  # the tables combined for this block by a node that reads them alone
            work.append(float(rng.uniform(0.0, 0.3)))
            sizeout.append(float(rng.uniform(0.05, 0.5)))
            tables = ((1,), (2,), (1, 2))[int(rng.integers(0, 3))]  # one table, the other, or both
            edges += [(t, len(work) - 1) for t in tables] + [(len(work) - 1, reader)]
        else:
            edges.append((2, reader))
        last = base + size - 1
    work = np.array(work) * rng.uniform(0.2, 3.0, len(work))  # some cut nodes heavy: groups split
    sizeout[2] *= float(rng.uniform(0.5, 3.0))
    if combined:
        sizeout[1] = float(rng.uniform(0.8, 2.5))
    return Graph.from_arrays(work=work.tolist(), sizeout=sizeout, edges=edges)


def solved_problems(rng, trials: int, make_graph, ks: tuple = (2, 4), max_nodes: int | None = None):
    """``(trial, graph, k, cost model, exhaustive optimum)`` for each trial whose optimum is finite:
    ``make_graph(trial)`` (skipped above ``max_nodes`` nodes), ``k`` drawn in ``ks[0]..ks[1] - 1``, a
    scalar model or (every third trial) a heterogeneous one."""
    from pjpart.reference import exhaustive_partition

    for trial in range(trials):
        g = make_graph(trial)
        if max_nodes is not None and g.n > max_nodes:
            continue
        k = int(rng.integers(*ks))
        cm = stage_setting(rng, k, g, trial) if trial % 3 == 2 else cost_setting(rng, trial)
        best, _ = exhaustive_partition(g, k, cm)
        if math.isfinite(best):
            yield trial, g, k, cm, best
