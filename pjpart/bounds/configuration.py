"""The configuration bound: how many blocks of cost at most ``T`` it takes to cover the graph.

Bottleneck guessing (:mod:`.guess`) refutes a guess ``T`` with the LP of the stage-assignment
problem, which splits a node over stages.  On a layer of parallel experts, or of attention heads,
that LP cuts every stage between two cheap tensors a fraction of an expert apart and pays almost no
traffic: on an 82-node mixture-of-experts layer it refutes only 0.71 of what 7 stages need.  The
configuration LP (the bin-packing relaxation of Gilmore and Gomory) asks instead how many whole
blocks of cost ``<= T`` cover the nodes; a block that holds one and a half experts pays the tensor
its cut sends, so the experts stay whole in the count.

Validity.  Write ``B`` for the convex blocks (a difference ``D2 - D1`` of two downsets, ``D1 ⊆ D2``)
with ``g(B) <= T``, where ``g(B) = work(B) / s_max + (in(B) + out(B)) / beta`` (``s_max`` the
fastest stage, ``beta`` the fastest link; a scalar model has ``s_max = 1``, ``beta`` its bandwidth)
and ``params(B)`` within the largest stage memory limit.  Every stage of a partition of bottleneck
``<= T`` is such a block: a stage is ``D_b - D_{b-1}`` for the downsets ``D_b`` of stages ``0..b``,
and stage ``b`` costs ``work / s_b + in / bi_b + out / bo_b + over_b >= g`` (``s_b <= s_max``, every
link at most ``beta``, overflow ``>= 0``).  So ``k`` such blocks cover ``V``.  Now take any ``pi >= 0``
on the nodes and any ``U`` with ``pi(B) <= U`` for every block ``B`` above.  With ``lambda_B = 1``
on the (non-empty) stages, ``sum_v pi_v <= sum_v pi_v sum_{B ∋ v} lambda_B = sum_B lambda_B pi(B)
<= U k``: if ``sum_v pi_v > U k``, no partition of bottleneck ``<= T`` exists (Farley's bound for
column generation: it holds at every iteration, not only at the LP optimum).

``pi`` comes from the duals of the cover LP over the blocks found so far (``min sum lambda``, every
node covered at least once); ``U`` is the dual bound of the pricing MIP ``max pi(B)`` over the blocks,
so a time limit on the MIP costs strength, never validity.  Pricing model: binaries ``d1, d2`` (two
downsets: ``d[u] >= d[v]`` on every edge ``u -> v``, ``d1 <= d2``), ``x = d2 - d1``, and per producer
``u`` continuous ``y_u >= x_w - x_u`` (``u`` sends into ``B``) and ``z_u >= x_u - x_w`` (``B`` sends
``u``'s tensor out) over its consumers ``w``; the cost row ``work . x / s_max + sizeout . (y + z) /
beta <= T`` (divided by ``T (1 + ROOM)``, so a block of cost exactly ``T`` is inside with room to
spare).  At an integer point ``y_u``, ``z_u`` can be 0 exactly when ``u`` sends nothing, so the row
holds for every block of ``g(B) <= T`` and the MIP's maximum is at least ``max pi(B)``.

Example
-------
A chain ``4 -> 4 -> 4`` (no traffic): blocks of cost 7.9 hold one node, so three are needed and
two stages cannot reach 7.9; at 8 two nodes fit in one block, and two blocks cover the chain:

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[4, 4, 4], edges=[(0, 1), (1, 2)])
>>> cover_bound(g, pjpart.CostModel(), 7.9).blocks > 2, cover_bound(g, pjpart.CostModel(), 8.0).blocks <= 2
(True, True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..cost import CostModel
from ..graph import Graph

#: a guess ``T`` is posed as ``T (1 + ROOM)`` (as in :mod:`.guess`)
ROOM = 1e-5
#: ``U`` is raised by this much, relative, before the test (the MIP's dual bound is a float)
U_SLACK = 1e-6
#: column generation stops after this many pricing rounds
MAX_ROUNDS = 400


@dataclass(frozen=True)
class CoverBound:
    """``blocks``: a proven lower bound on the number of blocks of cost ``<= T`` that cover the graph
    (0 when nothing was proved); ``lp``: the cover LP's last value over the columns found;
    ``rounds``: pricing rounds; ``status``: ``"converged"`` (no column prices above 1: ``blocks`` is
    then the LP optimum, up to the MIP's tolerance), ``"proved"`` (``blocks`` passed ``stop_above``)
    or ``"time"`` (the clock, :data:`MAX_ROUNDS`, or a round that found no new column)."""

    blocks: float
    lp: float
    rounds: int
    status: str


def _relaxed_terms(cost_model: CostModel) -> tuple[float, float, float]:
    """``(s_max, beta, params cap)`` of the relaxed block cost ``g`` (module docstring)."""
    if cost_model.heterogeneous:
        terms = cost_model.stage_terms()
        beta = max(float(cost_model.bandwidth), float(np.max(terms.bandwidth_in)), float(np.max(terms.bandwidth_out)))
        return float(terms.speed.max()), beta, float(terms.memory_limit.max())
    return 1.0, float(cost_model.bandwidth), float(cost_model.memory_limit)


class _Pricing:
    """The pricing MIP's constraint matrix (module docstring), built once per graph and cost model."""

    def __init__(self, graph: Graph, cost_model: CostModel):
        from scipy.sparse import coo_matrix

        n = graph.n
        src, dst = graph.edges[:, 0], graph.edges[:, 1]
        producers = np.unique(src)
        slot = np.full(n, -1)
        slot[producers] = np.arange(len(producers))
        m, P = len(src), len(producers)
        self.n, self.P, self.nv = n, P, 2 * n + 2 * P
        rows, cols, vals = [], [], []

        def put(r, c, v):
            r, c = np.broadcast_arrays(np.atleast_1d(r), np.atleast_1d(c))
            rows.append(r), cols.append(c), vals.append(np.full(r.shape, v))

        e = np.arange(m)
        # d1[u] - d1[w] >= 0 and d2[u] - d2[w] >= 0 on every edge; d2 - d1 >= 0 on every node
        put(e, src, 1.0), put(e, dst, -1.0)
        put(m + e, n + src, 1.0), put(m + e, n + dst, -1.0)
        put(2 * m + np.arange(n), n + np.arange(n), 1.0), put(2 * m + np.arange(n), np.arange(n), -1.0)
        # y_u - x_w + x_u >= 0 and z_u - x_u + x_w >= 0, x = d2 - d1
        base = 2 * m + n
        for r0, y0, sign in ((base, 2 * n, 1.0), (base + m, 2 * n + P, -1.0)):
            put(r0 + e, y0 + slot[src], 1.0)
            put(r0 + e, n + src, sign), put(r0 + e, src, -sign)
            put(r0 + e, n + dst, -sign), put(r0 + e, dst, sign)
        self.rows = base + 2 * m
        self.structure = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                    shape=(self.rows, self.nv)).tocsr()
        s_max, beta, cap = _relaxed_terms(cost_model)
        cost = np.zeros(self.nv)
        cost[n:2 * n] = graph.work / s_max
        cost[:n] = -graph.work / s_max
        cost[2 * n:2 * n + P] = cost[2 * n + P:] = graph.sizeout[producers] / beta
        self.cost = cost
        self.params = None
        if math.isfinite(cap):
            self.params = np.zeros(self.nv)
            self.params[n:2 * n], self.params[:n] = graph.params, -graph.params
            self.cap = cap

    def price(self, pi: np.ndarray, T: float, time_limit: float) -> tuple[np.ndarray, float, float]:
        """``(block, its pi, U)``: the best block found, its value, and an upper bound ``U`` on
        ``max pi(B)`` over the blocks of relaxed cost ``<= T`` (the MIP's dual bound)."""
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import vstack

        n = self.n
        posed = T * (1 + ROOM)
        rows = [self.structure, self.cost[None, :] / (posed if posed > 0 else 1.0)]
        lo = [np.zeros(self.rows), [-np.inf]]
        hi = [np.full(self.rows, np.inf), [1.0 if posed > 0 else 0.0]]
        if self.params is not None:
            rows.append(self.params[None, :] / max(self.cap, 1e-300))
            lo.append([-np.inf]), hi.append([1.0 + ROOM])
        objective = np.zeros(self.nv)
        objective[n:2 * n], objective[:n] = -pi, pi
        integrality = np.zeros(self.nv)
        integrality[:2 * n] = 1
        res = milp(objective, constraints=LinearConstraint(vstack(rows).tocsr(), np.concatenate(lo), np.concatenate(hi)),
                   integrality=integrality, bounds=Bounds(0.0, 1.0),
                   options={"time_limit": max(time_limit, 0.01), "mip_rel_gap": 1e-7, "disp": False})
        dual = getattr(res, "mip_dual_bound", None)
        if res.x is None or dual is None or not math.isfinite(dual):
            return np.zeros(n, dtype=bool), 0.0, math.inf
        block = np.round(res.x[n:2 * n] - res.x[:n]) > 0.5
        return block, float(pi[block].sum()), -float(dual)


def cover_bound(graph: Graph, cost_model: CostModel, T: float, *, stop_above: float = math.inf,
                seconds: float = math.inf) -> CoverBound:
    """A lower bound on the number of blocks of cost ``<= T`` covering ``graph`` (module docstring),
    by column generation until it converges, passes ``stop_above`` or ``seconds`` run out."""
    from scipy.optimize import linprog

    t0 = time.perf_counter()
    n = graph.n
    pricing = _Pricing(graph, cost_model)
    s_max, beta, _ = _relaxed_terms(cost_model)
    # the single nodes that fit are the first columns; every node is covered by a costly
    # artificial column too, so the LP always has duals (they only choose pi: the proof is U's)
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    received = np.bincount(dst, weights=graph.sizeout[src], minlength=n)
    sent = np.where(np.diff(graph.succ_ptr) > 0, graph.sizeout, 0.0)
    alone = graph.work / s_max + (received + sent) / beta
    columns = [np.arange(n) == v for v in np.flatnonzero(alone <= T)]
    best, lp_value, status, rounds = 0.0, math.inf, "time", 0
    penalty = 2.0 * n + 2.0
    while rounds < MAX_ROUNDS:
        left = seconds - (time.perf_counter() - t0)
        if left <= 0:
            break
        A = np.column_stack([np.eye(n)] + ([np.array(columns, dtype=float).T] if columns else []))
        c = np.concatenate([np.full(n, penalty), np.ones(len(columns))])
        lp = linprog(c, A_ub=-A, b_ub=-np.ones(n), bounds=(0, None), method="highs")
        if lp.status != 0:
            break
        lp_value = float(lp.fun)
        pi = np.maximum(0.0, -np.asarray(lp.ineqlin.marginals, dtype=float))
        block, value, U = pricing.price(pi, T, left)
        rounds += 1
        if math.isfinite(U):
            U_safe = max(U, value) * (1 + U_SLACK) + 1e-12
            best = max(best, float(pi.sum()) / U_safe if U_safe > 0 else math.inf)
        if best > stop_above:
            status = "proved"
            break
        if value <= 1.0 + 1e-9 and math.isfinite(U) and U <= 1.0 + 1e-6:
            status = "converged"
            break
        if not block.any() or any(np.array_equal(block, col) for col in columns[-8:]):
            break  # the MIP stopped early on a block the LP already has: no progress
        columns.append(block)
    return CoverBound(best, lp_value, rounds, status)


def configuration_refutes(graph: Graph, k: int, cost_model: CostModel, T: float, seconds: float = math.inf) -> bool:
    """Whether the configuration bound proves that no partition into ``k`` stages has bottleneck
    ``<= T`` (more than ``k`` blocks needed, with a relative ``1e-6`` to spare)."""
    need = k * (1 + 1e-6) + 1e-9
    return cover_bound(graph, cost_model, T, stop_above=need, seconds=seconds).blocks > need


__all__ = ["CoverBound", "configuration_refutes", "cover_bound"]
