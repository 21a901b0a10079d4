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

from dataclasses import dataclass

import numpy as np

from .graph import Graph


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


__all__ = ["Coarsening", "contract_chains"]
