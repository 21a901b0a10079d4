"""Pricing for the cover LP of :mod:`.configuration`: the relaxed cost of a block, the exact pricing
MIP over a window of the graph (HiGHS through SciPy), and the heuristic pricing over intervals of
topological orders.  The proofs are in :mod:`.configuration`'s docstring.  Every function takes the
scalar problem of :func:`pjpart.cost_model.homogeneous_relaxation`: a block costs
``work + (in + out) / bandwidth``, its weights within ``memory_limit``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..cost import CostModel
from ..graph import Graph

#: a guess ``T`` is posed as ``T (1 + ROOM)`` (as in :mod:`.guess`)
ROOM = 1e-5
#: the orders whose intervals the heuristic pricing tries (a third by Kahn's algorithm on random
#: keys, the rest depth first, which keeps a branch's nodes together)
ORDERS = 24
#: the pool keeps at most this many orders learned from the MIPs' blocks
LEARNED = 40


def block_costs(graph: Graph, cost_model: CostModel, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(g, params)`` of each row of ``blocks`` (``(c, n)`` bool): the relaxed cost and the weight bytes."""
    blocks = np.atleast_2d(np.asarray(blocks, dtype=bool))
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    traffic = np.zeros(len(blocks))
    if len(src):
        # edges are sorted by producer: one segment per producer
        starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
        producers = src[starts]
        into = np.logical_or.reduceat(blocks[:, dst] & ~blocks[:, src], starts, axis=1)
        out = np.logical_or.reduceat(blocks[:, src] & ~blocks[:, dst], starts, axis=1)
        traffic = (into | out).astype(float) @ graph.sizeout[producers]
    return blocks @ graph.work + traffic / cost_model.bandwidth, blocks @ graph.params


class Window:
    """The pricing MIP (:mod:`.configuration`) over the blocks inside a convex node set ``W``.

    Its neighbours outside ``W`` take part as fixed nodes: predecessors in both downsets,
    successors in neither, so a block inside ``W`` pays exactly its traffic ``in(B) + out(B)``.
    """

    def __init__(self, graph: Graph, cost_model: CostModel, nodes: np.ndarray):
        from scipy.sparse import coo_matrix

        inside = np.zeros(graph.n, dtype=bool)
        inside[nodes] = True
        src, dst = graph.edges[:, 0], graph.edges[:, 1]
        touching = inside[src] | inside[dst]
        src, dst = src[touching], dst[touching]
        preds = np.unique(src[~inside[src]])
        succs = np.unique(dst[~inside[dst]])
        self.nodes = np.asarray(nodes, dtype=np.int64)
        keep = np.concatenate([self.nodes, preds, succs])
        local = np.full(graph.n, -1)
        local[keep] = np.arange(len(keep))
        n, w = len(keep), len(self.nodes)
        src, dst = local[src], local[dst]
        producers = np.unique(src)
        slot = np.full(n, -1)
        slot[producers] = np.arange(len(producers))
        m, P = len(src), len(producers)
        self.n, self.w, self.nv = n, w, 2 * n + 2 * P
        rows, cols, vals = [], [], []

        def put(r, c, v):
            r, c = np.broadcast_arrays(np.atleast_1d(r), np.atleast_1d(c))
            rows.append(r), cols.append(c), vals.append(np.full(r.shape, v))

        e = np.arange(m)
        # d1[u] - d1[x] >= 0 and d2[u] - d2[x] >= 0 on every edge; d2 - d1 >= 0 on every node
        put(e, src, 1.0), put(e, dst, -1.0)
        put(m + e, n + src, 1.0), put(m + e, n + dst, -1.0)
        put(2 * m + np.arange(n), n + np.arange(n), 1.0), put(2 * m + np.arange(n), np.arange(n), -1.0)
        # y_u - x_x + x_u >= 0 and z_u - x_u + x_x >= 0, x = d2 - d1
        base = 2 * m + n
        for r0, y0, sign in ((base, 2 * n, 1.0), (base + m, 2 * n + P, -1.0)):
            put(r0 + e, y0 + slot[src], 1.0)
            put(r0 + e, n + src, sign), put(r0 + e, src, -sign)
            put(r0 + e, n + dst, -sign), put(r0 + e, dst, sign)
        self.rows = base + 2 * m
        self.structure = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                    shape=(self.rows, self.nv)).tocsr()
        cap = cost_model.memory_limit
        work = np.where(np.arange(n) < w, graph.work[keep], 0.0)
        cost = np.zeros(self.nv)
        cost[n:2 * n], cost[:n] = work, -work
        cost[2 * n:2 * n + P] = cost[2 * n + P:] = graph.sizeout[keep[producers]] / cost_model.bandwidth
        self.cost = cost
        self.params = None
        if math.isfinite(cap):
            params = np.where(np.arange(n) < w, graph.params[keep], 0.0)
            self.params = np.zeros(self.nv)
            self.params[n:2 * n], self.params[:n] = params, -params
            self.cap = cap
        # the fixed neighbours: predecessors d1 = d2 = 1, successors d1 = d2 = 0
        self.lower, self.upper = np.zeros(self.nv), np.ones(self.nv)
        fixed_in = np.arange(w, w + len(preds))
        self.lower[fixed_in] = self.lower[n + fixed_in] = 1.0
        fixed_out = np.arange(w + len(preds), n)
        self.upper[fixed_out] = self.upper[n + fixed_out] = 0.0

    def price(self, pi: np.ndarray, T: float, time_limit: float) -> tuple[np.ndarray, float, float]:
        """``(block, its pi, U)`` over the blocks inside the window: the best block found (global
        node indices), its value, and an upper bound ``U`` on ``max pi(B)`` over the blocks of relaxed
        cost ``<= T`` (the MIP's dual bound; ``inf`` when it gave none)."""
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import vstack

        n, w = self.n, self.w
        posed = T * (1 + ROOM)
        rows = [self.structure, self.cost[None, :] / (posed if posed > 0 else 1.0)]
        lo = [np.zeros(self.rows), [-np.inf]]
        hi = [np.full(self.rows, np.inf), [1.0 if posed > 0 else 0.0]]
        if self.params is not None:
            rows.append(self.params[None, :] / max(self.cap, 1e-300))
            lo.append([-np.inf]), hi.append([1.0 + ROOM])
        objective = np.zeros(self.nv)
        objective[n:n + w], objective[:w] = -pi[self.nodes], pi[self.nodes]
        integrality = np.zeros(self.nv)
        integrality[:2 * n] = 1
        res = milp(objective, constraints=LinearConstraint(vstack(rows).tocsr(), np.concatenate(lo), np.concatenate(hi)),
                   integrality=integrality, bounds=Bounds(self.lower, self.upper),
                   # no presolve: HiGHS's MIP presolve gave wrong optima on small MIPs (highs_child.run_highs)
                   options={"time_limit": max(time_limit, 0.01), "mip_rel_gap": 1e-7, "disp": False,
                            "presolve": False})
        dual = getattr(res, "mip_dual_bound", None)
        if res.x is None or dual is None or not math.isfinite(dual):
            return np.zeros(0, dtype=np.int64), 0.0, math.inf
        chosen = np.round(res.x[n:n + w] - res.x[:w]) > 0.5
        block = self.nodes[chosen]
        return block, float(pi[block].sum()), -float(dual)


@dataclass
class Intervals:
    """Heuristic pricing: the best intervals of a pool of topological orders (any convex block is an
    interval of some order).  The pool starts with orders that keep branches together and learns,
    per block the MIPs find, an order that lists it whole, so that its neighbours are intervals too.
    Costs are tabled once per order, for the intervals of work at most ``top``; a guess masks them."""

    graph: Graph
    cost_model: CostModel
    top: float
    seed: int = 0
    orders: list = field(default_factory=list)
    costs: list = field(default_factory=list)
    params: list = field(default_factory=list)
    ends: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        n = self.graph.n
        for i in range(ORDERS):
            self.add(self.graph.kahn_order(self.rng.random(n)) if i % 3 == 2 else depth_first_order(self.graph, self.rng))

    def add(self, order: np.ndarray) -> None:
        from ..reference import communication_table

        g, n = self.graph, self.graph.n
        W = np.r_[0.0, np.cumsum(g.work[order])]
        Pm = np.r_[0.0, np.cumsum(g.params[order])]
        # the longest interval of work <= top
        width = int(np.max(np.searchsorted(W, W + self.top * (1 + ROOM), side="right") - np.arange(n + 1)))
        width = max(1, min(width, n))
        table = W[None, :] - W[:, None] + communication_table(g, order) / self.cost_model.bandwidth
        starts = np.arange(n + 1)[:, None]
        ends = np.minimum(starts + np.arange(1, width + 1)[None, :], n)
        valid = starts + np.arange(1, width + 1)[None, :] <= n
        if len(self.orders) >= ORDERS + LEARNED:  # forget the oldest learned order
            for pool in (self.orders, self.costs, self.params, self.ends):
                del pool[ORDERS]
        self.orders.append(order)
        self.ends.append(ends)
        self.costs.append(np.where(valid, table[starts, ends], np.inf))
        self.params.append(np.where(valid, Pm[ends] - Pm[starts], np.inf))

    def learn(self, block: np.ndarray) -> None:
        """Add an order that lists the convex ``block`` whole: its ancestors first, then it, then the
        rest (no node outside a convex block is both above and below it), random within each."""
        g = self.graph
        above = np.zeros(g.n, dtype=bool)
        frontier = np.flatnonzero(block)
        while len(frontier):
            preds = np.unique(np.concatenate([g.predecessors(v) for v in frontier]))
            preds = preds[~above[preds] & ~block[preds]]
            above[preds] = True
            frontier = preds
        keys = np.where(above, 0.0, np.where(block, 1.0, 2.0)) + 0.5 * self.rng.random(g.n)
        self.add(g.kahn_order(keys))

    def columns(self, pi: np.ndarray, T: float, cap: float, count: int) -> list[np.ndarray]:
        """Up to ``count`` distinct blocks of relaxed cost ``<= T`` with ``pi(B) > 1``, best first."""
        n = self.graph.n
        found = []
        for order, cost, params, ends in zip(self.orders, self.costs, self.params, self.ends):
            P = np.r_[0.0, np.cumsum(pi[order])]
            value = np.where((cost <= T * (1 + ROOM)) & (params <= cap * (1 + ROOM)), P[ends] - P[:n + 1, None], -np.inf)
            best = value.max(axis=1)
            for _ in range(3):  # the best interval, then the best beside those taken
                i = int(np.argmax(best))
                if not best[i] > 1 + 1e-9:
                    break
                j = int(np.argmax(value[i]))
                found.append((float(best[i]), order[i:i + j + 1]))
                best[max(0, i - j):i + j + 1] = -np.inf
        found.sort(key=lambda t: -t[0])
        out, seen = [], set()
        for _, nodes in found:
            key = tuple(sorted(nodes.tolist()))
            if key not in seen:
                seen.add(key)
                block = np.zeros(n, dtype=bool)
                block[nodes] = True
                out.append(block)
            if len(out) >= count:
                break
        return out


def _shuffled(nodes: np.ndarray, rng: np.random.Generator) -> list[int]:
    return nodes[rng.permutation(len(nodes))].tolist()


def depth_first_order(graph: Graph, rng: np.random.Generator) -> np.ndarray:
    """A topological order: the reverse postorder of a depth-first search (children in random
    order), which lists each branch of a fork whole."""
    n = graph.n
    seen = np.zeros(n, dtype=bool)
    post = []
    sources = np.flatnonzero(np.diff(graph.pred_ptr) == 0)
    for s in _shuffled(sources, rng):
        seen[s] = True
        stack = [(int(s), iter(_shuffled(graph.successors(s), rng)))]
        while stack:
            v, children = stack[-1]
            for c in children:
                if not seen[c]:
                    seen[c] = True
                    stack.append((c, iter(_shuffled(graph.successors(c), rng))))
                    break
            else:
                stack.pop()
                post.append(v)
    return np.array(post[::-1], dtype=np.int64)



def sliced_cost(graph: Graph, k: int, cost_model: CostModel, orders: int = 4) -> float:
    """The cost of a partition (the best optimal slicing of a few depth-first orders), re-costed
    in float64: the configuration bound's guesses stay below it."""
    from ..banded import slice_exactly
    from ..cost import evaluate

    rng = np.random.default_rng(0)
    return min(float(evaluate(graph, slice_exactly(graph, depth_first_order(graph, rng), k, cost_model), k,
                              cost_model).max()) for _ in range(orders))


__all__ = ["ROOM", "Intervals", "Window", "block_costs", "depth_first_order", "sliced_cost"]
