"""Module paths and layer structure of a graph's nodes: the units a runtime's plan speaks in.

A node's **module path** is the list of the modules it runs in, outermost first, each
named by its fully qualified name (FQN) as PyTorch writes it: the op ``fc1`` of the
second block of ``layers`` has the path ``("layers.1", "layers.1.fc1")``.  The ONNX and
torch importers record every node's path in ``graph.meta["scopes"]`` (``{id: path}``); a
graph without it (a hand-written JSON file) has the dotted prefixes of each node id as
its path (``"layers.1.fc1"`` -> ``("layers", "layers.1", "layers.1.fc1")``).

The **layer structure** of a layer-structured model (a transformer's blocks, a ResNet's
stages): the *container* is the module whose numbered children (``layers.0``,
``layers.1``, ...) are the layers, found as the prefix with the most numbered children
(or named).  Every node is then a layer node (its path holds ``container.i``), a *pre*
node (before the first layer node in the graph's order: embeddings), a *post* node
(after the last: final norm, head) or a glue node between layers, which belongs to the
layer before it.  The **unit** of a node is its layer (``"layers.3"``) or, outside the
layers, its module at the layers' depth (``"embed"``, ``"model.norm"``); a node in no
module belongs to the unit before it.

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[1, 1, 1, 1, 1], edges=[(0, 1), (1, 2), (2, 3), (3, 4)],
...                              ids=["embed", "layers.0.attn", "layers.0.mlp", "layers.1", "head"])
>>> module_paths(g)[1], module_at(module_paths(g)[1], 2)
(('layers', 'layers.0', 'layers.0.attn'), 'layers.0')
>>> s = layer_structure(g)
>>> s.container, s.count, s.layer.tolist(), s.units
('layers', 2, [-1, 0, 0, 1, -2], ['embed', 'layers.0', 'layers.0', 'layers.1', 'head'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .errors import GraphError
from .graph import Graph

_NUMBERED = re.compile(r"^(.*)\.(\d+)$")


def _dotted(node_id) -> tuple:
    parts = str(node_id).split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


def module_paths(graph: Graph) -> list[tuple]:
    """Every node's module path, outermost first (``graph.meta["scopes"]``, else the id's dotted prefixes).

    Parameters
    ----------
    graph
        The graph.

    Returns
    -------
    list of tuple of str
        One path per node, in the graph's node order.

    Raises
    ------
    GraphError
        When ``meta["scopes"]`` is not an object of lists of strings.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 1], edges=[(0, 1)], ids=["a", "b"], meta={"scopes": {"a": ["m"]}})
    >>> module_paths(g)
    [('m',), ()]
    """
    scopes = graph.meta.get("scopes")
    if scopes is None:
        return [_dotted(v) for v in graph.ids]
    if not isinstance(scopes, dict):
        raise GraphError(f"graph {graph.name!r}: meta field 'scopes' must be an object {{node id: [module, ...]}}")
    out = []
    for v in graph.ids:
        path = scopes.get(str(v), [])
        if not isinstance(path, (list, tuple)) or not all(isinstance(p, str) for p in path):
            raise GraphError(f"graph {graph.name!r}: scopes of node {v!r} must be a list of module names, "
                             f"got {path!r}")
        out.append(tuple(path))
    return out


def module_at(path: tuple, depth: int) -> str | None:
    """The module of ``path`` at ``depth`` (1 = outermost), the innermost one if the path is shorter,
    ``None`` for an empty path.

    >>> module_at(("a", "a.b"), 1), module_at(("a", "a.b"), 5), module_at((), 1)
    ('a', 'a.b', None)
    """
    return path[min(depth, len(path)) - 1] if path else None


def common_prefix(paths) -> tuple:
    """The longest path every one of ``paths`` starts with.

    >>> common_prefix([("a", "a.b"), ("a", "a.c")])
    ('a',)
    """
    paths = list(paths)
    if not paths:
        return ()
    first = paths[0]
    size = min(len(p) for p in paths)
    for i in range(size):
        if any(p[i] != first[i] for p in paths):
            return first[:i]
    return first[:size]


def execution_order(graph: Graph) -> np.ndarray:
    """The graph's node order when it is topological (the importers write execution order), else
    :meth:`Graph.topological_order`.

    >>> import pjpart
    >>> execution_order(pjpart.Graph.from_arrays(work=[1, 1], edges=[(1, 0)])).tolist()
    [1, 0]
    """
    if not graph.m or bool(np.all(graph.edges[:, 0] < graph.edges[:, 1])):
        return np.arange(graph.n, dtype=np.int64)
    return graph.topological_order()


@dataclass(frozen=True)
class LayerStructure:
    """The layers of a layer-structured graph (see the module docstring).

    Attributes
    ----------
    container : str
        The module whose numbered children are the layers (``"layers"``, ``"model.layers"``).
    count : int
        Number of layers (``container.0`` .. ``container.{count - 1}``).
    depth : int
        Module depth of the layers (1 = outermost): ``pjpart.coarsen(graph, depth)`` groups by layer.
    layer : numpy.ndarray
        Per node: its layer index, ``-1`` before the layers (pre), ``-2`` after them (post).
    units : list of str
        Per node: its unit (layer, or the module outside the layers at the layers' depth).
    """

    container: str
    count: int
    depth: int
    layer: np.ndarray
    units: list


def _find_container(paths: list[tuple], container: str | None) -> tuple[str, dict]:
    found: dict = {}
    for path in paths:
        for d, fqn in enumerate(path):
            m = _NUMBERED.match(fqn)
            if m:
                found.setdefault(m.group(1), {}).setdefault(int(m.group(2)), d)
    if container is not None:
        if container not in found:
            known = ", ".join(sorted(found)) or "none"
            raise GraphError(f"no module {container!r} with numbered children ({container}.0, ...); "
                             f"containers of numbered modules: {known}")
        return container, found[container]
    if not found:
        raise GraphError("the graph has no layer structure: no module path holds a numbered module such as "
                         "'layers.0' (import the model with pjpart.from_torch or pjpart.from_onnx, whose nodes "
                         "carry module paths)")
    best = max(found, key=lambda c: (len(found[c]), -c.count(".")))
    return best, found[best]


def layer_structure(graph: Graph, container: str | None = None) -> LayerStructure:
    """The layers of ``graph`` and every node's layer and unit (see the module docstring).

    Parameters
    ----------
    graph
        A graph whose nodes have module paths (:func:`module_paths`).
    container
        The module holding the layers (``"model.layers"``); by default the one with the most
        numbered children.

    Returns
    -------
    LayerStructure

    Raises
    ------
    GraphError
        When no module has numbered children, ``container`` has none, or the layers are not
        numbered ``0 .. count - 1``.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 1, 1], edges=[(0, 1), (1, 2)], ids=["h.0", "h.1", "ln_f"])
    >>> layer_structure(g).layer.tolist()
    [0, 1, -2]
    """
    paths = module_paths(graph)
    container, depths = _find_container(paths, container)
    indices = sorted(depths)
    if indices != list(range(len(indices))):
        raise GraphError(f"the layers of {container!r} are numbered {indices[:8]}...: expected 0 .. "
                         f"{len(indices) - 1}")
    depth = min(depths.values())
    prefix = container + "."
    layer = np.full(graph.n, -3, dtype=np.int64)
    for v, path in enumerate(paths):
        for fqn in path:
            if fqn.startswith(prefix) and fqn[len(prefix):].split(".")[0].isdigit():
                layer[v] = int(fqn[len(prefix):].split(".")[0])
                break
    order = execution_order(graph)
    at = layer[order]
    inside = np.flatnonzero(at >= 0)
    first, final = (int(inside[0]), int(inside[-1])) if len(inside) else (graph.n, -1)
    units: list = [None] * graph.n
    last = -1
    for p, v in enumerate(order.tolist()):
        if layer[v] >= 0:
            last = int(layer[v])
            units[v] = f"{prefix}{last}"
        elif first < p < final:  # glue between layers: the layer before it
            layer[v] = last
            units[v] = f"{prefix}{last}"
        else:
            layer[v] = -1 if p < first else -2
            units[v] = module_at(paths[v], depth + 1)
    previous = None
    for v in order.tolist():  # a node in no module joins the unit before it (the next one at the start)
        if units[v] is None:
            units[v] = previous
        previous = units[v]
    following = None
    for v in order[::-1].tolist():
        if units[v] is None:
            units[v] = following
        following = units[v]
    return LayerStructure(container, len(indices), depth + 1, layer, units)


__all__ = ["LayerStructure", "common_prefix", "execution_order", "layer_structure", "module_at", "module_paths"]
