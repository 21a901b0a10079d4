"""``from_onnx``: a computation graph from an ONNX model, needing only the ``onnx`` package.

One node per ONNX node (``granularity="op"``), in the model's order (ONNX requires a
topological one).  Every tensor's shape comes from ONNX shape inference (``data_prop``
on, so shapes computed by ``Shape -> ... -> Reshape`` chains are known); the model's
symbolic input dimensions (``batch``, ``seq``) must be given with ``dims``.  Weights are
never read: their bytes come from the initializers' dimensions and types.

Per node:

* ``flops`` by the operator rules of :mod:`pjpart.importers.onnx_flops` (MatMul, Gemm,
  Conv, Attention, normalisations, elementwise ops, ...; an operator without a rule counts
  0 and is listed in ``meta["unknown_ops"]``);
* ``bytes``: its inputs' and outputs' bytes, weights included (what a roofline model
  moves through HBM); ``work`` = ``max(flops / peak, bytes / hbm_bandwidth)`` on a
  :class:`~pjpart.hardware.Hardware` profile;
* ``params``: bytes of the constants it reads (initializers, ``Constant`` outputs),
  each counted once, at its first reader, so ``params`` sums to the model's weight bytes;
* ``sizeout``: bytes of its outputs that another node reads or that the model returns.

*Constants are folded*: a ``Constant`` node, and a node whose inputs are all constants
(the ``Identity`` aliases of shared weights the torch exporter writes, a ``Shape`` of a
weight), is no node of the graph; its outputs are constants like the initializers.  Edges
follow tensor use, subgraph (``If``, ``Loop``) references to outer tensors included.

Node ids are the ONNX node names (``f"{op_type}_{i}"`` for a node with none, ``#2``... for
repeats).  Every node's **module path** goes to ``meta["scopes"]``: the torch exporters'
scopes (``pkg.torch.onnx.name_scopes`` metadata, else the path in a node name such as
``/layers.0/fc1/Gemm``) as PyTorch FQNs (``("layers.0", "layers.0.fc1")``).  So
``granularity="module"`` groups nodes by their module at ``depth``
(:func:`pjpart.coarsen`: consecutive runs, always acyclic), and a partition can be
exported back to per-stage ONNX files (:mod:`pjpart.export`).

Example
-------
>>> from onnx import TensorProto, helper, numpy_helper
>>> import numpy as np
>>> w = numpy_helper.from_array(np.ones((4, 8), np.float32), "w")
>>> model = helper.make_model(helper.make_graph(
...     [helper.make_node("MatMul", ["x", "w"], ["h"], name="/fc/MatMul"),
...      helper.make_node("Relu", ["h"], ["y"], name="/act/Relu")], "mlp",
...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 8])], initializer=[w]))
>>> g = from_onnx(model)
>>> g.ids, g.meta["flops"], g.params.tolist(), g.sizeout.tolist()
(('/fc/MatMul', '/act/Relu'), 216.0, [128.0, 0.0], [96.0, 96.0])
"""

from __future__ import annotations

import ast
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Graph, GraphError
from .onnx_flops import node_flops

#: bytes per element of the ONNX tensor types (TensorProto.DataType names)
ITEMSIZE = {"FLOAT": 4, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "INT32": 4, "INT64": 8, "BOOL": 1,
            "FLOAT16": 2, "DOUBLE": 8, "UINT32": 4, "UINT64": 8, "COMPLEX64": 8, "COMPLEX128": 16, "BFLOAT16": 2,
            "FLOAT8E4M3FN": 1, "FLOAT8E4M3FNUZ": 1, "FLOAT8E5M2": 1, "FLOAT8E5M2FNUZ": 1, "UINT4": 0.5,
            "INT4": 0.5, "FLOAT4E2M1": 0.5, "STRING": 0}
#: the hardware profile's dtype names
DTYPE = {"FLOAT": "float32", "FLOAT16": "float16", "BFLOAT16": "bfloat16", "DOUBLE": "float64", "INT8": "int8",
         "UINT8": "int8", "FLOAT8E4M3FN": "float8_e4m3fn"}


def import_onnx():
    """Import ``onnx``, or fail with one clear message."""
    try:
        import onnx
    except ImportError as exc:
        raise GraphError("reading ONNX models needs the onnx package: pip install onnx "
                         "(or pip install 'pjpart[test]')") from exc
    return onnx


def load_model(model: Any, load_external_data: bool = False):
    """An ``onnx.ModelProto`` from a path or a model; a file that is not one raises :class:`GraphError`."""
    onnx = import_onnx()
    if isinstance(model, onnx.ModelProto):
        return model
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise GraphError(f"{path}: no such ONNX model file")
    try:
        return onnx.load(path, load_external_data=load_external_data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise GraphError(f"{path}: not an ONNX model ({type(exc).__name__}: {exc})") from None


def node_scopes(node: Any) -> tuple:
    """A node's module path as PyTorch FQNs, from the torch exporters' metadata or its name.

    >>> from onnx import helper
    >>> node_scopes(helper.make_node("Conv", ["x", "w"], ["y"], name="/layer1/layer1.0/conv1/Conv"))
    ('layer1', 'layer1.0', 'layer1.0.conv1')
    """
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                names = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                break
            return tuple(n for n in names[:-1] if n)
    parts = [p for p in node.name.split("/")[:-1] if p]
    path: list = []
    for part in parts:
        path.append(part if not path or part.startswith(path[-1] + ".") else f"{path[-1]}.{part}")
    return tuple(path)


def onnx_attr_types() -> dict:
    """``{"GRAPH": ..., "GRAPHS": ...}``: the attribute types that hold subgraphs."""
    onnx = import_onnx()
    return {"GRAPH": onnx.AttributeProto.GRAPH, "GRAPHS": onnx.AttributeProto.GRAPHS}


def _subgraph_reads(node: Any) -> list:
    """Outer tensors a node's subgraphs (``If``, ``Loop``, ``Scan``) read."""
    onnx = import_onnx()
    reads: list = []
    for attr in node.attribute:
        graphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else \
            list(attr.graphs) if attr.type == onnx.AttributeProto.GRAPHS else []
        for sub in graphs:
            defined = {i.name for i in sub.input} | {t.name for t in sub.initializer}
            for inner in sub.node:
                reads += [t for t in list(inner.input) + _subgraph_reads(inner) if t and t not in defined]
                defined.update(inner.output)
    return reads


@dataclass
class OnnxNode:
    """One non-constant node of a model: its graph id, operator, tensors and module path."""

    index: int
    id: str
    op: str
    inputs: list
    outputs: list
    scopes: tuple
    proto: Any


@dataclass
class Structure:
    """A model's nodes (constants folded), the producer of every tensor, its constants and I/O."""

    nodes: list
    producer: dict
    constants: set
    inputs: list
    outputs: list


def structure(model: Any) -> Structure:
    """The nodes of ``model`` (constants folded, see the module docstring) with ids and module paths."""
    g = model.graph
    constants = {t.name for t in g.initializer}
    init = set(constants)
    inputs = [i.name for i in g.input if i.name not in init]
    nodes: list = []
    producer: dict = {}
    taken: set = set()
    subgraphs = (onnx_attr_types()["GRAPH"], onnx_attr_types()["GRAPHS"])
    for index, node in enumerate(g.node):
        reads = [t for t in node.input if t] + _subgraph_reads(node)
        if node.op_type == "Constant" or (reads and all(t in constants for t in reads)
                                          and not any(a.type in subgraphs for a in node.attribute)):
            constants.update(t for t in node.output if t)
            continue
        base = node.name or f"{node.op_type}_{index}"
        nid, j = base, 1
        while nid in taken:
            j += 1
            nid = f"{base}#{j}"
        taken.add(nid)
        for t in node.output:
            if t:
                producer[t] = len(nodes)
        nodes.append(OnnxNode(index, nid, node.op_type, reads, [t for t in node.output if t], node_scopes(node),
                              node))
    for node in nodes:
        for t in node.inputs:
            if t not in producer and t not in constants and t not in inputs:
                raise GraphError(f"ONNX node {node.id!r} ({node.op}) reads tensor {t!r}, which no node produces "
                                 f"and which is neither a model input nor an initializer")
    return Structure(nodes, producer, constants, inputs, [o.name for o in g.output])


def _bind_dims(model: Any, dims: dict | None):
    """A copy of ``model`` whose symbolic input dimensions are the sizes in ``dims``."""
    onnx = import_onnx()
    m = onnx.ModelProto()
    m.CopyFrom(model)
    init = {t.name for t in m.graph.initializer}
    missing = []
    for inp in m.graph.input:
        if inp.name in init or not inp.type.HasField("tensor_type"):
            continue
        for i, d in enumerate(inp.type.tensor_type.shape.dim):
            if d.HasField("dim_value"):
                continue
            if d.dim_param and dims and d.dim_param in dims:
                d.dim_value = int(dims[d.dim_param])
            elif dims and inp.name in dims:
                d.dim_value = int(dims[inp.name][i])
            else:
                missing.append(f"{d.dim_param or '?'} (input {inp.name!r}, dimension {i})")
    if missing:
        example = ", ".join(f"{s.split(' ')[0]!r}: N" for s in missing[:2] if not s.startswith("?"))
        raise GraphError(f"the model's inputs have symbolic or unknown dimensions: {', '.join(missing)}; give "
                         f"their sizes: from_onnx(model, dims={{{example or 'input name: shape'}}}) (and "
                         f"pjpart.save_graph the graph for the command line)")
    return m


def _shapes(model: Any) -> dict:
    """``tensor name -> (shape or None, element type name)`` after shape inference."""
    onnx = import_onnx()
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise GraphError(f"ONNX shape inference failed: {exc}") from None
    g = inferred.graph
    out: dict = {}
    name_of = onnx.TensorProto.DataType.Name
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
        known = tt.HasField("shape") and None not in dims
        out[vi.name] = (dims if known else None, name_of(tt.elem_type))
    for t in g.initializer:
        out[t.name] = (tuple(t.dims), name_of(t.data_type))
    for node in g.node:
        if node.op_type == "Constant" and node.output and node.output[0] not in out:
            for a in node.attribute:
                if a.name == "value":
                    out[node.output[0]] = (tuple(a.t.dims), name_of(a.t.data_type))
    return out


def _attrs(node: Any) -> dict:
    onnx = import_onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute
            if a.type not in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)}


def from_onnx(model: Any, granularity: str = "op", depth: int = 1, hardware: Any = "h100",
              dims: dict | None = None, name: str | None = None) -> Graph:
    """Read an ONNX model (a path or an ``onnx.ModelProto``) as a :class:`~pjpart.Graph` (see the module docstring).

    Parameters
    ----------
    model
        A ``.onnx`` file (external weight files are not read) or a loaded ``onnx.ModelProto``.
    granularity
        ``"op"`` (one node per ONNX node) or ``"module"`` (module paths ``depth`` deep, grouped
        into consecutive runs by :func:`pjpart.coarsen`).
    depth
        Module depth of the groups (``granularity="module"``; >= 1).
    hardware
        A profile name from ``configs/hardware`` or a :class:`~pjpart.hardware.Hardware`.
    dims
        Sizes of the inputs' symbolic dimensions, by name (``{"batch": 8}``) or per input
        (``{"x": (8, 3, 224, 224)}``).
    name
        The graph's name; by default the file name up to its first dot (or the ONNX graph's).

    Returns
    -------
    Graph
        ``work`` in seconds, ``params`` and ``sizeout`` in bytes; ``meta`` records the source,
        granularity, hardware, FLOPs, weight bytes, the profile's ``cost_model``, the module
        paths (``scopes``) and the operators without a FLOP rule (``unknown_ops``).

    Raises
    ------
    GraphError
        On a missing or unreadable file, a bad ``granularity`` or ``depth``, symbolic input
        dimensions not in ``dims``, failed shape inference, a tensor that nothing produces,
        or a model with no nodes.

    Warns
    -----
    UserWarning
        When shape inference leaves some tensors without a static shape (they count 0 bytes),
        naming the first.

    Examples
    --------
    >>> from onnx import TensorProto, helper
    >>> model = helper.make_model(helper.make_graph(
    ...     [helper.make_node("Relu", ["x"], ["y"], name="/a/Relu"), helper.make_node("Neg", ["y"], ["z"])],
    ...     "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
    ...     [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4])]))
    >>> g = from_onnx(model, dims={"batch": 2})
    >>> g.ids, g.sizeout.tolist(), g.meta["scopes"]
    (('/a/Relu', 'Neg_1'), [32.0, 32.0], {'/a/Relu': ['a'], 'Neg_1': []})
    >>> from_onnx(model)
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: the model's inputs have symbolic or unknown dimensions: batch (input 'x', dimension 0); give their sizes: from_onnx(model, dims={'batch': N}) (and pjpart.save_graph the graph for the command line)
    """
    from ..hardware import load_hardware

    if granularity not in ("op", "module"):
        raise GraphError(f"granularity must be 'op' or 'module', got {granularity!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise GraphError(f"depth must be an integer >= 1, got {depth!r}")
    hw = load_hardware(hardware) if isinstance(hardware, str) else hardware
    proto = load_model(model)
    if name is None:
        name = os.path.basename(os.fspath(model)).split(".")[0] if not hasattr(model, "graph") \
            else (proto.graph.name or "onnx")
    st = structure(proto)
    if not st.nodes:
        raise GraphError(f"ONNX model {name!r} has no nodes (after folding constants)")
    shapes = _shapes(_bind_dims(proto, dims))
    graph = _to_graph(st, shapes, hw, name)
    graph.meta["opset"] = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=None)
    if granularity == "op":
        return graph
    from ..coarsen import at_module_depth

    return at_module_depth(graph, depth)


def _to_graph(st: Structure, shapes: dict, hw: Any, name: str) -> Graph:
    n = len(st.nodes)
    unknown_shape: list = []

    def nbytes(t: str) -> float:
        shape, kind = shapes.get(t, (None, "FLOAT"))
        if shape is None:
            unknown_shape.append(t)
            return 0.0
        return float(math.prod(shape)) * ITEMSIZE.get(kind, 4)

    read = {t for node in st.nodes for t in node.inputs} | set(st.outputs)
    claimed: set = set()
    work, params, sizeout, flops = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    edges, unknown_ops = set(), set()
    for i, node in enumerate(st.nodes):
        ins = [shapes.get(t, (None,))[0] if t else None for t in node.proto.input]
        outs = [shapes.get(t, (None,))[0] if t else None for t in node.proto.output]
        try:
            f = node_flops(node.op, _attrs(node.proto), ins, outs)
        except (TypeError, IndexError, KeyError, ValueError):  # a shape the rule needs is unknown
            f = None
        if f is None:
            unknown_ops.add(node.op)
        flops[i] = f or 0.0
        moved = sum(nbytes(t) for t in node.inputs) + sum(nbytes(t) for t in node.outputs)
        kind = shapes.get(node.inputs[0], (None, "FLOAT"))[1] if node.inputs else "FLOAT"
        work[i] = hw.op_time(flops[i], moved, DTYPE.get(kind, kind.lower()))
        for t in node.inputs:
            if t in st.constants and t not in claimed:
                claimed.add(t)
                params[i] += nbytes(t)
            elif t in st.producer:
                edges.add((st.producer[t], i))
        outs_read = [t for t in node.outputs if t in read]
        sizeout[i] = sum(nbytes(t) for t in (outs_read or node.outputs))
    if unknown_shape:
        warnings.warn(f"ONNX shape inference left {len(set(unknown_shape))} tensor(s) without a static shape "
                      f"(the first: {unknown_shape[0]!r}); they count 0 bytes", UserWarning, stacklevel=3)
    ids = [node.id for node in st.nodes]
    meta = {"source": "onnx", "granularity": "op", "hardware": hw.name, "flops": float(flops.sum()),
            "param_bytes": float(params.sum()), "cost_model": hw.cost_model().to_json(),
            "scopes": {node.id: list(node.scopes) for node in st.nodes}}
    if unknown_ops:
        meta["unknown_ops"] = sorted(unknown_ops)
    return Graph.from_arrays(work=work, params=params, sizeout=sizeout, edges=sorted(edges), ids=ids, name=name,
                             meta=meta)


__all__ = ["from_onnx", "load_model", "node_scopes", "structure"]
