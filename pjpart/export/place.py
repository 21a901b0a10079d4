"""Where a partition's nodes are: the result's stages on the graph it names, or on the finer graph it came from.

A result's node ids are those of the graph it was computed on.  An exporter is given that
graph, or a finer one: the model's own op graph (:func:`pjpart.from_onnx`,
:func:`pjpart.from_torch`) when the partition was found on a coarsening of it (``pjpart
partition --coarsen D``, ``granularity="module"``).  :func:`place` finds which: the graph
itself when its ids are the result's, else the first of its coarsenings by module depth
1, 2, ... or by layer whose ids are (:func:`pjpart.coarsen` is deterministic, so the same
graph coarsened the same way has the same ids).  Every node of the finer graph then takes
its group's stage.

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[1, 2, 3], edges=[(0, 1), (1, 2)], ids=["a.x", "a.y", "b"])
>>> r = pjpart.partition(pjpart.coarsen(g, 1).graph, k=2, seed=0)
>>> r.ids, place(r, g).fine_stage.tolist()
(('a', 'b'), [0, 0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..coarsen import coarsen
from ..cost import check_assignment
from ..errors import GraphError, PjpartError
from ..graph import Graph
from ..scopes import module_paths


class ExportError(PjpartError):
    """A partition that cannot be expressed in the target's units, or an export that lacks its input."""


@dataclass(frozen=True)
class Placement:
    """A result's stages on the graph whose ids are its ids, and on the finer graph given.

    Attributes
    ----------
    graph : Graph
        The graph whose node ids are the result's (the given graph or a coarsening of it).
    stage : numpy.ndarray
        Stage per node of ``graph``.
    fine : Graph
        The graph given.
    fine_stage : numpy.ndarray
        Stage per node of ``fine`` (its group's stage).
    how : str
        ``"same"``, ``"module depth D"`` or ``"layer"``: how ``graph`` was made from ``fine``.
    """

    graph: Graph
    stage: np.ndarray
    fine: Graph
    fine_stage: np.ndarray
    how: str


def _candidates(graph: Graph):
    yield "same", graph, None
    depth = max((len(p) for p in module_paths(graph)), default=0)
    for d in range(1, depth + 1):
        c = coarsen(graph, d)
        yield f"module depth {d}", c.graph, c.members
    try:
        c = coarsen(graph, "layer")
    except GraphError:
        return
    yield "layer", c.graph, c.members


def stage_map(ids, assignment) -> dict:
    """``{str(node id): stage}``."""
    return {str(v): int(s) for v, s in zip(ids, np.asarray(assignment).tolist())}


def place(result, graph: Graph, stages: dict | None = None) -> Placement:
    """Put ``result``'s stages on ``graph`` or on the coarsening of it whose ids are the result's.

    Parameters
    ----------
    result
        A :class:`~pjpart.PartitionResult` (or anything with ``ids``, ``assignment`` and ``k``).
    graph
        The graph the result was computed on, or a finer one it was coarsened from.
    stages
        ``{str(node id): stage}`` instead of the result's own assignment.

    Returns
    -------
    Placement

    Raises
    ------
    ExportError
        When neither the graph nor any of its coarsenings has the result's node ids.
    GraphError
        When the stages make an edge of the graph go backwards.
    """
    stages = stage_map(result.ids, result.assignment) if stages is None else stages
    wanted = set(stages)
    for how, g, members in _candidates(graph):
        if {str(v) for v in g.ids} != wanted:
            continue
        stage = np.array([stages[str(v)] for v in g.ids], dtype=np.int64)
        check_assignment(g, stage, result.k)
        fine = stage if members is None else stage[members]
        return Placement(g, stage, graph, fine, how)
    missing = sorted(wanted - {str(v) for v in graph.ids})[:3]
    raise ExportError(f"the partition's node ids ({len(wanted)}, e.g. {', '.join(map(repr, missing))}) are neither "
                      f"the nodes of graph {graph.name!r} ({graph.n} nodes) nor its modules at any depth or its "
                      f"layers: export needs the graph (or the model) the partition was computed on")


__all__ = ["ExportError", "Placement", "place", "stage_map"]
