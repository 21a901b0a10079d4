"""Exact solver for graphs with few downsets: a min-max DP over the lattice of downsets.

A partition into at most ``k`` ordered stages with every edge going forward is
exactly a chain of downsets ``{} = I_0 <= I_1 <= ... <= I_k = V`` (stage ``b`` is
``I_{b+1} - I_b``).  So with ``F_0({}) = 0``::

    F_b(I) = min over downsets J <= I of max(F_{b-1}(J), f(I - J))

and ``F_k(V)`` is the optimum.  Block costs come from per-downset sums
(:func:`block_costs`, checked against the reference evaluator in the tests).  Used by :func:`pjpart.partition` when the graph
has at most ``max_downsets`` downsets (chains, tiny graphs); it certifies its
answer (bound = optimum).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .cost import CostModel, evaluate, stage_block_cost
from .graph import Graph


def downsets(graph: Graph, limit: int, nodes: Any = None) -> list[int] | None:
    """All downsets as bitmasks (sorted by size), or ``None`` if there are more than ``limit``.

    With ``nodes`` (distinct node indices), the downsets of the subgraph they induce (edges
    between them only), as bitmasks over positions in ``nodes``: bit ``i`` is ``nodes[i]``.
    A whole graph that :func:`downsets_at_least` already puts past ``limit`` is not enumerated.
    """
    if nodes is None and downsets_at_least(graph, limit) > limit:
        return None
    nodes = list(range(graph.n)) if nodes is None else [int(v) for v in nodes]
    where = {v: i for i, v in enumerate(nodes)}
    preds = [sum(1 << where[int(u)] for u in graph.predecessors(v) if int(u) in where) for v in nodes]
    succs = [[where[int(w)] for w in graph.successors(v) if int(w) in where] for v in nodes]
    seen = {0}
    # each downset travels with its ready nodes (all predecessors inside, itself outside): a step
    # looks at those and the successors of the node added, not at all n nodes, so finding that a
    # lattice is too big stops early
    frontier = [(0, tuple(i for i in range(len(nodes)) if not preds[i]))]
    while frontier:
        nxt = []
        for mask, ready in frontier:
            for v in ready:
                m2 = mask | (1 << v)
                if m2 in seen:
                    continue
                seen.add(m2)
                if len(seen) > limit:
                    return None
                nxt.append((m2, tuple(u for u in ready if u != v)
                            + tuple(w for w in succs[v] if preds[w] & m2 == preds[w])))
        frontier = nxt
    return sorted(seen, key=lambda m: (bin(m).count("1"), m))


def downsets_at_least(graph: Graph, limit: int) -> int:
    """A lower bound on the number of downsets, exact enough to tell that there are more than
    ``limit`` without enumerating them (which costs seconds of set-up at 10^5 nodes).

    Proof.  The prefixes of a topological order are ``n + 1`` distinct downsets.  Nodes of
    the same depth (longest path from a source, in edges) form an antichain, and every
    predecessor of a node of depth ``l`` has depth ``< l``; so all the nodes of depth
    ``< l`` together with any non-empty subset of the ``L_l`` nodes of depth ``l`` form a
    downset, distinct for distinct ``(l, subset)``, and with the empty downset that makes
    ``1 + sum_l (2^L_l - 1)``.  Depths are computed only when ``n + 1 <= limit`` (below,
    the first count already exceeds it); the sum stops once above ``limit``.

    >>> g = Graph.from_arrays(work=[1, 1, 1, 1], edges=[(0, 1), (0, 2), (1, 3), (2, 3)])
    >>> downsets_at_least(g, 100), len(downsets(g, 100))
    (6, 6)
    """
    n = graph.n
    if n + 1 > limit:
        return n + 1
    count = 1
    for width in np.bincount(graph.depths()).tolist():
        count += (1 << min(width, 62)) - 1
        if count > limit:
            break
    return max(count, n + 1)


def small_downsets(graph: Graph, nodes: Any, limit: int) -> np.ndarray | None:
    """:func:`downsets` of the subgraph ``nodes`` induces (at most 63 of them) as ``uint64``
    bitmasks, or ``None`` past ``limit``: vectorised, one array step per downset size,
    for the windows of local search (:func:`pjpart.search.local.best_split`), where the
    set-based search above is about 4x slower.  Same order as :func:`downsets`: by size,
    then value."""
    nodes = [int(v) for v in nodes]
    if len(nodes) > 63:
        raise ValueError(f"small_downsets takes at most 63 nodes, got {len(nodes)}")
    where = {v: i for i, v in enumerate(nodes)}
    preds = np.array([sum(1 << where[int(u)] for u in graph.predecessors(v) if int(u) in where) for v in nodes],
                     dtype=np.uint64)
    bit = np.left_shift(np.uint64(1), np.arange(len(nodes), dtype=np.uint64))
    layer = np.zeros(1, dtype=np.uint64)
    found = [layer]
    total = 1
    while len(layer):
        # every downset one node larger: a node outside whose window predecessors are all inside
        addable = ((layer[:, None] & bit) == 0) & ((preds & ~layer[:, None]) == 0)
        layer = np.unique((layer[:, None] | bit)[addable])
        total += len(layer)
        if total > limit:
            return None
        found.append(layer)
    return np.concatenate(found)


def mask_bits(masks: Any, width: int) -> np.ndarray:
    """Bitmasks as a boolean ``(len(masks), width)`` array: ``[r, i]`` is bit ``i`` of ``masks[r]``
    (Python ints of any size, or a ``uint64`` array)."""
    if isinstance(masks, np.ndarray):
        return ((masks[:, None] >> np.arange(width, dtype=np.uint64)) & np.uint64(1)).astype(bool)
    size = max(1, (width + 7) // 8)
    raw = np.frombuffer(b"".join(m.to_bytes(size, "little") for m in masks), dtype=np.uint8)
    return np.unpackbits(raw.reshape(len(masks), size), axis=1, bitorder="little")[:, :width].astype(bool)


class _Sums:
    """Per-downset sums the block costs are made of (see :func:`block_costs`)."""

    def __init__(self, graph: Graph, bits: np.ndarray) -> None:
        n = graph.n
        self.bits = bits
        self.fb = bits.astype(np.float64)
        adj = np.zeros((n, n))
        if graph.m:
            adj[graph.edges[:, 0], graph.edges[:, 1]] = 1.0
        self.C = self.fb @ adj.T                      # (D, n) consumers of u inside each downset
        self.deg = adj.sum(axis=1)
        self.work, self.params = self.fb @ graph.work, self.fb @ graph.params
        self.size = graph.sizeout

    def column(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(J, work, params, in, out)`` of the blocks ``I - J`` for the downsets ``J <= I``,
        ``I`` the ``i``-th (``J`` ascending, so ``I`` itself last)."""
        subset = (self.fb @ (1.0 - self.fb[i])) == 0          # J <= I
        J = np.flatnonzero(subset)
        bj = self.bits[J]
        inn = ((self.C[i] > self.C[J]) & bj) @ self.size
        leaves = self.bits[i] & (self.C[i] < self.deg)        # nodes of I with a consumer outside I
        out = leaves @ self.size - (bj & leaves) @ self.size
        return J, self.work[i] - self.work[J], self.params[i] - self.params[J], inn, out


def block_costs(graph: Graph, bits: np.ndarray, cost_model: CostModel,
                should_stop: Callable[[], bool] | None = None) -> np.ndarray | None:
    """``cost[J, I] = f(I - J)`` for downsets ``J <= I`` (``inf`` elsewhere), from per-downset sums.

    Because ``J`` and ``I`` are downsets, a producer outside ``I - J`` feeding
    it lies in ``J``, and a consumer of ``u`` in ``I - J`` lying outside the
    block lies outside ``I``.  So with ``C[I, u]`` = number of consumers of ``u``
    in ``I``: ``in = sum sizeout(u) [u in J, C[I,u] > C[J,u]]`` and
    ``out = sum sizeout(u) [u in I - J, C[I,u] < outdeg(u)]``.
    """
    sums = _Sums(graph, bits)
    D = len(bits)
    cost = np.full((D, D), np.inf)
    for i in range(D):
        if should_stop is not None and i % 64 == 63 and should_stop():
            return None
        J, work, params, inn, out = sums.column(i)
        cost[J, i] = work + (inn + out) / cost_model.bandwidth + cost_model.overflow(params)
        if np.isfinite(cost_model.memory_limit):
            cost[J[params > cost_model.memory_limit], i] = np.inf
    return cost


def _stage_dp(graph: Graph, bits: np.ndarray, k: int, cost_model: CostModel,
              should_stop: Callable[[], bool] | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(F, arg)`` of the DP for a heterogeneous pipeline, where block costs depend on the stage.

    Column by column instead of a ``(k, D, D)`` cost array: the downsets are sorted by size,
    so every ``J <= I`` other than ``I`` comes before ``I`` and its ``F_{b-1}(J)`` is final
    when ``I`` is priced; ``J = I`` (an empty stage ``b``) reads ``F_{b-1}(I)``, computed just
    before in the same column.  ``arg[b, I]`` is the minimising ``J`` (the first among ties).
    Memory ``O(k D)`` besides the sums.
    """
    sums = _Sums(graph, bits)
    D = len(bits)
    F = np.full((k + 1, D), np.inf)
    F[0, 0] = 0.0
    arg = np.zeros((k + 1, D), dtype=np.int64)
    stage = np.arange(k)[:, None]
    for i in range(D):
        if should_stop is not None and i % 64 == 63 and should_stop():
            return None
        J, work, params, inn, out = sums.column(i)
        cost = stage_block_cost(work[None], inn[None], out[None], params[None], cost_model, stage)  # (k, |J|)
        for b in range(1, k + 1):
            vals = np.maximum(F[b - 1, J], cost[b - 1])
            best = int(np.argmin(vals))
            F[b, i], arg[b, i] = vals[best], J[best]
    return F, arg


#: above this many downsets the column DP of :mod:`pjpart.lattice_dp` runs (no ``D x D`` table)
DENSE_MAX_DOWNSETS = 512


def pricing_model(graph: Graph, cost_model: CostModel) -> CostModel:
    """The model the DPs price blocks with: the hard weight caps a few ulps of the graph's total
    weight looser.  Why: a DP takes a block's params as a difference of downset sums, which can
    land an ulp above a cap the block's own sum meets exactly (and a DP that rejected that block
    would lose the optimum: a bound above it).  Looser caps make the DP a relaxation at the
    boundary; :func:`checked` then keeps its answer only when the float64 evaluation agrees."""
    slack = 1e-13 * max(float(graph.params.sum()), 1e-300)
    caps = {}
    if np.isfinite(cost_model.memory_limit):
        caps["memory_limit"] = cost_model.memory_limit + slack
    if cost_model.stage_memory_limit is not None:
        caps["stage_memory_limit"] = [c + slack for c in cost_model.stage_memory_limit]
    return cost_model.replace(**caps) if caps else cost_model


def checked(graph: Graph, k: int, cost_model: CostModel, optimum: float, assignment: np.ndarray,
            pruned: bool) -> tuple[float, np.ndarray] | None:
    """A DP's answer as :func:`exact_partition` returns it: ``(cost, assignment)`` when the
    float64 evaluation of the pick equals the DP's optimum (to 1e-9); ``(inf, ...)`` only for a
    DP that found nothing without pruning (no partition fits even the looser caps); otherwise
    ``None``: not solved, the search takes over."""
    if not np.isfinite(optimum):
        return None if pruned else (np.inf, np.zeros(graph.n, dtype=np.int64))
    value = float(evaluate(graph, assignment, k, cost_model).max())
    if not value <= optimum * (1 + 1e-9) + 1e-300:
        return None
    return value, assignment


def exact_partition(graph: Graph, k: int, cost_model: CostModel, max_downsets: int = 1024,
                    should_stop: Callable[[], bool] | None = None,
                    reduce: bool = True, upper: float | Callable[[], float] = np.inf,
                    seconds: float = np.inf) -> tuple[float, np.ndarray] | None:
    """``(optimum, assignment)`` by the downset DP, or ``None`` if the graph has more than
    ``max_downsets`` downsets or ``should_stop()`` ends it first (asked every 64 rows of the
    block costs and at each stage).

    With ``reduce`` the DP runs on :func:`pjpart.reduce.reduce_graph`'s graph (the same
    optimum, often a far smaller lattice: cheap mask and pooling nodes merged) and the answer
    is projected back.  The value returned is recomputed from the assignment by the reference
    evaluator, so it is exactly the cost of a feasible partition.  On a heterogeneous
    pipeline stage ``b`` prices its block with its own device (:func:`_stage_dp`).  Lattices
    above :data:`DENSE_MAX_DOWNSETS` go to :func:`pjpart.lattice_dp.large_exact_partition`,
    pruned by ``upper`` (a known partition's cost, or a function computing it, called only
    then; the optimum is never pruned), and not started when estimated to need more than
    ``seconds``.  A graph with more weighted nodes than ``max_downsets`` is given up before
    its reduction (which keeps each of them in a group of its own).
    """
    if reduce:
        from .reduce import reduce_graph

        # the reduction never merges a node with weights away (each stays in its own group):
        # the reduced graph has at least that many nodes, so at least one more downset
        if int(np.count_nonzero(graph.params)) + 1 > max_downsets:
            return None
        reduced = reduce_graph(graph, cost_model, k)
        if reduced.graph.n < graph.n:
            found = exact_partition(reduced.graph, k, cost_model, max_downsets, should_stop, False, upper, seconds)
            if found is None:
                return None
            if not np.isfinite(found[0]):
                return np.inf, np.zeros(graph.n, dtype=np.int64)
            assignment = reduced.project(found[1])
            return checked(graph, k, cost_model, found[0], assignment, pruned=False)
    sets = downsets(graph, min(max_downsets, DENSE_MAX_DOWNSETS))
    if sets is None:
        if max_downsets <= DENSE_MAX_DOWNSETS:
            return None
        from .lattice_dp import large_exact_partition

        upper = upper() if callable(upper) else upper
        return large_exact_partition(graph, k, cost_model, max_downsets, upper, should_stop, seconds)
    D = len(sets)
    bits = mask_bits(sets, graph.n)
    pricing = pricing_model(graph, cost_model)
    if cost_model.heterogeneous:
        solved = _stage_dp(graph, bits, k, pricing, should_stop)
        if solved is None:
            return None
        F, arg = solved
        previous = lambda b, cur: int(arg[b, cur])  # noqa: E731
    else:
        cost = block_costs(graph, bits, pricing, should_stop)
        if cost is None:
            return None
        F = np.full((k + 1, D), np.inf)
        F[0, 0] = 0.0
        for b in range(1, k + 1):
            if should_stop is not None and should_stop():
                return None
            F[b] = np.maximum(F[b - 1][:, None], cost).min(axis=0)
        previous = lambda b, cur: int(np.argmin(np.maximum(F[b - 1], cost[:, cur])))  # noqa: E731
    if not np.isfinite(F[k, D - 1]):
        return checked(graph, k, cost_model, np.inf, np.zeros(graph.n, dtype=np.int64), pruned=False)
    # trace back the chain of downsets
    assignment = np.zeros(graph.n, dtype=np.int64)
    cur = D - 1  # V is the largest downset
    for b in range(k, 0, -1):
        prev = previous(b, cur)
        assignment[bits[cur] & ~bits[prev]] = b - 1
        cur = prev
    return checked(graph, k, cost_model, float(F[k, D - 1]), assignment, pruned=False)
