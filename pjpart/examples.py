"""Bundled example graphs shipped inside the package (``pjpart/data``)."""

from __future__ import annotations

import os
from importlib import resources

from .graph import Graph, GraphError, load_graph

EXAMPLES = {"tiny": "tiny.json", "resnet50": "resnet50.json.gz"}


def example_path(name: str) -> str:
    """Filesystem path of a bundled example (``tiny``, ``resnet50``)."""
    if name not in EXAMPLES:
        raise GraphError(f"unknown example {name!r}; bundled: {', '.join(EXAMPLES)}")
    return str(resources.files("pjpart.data").joinpath(EXAMPLES[name]))


def resolve_graph(spec: str) -> Graph:
    """Load a graph from a file path, or by the name of a bundled example or zoo model."""
    if os.path.exists(spec):
        return load_graph(spec)
    if spec in EXAMPLES:
        return load_graph(example_path(spec))
    from . import zoo

    if spec in zoo.index():
        return zoo.load(spec)
    return load_graph(spec)  # reports the missing file
