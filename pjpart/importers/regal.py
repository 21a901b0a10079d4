"""``load_regal``: TensorFlow ``CostGraphDef`` text protobufs (the REGAL dataset), parsed without TensorFlow.

Fields read per ``node { ... }``: ``name``, ``id``, ``input_info { preceding_node
preceding_port }``, ``output_info { size alias_input_port }`` (one entry per
output port, in port order), ``control_input``, ``compute_cost``,
``persistent_memory_size``; other fields are parsed and ignored.

Mapping (stated, since the formats differ):

* ``work`` = ``compute_cost`` (CostGraphDef's unit: microseconds; ``units.work = "us"``);
* ``params`` = ``persistent_memory_size`` (bytes that stay resident, i.e. weights), 0 if absent;
* a data edge ``p -> v`` for each ``input_info`` of ``v``;
* ``sizeout(p)`` = the sum of ``output_info[q].size`` over the ports ``q`` of ``p``
  that some node reads.  pjpart has one output tensor per node, so a
  multi-output node sends all its read ports to every consuming stage: exact
  when each consumer reads all of them, an over-estimate otherwise.  An output
  that only aliases an input (``alias_input_port >= 0``) is still counted: the
  consumer's stage still needs the bytes;
* ``control_input``: carries no data but **still orders** nodes (the control
  dependency must hold in the pipeline), as an edge.  If a node's only readers
  are control readers its ``sizeout`` is 0, so such edges cost nothing; if it
  also has data readers, its data size is charged for the control reader too
  (the price of one tensor per node).  ``control="drop"`` ignores them instead.

Nodes are identified by ``id`` (``name`` is kept as the node's id string when unique).

Example
-------
>>> from pjpart.importers.regal import parse_textproto
>>> parse_textproto('node { name: "a" id: 0 compute_cost: 5 }')["node"][0]["compute_cost"]
[5]
"""

from __future__ import annotations

import gzip
import re
from dataclasses import replace

import numpy as np

from ..graph import Graph, GraphError

_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([{}:<>\[\],;])|([^\s{}:<>\[\],;"#]+))')


def _tokens(text: str):
    pos = 0
    line = 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                return
            raise GraphError(f"pbtxt line {line}: cannot parse near {text[pos:pos + 30]!r}")
        line += text.count("\n", pos, m.end())
        pos = m.end()
        comment, string, punct, word = m.groups()
        if comment:
            continue
        if string is not None:
            yield ("str", bytes(string[1:-1], "utf-8").decode("unicode_escape"), line)
        elif punct is not None:
            yield ("p", punct, line)
        elif word is not None:
            yield ("w", word, line)


def _value(word: str):
    for conv in (int, float):
        try:
            return conv(word)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(word, word)


def parse_textproto(text: str) -> dict:
    """Text-format protobuf -> nested dicts; every field maps to a list of its values."""
    toks = list(_tokens(text))
    pos = 0

    def message(close: str | None) -> dict:
        nonlocal pos
        out: dict = {}
        while pos < len(toks):
            kind, val, line = toks[pos]
            if kind == "p" and val in ("}", ">"):
                if close is None:
                    raise GraphError(f"pbtxt line {line}: unexpected {val!r}")
                pos += 1
                return out
            if kind == "p" and val in (",", ";"):
                pos += 1
                continue
            if kind != "w":
                raise GraphError(f"pbtxt line {line}: expected a field name, got {val!r}")
            name = val
            pos += 1
            if pos < len(toks) and toks[pos][1] == ":":
                pos += 1
            if pos >= len(toks):
                raise GraphError(f"pbtxt line {line}: field {name!r} has no value")
            kind, val, line = toks[pos]
            if kind == "p" and val in ("{", "<"):
                pos += 1
                out.setdefault(name, []).append(message("}" if val == "{" else ">"))
            elif kind == "str":
                pos += 1
                out.setdefault(name, []).append(val)
            elif kind == "w":
                pos += 1
                out.setdefault(name, []).append(_value(val))
            else:
                raise GraphError(f"pbtxt line {line}: bad value {val!r} for field {name!r}")
        if close is not None:
            raise GraphError("pbtxt: unexpected end of file inside a message")
        return out

    return message(None)


def _one(msg: dict, key: str, default=None):
    vals = msg.get(key)
    return vals[0] if vals else default


def load_regal(path: str, control: str = "order", name: str | None = None) -> Graph:
    """Load a REGAL/TensorFlow ``CostGraphDef`` ``.pbtxt`` (or ``.pbtxt.gz``) as a :class:`~pjpart.Graph`.

    The mapping of the fields is the module docstring's.

    Parameters
    ----------
    path
        The file; gzip-compressed when its name ends in ``.gz``.
    control
        ``"order"``: a ``control_input`` is an edge (it carries no data but still orders
        the nodes); ``"drop"``: control inputs are ignored.
    name
        The graph's name; by default the file name up to its first dot.

    Returns
    -------
    Graph
        Nodes identified by ``name`` when the names are unique, else by ``id``; ``units``
        ``{"work": "us", "params": "B", "sizeout": "B"}``; ``meta`` records ``source``
        (``"regal"``) and ``control``.

    Raises
    ------
    GraphError
        On a bad ``control``, a parse error (naming the line), no ``node`` entries, a missing
        or duplicate ``id``, an unknown preceding node or port, a self-loop, or a negative
        ``compute_cost`` or ``size``.
    OSError
        When the file cannot be read.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "two.pbtxt")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write('''
    ... node { name: "a" id: 0 compute_cost: 5 output_info { size: 8 } }
    ... node { name: "b" id: 1 compute_cost: 3 persistent_memory_size: 16
    ...        input_info { preceding_node: 0 preceding_port: 0 } }
    ... ''')
    >>> g = load_regal(path)
    >>> g.name, g.ids, g.work.tolist(), g.params.tolist(), g.sizeout.tolist(), g.edges.tolist()
    ('two', ('a', 'b'), [5.0, 3.0], [0.0, 16.0], [8.0, 0.0], [[0, 1]])
    >>> folder.cleanup()
    """
    if control not in ("order", "drop"):
        raise GraphError(f"control must be 'order' or 'drop', got {control!r}")
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        data = parse_textproto(fh.read())
    nodes = data.get("node", [])
    if not nodes:
        raise GraphError(f"{path}: no 'node' entries")
    index: dict = {}
    for i, nd in enumerate(nodes):
        nid = _one(nd, "id", i)
        if not isinstance(nid, int):
            raise GraphError(f"node #{i} ({_one(nd, 'name')!r}): field 'id' must be an integer, got {nid!r}")
        if nid in index:
            raise GraphError(f"node #{i} ({_one(nd, 'name')!r}): duplicate id {nid}")
        index[nid] = i
    n = len(nodes)
    work, params, sizeout = np.zeros(n), np.zeros(n), np.zeros(n)
    read_ports: list[set] = [set() for _ in range(n)]
    edges = set()
    for i, nd in enumerate(nodes):
        label = _one(nd, "name", str(_one(nd, "id", i)))
        cost = _one(nd, "compute_cost", 0)
        if not isinstance(cost, (int, float)) or cost < 0:
            raise GraphError(f"node {label!r}: field 'compute_cost' must be a non-negative number, got {cost!r}")
        work[i] = cost
        params[i] = _one(nd, "persistent_memory_size", 0) or 0
        for inp in nd.get("input_info", []):
            src = _one(inp, "preceding_node")
            if src not in index:
                raise GraphError(f"node {label!r}: input_info names unknown preceding_node {src!r}")
            j = index[src]
            port = _one(inp, "preceding_port", 0)
            outs = nodes[j].get("output_info", [])
            if not isinstance(port, int) or not 0 <= port < max(len(outs), 1):
                raise GraphError(f"node {label!r}: preceding_port {port!r} of node {src} does not exist "
                                 f"({len(outs)} output_info entries)")
            read_ports[j].add(port)
            if j != i:
                edges.add((j, i))
            else:
                raise GraphError(f"node {label!r}: reads its own output (self-loop)")
        if control == "order":
            for src in nd.get("control_input", []):
                if src not in index:
                    raise GraphError(f"node {label!r}: control_input names unknown node {src!r}")
                if index[src] == i:
                    raise GraphError(f"node {label!r}: control input on itself (self-loop)")
                edges.add((index[src], i))
    for j, nd in enumerate(nodes):
        outs = nd.get("output_info", [])
        for port in read_ports[j]:
            if outs:
                size = _one(outs[port], "size", 0)
                if not isinstance(size, (int, float)) or size < 0:
                    raise GraphError(f"node {_one(nd, 'name')!r}: output_info[{port}].size must be >= 0, "
                                     f"got {size!r}")
                sizeout[j] += size
    names = [_one(nd, "name") for nd in nodes]
    ids = names if None not in names and len(set(names)) == n else [_one(nd, "id", i) for i, nd in enumerate(nodes)]
    g = Graph.from_arrays(work=work, params=params, sizeout=sizeout, edges=sorted(edges), ids=ids,
                          name=name or str(path).rsplit("/", 1)[-1].split(".")[0],
                          meta={"source": "regal", "control": control})
    return replace(g, units={"work": "us", "params": "B", "sizeout": "B"})
