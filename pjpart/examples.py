"""Bundled example graphs shipped inside the package (``pjpart/data``), and how a graph
argument (a file, an example or a zoo model) is resolved.

A name that is both a bundled example and a zoo model (``resnet50``: the hand-built
example has 175 nodes, the zoo's Keras graph 176) means the example; ``example:NAME``
and ``zoo:NAME`` choose explicitly.

>>> g, source = locate_graph("zoo:resnet50")
>>> g.n, source
(176, 'zoo')
>>> describe_graph(*locate_graph("resnet50"))
'graph resnet50 (bundled example, 175 nodes; the zoo model is `zoo:resnet50`)'
"""

from __future__ import annotations

import difflib
import os
from importlib import resources

from .graph import Graph, GraphError
from .graph_io import load_graph

EXAMPLES = {"tiny": "tiny.json", "resnet50": "resnet50.json.gz"}
#: the prefixes that choose where a graph name is looked up
PREFIXES = ("example:", "zoo:")


def _suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, list(dict.fromkeys(candidates)), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def example_path(name: str) -> str:
    """Filesystem path of a bundled example (``tiny``, ``resnet50``).

    Parameters
    ----------
    name
        The example's name, a key of :data:`EXAMPLES`.

    Returns
    -------
    str
        The path of its SPEC JSON file inside the installed package (``pjpart/data``).

    Raises
    ------
    GraphError
        On an unknown name, listing the bundled examples and close matches.

    Examples
    --------
    >>> import os
    >>> os.path.basename(example_path("tiny")), os.path.basename(example_path("resnet50"))
    ('tiny.json', 'resnet50.json.gz')
    >>> example_path("tiyn")
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: unknown example 'tiyn'; bundled: tiny, resnet50; did you mean 'tiny'?
    """
    if name not in EXAMPLES:
        raise GraphError(f"unknown example {name!r}; bundled: {', '.join(EXAMPLES)}{_suggest(name, EXAMPLES)}")
    return str(resources.files("pjpart.data").joinpath(EXAMPLES[name]))


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or spec.endswith((".json", ".gz", ".pbtxt", ".onnx"))


def locate_graph(spec: str, strict: bool = False) -> tuple[Graph, str]:
    """``(graph, source)`` for a graph argument; ``source`` is ``"file"``, ``"example"`` or ``"zoo"``.

    ``example:NAME`` / ``zoo:NAME`` look in one place; otherwise an existing file comes
    first, then a bundled example, then a zoo model.  An unknown name raises
    :class:`GraphError` suggesting ``pjpart zoo list`` and close matches; a path that does
    not exist raises the file's error.  ``strict``: unknown node fields in a file are
    errors (:func:`pjpart.load_graph`).
    """
    from . import zoo

    spec = os.fspath(spec)
    if spec.startswith("example:"):
        return load_graph(example_path(spec[len("example:"):]), strict=strict), "example"
    if spec.startswith("zoo:"):
        return load_graph(zoo.path(spec[len("zoo:"):]), strict=strict), "zoo"
    if os.path.exists(spec):
        return load_graph(spec, strict=strict), "file"
    if spec in EXAMPLES:
        return load_graph(example_path(spec), strict=strict), "example"
    known = zoo.index()
    if spec in known:
        return load_graph(zoo.path(spec), strict=strict), "zoo"
    if _looks_like_path(spec):
        return load_graph(spec, strict=strict), "file"  # reports the missing file
    raise GraphError(f"unknown graph {spec!r}: no such file, bundled example ({', '.join(EXAMPLES)}) or zoo "
                     f"model (`pjpart zoo list` lists them){_suggest(spec, list(EXAMPLES) + list(known))}")


def resolve_graph(spec: str, strict: bool = False) -> Graph:
    """Load a graph from a file path, or by the name of a bundled example or zoo model.

    ``example:NAME`` and ``zoo:NAME`` choose where a name is looked up; see
    :func:`locate_graph`, which also says where the graph came from.

    Parameters
    ----------
    spec
        A file path, an example or zoo model name, or ``example:NAME`` / ``zoo:NAME``.  Without
        a prefix an existing file comes first, then a bundled example, then a zoo model.
    strict
        Unknown node fields in a file are errors (:func:`pjpart.load_graph`).

    Returns
    -------
    Graph

    Raises
    ------
    GraphError
        On an unknown name (suggesting ``pjpart zoo list`` and close matches), or the file's
        error for a path that does not exist or cannot be read.

    Examples
    --------
    >>> resolve_graph("tiny").n, resolve_graph("example:resnet50").n, resolve_graph("zoo:resnet50").n
    (6, 175, 176)
    >>> resolve_graph("tinyy")
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: unknown graph 'tinyy': no such file, bundled example (tiny, resnet50) or zoo model (`pjpart zoo list` lists them); did you mean 'tiny'?
    """
    return locate_graph(spec, strict)[0]


def describe_graph(graph: Graph, source: str, spec: str | None = None) -> str:
    """One line saying which graph was loaded, e.g. ``graph tiny (bundled example, 6 nodes)``."""
    if source == "example":
        from . import zoo

        also = f"; the zoo model is `zoo:{graph.name}`" if graph.name in zoo.index() else ""
        return f"graph {graph.name} (bundled example, {graph.n} nodes{also})"
    if source == "zoo":
        also = f"; the bundled example is `example:{graph.name}`" if graph.name in EXAMPLES else ""
        return f"graph {graph.name} (zoo model, {graph.n} nodes{also})"
    where = f"file {spec}" if spec else "file"
    return f"graph {graph.name} ({where}, {graph.n} nodes, {graph.m} edges)"
