"""The ``stages`` plan: per stage its node ids, weights and cost, and the tensors crossing each boundary.

A tensor is a node's output (pjpart's graphs have one per node), named by its producer's
id.  Stage ``b`` *receives* each tensor produced in another stage and read in ``b``, and
*sends* each tensor it produces that another stage reads: their bytes add up to the
stage's ``in`` and ``out`` of the cost model (SPEC section 1).  Boundary ``b`` (between
stages ``b`` and ``b + 1``) lists every tensor produced at or before ``b`` and read after
it: what a linear pipeline forwards across that link.

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[4, 2, 3, 1], sizeout=[1, 1, 1, 0],
...                              edges=[(0, 1), (0, 2), (1, 3), (2, 3)], ids=["in", "left", "right", "out"])
>>> plan = stages_plan(pjpart.partition(g, k=2, seed=0), g)
>>> [s["nodes"] for s in plan["stages"]], plan["boundaries"][0]["tensors"]
([['in'], ['left', 'right', 'out']], [{'tensor': 'in', 'bytes': 1.0, 'from_stage': 0, 'to_stages': [1]}])
"""

from __future__ import annotations

import math

import numpy as np

from ..cost import stage_breakdown
from ..graph import Graph
from .place import ExportError, place


def _num(x: float):
    return float(x) if math.isfinite(x) else None


def stages_plan(result, graph: Graph) -> dict:
    """The ``stages`` plan of ``result`` on ``graph`` (see the module docstring).

    Parameters
    ----------
    result
        A :class:`~pjpart.PartitionResult`.
    graph
        The graph it was computed on (or a finer one it was coarsened from: the plan is on the
        result's own nodes).

    Returns
    -------
    dict
        ``graph``, ``k``, ``stages_used``, ``bottleneck``, ``cost_model``, ``units``,
        ``stages`` (per stage: ``stage``, ``nodes``, ``work``, ``params``, ``in``, ``out``,
        ``overflow``, ``cost``, ``receives`` and ``sends``) and ``boundaries`` (per boundary
        ``b``: ``between`` ``[b, b + 1]``, ``bytes`` and ``tensors``).

    Raises
    ------
    ExportError
        When the graph's costs under the result's cost model are not the result's (another graph).
    """
    p = place(result, graph)
    g, a, k = p.graph, p.stage, result.k
    parts = stage_breakdown(g, a, k, result.cost_model)
    if not np.allclose(parts["cost"], result.stage_costs, rtol=1e-9, atol=0, equal_nan=True):
        raise ExportError(f"graph {g.name!r} gives stage costs {parts['cost'].tolist()} to this partition, the "
                          f"result says {result.stage_costs.tolist()}: it was computed on another graph")
    last = int(a.max())
    readers = [sorted({int(a[w]) for w in g.successors(u).tolist()} - {int(a[u])}) for u in range(g.n)]
    stages = []
    for b in range(last + 1):
        nodes = np.flatnonzero(a == b).tolist()
        receives = sorted({u for v in nodes for u in g.predecessors(v).tolist() if a[u] != b})
        stages.append({
            "stage": b, "nodes": [g.ids[v] for v in nodes],
            **{key: _num(float(parts[key][b])) for key in ("work", "params", "in", "out", "overflow", "cost")},
            "receives": [{"tensor": g.ids[u], "bytes": float(g.sizeout[u]), "from_stage": int(a[u])} for u in receives],
            "sends": [{"tensor": g.ids[u], "bytes": float(g.sizeout[u]), "to_stages": readers[u]}
                      for u in nodes if readers[u]]})
    boundaries = []
    for b in range(last):
        crossing = [u for u in range(g.n) if readers[u] and a[u] <= b < readers[u][-1]]
        boundaries.append({"between": [b, b + 1], "bytes": float(g.sizeout[crossing].sum()),
                           "tensors": [{"tensor": g.ids[u], "bytes": float(g.sizeout[u]), "from_stage": int(a[u]),
                                        "to_stages": readers[u]} for u in crossing]})
    return {"format": "stages", "graph": result.graph, "k": k, "stages_used": result.stages_used,
            "bottleneck": _num(result.bottleneck), "cost_model": result.cost_model.to_json(), "units": dict(g.units),
            "stages": stages, "boundaries": boundaries}


__all__ = ["stages_plan"]
