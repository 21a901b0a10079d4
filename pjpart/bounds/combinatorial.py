"""The combinatorial lower bound (no solver).

Validity.  Let ``S_0..S_{k-1}`` be an optimal partition with bottleneck ``T*``.

1. Every node ``v`` sits in some block ``S``; ``f(S) >= work(v) + overflow(params(v))``
   because ``work``, ``in``, ``out`` are non-negative and the overflow term is
   non-decreasing in ``params(S) >= params(v)``.  So ``T* >= max_v`` of that.
2. ``k T* >= sum_b f(S_b) >= work(V) + sum_b over(params(S_b))`` and, the overflow
   being convex, ``sum_b max(0, p_b - M) >= max(0, params(V) - k M)``.  So
   ``T* >= (work(V) + max(0, params(V) - k M) / overflow_bandwidth) / k``.

With ``memory = inf`` these are the paper's ``max(work(V) / k, max_v work(v))``.

Heterogeneous pipelines (SPEC section 5), stage ``b`` of speed ``s_b``, memory ``M_b``
and cap ``L_b``: ``f_b(S) >= work(S) / s_b + over_b(params(S))``.

1. Node ``v`` sits on some stage ``b``: ``T* >= min_b (work(v) / s_b + over_b(params(v)))``
   (``inf`` on the stages whose cap ``params(v)`` exceeds).
2. ``T* s_b >= work(S_b) + s_b over_b(params(S_b)) >= work(S_b) + s_min max(0, p_b - M_b) / ob``;
   summing over ``b`` and using ``sum_b max(0, p_b - M_b) >= max(0, params(V) - sum_b M_b)``:
   ``T* >= (work(V) + s_min max(0, params(V) - sum_b M_b) / ob) / sum_b s_b``.

With every ``s_b = 1`` and ``M_b = M`` these are the scalar bounds above.
"""

from __future__ import annotations

import math

import numpy as np

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
    if cost_model.heterogeneous:
        return _stage_bound(graph, k, cost_model)
    own = graph.work + cost_model.overflow(graph.params)
    total_over = 0.0
    if math.isfinite(cost_model.memory):
        total_over = max(0.0, float(graph.params.sum()) - k * cost_model.memory) / cost_model.overflow_bandwidth
    return float(max(own.max(), (graph.work.sum() + total_over) / k))


def _stage_bound(graph: Graph, k: int, cost_model: CostModel) -> float:
    """The heterogeneous bound (module docstring, items 1 and 2 of the second list)."""
    cost_model.check_stages(k)
    t = cost_model.stage_terms()
    stage = np.arange(k)[:, None]
    own = (graph.work[None, :] / t.speed[stage] + cost_model.stage_overflow(graph.params[None, :], stage)).min(axis=0)
    total_over = 0.0
    if np.isfinite(t.memory).all():
        total_over = float(t.speed.min()) * max(0.0, float(graph.params.sum()) - float(t.memory.sum())) \
            / cost_model.overflow_bandwidth
    return float(max(own.max(), (graph.work.sum() + total_over) / t.speed.sum()))
