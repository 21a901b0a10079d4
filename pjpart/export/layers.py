"""Plans in layer units, for layer-structured models: DeepSpeed, Megatron-Core and vLLM.

The layers are those of :func:`pjpart.scopes.layer_structure` (``layers.0``,
``layers.1``, ... of the container with the most numbered children, or the one named);
a partition is expressible when every layer (and, for DeepSpeed, every unit outside the
layers) lies in one stage and the stages follow the layers' order.  Otherwise the
exporter says which layer is split, and how to solve in layer units: ``pjpart partition
GRAPH -k K --coarsen layer`` (``pjpart.coarsen(graph, "layer")``).

* ``deepspeed``: ``parts``, the boundaries of a ``PipelineModule`` built with one layer
  (``LayerSpec``) per unit, in ``layers`` order: stage ``b`` holds units
  ``parts[b] .. parts[b + 1] - 1``.  DeepSpeed computes ``self.parts`` in
  ``PipelineModule._partition_layers``; a subclass that sets it to this list uses the plan.
* ``megatron``: the ``--pipeline-model-parallel-layout`` string, stages split by ``|``:
  ``E`` (embedding, everything before the first layer: stage 0 only), ``t*N`` (N decoder
  layers), ``L`` (the loss, everything after the last layer: the last stage only).
* ``vllm``: ``VLLM_PP_LAYER_PARTITION``, the number of layers per stage (embedding on
  the first stage, final norm and head on the last, as vLLM places them).

>>> import pjpart
>>> ids = ["embed"] + [f"layers.{i}" for i in range(4)] + ["head"]
>>> g = pjpart.Graph.from_arrays(work=[1, 3, 3, 3, 3, 1], edges=[(i, i + 1) for i in range(5)], ids=ids)
>>> r = pjpart.partition(g, k=2, seed=0)
>>> r.stages()
[['embed', 'layers.0', 'layers.1'], ['layers.2', 'layers.3', 'head']]
>>> megatron_layout(r, g)["pipeline_model_parallel_layout"], vllm_partition(r, g)["VLLM_PP_LAYER_PARTITION"]
('E,t*2|t*2,L', '2,2')
>>> deepspeed_parts(r, g)["parts"]
[0, 3, 6]
"""

from __future__ import annotations

from ..graph import Graph
from ..scopes import execution_order, layer_structure
from .place import ExportError, place

HINT = "partition in layer units: pjpart partition GRAPH -k K --coarsen layer (or pjpart.coarsen(graph, 'layer'))"


def _layers(result, graph: Graph, container: str | None, target: str):
    p = place(result, graph)
    g, a = p.fine, p.fine_stage
    s = layer_structure(g, container)
    stage_of: dict = {}
    for v in execution_order(g).tolist():
        unit = s.units[v]
        if unit in stage_of and stage_of[unit][0] != a[v]:
            first = stage_of[unit][1]
            raise ExportError(f"{target}: unit {unit!r} is split between stages {stage_of[unit][0]} (node "
                              f"{g.ids[first]!r}) and {int(a[v])} (node {g.ids[v]!r}); {target} places whole "
                              f"layers: {HINT}")
        stage_of.setdefault(unit, (int(a[v]), v))
    units = list(stage_of)
    stages = [stage_of[u][0] for u in units]
    for i in range(1, len(units)):
        if stages[i] < stages[i - 1]:
            raise ExportError(f"{target}: unit {units[i]!r} (stage {stages[i]}) comes after {units[i - 1]!r} "
                              f"(stage {stages[i - 1]}) in the model but in an earlier stage: {HINT}")
    return g, a, s, units, stages


def _counts(result, graph, container, target):
    g, a, s, units, stages = _layers(result, graph, container, target)
    last = int(a.max())
    for v in range(g.n):
        if s.layer[v] == -1 and a[v] != 0:
            raise ExportError(f"{target}: node {g.ids[v]!r} comes before the first layer (embedding) but is in "
                              f"stage {int(a[v])}; {target} puts it on the first stage: {HINT}")
        if s.layer[v] == -2 and a[v] != last:
            raise ExportError(f"{target}: node {g.ids[v]!r} comes after the last layer (norm, head) but is in "
                              f"stage {int(a[v])}, not the last ({last}); {target} puts it there: {HINT}")
    counts = [0] * (last + 1)
    for i in range(s.count):
        counts[stages[units.index(f"{s.container}.{i}")]] += 1
    return counts, s


def deepspeed_parts(result, graph: Graph, container: str | None = None) -> dict:
    """The DeepSpeed ``PipelineModule`` partition of ``result``: ``parts`` over ``layers`` (see the module docstring).

    Parameters
    ----------
    result
        A :class:`~pjpart.PartitionResult`.
    graph
        The graph it was computed on, or the finer one it was coarsened from.
    container
        The module holding the layers (default: the one with the most numbered children).

    Returns
    -------
    dict
        ``num_stages``, ``parts`` (``num_stages + 1`` boundaries) and ``layers`` (the unit names).

    Raises
    ------
    ExportError
        When a unit is split between stages or the stages do not follow the units' order.
    """
    _, _, _, units, stages = _layers(result, graph, container, "deepspeed")
    count = max(stages) + 1
    parts = [next((i for i, s in enumerate(stages) if s >= b), len(units)) for b in range(count)] + [len(units)]
    return {"format": "deepspeed", "num_stages": count, "parts": parts, "layers": units}


def megatron_layout(result, graph: Graph, container: str | None = None) -> dict:
    """The Megatron-Core ``--pipeline-model-parallel-layout`` of ``result`` (see the module docstring).

    Parameters
    ----------
    result, graph, container
        As for :func:`deepspeed_parts`.

    Returns
    -------
    dict
        ``pipeline_model_parallel_size``, ``pipeline_model_parallel_layout`` and ``num_layers``.

    Raises
    ------
    ExportError
        When a layer is split, the stages do not follow the layers, the embedding is not on
        the first stage or the head not on the last.
    """
    counts, s = _counts(result, graph, container, "megatron")
    pieces = []
    for b, c in enumerate(counts):
        tokens = (["E"] if b == 0 else []) + ([] if c == 0 else ["t"] if c == 1 else [f"t*{c}"]) \
            + (["L"] if b == len(counts) - 1 else [])
        pieces.append(",".join(tokens))
    return {"format": "megatron", "pipeline_model_parallel_size": len(counts),
            "pipeline_model_parallel_layout": "|".join(pieces), "num_layers": s.count}


def vllm_partition(result, graph: Graph, container: str | None = None) -> dict:
    """The vLLM ``VLLM_PP_LAYER_PARTITION`` of ``result``: layers per stage (see the module docstring).

    Parameters
    ----------
    result, graph, container
        As for :func:`deepspeed_parts`.

    Returns
    -------
    dict
        ``VLLM_PP_LAYER_PARTITION`` (comma-separated counts), ``pipeline_parallel_size`` and
        ``num_hidden_layers``.

    Raises
    ------
    ExportError
        As :func:`megatron_layout`.
    """
    counts, s = _counts(result, graph, container, "vllm")
    return {"format": "vllm", "VLLM_PP_LAYER_PARTITION": ",".join(map(str, counts)),
            "pipeline_parallel_size": len(counts), "num_hidden_layers": s.count}


__all__ = ["deepspeed_parts", "megatron_layout", "vllm_partition"]
