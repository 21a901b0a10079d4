"""Graph files: SPEC JSON (``.json``, gzip-compressed ``.json.gz``) read and written, every
failure to read one a :class:`~pjpart.GraphError` naming the file and what is wrong.
:func:`load_graph` chooses the reader by the file's extension: ``.onnx`` an ONNX model
(:func:`pjpart.from_onnx`), ``.pbtxt`` / ``.pbtxt.gz`` a REGAL ``CostGraphDef``
(:func:`pjpart.load_regal`), anything else SPEC JSON.

>>> import os, tempfile, pjpart
>>> path = os.path.join(tempfile.mkdtemp(), "chain.json.gz")
>>> save_graph(pjpart.Graph.from_arrays(work=[1, 2], edges=[(0, 1)], name="chain"), path)
>>> load_graph(path).n
2
"""

from __future__ import annotations

import gzip
import json
import os
import warnings
import zlib

from .errors import GraphError
from .graph import Graph


def _read_text(path: str) -> str:
    """The text of a graph file, gunzipped when it is gzip (by its magic bytes, or a ``.gz``
    name), each failure a :class:`GraphError` naming the file and what is wrong."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise GraphError(f"{path}: no such graph file") from None
    except IsADirectoryError:
        raise GraphError(f"{path}: is a folder, not a graph file") from None
    except OSError as exc:
        raise GraphError(f"{path}: cannot read graph file ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise GraphError(f"{path}: truncated gzip file (the compressed data ends before its "
                             f"end-of-stream marker)") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise GraphError(f"{path}: corrupt gzip file ({exc})") from None
    elif path.endswith(".gz") and raw:
        raise GraphError(f"{path}: not a gzip file (a .gz name, but the file does not start with "
                         f"gzip's magic bytes 1f 8b)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GraphError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise GraphError(f"{path}: empty file (expected a SPEC graph JSON object)")
    return text


def _load_model_file(path: str) -> Graph:
    """A graph from a model file read by an importer (``.onnx``, ``.pbtxt``), errors naming the file."""
    if not os.path.exists(path):
        raise GraphError(f"{path}: no such graph file")
    if os.path.isdir(path):
        raise GraphError(f"{path}: is a folder, not a graph file")
    if path.lower().endswith(".onnx"):
        from .importers.onnx import from_onnx as read
    else:
        from .importers.regal import load_regal as read
    try:
        return read(path)
    except GraphError as exc:
        raise GraphError(str(exc) if str(exc).startswith(path) else f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphError(f"{path}: cannot read graph file ({exc})") from None


def load_graph(path: str | os.PathLike, strict: bool = False) -> Graph:
    """Load a graph from a file, the reader chosen by its extension: SPEC JSON, ONNX or REGAL pbtxt.

    Parameters
    ----------
    path
        The file: ``.onnx`` is an ONNX model (:func:`pjpart.from_onnx` at op granularity on the
        H100 profile), ``.pbtxt`` or ``.pbtxt.gz`` a REGAL ``CostGraphDef`` (:func:`pjpart.load_regal`),
        anything else (``.json``, ``.json.gz``) SPEC JSON, gzip recognised by its magic bytes (a
        ``.gz`` name must be gzip).
    strict
        Make an unknown node field of a JSON file an error instead of a ``UserWarning``.

    Returns
    -------
    Graph
        The graph, named by the file's ``name`` field, else by the file name up to its first dot.

    Raises
    ------
    GraphError
        Every problem raises :class:`GraphError` naming the file: missing or unreadable,
        truncated or corrupt gzip, not UTF-8, empty, malformed JSON, or any graph error of
        :meth:`Graph.from_json` (``strict``: an unknown node field is one).

    Warns
    -----
    UserWarning
        The warnings of :meth:`Graph.from_json` (an unknown node field), naming the file.

    Examples
    --------
    >>> import pjpart
    >>> g = load_graph(pjpart.example_path("tiny"))
    >>> g.name, g.n, g.m
    ('tiny', 6, 6)
    >>> load_graph("no/such/graph.json")
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: no/such/graph.json: no such graph file
    """
    path = os.fspath(path)
    if path.lower().endswith((".onnx", ".pbtxt", ".pbtxt.gz")):
        return _load_model_file(path)
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    except RecursionError:
        raise GraphError(f"{path}: malformed JSON (nested too deeply)") from None
    base = os.path.basename(path).split(".")[0]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            graph = Graph.from_json(data, name=data.get("name") if isinstance(data, dict) and data.get("name")
                                    else base, strict=strict)
    except GraphError as exc:
        raise GraphError(f"{path}: {exc}") from None
    for w in caught:  # re-issued naming the file, from the caller's line
        warnings.warn(f"{path}: {w.message}", w.category, stacklevel=2)
    return graph


def save_graph(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` as SPEC JSON (gzip-compressed if the name ends in ``.gz``).

    Parameters
    ----------
    graph
        The graph (:meth:`Graph.to_json` is what is written; :func:`load_graph` reads it back).
    path
        The file to write (replaced if it exists).

    Returns
    -------
    None

    Raises
    ------
    OSError
        When the file cannot be written.

    Examples
    --------
    >>> import os, tempfile, pjpart
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "chain.json")
    >>> save_graph(pjpart.Graph.from_arrays(work=[1, 2], edges=[(0, 1)], name="chain"), path)
    >>> g = load_graph(path)
    >>> g.name, g.work.tolist(), g.edges.tolist()
    ('chain', [1.0, 2.0], [[0, 1]])
    >>> folder.cleanup()
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        json.dump(graph.to_json(), fh)


__all__ = ["load_graph", "save_graph"]
