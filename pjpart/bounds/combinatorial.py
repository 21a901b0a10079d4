"""The combinatorial lower bound (no solver).

Validity.  Let ``S_0..S_{k-1}`` be an optimal partition with bottleneck ``T*``.

1. Every node ``v`` sits in some block ``S``; ``f(S) >= work(v) + overflow(params(v))``
   because ``work``, ``in``, ``out`` are non-negative and the overflow term is
   non-decreasing in ``params(S) >= params(v)``.  So ``T* >= max_v`` of that.
2. ``k T* >= sum_b f(S_b) >= work(V) + sum_b over(params(S_b))`` and, the overflow
   being convex, ``sum_b max(0, p_b - M) >= max(0, params(V) - k M)``.  So
   ``T* >= (work(V) + max(0, params(V) - k M) / overflow_bandwidth) / k``.

With ``memory = inf`` these are the paper's ``max(work(V) / k, max_v work(v))``.
"""

from __future__ import annotations

import math

from ..cost import CostModel
from ..graph import Graph


def combinatorial_bound(graph: Graph, k: int, cost_model: CostModel) -> float:
    """``max(max_v work(v) + over(params(v)), (work(V) + over_total) / k)``; see the module docstring.

    Parameters
    ----------
    graph
        The graph to partition.
    k
        Number of stages.
    cost_model
        The block cost's parameters.

    Returns
    -------
    float
        A lower bound on the optimal bottleneck (no solver, O(n)).

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 5, 1], sizeout=[9, 9, 0], edges=[(0, 1), (1, 2)])
    >>> combinatorial_bound(g, 2, pjpart.CostModel())  # the heaviest node, above work(V) / k = 3.5
    5.0
    """
    own = graph.work + cost_model.overflow(graph.params)
    total_over = 0.0
    if math.isfinite(cost_model.memory):
        total_over = max(0.0, float(graph.params.sum()) - k * cost_model.memory) / cost_model.overflow_bandwidth
    return float(max(own.max(), (graph.work.sum() + total_over) / k))
