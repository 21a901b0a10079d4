"""Stage windows: the stages a partition of bottleneck at most ``T`` can give each node, from the
cheapest downset and upset that hold it, and the exact stage-assignment problem inside them (what
:mod:`pjpart.bounds.guess` refutes its guesses with).

Notation.  Stage ``b`` has speed ``s_b``, links ``l_{b-1}`` in and ``l_b`` out, fast memory ``M_b``
and cap ``L_b`` (SPEC section 5; a scalar model has ``s_b = 1``, every link the bandwidth, every
``M_b = memory``, ``L_b = memory_limit``).  ``c_out = min_{b < k-1} s_b / l_b``
and ``c_in = min_{b > 0} s_b / l_{b-1}``.

1. **Reach costs.**  ``before(v) = min {work(D) + c_out out(D) : D a downset holding v}`` and
   ``after(v) = min {work(U) + c_in in(U) : U an upset holding v}``.  Each is a minimum s-t
   cut (source side ``D``): ``s -> v`` infinite; ``x -> t`` of capacity ``work(x)``; ``w -> u``
   infinite per edge ``(u, w)`` (``D`` is closed under predecessors); per producer ``u`` a helper
   ``h_u`` with ``u -> h_u`` of capacity ``c_out sizeout(u)`` and ``h_u -> w`` infinite per
   consumer ``w`` (paid once when ``u`` is in ``D`` and a consumer is not).  ``after`` is the
   mirror image.  Capacities are scaled to integers and rounded down (SciPy's max-flow takes
   int32), which can only lower each cut; a node whose cut the budget leaves undone gets the
   work of its heaviest path to (from) it, also at most the minimum.
2. **Windows.**  Let a partition have bottleneck ``<= T`` and put ``v`` on stage ``b``.  The stages
   ``0..b`` hold a downset ``D`` with ``v``.  For each of them ``s_j T >= s_j f_j(S_j) >=
   work(S_j) + c_out out(S_j)``, and a producer of ``D`` with a consumer outside ``D`` has it
   outside its own stage, so it is in ``out`` of that stage: summed, ``before(v) <= work(D) +
   c_out out(D) <= (s_0 + ... + s_b) T``.  So ``b >= first(v)``, the least ``b`` with
   ``(s_0 + ... + s_b) T >= before(v)``; in mirror image ``b <= last(v)``, the largest ``b`` with
   ``(s_b + ... + s_{k-1}) T >= after(v)``.  Stages do not decrease along an edge ``(u, w)``, so
   ``first(w) >= first(u)`` and ``last(u) <= last(w)`` hold too.  An empty window proves
   ``T* > T`` with no solver.
3. **The windowed problem.**  Binaries ``Y[v, b] = [s(v) <= b]`` for ``first(v) <= b < last(v)``
   (0 before, 1 from ``last(v)`` on), ``Y[v, b-1] <= Y[v, b]``, ``Y[w, b] <= Y[u, b]`` per edge;
   ``x[v, b] = Y[v, b] - Y[v, b-1]``; per consumer ``w`` of ``u``, ``out[u, b] >= x[u, b] - x[w, b]``
   and ``in[u, b] >= x[w, b] - x[u, b]`` (at an integer point the least values are ``[u on b, a
   consumer not]`` and ``[a consumer on b, u not]``: each producer once per stage and direction,
   as the SPEC counts it); per stage ``b``::

       work_b / s_b + sizeout . in_b / l_{b-1} + sizeout . out_b / l_b + o_b <= t,
       o_b >= (params_b - M_b) / overflow_bandwidth,  o_b >= 0,  params_b <= L_b,

   and ``t <= T``; minimise ``t``.  Every partition of bottleneck ``<= T`` is a point of
   it (by 2 it lies in the windows) with ``t`` its bottleneck.  Hence: infeasible means
   ``T* > T``; any lower bound ``t_low`` on its minimum (the LP relaxation's optimum, HiGHS's dual
   bound at a time limit) gives ``T* >= min(T, t_low)`` (the optimum is either above ``T`` or a
   point of the problem); and a minimum the MIP proves is the optimum ``T*`` itself.

Example
-------
A chain ``4 -> 4 -> 4`` in two stages.  At the guess 8 the middle node may sit on either stage; below
8 on neither: its window is empty (stage 0 cannot hold the 8 up to it, stage 1 the 8 from it on):

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[4, 4, 4], edges=[(0, 1), (1, 2)])
>>> st = Stages.of(pjpart.CostModel(), 2)
>>> before, after, cuts = reach_costs(g, st)
>>> before.tolist(), after.tolist(), cuts
([4.0, 8.0, 12.0], [12.0, 8.0, 4.0], 6)
>>> [w.tolist() for w in stage_windows(g, 8.0, before, after, st.speed)]
[[0, 0, 1], [0, 1, 1]]
>>> [w.tolist() for w in stage_windows(g, 7.9, before, after, st.speed)]
[[0, 1, 1], [0, 0, 1]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..cost import CostModel
from ..graph import Graph
from .mincut import FINITE_TOTAL, INF, cuts_from_each


@dataclass(frozen=True)
class Stages:
    """Per-stage arrays of the cost model for ``k`` stages (the scalar fields repeated when a
    list is absent), and the communication weights of the reach costs (module docstring)."""

    speed: np.ndarray
    link_in: np.ndarray    # link_in[b] = l_{b-1}; stage 0 receives nothing
    link_out: np.ndarray   # link_out[b] = l_b; stage k-1 sends nothing
    memory: np.ndarray
    limit: np.ndarray
    overflow_bandwidth: float

    @classmethod
    def of(cls, cost_model: CostModel, k: int) -> "Stages":
        cm = cost_model
        if cm.heterogeneous:
            cm.check_stages(k)
            t = cm.stage_terms()
            return cls(t.speed, t.bandwidth_in, t.bandwidth_out, t.memory, t.memory_limit, cm.overflow_bandwidth)
        ones = np.ones(k)
        return cls(ones, ones * cm.bandwidth, ones * cm.bandwidth, ones * cm.memory, ones * cm.memory_limit,
                   cm.overflow_bandwidth)

    @property
    def c_out(self) -> float:
        k = len(self.speed)
        return float((self.speed[:-1] / self.link_out[:-1]).min()) if k > 1 else 0.0

    @property
    def c_in(self) -> float:
        k = len(self.speed)
        return float((self.speed[1:] / self.link_in[1:]).min()) if k > 1 else 0.0


def _path_work(graph: Graph, reverse: bool) -> np.ndarray:
    """The work of the heaviest path ending (``reverse``: starting) at each node, the node included."""
    order = graph.topological_order()
    heaviest = graph.work.astype(np.float64).copy()
    for v in (order[::-1] if reverse else order).tolist():
        near = graph.successors(v) if reverse else graph.predecessors(v)
        if len(near):
            heaviest[v] += heaviest[near].max()
    return heaviest


def reach_costs(graph: Graph, stages: Stages, should_stop: Callable[[], bool] | None = None
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """``before`` and ``after`` of item 1 of the module docstring, and how many of the ``2 n``
    cuts were computed (the rest keep the heaviest path's work, also a lower bound)."""
    n = graph.n
    values = [_path_work(graph, reverse=False), _path_work(graph, reverse=True)]
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    producers, pidx = np.unique(src, return_inverse=True)
    p = len(producers)
    done = 0
    for side, weight in ((0, stages.c_out), (1, stages.c_in)):
        comm = graph.sizeout[producers] * weight
        total = float(graph.work.sum() + comm.sum())
        if total <= 0:  # nothing to pay: every cut is 0, as the path values are
            done += n
            continue
        scale = FINITE_TOTAL / total
        t_node, size = n + p + 1, n + p + 2  # the source is n + p
        helper = n + pidx
        inf_edges = np.full(len(dst), INF)
        if side == 0:  # downsets: w -> u; u -> h_u (size), h_u -> w
            tails = [np.arange(n), dst, producers, helper]
            heads = [np.full(n, t_node), src, n + np.arange(p), dst]
            caps = [np.floor(graph.work * scale), inf_edges, np.floor(comm * scale), inf_edges]
        else:  # upsets: u -> w; w -> h_u, h_u -> u (size)
            tails = [np.arange(n), src, dst, n + np.arange(p)]
            heads = [np.full(n, t_node), dst, helper, producers]
            caps = [np.floor(graph.work * scale), inf_edges, inf_edges, np.floor(comm * scale)]
        # the nodes deepest in their direction first: they have the narrowest windows to gain
        order = np.argsort(-values[side], kind="stable")
        flows, cut = cuts_from_each(np.concatenate(tails), np.concatenate(heads), np.concatenate(caps).astype(np.int64),
                                    size, order, should_stop)
        values[side][order[:cut]] = np.maximum(values[side][order[:cut]], flows[:cut] / scale)
        done += cut
    return values[0], values[1], done


def stage_windows(graph: Graph, T: float, before: np.ndarray, after: np.ndarray,
                  speed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``first`` and ``last`` of item 2 of the module docstring (``first > last`` somewhere: no
    partition of bottleneck ``<= T``)."""
    k = len(speed)
    room = 1.0 + 1e-9
    reach_fwd = np.cumsum(speed) * T * room            # stages 0..b hold at most this
    reach_back = np.cumsum(speed[::-1])[::-1] * T * room  # stages b..k-1
    first = np.searchsorted(reach_fwd, before, side="left").astype(np.int64)
    # last = the largest b with reach_back[b] >= after (reach_back decreases in b)
    last = (k - 1 - np.searchsorted(reach_back[::-1], after, side="left")).astype(np.int64)
    first = np.minimum(first, k)  # k: beyond every stage
    return along_edges(graph, first, last)


def along_edges(graph: Graph, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``first`` and ``last`` (changed in place) closed along the edges: stages do not decrease along
    an edge ``(u, w)``, so ``first(w) >= first(u)`` and ``last(u) <= last(w)``."""
    order = graph.topological_order()
    for v in order.tolist():
        pred = graph.predecessors(v)
        if len(pred):
            first[v] = max(first[v], first[pred].max())
    for v in order[::-1].tolist():
        succ = graph.successors(v)
        if len(succ):
            last[v] = min(last[v], last[succ].min())
    return first, last


def _spans(nodes: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(i, b)`` with ``start[i] <= b < stop[i]``, as two arrays (``i`` indexing ``nodes``)."""
    count = np.maximum(stop - start, 0)
    idx = np.repeat(np.arange(len(nodes)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return idx, start[idx] + offset


class _Rows:
    """Sparse rows ``lo <= a . z <= hi`` collected family by family; a column index ``-1`` marks a
    constant term (its coefficient is its value), moved to the bounds."""

    def __init__(self) -> None:
        self.rows: list = []
        self.cols: list = []
        self.vals: list = []
        self.lo: list = []
        self.hi: list = []
        self.count = 0

    def add(self, terms: list, lo: float | np.ndarray, hi: float | np.ndarray, count: int) -> None:
        """``count`` new rows; ``terms``: ``(row within the family, column, coefficient)`` arrays."""
        const = np.zeros(count)
        for r, c, a in terms:
            a = np.broadcast_to(np.asarray(a, dtype=np.float64), r.shape)
            fixed = c < 0
            np.add.at(const, r[fixed], a[fixed])
            keep = ~fixed & (a != 0)
            self.rows.append(r[keep] + self.count)
            self.cols.append(c[keep])
            self.vals.append(a[keep])
        self.lo.append(np.broadcast_to(lo, (count,)) - const)
        self.hi.append(np.broadcast_to(hi, (count,)) - const)
        self.count += count


@dataclass
class GuessProblem:
    """The windowed problem of item 3 for one guess ``T`` (scaled by ``T``), ready for HiGHS."""

    T: float
    first: np.ndarray
    last: np.ndarray
    binaries: int
    columns: int
    t_col: int
    matrix: object          # scipy.sparse.csc_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray

    @property
    def y_starts(self) -> np.ndarray:
        """Each node's first ``Y`` column: ``Y[v, b]`` is column ``y_starts[v] + b - first[v]`` for
        ``first[v] <= b < last[v]`` (a constant 0 before, 1 after)."""
        return _y_starts(self.first, self.last)

    def stage_of(self, values: np.ndarray) -> np.ndarray:
        """Each node's stage in a (rounded) solution: the first ``b`` with ``Y[v, b] = 1``."""
        width, start = self.last - self.first, self.y_starts
        ones = values[: self.binaries] > 0.5
        stage = self.last.copy()
        for v in np.flatnonzero(width > 0).tolist():
            hit = np.flatnonzero(ones[start[v]: start[v] + width[v]])
            if len(hit):
                stage[v] = self.first[v] + hit[0]
        return stage


def _y_starts(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Each node's first ``Y`` column, the nodes' windows laid out one after another."""
    return np.concatenate([[0], np.cumsum(last - first)[:-1]]).astype(np.int64)


def guess_problem(graph: Graph, k: int, stages: Stages, T: float, first: np.ndarray, last: np.ndarray,
                  copies: tuple[np.ndarray, np.ndarray] | None = None,
                  bottleneck: np.ndarray | None = None, twins: list[np.ndarray] = (),
                  free_out: np.ndarray | None = None) -> GuessProblem:
    """The problem of item 3 of the module docstring on windows ``first..last`` (all non-empty);
    ``copies`` = ``(producers, r)``: producer ``u`` is on, or sent to, at least ``r`` stages
    (:mod:`pjpart.bounds.guess`, item 5); ``bottleneck``: the stages whose cost ``t`` bounds (a
    mask; by default all), the others' costs being at most ``T`` (:mod:`pjpart.bounds.chain`);
    ``twins``: classes of interchangeable branches (:func:`pjpart.bounds.symmetry.twin_branches`),
    each ordered by the sum of its nodes' ``Y`` (earliest first; valid by :mod:`.symmetry`);
    ``free_out``: a mask of producers whose sending is not charged (what :mod:`pjpart.bounds.chain`
    pins before a group or lets float)."""
    import scipy.sparse as sp

    n = graph.n
    nodes = np.arange(n)
    ystart, ny = _y_starts(first, last), int((last - first).sum())

    def y(v: np.ndarray, b: np.ndarray, coef) -> tuple[np.ndarray, np.ndarray]:
        """``coef * Y[v, b]`` as (column, coefficient): a constant 0 / coef outside the window."""
        coef = np.broadcast_to(np.asarray(coef, dtype=np.float64), v.shape)
        inside = (b >= first[v]) & (b < last[v])
        col = np.where(inside, ystart[v] + b - first[v], -1)
        return col, np.where(inside, coef, np.where(b >= last[v], coef, 0.0))

    def x(r: np.ndarray, v: np.ndarray, b: np.ndarray, coef) -> list:
        """``coef * x[v, b] = coef * (Y[v, b] - Y[v, b-1])`` as terms of rows ``r``."""
        c1, a1 = y(v, b, coef)
        c0, a0 = y(v, b - 1, coef)
        return [(r, c1, a1), (r, c0, -a0)]

    rows = _Rows()
    # Y[v, b-1] <= Y[v, b]
    i, b = _spans(nodes, first + 1, last)
    r = np.arange(len(i))
    rows.add([(r, *y(i, b - 1, 1.0)), (r, *y(i, b, -1.0))], -np.inf, 0.0, len(i))
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    # Y[w, b] <= Y[u, b] per edge (u, w)
    e, b = _spans(np.arange(len(src)), first[dst], last[src])
    r = np.arange(len(e))
    rows.add([(r, *y(dst[e], b, 1.0)), (r, *y(src[e], b, -1.0))], -np.inf, 0.0, len(e))
    for rows_of in twins:  # sum_v sum_b Y[a_c(v), b] - Y[a_{c+1}(v), b] >= 0
        m, size = rows_of.shape
        pair, node, b = np.meshgrid(np.arange(m - 1), np.arange(size), np.arange(k - 1), indexing="ij")
        pair, node, b = pair.ravel(), node.ravel(), b.ravel()
        rows.add([(pair, *y(rows_of[pair, node], b, 1.0)), (pair, *y(rows_of[pair + 1, node], b, -1.0))],
                 0.0, np.inf, m - 1)
    columns = ny
    comm_cols = []  # (producer, stage, column, direction)
    for direction in ("out", "in"):
        if direction == "out":  # u on b, consumer w later: b in [first(u), min(last(u), last(w) - 1)]
            charged = np.arange(len(src)) if free_out is None else np.flatnonzero(~np.asarray(free_out)[src])
            e, b = _spans(charged, first[src[charged]], np.minimum(last[src[charged]] + 1, last[dst[charged]]))
            e = charged[e]
        else:                   # w on b, u earlier: b in [max(first(w), first(u) + 1), last(w)]
            e, b = _spans(np.arange(len(src)), np.maximum(first[dst], first[src] + 1), last[dst] + 1)
        if not len(e):
            continue
        u, w = src[e], dst[e]
        keys, col_of = np.unique(u * (k + 1) + b, return_inverse=True)
        cols = columns + col_of
        comm_cols.append((keys // (k + 1), keys % (k + 1), columns + np.arange(len(keys)), direction))
        columns += len(keys)
        r = np.arange(len(e))
        mine, theirs = (u, w) if direction == "out" else (w, u)
        rows.add([(r, cols, 1.0)] + x(r, mine, b, -1.0) + x(r, theirs, b, 1.0), 0.0, np.inf, len(e))
    if copies is not None and len(copies[0]):  # sum_b out[u, b] + in[u, b] >= r_u
        producers, need = copies
        row_of = np.full(graph.n, -1)
        row_of[producers] = np.arange(len(producers))
        terms = [(row_of[p][row_of[p] >= 0], c[row_of[p] >= 0], 1.0) for p, _, c, _ in comm_cols]
        rows.add(terms, need.astype(np.float64), np.inf, len(producers))
    # per stage: cost - t <= 0, and overflow and cap rows
    finite_memory = np.isfinite(stages.memory)
    over_cols = columns + np.cumsum(finite_memory) - 1
    columns += int(finite_memory.sum())
    t_col = columns
    columns += 1
    v, b = _spans(nodes, first, last + 1)
    terms = x(b, v, b, graph.work[v] / (stages.speed[b] * T))
    for producer, stage, cols, direction in comm_cols:
        link = stages.link_out[stage] if direction == "out" else stages.link_in[stage]
        terms.append((stage, cols, graph.sizeout[producer] / (link * T)))
    mem = np.flatnonzero(finite_memory)
    terms.append((mem, over_cols[mem], np.ones(len(mem))))
    carries = np.ones(k, dtype=bool) if bottleneck is None else np.asarray(bottleneck, dtype=bool)
    terms.append((np.flatnonzero(carries), np.full(int(carries.sum()), t_col), -np.ones(int(carries.sum()))))
    rows.add(terms, -np.inf, np.where(carries, 0.0, 1.0), k)
    if len(mem):  # params_b / (ob T) - o_b <= M_b / (ob T)
        keep = finite_memory[b]
        pos = np.cumsum(finite_memory) - 1
        scale = stages.overflow_bandwidth * T
        over_terms = x(pos[b[keep]], v[keep], b[keep], graph.params[v[keep]] / scale)
        over_terms.append((np.arange(len(mem)), over_cols[mem], -np.ones(len(mem))))
        rows.add(over_terms, -np.inf, stages.memory[mem] / scale, len(mem))
    capped = np.flatnonzero(np.isfinite(stages.limit))
    if len(capped):
        keep = np.isfinite(stages.limit[b])
        pos = np.cumsum(np.isfinite(stages.limit)) - 1
        unit = max(float(stages.limit[capped].max()), 1.0)
        rows.add(x(pos[b[keep]], v[keep], b[keep], graph.params[v[keep]] / unit), -np.inf,
                 stages.limit[capped] / unit, len(capped))
    matrix = sp.csc_matrix((np.concatenate(rows.vals), (np.concatenate(rows.rows), np.concatenate(rows.cols))),
                           shape=(rows.count, columns))
    matrix.sum_duplicates()
    col_lo = np.zeros(columns)
    col_hi = np.ones(columns)  # Y binary, t <= 1; in / out at most 1 at their least value
    col_hi[over_cols[mem]] = np.inf
    return GuessProblem(T=T, first=first, last=last, binaries=ny, columns=columns, t_col=t_col, matrix=matrix,
                        row_lo=np.concatenate(rows.lo), row_hi=np.concatenate(rows.hi), col_lo=col_lo, col_hi=col_hi)


__all__ = ["GuessProblem", "Stages", "along_edges", "guess_problem", "reach_costs", "stage_windows"]
