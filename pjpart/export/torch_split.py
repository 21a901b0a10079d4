"""The ``torch`` plan: a ``split_spec`` for ``torch.distributed.pipelining``, and the pipe it builds.

``torch.distributed.pipelining.pipeline(module, mb_args, split_spec=...)`` traces the
module with ``torch.export`` and cuts its execution order just before the call of each
module named in ``split_spec`` (``SplitPoint.BEGINNING``).  So a partition is expressible
when (1) its stages are consecutive pieces of the execution order (the graph's node
order: :func:`pjpart.from_torch` keeps it), and (2) each stage after the first starts at
the first operation of some module; the split point is the outermost such module.
Otherwise the exporter names the node at fault and suggests solving in module units
(``pjpart partition GRAPH -k K --coarsen D``, ``pjpart.coarsen(graph, D)``), whose
groups are consecutive runs of the execution order.  Empty stages are not stages of the
pipe: it has the partition's non-empty stages, in order.

>>> import pjpart
>>> ids = ["embed", "layers.0", "layers.1", "head"]
>>> g = pjpart.Graph.from_arrays(work=[1, 4, 4, 1], edges=[(0, 1), (1, 2), (2, 3)], ids=ids)
>>> split_spec(pjpart.partition(g, k=2, seed=0), g)
{'layers.1': 'BEGINNING'}
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..graph import Graph
from ..scopes import execution_order, module_paths
from .place import ExportError, place

HINT = ("solve in module units, whose groups are consecutive runs of the execution order: pjpart partition GRAPH "
        "-k K --coarsen D (or pjpart.coarsen(graph, D), from_torch(..., granularity='module'))")


def split_spec(result, graph: Graph) -> dict:
    """``{module FQN: "BEGINNING"}``: where ``torch.distributed.pipelining`` must cut to build ``result``'s stages.

    Parameters
    ----------
    result
        A :class:`~pjpart.PartitionResult`.
    graph
        The graph it was computed on (or the finer one it was coarsened from), in execution
        order with module paths (:func:`pjpart.from_torch`, or a coarsening of its graph).

    Returns
    -------
    dict
        One entry per stage after the first, in pipeline order.

    Raises
    ------
    ExportError
        When the stages are not consecutive in the execution order or a stage does not start
        at a module's first operation (naming the node).
    """
    p = place(result, graph)
    g, a = p.fine, p.fine_stage
    order = execution_order(g).tolist()
    paths = module_paths(g)
    first: dict = {}
    for pos, v in enumerate(order):
        for fqn in paths[v]:
            first.setdefault(fqn, pos)
    spec: dict = {}
    for pos in range(1, len(order)):
        u, v = order[pos - 1], order[pos]
        if a[v] < a[u]:
            raise ExportError(f"torch: node {g.ids[v]!r} (stage {int(a[v])}) runs after {g.ids[u]!r} (stage "
                              f"{int(a[u])}) in the model's execution order: pipelining cuts that order into "
                              f"consecutive stages; {HINT}")
        if a[v] > a[u]:
            starts = [fqn for fqn in paths[v] if first[fqn] == pos]
            if not starts:
                where = f"inside module {paths[v][-1]!r}" if paths[v] else "outside every module"
                raise ExportError(f"torch: stage {int(a[v])} starts at node {g.ids[v]!r}, {where}, which is not "
                                  f"the first operation of any module: pipelining splits only where a module "
                                  f"begins; {HINT}")
            spec[starts[0]] = "BEGINNING"
    return spec


def torch_pipe(module: Any, example_inputs: Any, result, graph: Graph | None = None,
               example_kwargs: dict | None = None):
    """Build ``result``'s pipeline of ``module`` with ``torch.distributed.pipelining.pipeline`` (no process group needed).

    Parameters
    ----------
    module
        The ``torch.nn.Module`` the partition is of.
    example_inputs
        One micro-batch of positional inputs (a tensor or a tuple), as for :func:`pjpart.from_torch`.
    result
        A :class:`~pjpart.PartitionResult` of ``module``'s graph (op or module granularity).
    graph
        The graph it was computed on; by default ``pjpart.from_torch(module, example_inputs)``
        (op granularity: a module-level result is placed on it by :func:`pjpart.export.place`).
    example_kwargs
        Keyword inputs of the micro-batch.

    Returns
    -------
    torch.distributed.pipelining.Pipe
        ``pipe.num_stages`` stages (``pipe.get_stage_module(i)``); ``pipe(*inputs)`` runs them
        one after another in this process.

    Raises
    ------
    ExportError
        When the partition is not expressible (:func:`split_spec`), or the pipe has another
        number of stages than the partition (a split module called more than once).
    GraphError
        Without PyTorch.

    Examples
    --------
    >>> import torch, pjpart
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
    ...                           torch.nn.ReLU(), torch.nn.Linear(64, 2)).eval()
    >>> x = torch.randn(3, 4)
    >>> g = pjpart.from_torch(net, x, granularity="module")
    >>> r = pjpart.partition(g, k=2, cost_model=pjpart.CostModel(bandwidth=1e18), seed=0)  # near-free links
    >>> pipe = torch_pipe(net, x, r)
    >>> pipe.num_stages, bool(torch.allclose(pipe(x)[0], net(x)))
    (2, True)
    """
    from ..importers.torch_export import from_torch, import_torch

    import_torch()
    from torch.distributed.pipelining import SplitPoint, pipeline

    args = tuple(example_inputs) if isinstance(example_inputs, (list, tuple)) else (example_inputs,)
    if graph is None:
        graph = from_torch(module, args, example_kwargs=example_kwargs)
    spec = split_spec(result, graph)
    with warnings.catch_warnings():  # torch's own deprecation notices from inside pipelining
        warnings.filterwarnings("ignore", category=FutureWarning, module="copyreg")
        pipe = pipeline(module, mb_args=args, mb_kwargs=example_kwargs,
                        split_spec={fqn: SplitPoint.BEGINNING for fqn in spec})
    want = len(np.unique(place(result, graph).stage))
    if pipe.num_stages != want:
        raise ExportError(f"torch: the pipe has {pipe.num_stages} stages, the partition {want}: a module of the "
                          f"split_spec {sorted(spec)} is called more than once")
    return pipe


__all__ = ["split_spec", "torch_pipe"]
