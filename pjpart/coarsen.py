"""Optimum-preserving coarsening for the search: chains contracted into super-nodes.

An edge ``u -> w`` where ``u`` has no other consumer and ``w`` no other producer is a
link of a chain.  Contracting every such link gives a coarse graph whose nodes are the
maximal chains:

* it is acyclic: a second path from ``u`` to ``w`` would need a second edge out of ``u``;
* its costs are exact: a chain's work and weights are the sums of its members', and of
  its tensors only the last member's can leave the chain (every other member's single
  consumer is the next member), so ``sizeout`` is the last member's.  Any partition of
  the coarse graph, each member in its chain's stage, is a partition of the graph with
  the same stage costs (:meth:`Coarsening.project`);
* so the coarse optimum is at least the graph's (a coarse partition is a restricted
  partition of the graph), never a lower bound for it, and what the coarse search finds
  is a real partition, refined on the graph itself afterwards.

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4, 5], sizeout=[1, 1, 1, 1, 1],
...                              edges=[(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)])
>>> c = contract_chains(g)
>>> c.graph.n, c.members.tolist(), c.graph.work.tolist()
(4, [0, 0, 1, 2, 3], [3.0, 3.0, 4.0, 5.0])
>>> c.project(np.array([0, 0, 1, 1])).tolist()
[0, 0, 0, 1, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import GraphError
from .graph import Graph
from .scopes import common_prefix, execution_order, layer_structure, module_at, module_paths


@dataclass(frozen=True, eq=False)
class Coarsening:
    """A coarse graph and the map from the graph's nodes to its nodes.

    Attributes
    ----------
    graph
        The coarse graph.
    members
        ``(n,)``: the coarse node of each node of the fine graph.
    chain_order
        The fine nodes, coarse node by coarse node, each chain in its own order.
    starts
        ``(n_coarse + 1,)``: coarse node ``c``'s members are ``chain_order[starts[c]:starts[c + 1]]``.
    """

    graph: Graph
    members: np.ndarray
    chain_order: np.ndarray
    starts: np.ndarray

    def project(self, assignment: np.ndarray) -> np.ndarray:
        """The fine assignment: every node in its coarse node's stage (same stage costs)."""
        return np.asarray(assignment, dtype=np.int64)[self.members]

    def project_order(self, order: np.ndarray) -> np.ndarray:
        """A topological order of the fine graph: each coarse node's chain in turn."""
        parts = [self.chain_order[self.starts[c]: self.starts[c + 1]] for c in np.asarray(order).tolist()]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def coarse_order(self, order: np.ndarray) -> np.ndarray:
        """The coarse nodes by the last position of their members in a fine topological
        ``order``: a topological order of the coarse graph when every coarse edge ends at a
        node whose last member comes after the edge's fine source (in-trees, intervals)."""
        last = np.zeros(self.graph.n, dtype=np.int64)
        np.maximum.at(last, self.members[np.asarray(order, dtype=np.int64)], np.arange(len(self.members)))
        return np.argsort(last, kind="stable")

    def then(self, coarser: "Coarsening") -> "Coarsening":
        """This coarsening followed by ``coarser`` (a coarsening of :attr:`graph`), as one."""
        members = coarser.members[self.members]
        counts = np.bincount(members, minlength=coarser.graph.n)
        return Coarsening(coarser.graph, members, self.project_order(coarser.chain_order),
                          np.r_[0, np.cumsum(counts)].astype(np.int64))

    @property
    def ratio(self) -> float:
        """Fine nodes per coarse node."""
        return len(self.members) / self.graph.n


def contract_chains(graph: Graph) -> Coarsening:
    """Contract every chain link (see the module docstring)."""
    n = graph.n
    indeg, outdeg = np.diff(graph.pred_ptr), np.diff(graph.succ_ptr)
    nxt = np.full(n, -1, dtype=np.int64)
    if graph.m:
        u, w = graph.edges[:, 0], graph.edges[:, 1]
        link = (outdeg[u] == 1) & (indeg[w] == 1)
        nxt[u[link]] = w[link]
    has_prev = np.zeros(n, dtype=bool)
    has_prev[nxt[nxt >= 0]] = True
    heads = [v for v in graph.topological_order().tolist() if not has_prev[v]]
    members = np.empty(n, dtype=np.int64)
    chain_order, starts = [], [0]
    for c, v in enumerate(heads):
        while v >= 0:
            members[v] = c
            chain_order.append(v)
            v = int(nxt[v])
        starts.append(len(chain_order))
    chain_order, starts = np.asarray(chain_order, dtype=np.int64), np.asarray(starts, dtype=np.int64)
    count = len(heads)
    work, params = np.zeros(count), np.zeros(count)
    np.add.at(work, members, graph.work)
    np.add.at(params, members, graph.params)
    tails = chain_order[starts[1:] - 1]
    edges = graph.edges[members[graph.edges[:, 0]] != members[graph.edges[:, 1]]] if graph.m else graph.edges
    coarse = Graph.from_arrays(work=work, params=params, sizeout=graph.sizeout[tails],
                               edges=members[edges] if len(edges) else [],
                               ids=[graph.ids[v] for v in heads], name=graph.name, meta=dict(graph.meta))
    return Coarsening(coarse, members, chain_order, starts)


def contract_in_trees(graph: Graph, max_work: float = math.inf, max_params: float = math.inf) -> Coarsening:
    """Every node with a single consumer joined to it, transitively: the coarse nodes are the
    in-trees hanging from the nodes with zero or several consumers (their roots), or, with
    ``max_work`` (and ``max_params``), pieces of them: a node joins its consumer's group while the
    group's work (and weights) stay within them (consumers first), else starts a group of its own
    (its top).

    * Acyclic: a group's only edges out leave its top (every other member's one consumer is
      in the group), and each member reaches the top inside the group; so a cycle of groups
      would be a cycle of the graph;
    * exact: of a group's tensors only the top's is read outside it, so with ``sizeout`` the
      top's (and ``work``, ``params`` the sums) every coarse partition costs on the graph
      what it costs coarse, stage by stage.  Chains (:func:`contract_chains`) are in-trees.

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4, 5], sizeout=[1, 2, 3, 4, 5],
    ...                              edges=[(0, 2), (1, 2), (2, 3), (2, 4)])
    >>> c = contract_in_trees(g)
    >>> c.members.tolist(), c.graph.work.tolist(), c.graph.sizeout.tolist()
    ([0, 0, 0, 1, 2], [6.0, 4.0, 5.0], [3.0, 4.0, 5.0])
    """
    n = graph.n
    outdeg = np.diff(graph.succ_ptr)
    order = graph.topological_order()
    parent = np.full(n, -1, dtype=np.int64)
    single = np.flatnonzero(outdeg == 1)
    parent[single] = graph.succ_idx[graph.succ_ptr[single]]
    root = np.arange(n)
    node_work, node_params = graph.work.astype(np.float64).tolist(), graph.params.astype(np.float64).tolist()
    load, weights = node_work[:], node_params[:]  # a top's group work and weights so far
    for v in order[::-1].tolist():  # consumers first: a parent's top is known
        p = parent[v]
        if p >= 0:
            top = root[p]
            if load[top] + node_work[v] <= max_work and weights[top] + node_params[v] <= max_params:
                root[v] = top
                load[top] += node_work[v]
                weights[top] += node_params[v]
            else:
                parent[v] = -1  # the top of a group of its own
    roots_in_order = order[parent[order] < 0]
    index = np.full(n, -1, dtype=np.int64)
    index[roots_in_order] = np.arange(len(roots_in_order))  # groups numbered in topological order of roots
    group = index[root]
    work, params, _, edges, chain_order, starts = _quotient(graph, group, len(roots_in_order), order)
    coarse = Graph.from_arrays(work=work, params=params, sizeout=graph.sizeout[roots_in_order], edges=edges,
                               ids=[graph.ids[v] for v in roots_in_order.tolist()], name=graph.name,
                               meta=dict(graph.meta))
    return Coarsening(coarse, group, chain_order, starts)


def crossing_traffic(graph: Graph, order: np.ndarray) -> np.ndarray:
    """``(n + 1,)``: at each position ``p`` of ``order``, the bytes of the tensors produced
    before ``p`` and read at or after it (what a stage border there would send)."""
    n = graph.n
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    diff = np.zeros(n + 2)
    if graph.m:
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, graph.edges[:, 0], pos[graph.edges[:, 1]])
        producers = np.flatnonzero(last >= 0)
        np.add.at(diff, pos[producers] + 1, graph.sizeout[producers])
        np.add.at(diff, last[producers] + 1, -graph.sizeout[producers])
    return np.cumsum(diff)[: n + 1]


def interval_cuts(graph: Graph, order: np.ndarray, count: int, keep: np.ndarray | None = None) -> np.ndarray:
    """The positions (in ``1 .. n - 1``) where the intervals of ``order`` start, about
    ``count`` of them: each interval holds about ``1 / count`` of the weight (half work
    share, half node share) and ends, within half an interval of that, where the least
    traffic crosses (:func:`crossing_traffic`: heavy edges stay inside); positions in
    ``keep`` (e.g. a partition's stage borders) are always cuts."""
    n = graph.n
    total = float(graph.work.sum())
    weight = (graph.work[order] / total if total > 0 else 0.0) + 1.0 / n
    W = np.r_[0.0, np.cumsum(weight)]
    step = W[n] / max(1, count)
    traffic = crossing_traffic(graph, order)
    forced = np.zeros(n + 1, dtype=bool)
    if keep is not None:
        forced[np.asarray(keep, dtype=np.int64)] = True
    forced[[0, n]] = True
    forced_at = np.flatnonzero(forced)
    cuts, s = [], 0
    while s < n:
        lo = max(s + 1, int(np.searchsorted(W, W[s] + 0.5 * step)))
        hi = max(lo, min(n, int(np.searchsorted(W, W[s] + 1.5 * step))))
        nxt = forced_at[np.searchsorted(forced_at, s, side="right")]
        p = int(nxt) if nxt <= hi else lo + int(np.argmin(traffic[lo: hi + 1]))
        if p < n:
            cuts.append(p)
        s = p
    return np.asarray(cuts, dtype=np.int64)


def contract_intervals(graph: Graph, order: np.ndarray, cuts: np.ndarray) -> Coarsening:
    """The intervals of a topological ``order`` between ``cuts`` contracted into super-nodes.

    * Acyclic: every edge goes forward in ``order``, so between intervals too;
    * costs: an interval's ``work`` and ``params`` are its members' sums, its ``sizeout`` the
      sum of its members' outputs read outside it (its last member's when none is).  A coarse
      partition's stage costs are then at least the same partition's on ``graph`` (a tensor
      counted once per reading stage there is counted within that sum here), exact when each
      interval sends one tensor: the coarse search optimises an upper bound, and every answer
      is re-priced on the graph (:meth:`Coarsening.project`).

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], sizeout=[1, 2, 4, 0],
    ...                              edges=[(0, 1), (0, 2), (1, 3), (2, 3)])
    >>> c = contract_intervals(g, np.arange(4), np.array([2]))
    >>> c.members.tolist(), c.graph.work.tolist(), c.graph.sizeout.tolist()
    ([0, 0, 1, 1], [3.0, 7.0], [3.0, 0.0])
    """
    order = np.asarray(order, dtype=np.int64)
    starts_at = np.zeros(graph.n, dtype=np.int64)
    starts_at[np.asarray(cuts, dtype=np.int64)] = 1
    group = np.empty(graph.n, dtype=np.int64)
    group[order] = np.cumsum(starts_at)
    count = int(group.max()) + 1 if graph.n else 0
    work, params, sizeout, edges, chain_order, starts = _quotient(graph, group, count, order)
    heads = chain_order[starts[:-1]]
    coarse = Graph.from_arrays(work=work, params=params, sizeout=sizeout, edges=edges,
                               ids=[graph.ids[v] for v in heads.tolist()], name=graph.name,
                               meta=dict(graph.meta, coarsened={"key": "intervals", "nodes": graph.n}))
    return Coarsening(coarse, group, chain_order, starts)


def _quotient(graph: Graph, group: np.ndarray, count: int, order: np.ndarray) -> tuple[np.ndarray, ...]:
    """A grouping's coarse arrays: ``work``, ``params``, ``sizeout`` (the members' outputs
    read outside the group, else the last member's), the edges between groups, and the
    members group by group in ``order`` (``chain_order``, ``starts``)."""
    work, params, sizeout = np.zeros(count), np.zeros(count), np.zeros(count)
    np.add.at(work, group, graph.work)
    np.add.at(params, group, graph.params)
    read_outside = np.zeros(graph.n, dtype=bool)
    edges = np.zeros((0, 2), dtype=np.int64)
    if graph.m:
        gu, gv = group[graph.edges[:, 0]], group[graph.edges[:, 1]]
        cross = gu != gv
        read_outside[graph.edges[cross, 0]] = True
        edges = np.unique(np.stack([gu[cross], gv[cross]], axis=1), axis=0) if cross.any() else edges
    np.add.at(sizeout, group[read_outside], graph.sizeout[read_outside])
    sends = np.zeros(count, dtype=bool)
    sends[group[read_outside]] = True
    position = np.empty(graph.n, dtype=np.int64)
    position[order] = np.arange(graph.n)
    chain_order = np.lexsort((position, group)).astype(np.int64)
    starts = np.searchsorted(group[chain_order], np.arange(count + 1)).astype(np.int64)
    tails = chain_order[starts[1:] - 1]
    sizeout[~sends] = graph.sizeout[tails[~sends]]
    return work, params, sizeout, edges, chain_order, starts


def _group_keys(graph: Graph, key: Any) -> tuple[list, str]:
    """One key per node (``None``: the node stays alone) and a description of the key."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if key < 1:
            raise GraphError(f"coarsen: a module depth must be >= 1, got {key}")
        return [module_at(p, int(key)) for p in module_paths(graph)], f"module depth {int(key)}"
    if isinstance(key, str):
        if key != "layer":
            raise GraphError(f"coarsen: key must be a module depth (an integer >= 1), 'layer', a function of "
                             f"the node id, a dict or a list of keys; got {key!r}")
        return list(layer_structure(graph).units), "layer"
    if callable(key):
        return [key(v) for v in graph.ids], "function"
    if isinstance(key, dict):
        return [key.get(v, key.get(str(v))) for v in graph.ids], "dict"
    keys = list(key)
    if len(keys) != graph.n:
        raise GraphError(f"coarsen: {len(keys)} keys given for {graph.n} nodes")
    return keys, "list"


def _labels(graph: Graph, keys: list, order: np.ndarray, runs: bool) -> tuple[np.ndarray, list]:
    """Group per node (numbered by first appearance in ``order``) and a unique label per group."""
    taken = {str(graph.ids[v]) for v in range(graph.n) if keys[v] is None}
    group = np.empty(graph.n, dtype=np.int64)
    labels: list = []
    index: dict = {}
    count: dict = {}
    last = object()
    for v in order.tolist():
        k = keys[v]
        if k is None:
            group[v] = len(labels)
            labels.append(graph.ids[v])
        elif runs and k == last:
            group[v] = len(labels) - 1
        elif not runs and k in index:
            group[v] = index[k]
        else:
            count[k] = count.get(k, 0) + 1
            label = str(k) if count[k] == 1 else f"{k}#{count[k]}"
            while label in taken:
                count[k] += 1
                label = f"{k}#{count[k]}"
            taken.add(label)
            index[k] = group[v] = len(labels)
            labels.append(label)
        last = k
    return group, labels


def coarsen(graph: Graph, key: Any, runs: bool = True) -> Coarsening:
    """Group the nodes of ``graph`` by a key (a module depth, ``"layer"``, any key) into a coarse DAG.

    So a partition can be found, and expressed, in the units a runtime accepts (modules for
    ``torch.distributed.pipelining``, layers for DeepSpeed, Megatron and vLLM).

    * **Acyclic by construction** (``runs=True``): a group is a *run* of consecutive nodes with
      the same key in the graph's execution order (its node order when topological, as the
      importers write it, else a topological order).  Contracting consecutive intervals of a
      topological order leaves every edge going forward, so the result is a DAG; a key that
      comes back after another is a second node (``"layers.0#2"``).  ``runs=False`` puts all
      nodes of a key in one group and checks the result instead (a cycle is an error).
    * **Costs**: a group's ``work`` and ``params`` are its members' sums; its ``sizeout`` is the
      sum of its members' outputs read outside it (or its last member's when none is).  So a
      coarse partition's stage costs are an upper bound on the same partition's costs on
      ``graph`` (:meth:`Coarsening.project`), exact when each group sends one tensor.
    * **Ids**: a group is named by its key (``"layers.3"``); a node whose key is ``None`` stays
      alone, with its own id.  The coarse nodes keep the common prefix of their members' module
      paths (of those in a module) in ``meta["scopes"]``, so a coarse graph can be coarsened again.

    Parameters
    ----------
    graph
        The graph.
    key
        ``int`` d >= 1: the module at depth d of each node's module path
        (:func:`pjpart.scopes.module_paths`; the importers record them);
        ``"layer"``: each node's layer unit (:func:`pjpart.scopes.layer_structure`: ``embed``,
        ``layers.0``, ..., ``head``); a function ``node id -> key``; a dict ``{node id: key}``
        (nodes it lacks stay alone); or a list of one key per node.
    runs
        Group consecutive runs only (always acyclic), or every node of a key (checked).

    Returns
    -------
    Coarsening
        ``.graph`` (the coarse graph, same name, ``meta["coarsened"]`` saying how), ``.members``
        (the coarse node of every node) and :meth:`Coarsening.project` (a coarse assignment on
        the graph's nodes).

    Raises
    ------
    GraphError
        On a bad key, a depth key on a graph without module paths that mean anything, no layer
        structure (``"layer"``), or (``runs=False``) a grouping that makes a cycle, naming it.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4, 5], sizeout=[8, 8, 8, 8, 0],
    ...     edges=[(0, 1), (1, 2), (2, 3), (1, 3), (3, 4)],
    ...     ids=["embed", "layers.0.attn", "layers.0.mlp", "layers.1.attn", "head"])
    >>> c = coarsen(g, 2)
    >>> c.graph.ids, c.graph.work.tolist(), c.graph.sizeout.tolist(), c.members.tolist()
    (('embed', 'layers.0', 'layers.1', 'head'), [1.0, 5.0, 4.0, 5.0], [8.0, 16.0, 8.0, 0.0], [0, 1, 1, 2, 3])
    >>> coarsen(g, "layer").graph.ids == c.graph.ids
    True
    >>> coarsen(g, lambda v: "a" if v in ("embed", "head") else None, runs=False).graph.n
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: coarsen: grouping by key makes a cycle (graph has a cycle through node 'a': 'a' <- ... <- 'a'); with runs=True the groups are consecutive runs, always acyclic
    """
    keys, what = _group_keys(graph, key)
    order = execution_order(graph)
    group, labels = _labels(graph, keys, order, runs)
    count = len(labels)
    work, params, sizeout, edges, chain_order, starts = _quotient(graph, group, count, order)
    paths = module_paths(graph)
    scopes = {str(labels[c]): list(common_prefix([paths[v] for v in chain_order[starts[c]:starts[c + 1]].tolist()
                                                  if paths[v]]))  # module-less glue does not empty it
              for c in range(count)}
    meta = dict(graph.meta, scopes=scopes, coarsened={"key": what, "runs": runs, "nodes": graph.n})
    try:
        coarse = Graph.from_arrays(work=work, params=params, sizeout=sizeout, edges=edges, ids=labels,
                                   name=graph.name, meta=meta)
    except GraphError as exc:
        raise GraphError(f"coarsen: grouping by key makes a cycle ({exc}); with runs=True the groups are "
                         f"consecutive runs, always acyclic") from None
    return Coarsening(coarse, group, chain_order, starts)


def at_module_depth(graph: Graph, depth: int) -> Graph:
    """An importer's module granularity: ``graph`` grouped by module at ``depth``
    (:func:`coarsen`), recorded in its ``meta``."""
    coarse = coarsen(graph, depth).graph
    coarse.meta.update(granularity="module", depth=depth)
    return coarse


__all__ = ["Coarsening", "at_module_depth", "coarsen", "contract_chains", "contract_in_trees", "contract_intervals",
           "crossing_traffic", "interval_cuts"]
