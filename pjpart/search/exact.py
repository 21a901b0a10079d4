"""Exact solver for graphs with few downsets: a min-max DP over the lattice of downsets.

A partition into at most ``k`` ordered stages with every edge going forward is
exactly a chain of downsets ``{} = I_0 <= I_1 <= ... <= I_k = V`` (stage ``b`` is
``I_{b+1} - I_b``).  So with ``F_0({}) = 0``::

    F_b(I) = min over downsets J <= I of max(F_{b-1}(J), f(I - J))

and ``F_k(V)`` is the optimum.  Block costs come from the reference evaluator
(the block ``I - J`` as the middle stage of a 3-stage assignment), so the cost
formula is not written again.  Used by :func:`pjpart.partition` when the graph
has at most ``max_downsets`` downsets (chains, tiny graphs); it certifies its
answer (bound = optimum).
"""

from __future__ import annotations

import numpy as np

from ..cost import CostModel, evaluate
from ..graph import Graph


def downsets(graph: Graph, limit: int) -> list[int] | None:
    """All downsets as bitmasks (sorted by size), or ``None`` if there are more than ``limit``."""
    preds = [sum(1 << int(u) for u in graph.predecessors(v)) for v in range(graph.n)]
    seen = {0}
    frontier = [0]
    while frontier:
        nxt = []
        for mask in frontier:
            for v in range(graph.n):
                bit = 1 << v
                if not mask & bit and preds[v] & mask == preds[v]:
                    m2 = mask | bit
                    if m2 not in seen:
                        seen.add(m2)
                        nxt.append(m2)
                        if len(seen) > limit:
                            return None
        frontier = nxt
    return sorted(seen, key=lambda m: (bin(m).count("1"), m))


def exact_partition(graph: Graph, k: int, cost_model: CostModel,
                    max_downsets: int = 1024) -> tuple[float, np.ndarray] | None:
    """``(optimum, assignment)`` by the downset DP, or ``None`` if the graph has too many downsets."""
    sets = downsets(graph, max_downsets)
    if sets is None:
        return None
    D = len(sets)
    bits = np.array([[(m >> v) & 1 for v in range(graph.n)] for m in sets], dtype=bool)
    # pairs J <= I
    sub = (bits[:, None, :] & ~bits[None, :, :]).any(axis=2) == False  # sub[J, I]: J subset of I
    J, I = np.nonzero(sub)
    stage = np.where(bits[J], 0, np.where(bits[I], 1, 2))
    cost = np.full((D, D), np.inf)
    for start in range(0, len(J), 50_000):
        sl = slice(start, start + 50_000)
        cost[J[sl], I[sl]] = evaluate(graph, stage[sl], 3, cost_model)[:, 1]
    F = np.full((k + 1, D), np.inf)
    F[0, 0] = 0.0
    for b in range(1, k + 1):
        F[b] = np.maximum(F[b - 1][:, None], cost).min(axis=0)
    # trace back the chain of downsets
    assignment = np.zeros(graph.n, dtype=np.int64)
    cur = D - 1  # V is the largest downset
    for b in range(k, 0, -1):
        prev = int(np.argmin(np.maximum(F[b - 1], cost[:, cur])))
        assignment[bits[cur] & ~bits[prev]] = b - 1
        cur = prev
    return float(F[k, D - 1]), assignment
