"""The seed orders of a search and exact float64 slicing of one order.

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
>>> [o.tolist() for o in seed_orders(g)][0]
[0, 1, 2, 3]
>>> assignment, value = best_slicing(g, seed_orders(g)[0], 2, pjpart.CostModel(), None)
>>> assignment.tolist(), value
([0, 0, 0, 1], 6.0)
"""

from __future__ import annotations

import numpy as np

from ..cost import CostModel, evaluate
from ..evaluator import Evaluator
from ..graph import Graph
from ..banded import FULL_TABLE_MAX_NODES, slice_exactly
from ..reference import decode_keys


def seed_orders(graph: Graph) -> list[np.ndarray]:
    """Good starting orders: the graph's own order, breadth-first by depth, and critical path first."""
    n = graph.n
    topo = graph.topological_order()
    depth = graph.depths()
    tail = graph.work.copy()  # longest work path from v to a sink
    for v in topo[::-1].tolist():
        succ = graph.successors(v)
        if len(succ):
            tail[v] = graph.work[v] + tail[succ].max()
    by_depth = decode_keys(graph, (depth + np.arange(n) / (n + 1)) / (depth.max() + 2))
    critical = decode_keys(graph, 1.0 - tail / (tail.max() + 1e-300) * 0.999)
    return [topo, by_depth, critical]


def best_slicing(graph: Graph, order: np.ndarray, k: int, cost_model: CostModel,
                 evaluator: Evaluator | None, upper: float | None = None) -> tuple[np.ndarray, float]:
    """Exact float64 slicing of one order: on the host up to ``FULL_TABLE_MAX_NODES`` nodes or
    without an evaluator (:func:`pjpart.banded.slice_exactly`; ``upper``: the cost of a known
    partition, exact only for orders that slice within it), else with the kernels."""
    if graph.n <= FULL_TABLE_MAX_NODES or evaluator is None:
        assignment = slice_exactly(graph, order, k, cost_model, upper)
        return assignment, float(evaluate(graph, assignment, k, cost_model).max())
    assignments, values = evaluator.slice_orders(order[None])
    return assignments[0], float(values[0])


__all__ = ["best_slicing", "seed_orders"]
