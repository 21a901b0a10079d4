"""The spine bound: stages along a heaviest path, each priced by minimum cuts, joined by a DP.

Where it wins.  A wide multi-branch net (NASNet) has no clean cut node: every cell reads the two
cells before it, so :mod:`.chain` and :mod:`.configuration` find no groups in series, and the stage
LP of :mod:`.guess` spreads each stage boundary over many nodes at a fraction of its traffic.  Every
stage, though, pays to receive the tensors that cross into it and to send those that leave it, and
a stage that holds part of a heaviest path cannot start or end just anywhere.

Validity.  Work on the scalar problem of :func:`pjpart.cost.homogeneous_relaxation` (its optimum is
at most the graph's).  A stage ``S`` costs ``f(S) >= work(S) + comm(S)``, ``comm`` being what it
receives and sends, each producer once per direction; overflow is dropped, which only lowers ``f``.
Take a path ``p_0 -> ... -> p_{r-1}`` and a partition ``S_1, ..., S_k`` of bottleneck ``<= T``.

1. **Hops.**  Stages do not decrease along the path, so stage ``b`` holds a run ``p_a..p_{c-1}`` of
   it, ``a`` and ``c`` being the path nodes the stages before it and up to it hold
   (``0 = a_0 <= a_1 <= ... <= a_k = r``).  A stage holding a run, a *hop* ``(a, c)``, ``a < c``,
   lies in the family ``F(a, c)`` of sets that hold every node between ``p_a`` and ``p_{c-1}``
   (descendants of the one, ancestors of the other: the stage is convex), and none of the
   ancestors of ``p_{a-1}`` nor of the descendants of ``p_c`` (on earlier and later stages).  A
   stage holding none, ``a = c``, lies in ``F(a, a)``: the sets with none of the ancestors of
   ``p_{a-1}`` (held before) nor of the descendants of ``p_a`` (held after).
2. **A stage's work.**  For ``S`` in a family ``F`` with ``f(S) <= T`` and any ``nu`` in ``(0, 1]``:
   ``nu (work(S) + comm(S)) <= nu T``, so ``work(S) <= nu T - m_nu(F)`` with ``m_nu(F) = min_{S' in
   F} nu comm(S') - (1 - nu) work(S')``.  So ``work(S) <= cap(F, T) = min_nu nu T - m_nu(F)`` over
   any ``nu`` computed.  And ``f(S) >= L(F) = min_{S' in F} work(S') + comm(S')``, which is at least
   ``work(I) + m_1(F)`` (``I`` the nodes ``F`` holds by force): a hop with a lower bound on ``L``
   above ``T`` is none of the partition's.
3. **Counting.**  The stages hold all the work: ``work(V) = sum_b work(S_b) <= sum_b cap(F(a_{b-1},
   a_b), T)``.  So when the largest right side over the sequences of ``k`` steps from ``0`` to ``r``
   whose hops are allowed (a DP over ``(stages, a)``) is below ``work(V)``, no partition has
   bottleneck ``<= T``: ``T* > T``.  Every ``cap`` grows with ``T`` and fewer hops have ``L > T``,
   so a bisection finds the largest such ``T`` it can.  Partial sums too: the stages up to ``b`` hold
   the ancestors of ``p_{a_b - 1}``, those after it the descendants of ``p_{a_b}``, so a DP state
   whose largest sum of caps so far (from the start, or from the end) is below that work stands
   for no partition and is dropped.
4. **Minimum cuts.**  Over arbitrary sets (not only convex ones: a relaxation), ``min_{S in F} comm(S)
   - sum_{v in S} lambda_v`` (``lambda >= 0``) is a minimum s-t cut, source side ``S``: the
   communication helpers of :mod:`.mincut`, ``s -> v`` infinite for the nodes held by force and of
   capacity ``lambda_v`` for the others (paid when ``v`` is left out), ``v -> t`` infinite for the
   nodes kept out, and, for ``L``, ``v -> t`` of capacity ``work(v)``; less ``sum lambda`` over the
   nodes not kept out.  ``m_nu = nu`` times that with ``lambda = (1 - nu) / nu work``.  Capacities
   are scaled to integers and rounded down, which only lowers each cut, so each ``m`` and ``L``
   only falls and each ``cap`` only rises: the bound stays valid.

Lazily.  The path is a heaviest one (by work), thinned to :data:`MAX_ANCHORS` nodes (a subsequence
of a path is a path).  Every ``F(a, a)`` is priced at every ``nu``; ``m_1`` for every hop whose
forced work fits the known partition's cost; the other ``nu`` and the exact ``L`` only for the hops
of the DP's best sequence at the lowest guess not refuted, and so on until that guess is refuted
(then the bisection goes on above it) or its sequence's hops are all priced, or time runs out.  A
hop with ``m_1`` alone counts with ``cap = T - m_1``, one not priced at all (or a stage off the path
not priced yet: the budget stops each loop) with ``T``; both are valid (``nu = 1``; ``comm >= 0``).

Exact caps.  Where the Lagrangian cap lies far above what a family's sets achieve (a stem whose
tensors cost several times its work), :mod:`.spine_caps` prices a hop by a MIP: the largest work of
a set of the family at cost ``<= T``, which bounds every ``T' <= T`` too.  Once the bisection above
ends, guesses from its bound upward (by steps doubled while refuted, then bisected) are asked with
every hop of the DP's best sequence so priced, hops of more than
:data:`.spine_caps.MAX_FREE_NODES` free nodes left to the Lagrangian cap, each MIP within
:data:`MIP_SECONDS` (its dual bound counts when it runs out), until the budget stops them; and only
with :data:`MIP_MIN_SECONDS` left.

Example
-------
A chain ``4 -> 4 -> 4 -> 4`` whose tensors cost 1 each: two stages must cut it, and each side of
the cut pays 1, so ``T* >= (16 + 2) / 2 = 9``; the optimum is 9.

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[4, 4, 4, 4], sizeout=[1, 1, 1, 0], edges=[(0, 1), (1, 2), (2, 3)])
>>> round(spine_bound(g, 2, pjpart.CostModel(), upper=9.5).value, 5)
9.0
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..budget import Budget
from ..cost import CostModel, homogeneous_relaxation
from ..graph import Graph
from .highs_child import HighsChild
from .mincut import INF, _network
from .spine_caps import MAX_FREE_NODES, HopCaps, exact_cap

#: the path is thinned to at most this many anchors (every few nodes: a subsequence of a path is one)
MAX_ANCHORS = 120
#: the method runs from this many stages: at two, guess's windows are tight and want all the time
MIN_STAGES = 4
#: the ``nu`` of item 2, largest first: 1 prices the communication alone (all >= 1/2: the rewards then
#: sum to at most the work, and the cuts' finite capacities stay within those of :mod:`.mincut`)
NUS = (1.0, 0.9, 0.8, 0.7, 0.6)
#: bisection steps at most, and the relative width at which one stops: while pricing, and at the end
BISECT_STEPS, PRICING_WIDTH, FINAL_WIDTH = 40, 1e-3, 1e-7
#: exact caps (:mod:`.spine_caps`): each MIP's time limit, the first step above the Lagrangian bound
#: (doubled while guesses are refuted), and the relative width at which the search stops
MIP_SECONDS, MIP_STEP, MIP_WIDTH = 2.0, 4e-3, 2e-3
#: the MIPs start only with this many seconds left: each guess asks for tens of them, and a short run's
#: search wants the cores more
MIP_MIN_SECONDS = 15.0


def heaviest_path(graph: Graph) -> np.ndarray:
    """A path of largest work from a source to a sink (node indices, in order)."""
    topo = graph.topological_order()
    below = graph.work.astype(np.float64).copy()  # heaviest work from each node down
    nxt = np.full(graph.n, -1)
    for v in topo[::-1].tolist():
        succ = graph.successors(v)
        if len(succ):
            j = int(succ[np.argmax(below[succ])])
            below[v] += below[j]
            nxt[v] = j
    sources = np.diff(graph.pred_ptr) == 0
    v, path = int(np.argmax(np.where(sources, below, -np.inf))), []
    while v >= 0:
        path.append(v)
        v = int(nxt[v])
    return np.array(path, dtype=np.int64)


class _Cuts:
    """The cut network of item 4, built once: per cut only the terminal capacities change."""

    def __init__(self, graph: Graph, cm: CostModel, path: np.ndarray) -> None:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import breadth_first_order

        n = graph.n
        # mincut's network (its node -> t arcs set per cut here), and an arc s -> v for every node
        tails, heads, caps, self.size, self.scale = _network(graph, cm)
        s, t = self.size - 2, self.size - 1
        tails, heads = np.concatenate([tails, np.full(n, s)]), np.concatenate([heads, np.arange(n)])
        caps = np.concatenate([caps, np.zeros(n, dtype=np.int64)])
        m = csr_matrix((caps.astype(np.int32), (tails, heads)), shape=(self.size, self.size))
        m.sum_duplicates()
        self.matrix = m
        self.fixed = m.data.copy()
        self.slot_in = m.indptr[s] + np.searchsorted(m.indices[m.indptr[s]:m.indptr[s + 1]], np.arange(n))
        self.slot_out = np.array([m.indptr[v] + np.searchsorted(m.indices[m.indptr[v]:m.indptr[v + 1]], t)
                                  for v in range(n)], dtype=np.int64)
        self.work = graph.work.astype(np.float64)
        self.n, self.path = n, path
        self.desc, self.anc = (np.zeros((len(path), n), dtype=bool) for _ in range(2))
        for reach, ptr, idx in ((self.desc, graph.succ_ptr, graph.succ_idx),
                                (self.anc, graph.pred_ptr, graph.pred_idx)):
            arcs = csr_matrix((np.ones(len(idx), dtype=np.int8), idx, ptr), shape=(n, n))
            for row, v in zip(reach, path.tolist()):  # each anchor's descendants (ancestors), itself included
                row[breadth_first_order(arcs, v, directed=True, return_predecessors=False)] = True

    def forced(self, hop: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """``(inside, out)`` masks of item 1 for a hop ``(a, b)``, or for ``F_0(a)`` (``b = a``)."""
        r, a, b = len(self.path), hop[0], hop[1]
        out = (self.anc[a - 1] if a > 0 else np.zeros(self.n, dtype=bool)) | \
            (self.desc[b] if b < r else np.zeros(self.n, dtype=bool))
        if a == b:
            return np.zeros(self.n, dtype=bool), out
        return self.desc[a] & self.anc[b - 1], out

    def value(self, hop: tuple[int, int], nu: float | None) -> float:
        """``m_nu`` of the hop's family (item 2), or ``L`` when ``nu`` is None, rounded down."""
        from scipy.sparse.csgraph import maximum_flow

        inside, out = self.forced(hop)
        free = ~inside & ~out
        reward = np.zeros(self.n) if nu is None else (1 - nu) / nu * self.work
        data = self.fixed.copy()
        data[self.slot_in] = np.where(inside, INF, np.where(free, np.floor(reward * self.scale), 0))
        data[self.slot_out] = np.where(out, INF, 0 if nu is not None else np.floor(self.work * self.scale))
        self.matrix.data = data.astype(np.int32)
        cut = maximum_flow(self.matrix, self.size - 2, self.size - 1).flow_value / self.scale
        if nu is None:
            return cut
        return nu * (cut - float(reward[free].sum() + reward[inside].sum()))


@dataclass(frozen=True)
class SpineBound:
    """The outcome: ``value`` (0: nothing refuted), ``status``, the hops priced, the passes run and the
    MIPs solved for exact caps (:mod:`.spine_caps`)."""

    value: float
    status: str
    hops: int = 0
    passes: int = 0
    mips: int = 0


def spine_bound(graph: Graph, k: int, cost_model: CostModel, budget: Budget | None = None,
                upper: float = math.inf, floor: float = 0.0) -> SpineBound:
    """The largest guess below ``upper`` (a known partition's cost) that the spine DP refutes
    (module docstring), or ``floor`` when it refutes none above it.

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 1], sizeout=[3, 3, 0], edges=[(0, 1), (1, 2)])
    >>> spine_bound(g, 2, pjpart.CostModel()).status  # no known partition: nothing to bisect below
    'no known partition'
    """
    if not math.isfinite(upper) or upper <= floor or graph.n == 0:
        return SpineBound(0.0, "no known partition" if not math.isfinite(upper) else "nothing to refute")
    stop = budget.stopper() if budget is not None else None
    g, cm = homogeneous_relaxation(graph, cost_model)
    path = heaviest_path(g)
    path = path[::-(-len(path) // MAX_ANCHORS)]
    r = len(path)
    cuts = _Cuts(g, cm, path)
    total = float(g.work.sum())
    pairs, forced = [], []
    for a in range(r):  # the hops whose forced work fits ``upper``: it grows with ``b``
        for b in range(a + 1, r + 1):
            w = float(g.work[cuts.desc[a] & cuts.anc[b - 1]].sum())
            if w > upper * (1 + 1e-9):  # a float sum a hair above a stage of cost upper keeps it
                break
            pairs.append((a, b))
            forced.append(w)
    hop_a, hop_b = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    forced = np.array(forced)
    nus = np.array(NUS)
    m1 = np.full(len(pairs), np.nan)  # NaN: not computed, the hop counts with cap = T
    low = np.full(len(pairs), np.nan)  # L, for the hops priced in full
    m = np.full((len(pairs), len(NUS)), np.nan)
    zero_m = np.full((r + 1, len(NUS)), np.nan)  # F(a, a); NaN: not computed, the stage counts with cap = T
    for a in range(r + 1):
        if stop is not None and stop():
            break
        zero_m[a] = [cuts.value((a, a), nu) for nu in NUS]
    for i, hop in enumerate(pairs):
        if stop is not None and stop():
            break
        m1[i] = cuts.value(hop, 1.0)
    width = int((hop_b - hop_a).max()) if len(pairs) else 1
    slot = hop_b - hop_a - 1
    before = width + np.arange(r + 1)[:, None] - 1 - np.arange(width)[None, :]  # D[b - 1 - j], padded
    after = np.arange(r + 1)[:, None] + 1 + np.arange(width)[None, :]  # D[a + 1 + j], padded
    # the work the stages up to a_b = a hold at least (the ancestors of p_{a-1}), and after it
    prefix = np.array([0.0] + [float(g.work[cuts.anc[a - 1]].sum()) for a in range(1, r + 1)]) * (1 - 1e-9)
    suffix = np.array([float(g.work[cuts.desc[a]].sum()) for a in range(r)] + [0.0]) * (1 - 1e-9)

    exact = HopCaps(len(pairs))

    def best_path(T: float) -> tuple[float, list]:
        priced = ~np.isnan(low)
        cap = np.where(priced, np.min(nus * T - np.nan_to_num(m), axis=1), np.where(np.isnan(m1), T, T - m1))
        cap = np.minimum(cap, exact.at(T))
        floor_cost = np.where(priced, low, forced + np.nan_to_num(m1))
        cap[floor_cost > T * (1 + 1e-9)] = -np.inf  # a float hair above T drops no true stage
        band = np.full((r + 1, width), -np.inf)
        band[hop_b, slot] = cap
        stay = np.where(np.isnan(zero_m[:, 0]), T, np.min(nus * T - np.nan_to_num(zero_m), axis=1))
        pad = np.full(width, -np.inf)
        D, args = np.full(r + 1, -np.inf), []
        D[0] = 0.0
        for _ in range(k):
            cand = np.concatenate([pad, D])[before] + band
            arg = np.argmax(cand, axis=1)
            hop = cand[np.arange(r + 1), arg]
            arg[D + stay >= hop] = -1
            D = np.maximum(hop, D + stay)
            D[D < prefix] = -np.inf
            args.append(arg)
        out_of = np.concatenate([band, np.full((width, width), -np.inf)])[after, np.arange(width)[None, :]]
        E = np.full(r + 1, -np.inf)  # the same from the end: the last steps hold the work after a
        E[r] = 0.0
        for _ in range(k):
            E = np.maximum(np.max(np.concatenate([E, pad])[after] + out_of, axis=1), E + stay)
            E[E < suffix] = -np.inf
        best, hops, b = min(float(D[r]), float(E[0])), [], r
        for arg in args[::-1]:
            if arg[b] >= 0:
                hops.append((b - 1 - int(arg[b]), b))
                b = hops[-1][0]
        return best, hops

    def refuted(T: float) -> bool:
        return best_path(T)[0] < total * (1 - 1e-9)

    index = {hop: i for i, hop in enumerate(pairs)}

    def bisect(lo: float, hi: float, width: float = PRICING_WIDTH) -> tuple[float, float]:
        for _ in range(BISECT_STEPS):
            if hi - lo <= width * hi:
                break
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if refuted(mid) else (lo, mid)
        return lo, hi

    lo, hi = bisect(floor, upper)
    passes, todo = 1, [None]  # [None]: not asked yet
    while not (stop is not None and stop()):  # price the best path at ``hi`` until it is refuted
        todo = [index[hop] for hop in best_path(hi)[1] if hop in index and np.isnan(low[index[hop]])]
        if not todo:
            break
        for i in todo:
            low[i] = cuts.value(pairs[i], None)
            m[i] = [cuts.value(pairs[i], nu) for nu in NUS]
        if refuted(hi):
            lo, hi = bisect(hi, upper)
            passes += 1
    comm, too_large, late, mips = g.sizeout / cm.bandwidth, set(), False, 0
    child = HighsChild() if budget is not None and budget.limited else None

    def exactly_refuted(T: float) -> bool:
        """Whether the DP refutes ``T`` once every hop of its best sequence has an exact cap at ``T``."""
        nonlocal late, mips
        while not refuted(T):
            todo = [index[hop] for hop in best_path(T)[1] if hop in index and index[hop] not in too_large
                    and not exact.fresh(index[hop], T, MIP_WIDTH)]
            if not todo:
                return False
            for i in todo:
                inside, out = cuts.forced(pairs[i])
                if np.count_nonzero(~inside & ~out) > MAX_FREE_NODES:
                    too_large.add(i)
                    continue
                late = stop is not None and stop()
                if late:
                    return False
                seconds = MIP_SECONDS if budget is None else min(MIP_SECONDS, budget.remaining())
                exact.add(i, T, exact_cap(g, comm, inside, out, T, seconds, child)[0])
                mips += 1
                if refuted(T):  # a DP is cheap beside a MIP: the rest of the sequence may not be needed
                    return True
        return True

    # exact caps on the best sequences: guesses above the Lagrangian bound, galloping up until one
    # stands (the known partition's cost stands), then bisecting; a guess left open costs no validity
    a, b, T, step = lo, upper, hi, MIP_STEP
    enough = budget is None or not budget.limited or budget.remaining() >= MIP_MIN_SECONDS
    try:
        for _ in range(BISECT_STEPS if enough and not todo else 0):
            if b - a <= MIP_WIDTH * b or late:
                break
            if exactly_refuted(T):
                a, step = T, 2 * step
            elif not late:
                b = T
            T = min(a * (1 + step), (a + b) / 2) if b == upper and a > 0 else (a + b) / 2
    finally:
        if child is not None:
            child.close()
    lo, hi = max(lo, a), b if a >= hi else min(hi, b)
    lo, hi = bisect(lo, hi, FINAL_WIDTH)
    value = lo if lo > floor else 0.0
    status = "no time" if todo or late or np.isnan(m1).any() or np.isnan(zero_m).any() else "proven"
    return SpineBound(value, status, int((~np.isnan(low)).sum()), passes, mips)


def spine_method(request, budget: Budget) -> tuple[float, str, float, dict]:
    """``spine`` in :data:`.methods.REGISTRY` (``value, status, seconds, detail`` of its result) for a
    :class:`.methods.BoundRequest`: below the known partition's cost (none known: the best of a few
    orders sliced, :func:`.cover_pricing.sliced_cost`), from :data:`MIN_STAGES` stages,
    on the graphs that :mod:`.chain` cannot cut into groups (a wide multi-branch net: where it can,
    it prices them)."""
    from .chain import groups_in_series

    t0 = time.perf_counter()
    if request.k < MIN_STAGES:
        return 0.0, f"skipped (k < {MIN_STAGES})", 0.0, {}
    upper = min(request.upper, request.latest_upper()) if request.latest_upper is not None else request.upper
    if not math.isfinite(upper):  # alone (``pjpart bound --method spine``): a few orders sliced
        from .cover_pricing import sliced_cost

        upper = sliced_cost(request.graph, request.k, request.cost_model)
    if math.isfinite(upper) and len(groups_in_series(request.graph, request.cost_model, request.k, request.floor,
                                                     upper)[0]) > 1:
        return 0.0, "skipped (groups in series: chain)", time.perf_counter() - t0, {}
    out = spine_bound(request.graph, request.k, request.cost_model, budget, upper=upper, floor=request.floor)
    return out.value, out.status, time.perf_counter() - t0, {"hops": out.hops, "passes": out.passes,
                                                             "mips": out.mips}


__all__ = ["MAX_ANCHORS", "MIN_STAGES", "NUS", "SpineBound", "heaviest_path", "spine_bound", "spine_method"]
