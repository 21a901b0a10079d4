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

import numpy as np

from ..cost import CostModel
from ..graph import Graph, GraphError


def check_feasible(graph: Graph, cost_model: CostModel) -> None:
    """Raise if some node alone exceeds the hard ``memory_limit`` (no partition is feasible)."""
    if math.isfinite(cost_model.memory_limit):
        bad = np.flatnonzero(graph.params > cost_model.memory_limit)
        if len(bad):
            v = int(bad[0])
            raise GraphError(f"no feasible partition: node {graph.ids[v]!r} has params {graph.params[v]:g} "
                             f"above memory_limit {cost_model.memory_limit:g}")


def combinatorial_bound(graph: Graph, k: int, cost_model: CostModel) -> float:
    """``max(max_v work(v) + over(params(v)), (work(V) + over_total) / k)``; see the module docstring."""
    own = graph.work + cost_model.overflow(graph.params)
    total_over = 0.0
    if math.isfinite(cost_model.memory):
        total_over = max(0.0, float(graph.params.sum()) - k * cost_model.memory) / cost_model.overflow_bandwidth
    return float(max(own.max(), (graph.work.sum() + total_over) / k))
