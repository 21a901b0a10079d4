"""Runtime plans from a partition: ``pjpart export RESULT.json --format F`` and :meth:`PartitionResult.export`.

=============  ==============================================================================
format         what it writes
=============  ==============================================================================
``stages``     JSON: per stage its node ids, params and cost; the tensors each stage receives
               and sends and those crossing each boundary, with their bytes
``onnx``       one ONNX file per stage cut from the source model, and ``OUT/manifest.json``
               (``[{"file", "inputs", "outputs"}, ...]`` in pipeline order) chaining them
``torch``      ``{"split_spec": {module FQN: "BEGINNING"}}`` for ``torch.distributed.pipelining``;
               :func:`torch_pipe` builds the pipe itself
``deepspeed``  a ``PipelineModule`` partition: ``parts`` over the model's layer units
``megatron``   a ``--pipeline-model-parallel-layout`` string (``E,t*3|t*4|t*3,L``)
``vllm``       ``VLLM_PP_LAYER_PARTITION`` (layers per stage: ``3,4,3``)
=============  ==============================================================================

Each exporter first places the result on the graph it is given (:func:`place`: the graph
the partition was computed on, or the finer graph of the model it was coarsened from),
then says clearly when the partition cannot be expressed in the target's units (a layer
split between stages, a stage that starts inside a module) and how to solve in those
units (``pjpart partition --coarsen D|layer``, :func:`pjpart.coarsen`).

>>> import pjpart
>>> ids = ["embed"] + [f"layers.{i}" for i in range(4)] + ["head"]
>>> g = pjpart.Graph.from_arrays(work=[1, 3, 3, 3, 3, 1], sizeout=[2] * 6, edges=[(i, i + 1) for i in range(5)],
...                              ids=ids)
>>> r = pjpart.partition(g, k=2, seed=0)
>>> export(r, "megatron", graph=g)["pipeline_model_parallel_layout"]
'E,t*2|t*2,L'
>>> export(r, "stages", graph=g)["boundaries"][0]["tensors"]
[{'tensor': 'layers.1', 'bytes': 2.0, 'from_stage': 0, 'to_stages': [1]}]
"""

from __future__ import annotations

import json
import math
import os
from types import SimpleNamespace
from typing import Any


from ..cost import CostModel, evaluate
from ..errors import GraphError
from ..graph import Graph
from ..result import PartitionResult, make_result
from .layers import deepspeed_parts, megatron_layout, vllm_partition
from .onnx_stages import onnx_stages, run_onnx_stages
from .place import ExportError, Placement, place
from .stages import stages_plan
from .torch_split import split_spec, torch_pipe

FORMATS = ("stages", "onnx", "torch", "deepspeed", "megatron", "vllm")


def _is_onnx(model: Any) -> bool:
    return type(model).__name__ == "ModelProto" or str(model).endswith(".onnx")


def graph_for(name: str, model: Any = None) -> Graph:
    """The graph to export on: ``model`` (an ONNX model, a graph, a graph file), else the bundled graph ``name``."""
    from ..examples import resolve_graph
    from ..graph_io import load_graph
    from ..importers.onnx import from_onnx

    if isinstance(model, Graph):
        return model
    if model is not None:
        return from_onnx(model) if _is_onnx(model) else load_graph(model)
    try:
        return resolve_graph(name)
    except GraphError:
        raise ExportError(f"export needs the graph the partition of {name!r} was computed on: give it (graph=, "
                          f"or the model: model= a .onnx file or a graph file; --model on the command line)") from None


def result_from_json(data: dict, graph: Graph, costs: bool = True) -> PartitionResult:
    """A result JSON (:meth:`PartitionResult.to_json`) re-validated on ``graph`` (or the coarsening of it it names).

    Parameters
    ----------
    data
        The JSON object ``pjpart partition --json`` writes.
    graph
        The graph it was computed on, or a finer one it was coarsened from.
    costs
        Check that the graph gives the result's bottleneck (``False``: only the node ids and
        precedence, e.g. on a graph without costs).

    Returns
    -------
    PartitionResult
        Re-validated by :func:`pjpart.result.make_result` on the graph whose ids are the result's.

    Raises
    ------
    ExportError
        On a JSON without ``assignment`` or ``k``, ids that are not the graph's, or a bottleneck
        that the graph does not give (another graph or cost model).

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3], edges=[(0, 1), (1, 2)], ids=["a", "b", "c"])
    >>> again = result_from_json(pjpart.partition(g, k=2, seed=0).to_json(), g)
    >>> again.stages(), again.bottleneck
    ([['a', 'b'], ['c']], 3.0)
    """
    if not isinstance(data, dict) or not isinstance(data.get("assignment"), dict) or "k" not in data:
        raise ExportError("a partition result must be a JSON object with 'assignment' {node id: stage} and 'k' "
                          "(as pjpart partition --json writes it)")
    stages = {str(v): s for v, s in data["assignment"].items()}
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in stages.values()):
        raise ExportError("the result's 'assignment' must map node ids to integer stages")
    cm = CostModel.from_json(data.get("cost_model") or {})

    k = int(data["k"])
    p: Placement = place(SimpleNamespace(ids=list(stages), assignment=list(stages.values()), k=k), graph, stages)
    told = data.get("bottleneck")
    worst = float(evaluate(p.graph, p.stage, k, cm).max())
    if costs and told is not None and not math.isclose(worst, told, rel_tol=1e-6, abs_tol=1e-300):
        raise ExportError(f"the result's bottleneck is {told!r} but graph {p.graph.name!r} gives {worst!r} to its "
                          f"partition: it was computed on another graph or cost model")
    bound = min(float(data.get("lower_bound") or 0.0), worst)
    return make_result(p.graph, p.stage, k, cm, lower_bound=bound,
                       bound_method=str(data.get("bound_method") or "none"), method=str(data.get("method") or ""),
                       seed=data.get("seed"))


def render(plan: Any, format: str) -> str:
    """The text a plan is written as: JSON, or the command-line flags / environment line of megatron and vllm."""
    if format == "megatron":
        return (f"--pipeline-model-parallel-size {plan['pipeline_model_parallel_size']} "
                f"--pipeline-model-parallel-layout '{plan['pipeline_model_parallel_layout']}'")
    if format == "vllm":
        return f"VLLM_PP_LAYER_PARTITION={plan['VLLM_PP_LAYER_PARTITION']}"
    return json.dumps(plan, indent=1)


def export(result: PartitionResult, format: str, out: Any = None, *, graph: Graph | None = None, model: Any = None,
           layers: str | None = None) -> Any:
    """A partition as a runtime's plan (the formats of the module docstring), written to ``out`` if given.

    Parameters
    ----------
    result
        The partition.
    format
        One of :data:`FORMATS`.
    out
        Where to write it: a file (a folder for ``onnx``, where it is required); ``None``: not written.
    graph
        The graph the partition was computed on (or a finer one it was coarsened from); by default
        ``model``'s graph, else the bundled graph the result names.
    model
        The source model: a ``.onnx`` path or ``onnx.ModelProto`` (required for ``onnx``), or a graph file.
    layers
        The module holding the layers (``deepspeed``, ``megatron``, ``vllm``; default: found).

    Returns
    -------
    dict or list
        The plan (``onnx``: the manifest).

    Raises
    ------
    ExportError
        On an unknown format, a missing model or graph, or a partition the target cannot express.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 4, 4, 1], edges=[(0, 1), (1, 2), (2, 3)],
    ...                              ids=["embed", "layers.0", "layers.1", "head"])
    >>> export(pjpart.partition(g, k=2, seed=0), "torch", graph=g)
    {'format': 'torch', 'split_spec': {'layers.1': 'BEGINNING'}}
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; formats: {', '.join(FORMATS)}")
    if format == "onnx":
        if model is None or not _is_onnx(model):
            raise ExportError("the onnx format cuts the source model: give model= the .onnx file (--model)")
        if out is None:
            raise ExportError("the onnx format writes a folder of stage files: give out= (--out DIR)")
        return onnx_stages(result, model, out)
    graph = graph if graph is not None else graph_for(result.graph, model)
    if format == "stages":
        plan = stages_plan(result, graph)
    elif format == "torch":
        plan = {"format": "torch", "split_spec": split_spec(result, graph)}
    else:
        plan = {"deepspeed": deepspeed_parts, "megatron": megatron_layout, "vllm": vllm_partition}[format](
            result, graph, layers)
    if out is not None:
        with open(os.fspath(out), "w") as fh:
            fh.write(render(plan, format) + "\n")
    return plan


__all__ = ["ExportError", "FORMATS", "Placement", "deepspeed_parts", "export", "graph_for", "megatron_layout",
           "onnx_stages", "place", "render", "result_from_json", "run_onnx_stages", "split_spec", "stages_plan",
           "torch_pipe", "vllm_partition"]
