"""``from_torch``: a computation graph from a PyTorch module, through ``torch.export``.

The module is exported (``torch.export.export(module, example_inputs)``, or an
``ExportedProgram`` is given) and every ATen operation of the exported graph is one node
(``granularity="op"``), in the program's execution order.  Per node:

* ``flops`` as :class:`torch.utils.flop_counter.FlopCounterMode` counts them, the node run
  on the exported program's fake tensors (so no real compute, whatever the model's size):
  matrix products, convolutions and attention (``scaled_dot_product_attention`` counted in
  its math form); other operations count 0 and take their memory traffic's time;
* ``bytes``: its tensor inputs' and outputs' bytes, weights included; ``work`` is the
  roofline time on a :class:`~pjpart.hardware.Hardware` profile;
* ``params``: bytes of the parameters, buffers and constant tensors it reads, each counted
  once, at its first reader (so ``params`` sums to the state's bytes);
* ``sizeout``: bytes of its outputs (of those read, for an operation with several).

``getitem`` nodes (picking one output of a multi-output operation) are folded into the
operation.  Node ids keep the **module FQNs**: ``"layers.0.fc1/linear_1"`` (innermost module,
then the exported node's name; a node in no module has its node name alone), and every
node's module path (``("layers.0", "layers.0.fc1")``, from ``nn_module_stack``) goes to
``meta["scopes"]``.  ``granularity="module"`` groups them by the module at ``depth``
(:func:`pjpart.coarsen`), whose ids are then the FQNs themselves (``"layers.0"``): the
units of ``torch.distributed.pipelining``'s ``split_spec`` (:func:`pjpart.export.torch_pipe`).

PyTorch is optional (``pip install 'pjpart[torch]'``; a CPU-only build is enough:
``pip install torch --index-url https://download.pytorch.org/whl/cpu``) and imported here only.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..graph import Graph, GraphError


def import_torch():
    """Import PyTorch, or fail with one clear message."""
    try:
        import torch
    except ImportError as exc:
        raise GraphError("from_torch needs PyTorch: pip install 'pjpart[torch]' (a CPU-only build: pip install "
                         "torch --index-url https://download.pytorch.org/whl/cpu)") from exc
    return torch


def _tensors(val: Any) -> list:
    torch = import_torch()
    if isinstance(val, torch.Tensor):
        return [val]
    if isinstance(val, (list, tuple)):
        return [t for v in val for t in _tensors(v)]
    return []


def _nbytes(val: Any) -> float:
    return float(sum(t.numel() * t.element_size() for t in _tensors(val)))


def _path(node: Any) -> tuple:
    path: list = []
    for fqn, _ in (node.meta.get("nn_module_stack") or {}).values():
        if fqn and (not path or path[-1] != fqn):
            path.append(fqn)
    return tuple(path)


def export_program(module: Any, example_inputs: Any = (), example_kwargs: dict | None = None):
    """``module`` as an ``ExportedProgram`` (returned as is if it already is one)."""
    torch = import_torch()
    if isinstance(module, torch.export.ExportedProgram):
        return module
    if not isinstance(module, torch.nn.Module):
        raise GraphError(f"from_torch needs a torch.nn.Module or a torch.export.ExportedProgram, got "
                         f"{type(module).__name__}")
    args = tuple(example_inputs) if isinstance(example_inputs, (list, tuple)) else (example_inputs,)
    try:
        return torch.export.export(module, args, kwargs=example_kwargs)
    except Exception as exc:
        raise GraphError(f"torch.export could not export {type(module).__name__}: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc


def _flop_counter(program: Any):
    """``node -> FLOPs`` by FlopCounterMode on the program's fake tensors."""
    torch = import_torch()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    fake = torch._guards.detect_fake_mode([n.meta.get("val") for n in program.graph.nodes])

    def count(node: Any) -> float:
        try:
            args = torch.fx.node.map_arg(node.args, lambda a: a.meta["val"])
            kwargs = torch.fx.node.map_arg(node.kwargs, lambda a: a.meta["val"])
        except KeyError:
            return 0.0
        with fake, sdpa_kernel([SDPBackend.MATH]), FlopCounterMode(display=False) as counter:
            node.target(*args, **kwargs)
        return float(counter.get_total_flops())

    return count


def from_torch(module: Any, example_inputs: Any = (), granularity: str = "op", depth: int = 1,
               hardware: Any = "h100", name: str | None = None, example_kwargs: dict | None = None) -> Graph:
    """Export a PyTorch module with ``torch.export`` and return its computation graph (see the module docstring).

    Parameters
    ----------
    module
        A ``torch.nn.Module`` (exported as it is: call ``.eval()`` first for inference), or a
        ``torch.export.ExportedProgram``.
    example_inputs
        The positional inputs to export with (a tensor or a tuple; only shapes and dtypes matter).
    granularity
        ``"op"`` (one node per ATen operation) or ``"module"`` (modules ``depth`` deep, grouped
        into consecutive runs by :func:`pjpart.coarsen`; ids are the module FQNs).
    depth
        Module depth of the groups (``granularity="module"``; >= 1).
    hardware
        A profile name from ``configs/hardware`` or a :class:`~pjpart.hardware.Hardware`.
    name
        The graph's name (default: the module's class name).
    example_kwargs
        Keyword inputs to export with.

    Returns
    -------
    Graph
        ``work`` in seconds, ``params`` and ``sizeout`` in bytes; ``meta`` records the source,
        granularity, hardware, FLOPs, weight bytes, the profile's ``cost_model`` and the module
        paths (``scopes``).

    Raises
    ------
    GraphError
        Without PyTorch, on a bad ``granularity`` or ``depth``, when ``torch.export`` fails
        (its first line quoted), or for a program with no operations.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> g = from_torch(net.eval(), torch.ones(3, 4))
    >>> g.ids, g.meta["flops"], int(g.params.sum())
    (('0/linear', '1/relu', '2/linear_1'), 288.0, 232)
    """
    from ..hardware import load_hardware

    if granularity not in ("op", "module"):
        raise GraphError(f"granularity must be 'op' or 'module', got {granularity!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise GraphError(f"depth must be an integer >= 1, got {depth!r}")
    hw = load_hardware(hardware) if isinstance(hardware, str) else hardware
    torch = import_torch()
    program = export_program(module, example_inputs, example_kwargs)
    graph = _to_graph(program, hw, name or type(module).__name__, torch)
    if granularity == "op":
        return graph
    from ..coarsen import at_module_depth

    return at_module_depth(graph, depth)


def _to_graph(program: Any, hw: Any, name: str, torch: Any) -> Graph:
    weights = {spec.arg.name for spec in program.graph_signature.input_specs
               if spec.kind.name in ("PARAMETER", "BUFFER", "CONSTANT_TENSOR") and hasattr(spec.arg, "name")}
    count = _flop_counter(program)
    index: dict = {}      # fx node -> graph node
    picked: dict = {}     # graph node -> the output items read through getitem
    ops: list = []
    claimed: set = set()
    for node in program.graph.nodes:
        if node.op == "get_attr":
            weights.add(node.name)
        if node.op != "call_function":
            continue
        if node.target is operator.getitem and node.args[0] in index:
            index[node] = index[node.args[0]]
            picked.setdefault(index[node], set()).add(node.args[1])
            continue
        preds, params, moved = set(), 0.0, 0.0
        for arg in node.all_input_nodes:
            moved += _nbytes(arg.meta.get("val"))
            if arg.name in weights and arg.name not in claimed:
                claimed.add(arg.name)
                params += _nbytes(arg.meta.get("val"))
            elif arg in index:
                preds.add(index[arg])
        val = node.meta.get("val")
        moved += _nbytes(val)
        dtype = next((str(t.dtype).replace("torch.", "") for t in _tensors(
            [a.meta.get("val") for a in node.all_input_nodes])), "float32")
        flops = count(node)
        index[node] = len(ops)
        ops.append({"node": node, "path": _path(node), "flops": flops, "params": params, "preds": preds,
                    "work": hw.op_time(flops, moved, dtype), "val": val})
    if not ops:
        raise GraphError(f"the exported program of {name!r} has no operations")
    ids, scopes = [], {}
    for op in ops:
        nid = f"{op['path'][-1]}/{op['node'].name}" if op["path"] else op["node"].name
        ids.append(nid)
        scopes[nid] = list(op["path"])
    sizeout = np.zeros(len(ops))
    for i, op in enumerate(ops):
        val = op["val"]
        if i in picked and isinstance(val, (list, tuple)):
            val = [val[j] for j in sorted(picked[i]) if isinstance(j, int) and j < len(val)]
        sizeout[i] = _nbytes(val)
    edges = sorted((p, i) for i, op in enumerate(ops) for p in op["preds"])
    flops = np.array([op["flops"] for op in ops])
    params = np.array([op["params"] for op in ops])
    meta = {"source": "torch", "granularity": "op", "hardware": hw.name, "flops": float(flops.sum()),
            "param_bytes": float(params.sum()), "cost_model": hw.cost_model().to_json(), "scopes": scopes,
            "torch_version": str(torch.__version__)}
    return Graph.from_arrays(work=[op["work"] for op in ops], params=params, sizeout=sizeout, edges=edges, ids=ids,
                             name=name, meta=meta)


__all__ = ["export_program", "from_torch"]
