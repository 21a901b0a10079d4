"""``PartitionResult``: plain data describing a partition and its certificate.

Built only by :func:`make_result`, which re-validates the assignment with the
float64 reference evaluator, so ``bottleneck == max(stage_costs)`` exactly and
every field agrees with the assignment.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cost import CostModel, check_assignment, stage_breakdown
from .graph import Graph


#: a bound within this share of a partition's cost proves the partition optimal up to the
#: solvers' tolerance: their bounds are made safe by 1e-6 relative plus 1e-7 absolute on costs
#: scaled to about 1 (:func:`pjpart.bounds.stages.safe_bound`), and float32 fitness rounds to about 1e-6
PROOF_TOLERANCE = 2e-6


def relative_gap(value: float, bound: float) -> float:
    """The certified gap ``value / bound - 1`` (never negative; ``inf`` without a positive
    bound unless ``value`` is 0).

    >>> relative_gap(1.1, 1.0) > 0.0999, relative_gap(0.0, 0.0), relative_gap(1.0, 0.0)
    (True, 0.0, inf)
    """
    if bound > 0:
        return max(0.0, value / bound - 1.0)
    return 0.0 if value == 0 else math.inf


@dataclass(frozen=True)
class PartitionResult:
    """A validated partition: stage per node, per-stage costs, bound and gap.

    Built only by :func:`make_result` (so by :func:`pjpart.partition` and
    :func:`pjpart.baseline`), which re-validates the assignment with the float64 reference
    evaluator: ``bottleneck == max(stage_costs)`` exactly and every field agrees with the
    assignment.

    Attributes
    ----------
    graph : str
        The graph's name.
    ids : tuple
        The node ids, in the graph's node order.
    k : int
        Number of stages asked for.
    assignment : numpy.ndarray
        Stage per node (int64, graph node order, read-only).  Stages ``0 .. stages_used - 1``
        hold the nodes; empty stages are the last ones.
    stage_costs : numpy.ndarray
        Float64 ``f(S_b)``, ``b = 0..k-1``.
    breakdown : dict
        Per-stage ``work``, ``params``, ``in``, ``out``, ``overflow`` and ``nodes`` (float64
        arrays of shape ``(k,)``; :func:`pjpart.stage_breakdown`).
    bottleneck : float
        ``max(stage_costs)``: the time per inference of the pipeline.
    lower_bound : float
        A proven lower bound on the optimal bottleneck, never above ``bottleneck``.
    bound_method : str
        The method that gave ``lower_bound`` (e.g. ``"exact-dp"``, ``"combinatorial"``).
    cost_model : CostModel
        The cost model the costs are computed under.
    method : str
        What found the partition (``"brkga"`` by default; ``"exact"``, a baseline's name, ...).
    seed : int or None
        The search's random seed.
    evaluations : int
        Candidates evaluated.
    seconds : float
        Wall-clock time of the run.
    stopped_by : str
        The stop rule that ended the search (``"optimal"`` when no search ran).
    history : list
        ``(seconds, evaluations, best)`` convergence points.
    gap, throughput, stages_used, latency
        Properties: ``bottleneck / lower_bound - 1``, ``1 / bottleneck``, the stages holding
        nodes, and ``stages_used * bottleneck``.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
    >>> r = pjpart.partition(g, k=2, seed=0)
    >>> r.assignment.tolist(), r.stage_costs.tolist(), r.bottleneck, r.stages()
    ([0, 0, 0, 1], [6.0, 4.0], 6.0, [[0, 1, 2], [3]])
    >>> r.lower_bound, r.bound_method, r.gap, r.method, r.stopped_by
    (6.0, 'exact-dp', 0.0, 'exact', 'optimal')
    >>> r.stages_used, r.latency, round(r.throughput, 4), r.to_json()["assignment"]
    (2, 12.0, 0.1667, {0: 0, 1: 0, 2: 0, 3: 1})
    """

    graph: str
    ids: tuple
    k: int
    assignment: np.ndarray          # stage per node, graph node order
    stage_costs: np.ndarray         # float64 f(S_b), b = 0..k-1
    breakdown: dict                 # per-stage work/params/in/out/overflow/nodes (float64)
    bottleneck: float
    lower_bound: float
    bound_method: str
    cost_model: CostModel
    method: str = "brkga"
    seed: int | None = None
    evaluations: int = 0
    seconds: float = 0.0
    stopped_by: str = ""
    history: list = field(default_factory=list)  # (seconds, evaluations, best) convergence points

    @property
    def gap(self) -> float:
        """``bottleneck / lower_bound - 1`` (``inf`` without a positive bound)."""
        return relative_gap(self.bottleneck, self.lower_bound)

    @property
    def proven_optimal(self) -> bool:
        """Whether the bound proves the partition optimal, up to :data:`PROOF_TOLERANCE`."""
        return self.gap <= PROOF_TOLERANCE

    @property
    def throughput(self) -> float:
        """Inferences per time unit: ``1 / bottleneck``."""
        return math.inf if self.bottleneck == 0 else 1.0 / self.bottleneck

    @property
    def stages_used(self) -> int:
        """Stages holding at least one node; they come first (empty stages are the last ones)."""
        return int(len(np.unique(self.assignment)))

    @property
    def latency(self) -> float:
        """Pipeline latency ``stages_used * bottleneck``: the empty stages at the end are no
        stages of the pipeline a runtime builds."""
        return self.stages_used * self.bottleneck

    def stages(self) -> list[list]:
        """Node ids of each stage."""
        return [[self.ids[v] for v in np.flatnonzero(self.assignment == b)] for b in range(self.k)]

    def to_json(self) -> dict:
        """SPEC-shaped JSON: assignment by node id, stage costs, bottleneck, bound and gap."""
        def num(x: float):
            return None if not math.isfinite(x) else float(x)

        return {
            "graph": self.graph,
            "k": self.k,
            "assignment": {str(nid) if not isinstance(nid, (str, int)) else nid: int(s)
                           for nid, s in zip(self.ids, self.assignment.tolist())},
            "stage_costs": [num(c) for c in self.stage_costs.tolist()],
            "bottleneck": num(self.bottleneck),
            "throughput": num(self.throughput),
            "latency": num(self.latency),
            "stages_used": self.stages_used,
            "lower_bound": num(self.lower_bound),
            "bound_method": self.bound_method,
            "gap": num(self.gap),
            "proven_optimal": self.proven_optimal,
            "stages": [{key: num(float(val[b])) for key, val in self.breakdown.items()} for b in range(self.k)],
            "cost_model": self.cost_model.to_json(),
            "method": self.method,
            "seed": self.seed,
            "evaluations": int(self.evaluations),
            "seconds": round(float(self.seconds), 4),
            "stopped_by": self.stopped_by,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1)

    def export(self, format: str, out: Any = None, **options: Any) -> Any:
        """This partition as a runtime's plan: ``stages``, ``onnx``, ``torch``, ``deepspeed``, ``megatron``
        or ``vllm`` (:func:`pjpart.export.export`; ``graph=``, ``model=``, ``layers=`` as there).

        >>> import pjpart
        >>> g = pjpart.Graph.from_arrays(work=[1, 4, 4, 1], edges=[(0, 1), (1, 2), (2, 3)],
        ...                              ids=["embed", "layers.0", "layers.1", "head"])
        >>> pjpart.partition(g, k=2, seed=0).export("vllm", graph=g)["VLLM_PP_LAYER_PARTITION"]
        '1,1'
        """
        from .export import export

        return export(self, format, out, **options)


def make_result(graph: Graph, assignment: Any, k: int, cost_model: CostModel, *, lower_bound: float,
                bound_method: str, **info: Any) -> PartitionResult:
    """Re-validate ``assignment`` in float64 and wrap it; raises if the bound exceeds the cost.

    Empty stages move to the end (the stages used keep their order, so every edge still
    goes forward and every cost is the same): stages ``0 .. stages_used - 1`` hold the nodes.
    Not on a heterogeneous pipeline, where stage ``b`` is device ``b`` and moving a block
    would change its cost.

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2], edges=[(0, 1)])
    >>> make_result(g, [1, 3], 4, pjpart.CostModel(), lower_bound=0.0, bound_method="none").assignment.tolist()
    [0, 1]
    """
    assignment = check_assignment(graph, assignment, k).copy()  # stages in range, edges forward
    if not cost_model.heterogeneous:  # on a heterogeneous pipeline a stage is a device: nothing moves
        used = np.unique(assignment)
        assignment = np.searchsorted(used, assignment).astype(np.int64)
    parts = stage_breakdown(graph, assignment, k, cost_model)
    costs = parts["cost"]
    bottleneck = float(costs.max())
    if lower_bound > bottleneck * (1 + 1e-9) + 1e-300:
        raise AssertionError(f"lower bound {lower_bound!r} ({bound_method}) exceeds a found partition "
                             f"{bottleneck!r}: a bound bug")
    assignment.setflags(write=False)
    breakdown = {key: np.asarray(val, dtype=np.float64) for key, val in parts.items() if key != "cost"}
    return PartitionResult(graph=graph.name, ids=graph.ids, k=k, assignment=assignment, stage_costs=costs,
                           breakdown=breakdown, bottleneck=bottleneck, lower_bound=float(lower_bound),
                           bound_method=bound_method, cost_model=cost_model, **info)
