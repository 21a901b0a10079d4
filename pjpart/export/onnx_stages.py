"""The ``onnx`` plan: one ONNX file per stage, cut from the source model, and a manifest that chains them.

Any partition of an ONNX model's op graph is expressible: stage ``b``'s file holds its
nodes (and the constants they read); its inputs are the tensors it reads that the model
takes or an earlier stage produces, its outputs the tensors it produces that a later
stage reads or the model returns.  The files are cut by ``onnx.utils.Extractor`` and
checked by ``onnx.checker``.  ``OUT/manifest.json`` lists them in pipeline order::

    [{"file": "stage_0.onnx", "inputs": ["x"], "outputs": ["/layer1/Add_output_0", ...], "stage": 0}, ...]

so a runtime feeds the model's inputs to the first stage and each stage's outputs to the
stages that read them (:func:`run_onnx_stages` does it with onnxruntime); a stage's
outputs are what it sends, its inputs what it receives.  A partition found on a
coarsening of the model's graph (``--coarsen D``, ``granularity="module"``) is placed on
its ONNX nodes by :func:`pjpart.export.place`.  Weights are written inside each file
(models above protobuf's 2 GB limit are not supported).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..graph import Graph
from ..importers.onnx import import_onnx, load_model, structure
from .place import ExportError, place


def structure_graph(st) -> Graph:
    """The op graph of a model's :func:`~pjpart.importers.onnx.structure`, without costs (ids and edges only)."""
    edges = sorted({(st.producer[t], i) for i, node in enumerate(st.nodes) for t in node.inputs if t in st.producer})
    return Graph.from_arrays(work=np.zeros(len(st.nodes)), edges=edges, ids=[node.id for node in st.nodes],
                             meta={"scopes": {node.id: list(node.scopes) for node in st.nodes}})


def _unique(names) -> list:
    return list(dict.fromkeys(names))


def onnx_stages(result, model: Any, out: str | os.PathLike) -> list:
    """Write one ONNX file per stage of ``result`` and ``OUT/manifest.json`` (see the module docstring).

    Parameters
    ----------
    result
        A :class:`~pjpart.PartitionResult` of the model's graph (op granularity, or a coarsening).
    model
        The source model: a ``.onnx`` path (with its external weights) or an ``onnx.ModelProto``.
    out
        The folder to write (made if missing; files of the same names are replaced).

    Returns
    -------
    list of dict
        The manifest: per non-empty stage, in pipeline order, ``file``, ``inputs``, ``outputs``
        and ``stage``.

    Raises
    ------
    ExportError
        When the result's ids are not the model's nodes (or a coarsening of them), or a stage
        cannot be cut (naming it).
    """
    onnx = import_onnx()
    proto = load_model(model, load_external_data=True)
    st = structure(proto)
    p = place(result, structure_graph(st))
    stage = p.fine_stage
    made = {t: int(stage[i]) for t, i in st.producer.items()}
    readers: dict = {}
    for i, node in enumerate(st.nodes):
        for t in node.inputs:
            readers.setdefault(t, set()).add(int(stage[i]))
    returned = set(st.outputs)
    try:
        extractor = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(proto))
    except Exception as exc:
        raise ExportError(f"onnx: shape inference of the model failed: {exc}") from None
    os.makedirs(out, exist_ok=True)
    manifest = []
    for b in sorted(set(stage.tolist())):
        nodes = [node for i, node in enumerate(st.nodes) if stage[i] == b]
        inputs = _unique(t for node in nodes for t in node.inputs
                         if t not in st.constants and made.get(t, -1) != b)
        outputs = _unique(t for node in nodes for t in node.outputs
                          if t in returned or any(r > b for r in readers.get(t, ())))
        if not outputs:
            raise ExportError(f"onnx: stage {b} sends nothing to a later stage and returns nothing (its nodes, e.g. "
                              f"{nodes[0].id!r}, are dead code)")
        try:
            part = extractor.extract_model(inputs, outputs)
            onnx.checker.check_model(part)
        except Exception as exc:
            raise ExportError(f"onnx: stage {b} cannot be cut ({type(exc).__name__}: {exc})") from None
        name = f"stage_{b}.onnx"
        onnx.save(part, os.path.join(out, name))
        manifest.append({"file": name, "inputs": inputs, "outputs": outputs, "stage": b})
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    return manifest


def run_onnx_stages(out: str | os.PathLike, feeds: dict, providers: tuple = ("CPUExecutionProvider",)) -> dict:
    """Run the stage files of ``out/manifest.json`` one after another with onnxruntime, as a pipeline would.

    Parameters
    ----------
    out
        The folder :func:`onnx_stages` wrote.
    feeds
        The model's inputs, ``{name: numpy array}``.
    providers
        onnxruntime execution providers.

    Returns
    -------
    dict
        Every tensor the stages produced (the model's outputs among them), by name.

    Raises
    ------
    ExportError
        Without onnxruntime, or when a stage needs a tensor no earlier stage produced.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ExportError("running ONNX stages needs onnxruntime: pip install onnxruntime") from exc
    with open(os.path.join(out, "manifest.json")) as fh:
        manifest = json.load(fh)
    env = dict(feeds)
    for entry in manifest:
        missing = [t for t in entry["inputs"] if t not in env]
        if missing:
            raise ExportError(f"onnx: {entry['file']} needs {missing}, which no earlier stage produced")
        session = ort.InferenceSession(os.path.join(out, entry["file"]), providers=list(providers))
        values = session.run(entry["outputs"], {t: env[t] for t in entry["inputs"]})
        env.update(zip(entry["outputs"], values))
    return env


__all__ = ["onnx_stages", "run_onnx_stages", "structure_graph"]
