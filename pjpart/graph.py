"""The computation graph: node ids, per-node costs, edges, validation and I/O.

A :class:`Graph` is immutable plain data: ``ids`` (node ids in the graph's node
order), float64 arrays ``work``, ``params`` and ``sizeout`` in that order, the
``edges`` as an ``(m, 2)`` int array of node indices, and CSR adjacency for fast
code.  Every constructor validates its input and raises :class:`GraphError`
naming the node, edge or field at fault; nothing is repaired or dropped, with
one documented exception: parallel edges ``(u, v)`` given twice are merged into
one, because the cost model counts each producer once per block anyway, so a
duplicate edge carries no extra meaning.

Node ids must be unique *as strings* (``1`` and ``"1"`` are the same key in a JSON
result), and each field's total over the graph must be finite in float64.  A JSON
node field outside :data:`NODE_FIELDS` (a typo such as ``wrk``) is ignored with a
``UserWarning`` naming it and the first node that has it, or rejected with
``strict=True``.

Example
-------
>>> from pjpart import Graph
>>> g = Graph.from_arrays(work=[1.0, 2.0, 3.0], edges=[(0, 1), (1, 2)])
>>> g.n, g.m, g.topological_order().tolist()
(3, 2, [0, 1, 2])
"""

from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import GraphError

FIELDS = ("work", "params", "sizeout")

#: the fields a JSON node may carry (SPEC section 4).  Neither the importers (they build
#: graphs with :meth:`Graph.from_arrays`) nor the bundled files (``pjpart/data``) write
#: any other; an unknown one is warned about (``strict``: rejected) by :meth:`Graph.from_json`.
NODE_FIELDS = ("id",) + FIELDS


def _check_number(value: Any, what: str) -> float:
    """Return ``value`` as a non-negative finite float or raise naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise GraphError(f"{what} must be a number, got {value!r}")
    try:
        x = float(value)
    except OverflowError:  # an integer beyond float64
        raise GraphError(f"{what} is too large for float64 (an integer of {len(str(value))} digits)") from None
    if math.isnan(x):
        raise GraphError(f"{what} is NaN")
    if math.isinf(x):
        raise GraphError(f"{what} is infinite")
    if x < 0:
        raise GraphError(f"{what} is negative ({x!r})")
    return x


def check_k(k: Any) -> int:
    """Validate a stage count: an integer >= 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise GraphError(f"k must be an integer >= 1, got {k!r}")
    if int(k) < 1:
        raise GraphError(f"k must be >= 1, got {k}")
    return int(k)


def _check_unique(seen: dict, v: Any, i: int, ids: Sequence) -> None:
    """Record id ``v`` of node ``#i`` in ``seen`` (keyed by ``str(v)``), raising on a duplicate:
    ids equal as strings (``1`` and ``"1"``) would be one key of a JSON result."""
    key = str(v)
    if key in seen:
        j = seen[key]
        if ids[j] == v:
            raise GraphError(f"duplicate node id {v!r} (nodes #{j} and #{i})")
        raise GraphError(f"duplicate node id: node #{j} (id {ids[j]!r}) and node #{i} (id {v!r}) are equal as "
                         f"strings (ids must differ as strings: results key nodes by str(id))")
    seen[key] = i


def _csr(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of the adjacency src -> dst, neighbours sorted."""
    order = np.lexsort((dst, src))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, src + 1, 1)
    np.cumsum(indptr, out=indptr)
    return indptr, dst[order].astype(np.int64)


@dataclass(frozen=True, eq=False)
class Graph:
    """A validated DAG of ops with ``work``, ``params`` and ``sizeout`` per node.

    Build one with :meth:`from_arrays`, :meth:`from_json`, :meth:`from_networkx`
    or :func:`pjpart.load_graph`; the plain constructor expects already-clean data and
    still validates it.

    Attributes
    ----------
    ids : tuple
        Node ids (strings or integers, unique as strings) in the graph's node order.
    work, params, sizeout : numpy.ndarray
        Per-node float64 costs in that order, read-only: time, weight bytes, output bytes
        (units in ``units``).  Non-negative and finite, with a finite total.
    edges : numpy.ndarray
        ``(m, 2)`` int64 node indices ``(u, v)``, sorted, parallel edges merged; read-only.
    name : str
        The graph's name (default ``"graph"``).
    units : dict
        The unit of each field (default ``{"work": "s", "params": "B", "sizeout": "B"}``).
    meta : dict
        Other top-level JSON fields, kept for round trips (e.g. ``source``, ``cost_model``:
        the hardware parameters the graph's exporter recommends; see :func:`pjpart.cost_model_for`).
    succ_ptr, succ_idx, pred_ptr, pred_idx : numpy.ndarray
        CSR adjacency (successors, predecessors), derived; see :meth:`successors` and
        :meth:`predecessors`.
    n, m : int
        Number of nodes and of edges (properties).

    Raises
    ------
    GraphError
        Naming the node, edge or field at fault: no nodes, a duplicate or bad id, a field of
        the wrong shape or with a negative, NaN or infinite value, an edge outside the graph,
        a self-loop or a cycle.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3], params=[0, 8, 0], sizeout=[4, 4, 1],
    ...                              edges=[(0, 1), (0, 2), (1, 2), (1, 2)], ids=["in", "conv", "out"],
    ...                              name="toy")
    >>> g, g.edges.tolist(), g.successors(0).tolist(), g.index("conv")   # (1, 2) given twice: merged
    (Graph(name='toy', n=3, m=3), [[0, 1], [0, 2], [1, 2]], [1, 2], 1)
    >>> pjpart.Graph.from_arrays(work=[1, 2], edges=[(0, 1), (1, 0)])
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: graph has a cycle through node 0: 0 <- 1 <- 0
    """

    ids: tuple
    work: np.ndarray
    params: np.ndarray
    sizeout: np.ndarray
    edges: np.ndarray
    name: str = "graph"
    units: dict = field(default_factory=lambda: {"work": "s", "params": "B", "sizeout": "B"})
    #: other top-level JSON fields, kept for round trips (e.g. ``source``, ``cost_model``:
    #: the hardware parameters the graph's exporter recommends; see :func:`pjpart.cost_model_for`)
    meta: dict = field(default_factory=dict)
    # derived, filled in __post_init__
    succ_ptr: np.ndarray = field(init=False, repr=False)
    succ_idx: np.ndarray = field(init=False, repr=False)
    pred_ptr: np.ndarray = field(init=False, repr=False)
    pred_idx: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if n == 0:
            raise GraphError("graph has no nodes")
        seen: dict = {}
        for i, v in enumerate(self.ids):
            if isinstance(v, bool) or not isinstance(v, (str, int, np.integer)):
                raise GraphError(f"node id {v!r} (node #{i}) must be a string or an integer")
            _check_unique(seen, v, i, self.ids)
        arrays = {}
        for name in FIELDS:
            raw = np.asarray(getattr(self, name))
            if raw.shape != (n,):
                raise GraphError(f"field {name!r} has shape {raw.shape}, expected ({n},)")
            if raw.dtype.kind not in "biuf":
                for i, x in enumerate(raw.tolist()):
                    _check_number(x, f"field {name!r} of node {self.ids[i]!r}")
            arr = raw.astype(np.float64)
            bad = ~np.isfinite(arr) | (arr < 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                _check_number(arr[i], f"field {name!r} of node {self.ids[i]!r}")
            with np.errstate(over="ignore"):
                total = float(arr.sum())
            if not math.isfinite(total):
                raise GraphError(f"field {name!r} sums to infinity over the graph's nodes "
                                 f"(values too large for float64; the largest is {arr.max():g})")
            arr = arr.copy()
            arr.setflags(write=False)
            arrays[name] = arr
        edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2) if len(self.edges) else np.zeros((0, 2), np.int64)
        for e, (u, v) in enumerate(edges.tolist()):
            if not (0 <= u < n and 0 <= v < n):
                raise GraphError(f"edge #{e} ({u}, {v}) refers to a node index outside 0..{n - 1}")
            if u == v:
                raise GraphError(f"self-loop on node {self.ids[u]!r} (edge #{e})")
        if len(edges):
            edges = np.unique(edges, axis=0)  # merge parallel edges (documented)
        edges.setflags(write=False)
        for name, arr in arrays.items():
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "ids", tuple(v.item() if isinstance(v, np.integer) else v for v in self.ids))
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "units", dict(self.units))
        object.__setattr__(self, "meta", dict(self.meta))
        sp, si = _csr(n, edges[:, 0], edges[:, 1])
        pp, pi = _csr(n, edges[:, 1], edges[:, 0])
        for name, arr in (("succ_ptr", sp), ("succ_idx", si), ("pred_ptr", pp), ("pred_idx", pi)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        self._check_acyclic()

    # ------------------------------------------------------------------ basics
    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def m(self) -> int:
        return int(self.edges.shape[0])

    def successors(self, v: int) -> np.ndarray:
        return self.succ_idx[self.succ_ptr[v] : self.succ_ptr[v + 1]]

    def predecessors(self, v: int) -> np.ndarray:
        return self.pred_idx[self.pred_ptr[v] : self.pred_ptr[v + 1]]

    def index(self, node_id: Any) -> int:
        """Index of ``node_id`` in the node order."""
        try:
            return self._index_map()[node_id]
        except KeyError:
            raise GraphError(f"unknown node {node_id!r}") from None

    def _index_map(self) -> dict:
        cache = self.__dict__.get("_idmap")
        if cache is None:
            cache = {v: i for i, v in enumerate(self.ids)}
            object.__setattr__(self, "_idmap", cache)
        return cache

    def depths(self) -> np.ndarray:
        """Each node's depth: the edges on the longest path to it from a source."""
        depth = np.zeros(self.n, dtype=np.int64)
        for v in self.topological_order().tolist():
            preds = self.predecessors(v)
            if len(preds):
                depth[v] = depth[preds].max() + 1
        return depth

    def topological_order(self) -> np.ndarray:
        """Kahn's order taking the smallest node index first among ready nodes."""
        return self.kahn_order()

    def kahn_order(self, keys: Any = None, widest: bool = False) -> Any:
        """Kahn's algorithm with a heap: among ready nodes the smallest key first, ties by
        index (no ``keys``: by index).  Nodes on a cycle are left out of the order.

        Parameters
        ----------
        keys
            ``(n,)`` priorities, or ``None`` for the node indices.
        widest
            Also return the largest ready set met (sizes the device decoder's ready list).

        Returns
        -------
        numpy.ndarray or (numpy.ndarray, int)
            The order (int64), and with ``widest`` the largest ready set.

        Examples
        --------
        >>> g = Graph.from_arrays(work=[1, 1, 1], edges=[(0, 2), (1, 2)])
        >>> g.kahn_order([0.9, 0.1, 0.5]).tolist(), g.kahn_order(widest=True)[1]
        ([1, 0, 2], 2)
        """
        priority = range(self.n) if keys is None else np.asarray(keys, dtype=np.float64).tolist()
        indeg = np.diff(self.pred_ptr).tolist()
        heap = [(priority[v], v) for v in range(self.n) if indeg[v] == 0]
        heapq.heapify(heap)
        sp, si = self.succ_ptr.tolist(), self.succ_idx.tolist()
        out = []
        most = len(heap)
        while heap:
            _, v = heapq.heappop(heap)
            out.append(v)
            for w in si[sp[v] : sp[v + 1]]:
                indeg[w] -= 1
                if indeg[w] == 0:
                    heapq.heappush(heap, (priority[w], w))
            if widest and len(heap) > most:
                most = len(heap)
        order = np.asarray(out, dtype=np.int64)
        return (order, most) if widest else order

    def _check_acyclic(self) -> None:
        order = self.topological_order()
        if len(order) == self.n:
            return
        # Every node left over has a left-over predecessor; walking predecessors
        # must revisit a node, and that node lies on a cycle.
        left = np.ones(self.n, dtype=bool)
        left[order] = False
        v = int(np.flatnonzero(left)[0])
        path: dict[int, int] = {}
        while v not in path:
            path[v] = len(path)
            v = next(int(u) for u in self.predecessors(v) if left[u])
        cycle = [u for u, pos in sorted(path.items(), key=lambda t: t[1]) if pos >= path[v]]
        names = " <- ".join(repr(self.ids[u]) for u in cycle + [cycle[0]])
        raise GraphError(f"graph has a cycle through node {self.ids[v]!r}: {names}")

    def __repr__(self) -> str:
        return f"Graph(name={self.name!r}, n={self.n}, m={self.m})"

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        work: Sequence[float],
        edges: Iterable[Sequence[int]] = (),
        params: Sequence[float] | None = None,
        sizeout: Sequence[float] | None = None,
        ids: Sequence | None = None,
        name: str = "graph",
        meta: dict | None = None,
    ) -> "Graph":
        """Graph from per-node arrays and an edge list of node *indices*."""
        work = np.asarray(work)
        n = work.shape[0] if work.ndim == 1 else -1
        if n < 0:
            raise GraphError(f"field 'work' must be one-dimensional, got shape {work.shape}")
        params = np.zeros(n) if params is None else params
        sizeout = np.zeros(n) if sizeout is None else sizeout
        ids = tuple(range(n)) if ids is None else tuple(ids)
        if len(ids) != n:
            raise GraphError(f"{len(ids)} ids given for {n} nodes")
        edge_list = [tuple(e) for e in edges]
        for e, pair in enumerate(edge_list):
            if len(pair) != 2:
                raise GraphError(f"edge #{e} {pair!r} must have two endpoints")
            for x in pair:
                if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
                    raise GraphError(f"edge #{e} {pair!r}: endpoints must be node indices")
        return cls(ids=ids, work=work, params=params, sizeout=sizeout,
                   edges=np.asarray(edge_list, dtype=np.int64).reshape(-1, 2), name=name, meta=dict(meta or {}))

    @classmethod
    def from_json(cls, data: Any, name: str | None = None, strict: bool = False) -> "Graph":
        """Graph from the SPEC JSON object (already parsed).

        A node field outside :data:`NODE_FIELDS` is ignored with a ``UserWarning``
        (once per field, naming the first node that has it); with ``strict`` it raises
        :class:`GraphError`.
        """
        if not isinstance(data, dict):
            raise GraphError("graph JSON must be an object with 'nodes' and 'edges'")
        for key in ("nodes", "edges"):
            if key not in data:
                raise GraphError(f"graph JSON is missing the field {key!r}")
            if not isinstance(data[key], list):
                raise GraphError(f"graph JSON field {key!r} must be a list")
        ids, cols = [], {f: [] for f in FIELDS}
        unknown: dict = {}  # field -> id of the first node that has it
        for i, node in enumerate(data["nodes"]):
            if not isinstance(node, dict) or "id" not in node:
                raise GraphError(f"node #{i} must be an object with an 'id'")
            nid = node["id"]
            if isinstance(nid, bool) or not isinstance(nid, (str, int)):
                raise GraphError(f"node #{i}: id {nid!r} must be a string or an integer")
            ids.append(nid)
            for f in FIELDS:
                cols[f].append(_check_number(node.get(f, 0), f"field {f!r} of node {nid!r}"))
            for key in node:
                if key not in NODE_FIELDS and key not in unknown:
                    unknown[key] = nid
        for key, nid in unknown.items():
            msg = (f"unknown node field {key!r} (first on node {nid!r}); known fields: "
                   f"{', '.join(NODE_FIELDS)}")
            if strict:
                raise GraphError(msg)
            warnings.warn(msg + "; it is ignored", UserWarning, stacklevel=2)
        index: dict = {}
        seen: dict = {}
        for i, nid in enumerate(ids):
            _check_unique(seen, nid, i, ids)
            index[nid] = i
        edges = []
        for e, pair in enumerate(data["edges"]):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise GraphError(f"edge #{e} {pair!r} must be a pair [source, target]")
            for end in pair:
                if isinstance(end, bool) or not isinstance(end, (str, int)) or end not in index:
                    raise GraphError(f"edge #{e} {list(pair)!r} refers to unknown node {end!r}")
            u, v = index[pair[0]], index[pair[1]]
            if u == v:
                raise GraphError(f"self-loop on node {pair[0]!r} (edge #{e})")
            edges.append((u, v))
        units = data.get("units") or {"work": "s", "params": "B", "sizeout": "B"}
        if not isinstance(units, dict) or not all(isinstance(u, str) for u in units.values()):
            raise GraphError(f"graph JSON field 'units' must be an object of unit names such as "
                             f"{{\"work\": \"s\", \"params\": \"B\", \"sizeout\": \"B\"}}, got {units!r}")
        meta = {key: val for key, val in data.items() if key not in ("name", "units", "nodes", "edges")}
        return cls(ids=tuple(ids), work=np.asarray(cols["work"]), params=np.asarray(cols["params"]),
                   sizeout=np.asarray(cols["sizeout"]), edges=np.asarray(edges, dtype=np.int64).reshape(-1, 2),
                   name=str(name or data.get("name") or "graph"), units=units, meta=meta)

    @classmethod
    def from_networkx(cls, nxg: Any, name: str | None = None) -> "Graph":
        """Graph from a ``networkx.DiGraph`` whose nodes carry work/params/sizeout attributes."""
        import networkx as nx

        if not isinstance(nxg, nx.DiGraph) or isinstance(nxg, nx.MultiDiGraph):
            raise GraphError("from_networkx needs a networkx.DiGraph")
        nodes = [{"id": v, **{f: attrs.get(f, 0) for f in FIELDS}} for v, attrs in nxg.nodes(data=True)]
        edges = [[u, v] for u, v in nxg.edges()]
        return cls.from_json({"nodes": nodes, "edges": edges,
                              "name": name or nxg.graph.get("name") or "graph"})

    # ----------------------------------------------------------------- export
    def to_json(self) -> dict:
        """The SPEC JSON object (round-trips through :meth:`from_json`)."""
        nodes = [{"id": nid, "work": float(w), "params": float(p), "sizeout": float(s)}
                 for nid, w, p, s in zip(self.ids, self.work, self.params, self.sizeout)]
        edges = [[self.ids[u], self.ids[v]] for u, v in self.edges.tolist()]
        return {"name": self.name, "units": dict(self.units), **self.meta, "nodes": nodes, "edges": edges}

    def to_networkx(self) -> Any:
        import networkx as nx

        g = nx.DiGraph(name=self.name)
        for nid, w, p, s in zip(self.ids, self.work, self.params, self.sizeout):
            g.add_node(nid, work=float(w), params=float(p), sizeout=float(s))
        g.add_edges_from((self.ids[u], self.ids[v]) for u, v in self.edges.tolist())
        return g
