"""The cost model's parameters (SPEC sections 1 and 5): the scalar fields, the per-stage
lists of a heterogeneous pipeline, the per-stage block cost and the homogeneous relaxation
that lets every scalar lower bound serve a heterogeneous pipeline.

``pjpart.cost`` re-exports all of it; the block cost formula of a scalar model and the
reference evaluator live there.

>>> cm = CostModel(stage_speed=[2, 1], link_bandwidth=[4])
>>> cm.heterogeneous, cm.stages, cm.stage_terms().bandwidth_in.tolist()
(True, 2, [1.0, 4.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph import Graph, GraphError

#: the per-stage lists of SPEC section 5 (``link_bandwidth`` has ``k - 1`` values, the others ``k``)
STAGE_FIELDS = ("stage_speed", "stage_memory", "stage_memory_limit", "link_bandwidth")


@dataclass(frozen=True)
class StageTerms:
    """A heterogeneous model's per-stage arrays (length ``k``): ``bandwidth_in[b]`` is the
    link into stage ``b`` (``link[b - 1]``), ``bandwidth_out[b]`` the link out of it."""

    speed: np.ndarray
    memory: np.ndarray
    memory_limit: np.ndarray
    bandwidth_in: np.ndarray
    bandwidth_out: np.ndarray


def _list_value(name: str, i: int, x: Any) -> float:
    """Entry ``i`` of list field ``name`` as a float: speeds and links positive, memories >= 0 or inf."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) or math.isnan(x):
        raise GraphError(f"cost model field {name!r}[{i}] must be a number, got {x!r}")
    positive = name in ("stage_speed", "link_bandwidth")
    if (positive and not x > 0) or x < 0 or (name == "stage_speed" and math.isinf(x)):
        kind = "a positive finite number" if name == "stage_speed" else \
            "a positive number" if positive else "a non-negative number or inf"
        raise GraphError(f"cost model field {name!r}[{i}] must be {kind}, got {x!r}")
    return float(x)


def _length_message(name: str, count: int, k: int, why: str = "") -> str:
    if name == "link_bandwidth":
        return (f"cost model field 'link_bandwidth' has {count} values; a pipeline of {k} stages has "
                f"{k - 1} link{'s' if k != 2 else ''}" + (f" {why}" if why else ""))
    return f"cost model field {name!r} has {count} values; a pipeline of {k} stages needs {k}" + \
        (f" {why}" if why else "")


@dataclass(frozen=True)
class CostModel:
    """Hardware parameters of the block cost (SPEC section 1).

    Attributes
    ----------
    bandwidth : float
        Bytes/s between stages (positive; default 1).
    memory : float
        Fast memory per stage, in bytes (non-negative or ``inf``, the default).
    overflow_bandwidth : float
        Bytes/s for weights beyond ``memory`` (positive; default 1).
    memory_limit : float
        Hard cap on a block's params (``inf``: none, the default); a block above it costs ``inf``.
    stage_speed, stage_memory, stage_memory_limit : tuple of float, optional
        Per stage (``k`` values, pipeline order): the device's relative speed (its compute is
        ``work / stage_speed[b]``), its fast memory and its hard weight cap; each replaces the
        scalar field for that stage (SPEC section 5).
    link_bandwidth : tuple of float, optional
        ``k - 1`` values: bytes/s of the link from stage ``b`` to ``b + 1`` (replaces ``bandwidth``).
    stage_device : tuple of str, optional
        ``k`` device names, for reports only (``--devices`` sets them).

    Scalar fields are stored as floats, lists as tuples.  A model with any list is
    *heterogeneous* and describes exactly :attr:`stages` stages.

    Raises
    ------
    GraphError
        On a field that is not a number, a NaN, a non-positive bandwidth, speed or link,
        a negative memory, or lists of inconsistent lengths (naming the field).

    Examples
    --------
    >>> cm = CostModel(bandwidth=2, memory=10, memory_limit=20)
    >>> cm.bandwidth, cm.overflow([4, 16, 25]).tolist()   # 6 bytes beyond memory at 1 byte/s
    (2.0, [0.0, 6.0, inf])
    >>> cm.to_json()["memory"], CostModel().to_json()["memory"]
    (10.0, None)
    >>> CostModel(bandwidth=0)
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: cost model field 'bandwidth' must be a positive number, got 0
    >>> mixed = CostModel(stage_speed=[2, 1], link_bandwidth=[5])
    >>> mixed.heterogeneous, mixed.stages, mixed.stage_speed
    (True, 2, (2.0, 1.0))
    >>> CostModel(stage_speed=[2, 1], link_bandwidth=[5, 5])
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: cost model field 'link_bandwidth' has 2 values; a pipeline of 2 stages has 1 link (stage_speed has 2)
    """

    bandwidth: float = 1.0
    memory: float = math.inf
    overflow_bandwidth: float = 1.0
    memory_limit: float = math.inf
    stage_speed: tuple | None = None
    stage_memory: tuple | None = None
    stage_memory_limit: tuple | None = None
    link_bandwidth: tuple | None = None
    stage_device: tuple | None = None

    def __post_init__(self) -> None:
        for name in ("bandwidth", "overflow_bandwidth"):
            x = getattr(self, name)
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not (x > 0) or math.isnan(x):
                raise GraphError(f"cost model field {name!r} must be a positive number, got {x!r}")
        for name in ("memory", "memory_limit"):
            x = getattr(self, name)
            if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x) or x < 0:
                raise GraphError(f"cost model field {name!r} must be a non-negative number or inf, got {x!r}")
        for name in ("bandwidth", "memory", "overflow_bandwidth", "memory_limit"):
            object.__setattr__(self, name, float(getattr(self, name)))
        self._check_lists()

    def _check_lists(self) -> None:
        """Each list's values and the lengths agreeing (``k`` per stage, ``k - 1`` links)."""
        stages = None
        for name in STAGE_FIELDS + ("stage_device",):
            raw = getattr(self, name)
            if raw is None:
                continue
            if isinstance(raw, (str, bytes)) or not hasattr(raw, "__len__") or len(raw) == 0:
                raise GraphError(f"cost model field {name!r} must be a non-empty list, got {raw!r}")
            values = tuple(str(x) for x in raw) if name == "stage_device" else \
                tuple(_list_value(name, i, x) for i, x in enumerate(raw))
            object.__setattr__(self, name, values)
            count = len(values) + (name == "link_bandwidth")
            if stages is None:
                stages = count
            elif count != stages:
                first = next(f for f in STAGE_FIELDS + ("stage_device",) if getattr(self, f) is not None)
                raise GraphError(_length_message(name, len(values), stages, f"({first} has {stages - (first == 'link_bandwidth')})"))

    @property
    def heterogeneous(self) -> bool:
        """Whether any per-stage list is given (SPEC section 5)."""
        return any(getattr(self, name) is not None for name in STAGE_FIELDS)

    @property
    def stages(self) -> int | None:
        """The number of stages the lists describe (``None`` for a scalar model)."""
        for name in STAGE_FIELDS + ("stage_device",):
            values = getattr(self, name)
            if values is not None:
                return len(values) + (name == "link_bandwidth")
        return None

    def check_stages(self, k: int) -> None:
        """Raise :class:`GraphError` naming the first list whose length does not fit ``k`` stages.

        >>> CostModel(stage_speed=[1, 2, 2]).check_stages(4)
        Traceback (most recent call last):
        ...
        pjpart.errors.GraphError: cost model field 'stage_speed' has 3 values; a pipeline of 4 stages needs 4
        """
        for name in STAGE_FIELDS + ("stage_device",):
            values = getattr(self, name)
            if values is not None and len(values) + (name == "link_bandwidth") != k:
                raise GraphError(_length_message(name, len(values), k))

    @property
    def fastest_speed(self) -> float:
        """The largest ``stage_speed`` (1 for a scalar model): a block costs at least its work over it."""
        return float(self.stage_terms().speed.max())

    def stage_labels(self) -> list[str]:
        """Per stage, its device name (if given) and relative speed, for reports.

        >>> CostModel(stage_speed=[1, 0.25], stage_device=["h100", "l4"]).stage_labels()
        ['h100 x1', 'l4 x0.25']
        """
        speeds = self.stage_terms().speed
        names = self.stage_device or ("",) * len(speeds)
        return [f"{name} x{speed:.3g}".strip() for name, speed in zip(names, speeds)]

    def stage_terms(self) -> "StageTerms":
        """Per-stage arrays of a heterogeneous model (the scalar field where a list is absent)."""
        k = self.stages or 1
        links = np.asarray(self.link_bandwidth if self.link_bandwidth is not None else [self.bandwidth] * (k - 1),
                           dtype=np.float64)
        edge = np.array([self.bandwidth])  # in(S_0) and out(S_{k-1}) are 0: any positive value
        return StageTerms(
            speed=np.asarray(self.stage_speed or [1.0] * k, dtype=np.float64),
            memory=np.asarray(self.stage_memory or [self.memory] * k, dtype=np.float64),
            memory_limit=np.asarray(self.stage_memory_limit or [self.memory_limit] * k, dtype=np.float64),
            bandwidth_in=np.concatenate([edge, links]), bandwidth_out=np.concatenate([links, edge]))

    def overflow(self, params: Any) -> np.ndarray:
        """Overflow time (plus ``inf`` beyond ``memory_limit``) of blocks with these params."""
        params = np.asarray(params, dtype=np.float64)
        if math.isinf(self.memory):
            over = np.zeros_like(params)
        else:
            over = np.maximum(0.0, params - self.memory) / self.overflow_bandwidth
        if not math.isinf(self.memory_limit):
            over = np.where(params > self.memory_limit, np.inf, over)
        return over

    def stage_overflow(self, params: Any, stage: Any) -> np.ndarray:
        """Overflow time (``inf`` beyond the limit) of blocks with ``params`` on stages ``stage``
        (arrays broadcast together); :meth:`overflow` for a scalar model."""
        if not self.heterogeneous:
            return self.overflow(params)
        t = self.stage_terms()
        params = np.asarray(params, dtype=np.float64)
        stage = np.asarray(stage)
        over = np.maximum(0.0, params - t.memory[stage]) / self.overflow_bandwidth  # inf memory: 0
        return np.where(params > t.memory_limit[stage], np.inf, over)

    def to_json(self) -> dict:
        """Fields as JSON (``inf`` written as ``null``; lists only when given)."""
        out = {}
        for key, val in self.__dict__.items():
            if isinstance(val, tuple):
                out[key] = [x if isinstance(x, str) or math.isfinite(x) else None for x in val]
            elif val is not None:
                out[key] = None if math.isinf(val) else val
        return out

    @classmethod
    def from_json(cls, data: Any) -> "CostModel":
        """Inverse of :meth:`to_json`; unknown fields are an error, ``null`` means ``inf``."""
        if not isinstance(data, dict):
            raise GraphError(f"cost model must be an object, got {data!r}")
        names = {"bandwidth", "memory", "overflow_bandwidth", "memory_limit", "stage_device", *STAGE_FIELDS}
        unknown = set(data) - names
        if unknown:
            raise GraphError(f"unknown cost model field(s) {sorted(unknown)}; known: {sorted(names)}")

        def value(key: str, val: Any) -> Any:
            if isinstance(val, list) and key != "stage_device":
                return [math.inf if x is None else x for x in val]
            return math.inf if val is None else val

        return cls(**{key: value(key, val) for key, val in data.items()})

    def replace(self, **changes: Any) -> "CostModel":
        """A copy with the given fields changed (``None`` values are ignored)."""
        fields = dict(self.__dict__)
        fields.update({key: val for key, val in changes.items() if val is not None})
        return CostModel(**fields)


DEFAULT_COST_MODEL = CostModel()

def cost_model_for(graph: Graph) -> CostModel:
    """The cost model a graph file recommends (its ``cost_model`` field), else the SPEC defaults.

    Exporters that know the hardware (e.g. the bundled ResNet-50, costed for a
    25 GB/s link) record it there, so ``pjpart partition FILE -k K`` is
    meaningful without flags; explicit arguments always win.

    Parameters
    ----------
    graph
        The graph; its recommendation is ``graph.meta["cost_model"]`` (JSON, as
        :meth:`CostModel.to_json` writes it).

    Returns
    -------
    CostModel
        The recommended model, or ``CostModel()`` (the SPEC defaults) when there is none.

    Raises
    ------
    GraphError
        When the recommendation is not a valid cost model (:meth:`CostModel.from_json`).

    Examples
    --------
    >>> import pjpart
    >>> cost_model_for(pjpart.load_graph(pjpart.example_path("resnet50"))).bandwidth
    25000000000.0
    >>> cost_model_for(Graph.from_arrays(work=[1, 2], edges=[(0, 1)])) == CostModel()
    True
    """
    hint = graph.meta.get("cost_model")
    return DEFAULT_COST_MODEL if hint is None else CostModel.from_json(hint)


def stage_block_cost(work: Any, inb: Any, outb: Any, params: Any, cm: CostModel, stage: Any) -> np.ndarray:
    """``f_b(S)`` of SPEC section 5 for blocks with these sums on stages ``stage`` (arrays
    broadcast together): ``work / stage_speed[b] + in / link[b - 1] + out / link[b] +
    overflow_b(params)``.  The heterogeneous formula, once.

    >>> cm = CostModel(stage_speed=[2, 1], link_bandwidth=[4])
    >>> stage_block_cost([6, 6], [0, 8], [8, 0], [0, 0], cm, [0, 1]).tolist()   # 6/2 + 8/4, 6/1 + 8/4
    [5.0, 8.0]
    """
    t = cm.stage_terms()
    stage = np.asarray(stage)
    return (np.asarray(work, np.float64) / t.speed[stage] + np.asarray(inb, np.float64) / t.bandwidth_in[stage]
            + np.asarray(outb, np.float64) / t.bandwidth_out[stage] + cm.stage_overflow(params, stage))


def stage_term_array(cost_model: CostModel, k: int) -> np.ndarray:
    """``(6, k)``: speed, memory, cap, link in, link out, overflow bandwidth per stage (column 0
    only for a scalar model: its bandwidth as the link), as compiled loops read them."""
    t = cost_model.stage_terms() if cost_model.heterogeneous else None
    terms = np.zeros((6, k))
    if t is None:
        terms[:, 0] = [1.0, cost_model.memory, cost_model.memory_limit, cost_model.bandwidth, cost_model.bandwidth,
                       cost_model.overflow_bandwidth]
    else:
        terms[:5] = [t.speed, t.memory, t.memory_limit, t.bandwidth_in, t.bandwidth_out]
        terms[5, 0] = cost_model.overflow_bandwidth
    return terms


def homogeneous_relaxation(graph: Graph, cost_model: CostModel) -> tuple[Graph, CostModel]:
    """A scalar problem whose optimum is at most the heterogeneous one's: every node's work
    divided by the fastest stage's speed, under the fastest link, the largest fast memory
    and the largest weight cap.  For a scalar model, the problem itself.

    Proof.  For every block ``S`` and stage ``b``, each term of ``f_b(S)`` is at least the
    relaxed one: ``work / speed_b >= work / max speed``; ``in / link_{b-1} + out / link_b >=
    (in + out) / max link``; the overflow is non-increasing in the memory and the block is
    infeasible (``inf``) under the relaxed cap only if it is under every cap.  So any
    partition costs at least as much stage by stage as in the relaxed problem, and the
    optimum does too: every lower bound of the relaxed problem is one of the original.

    >>> g = Graph.from_arrays(work=[4, 2], sizeout=[1, 0], edges=[(0, 1)])
    >>> h, cm = homogeneous_relaxation(g, CostModel(stage_speed=[1, 2], link_bandwidth=[8]))
    >>> h.work.tolist(), cm.bandwidth, cm.heterogeneous
    ([2.0, 1.0], 8.0, False)
    """
    import dataclasses

    if not cost_model.heterogeneous:
        return graph, cost_model
    t = cost_model.stage_terms()
    fastest = cost_model.fastest_speed
    links = t.bandwidth_in[1:]
    relaxed = CostModel(bandwidth=float(links.max()) if len(links) else cost_model.bandwidth,
                        memory=float(t.memory.max()), overflow_bandwidth=cost_model.overflow_bandwidth,
                        memory_limit=float(t.memory_limit.max()))
    if fastest != 1.0:
        graph = dataclasses.replace(graph, work=graph.work / fastest)
    return graph, relaxed


__all__ = ["DEFAULT_COST_MODEL", "STAGE_FIELDS", "CostModel", "StageTerms", "cost_model_for", "homogeneous_relaxation",
           "stage_block_cost", "stage_term_array"]
