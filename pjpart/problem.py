"""A partitioning problem validated once, at the entrance: graph, stage count, cost model.

Inner functions take a :class:`Problem` and trust it instead of checking ``k`` and the
cost model again on every call.

>>> import pjpart
>>> p = Problem.validated(pjpart.load_graph(pjpart.example_path("tiny")), 2)
>>> p.k, p.graph.name
(2, 'tiny')
"""

from __future__ import annotations

from dataclasses import dataclass

from .cost import CostModel, check_feasible, cost_model_for
from .graph import Graph, check_k


@dataclass(frozen=True)
class Problem:
    """``graph`` into at most ``k`` stages under ``cost_model``; build it with :meth:`validated`."""

    graph: Graph
    k: int
    cost_model: CostModel

    @classmethod
    def validated(cls, graph: Graph, k: int, cost_model: CostModel | None = None) -> "Problem":
        """Check ``k`` (an integer >= 1) and that some partition is feasible; ``cost_model``
        defaults to the graph file's recommendation (:func:`pjpart.cost_model_for`).

        Raises
        ------
        GraphError
            ``k`` is not an integer >= 1.
        InfeasibleError
            A node alone is above the memory limit, or ``k`` stages cannot hold the weights.
        PjpartError
            Stage costs would overflow float64 under the cost model.
        """
        k = check_k(k)
        cm = cost_model or cost_model_for(graph)
        check_feasible(graph, cm, k)
        return cls(graph, k, cm)


__all__ = ["Problem"]
