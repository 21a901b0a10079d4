"""The downset DP for large lattices (10^4-10^5 downsets and more): column by column, pruned
by a known partition's cost, with every block's cost priced from the two downsets' frontiers.

The DP of :mod:`pjpart.lattice`, ``F_b(I) = min over downsets J <= I of max(F_{b-1}(J),
f_b(I - J))``, holds an ``D x D`` block-cost table there: 10 GB at ``D = 35,000``.  Here:

* **Columns.**  Downsets sorted by size: every ``J < I`` comes before ``I``, so its row of
  ``F`` is final when ``I`` is priced (``J = I``, an empty stage, reads ``F_{b-1}(I)``, set
  just before for the same column).  Memory ``O(k D + D n / 8 + D width)`` bytes, at most
  :data:`MAX_BYTES` (per downset: ``16 (k + 1)`` for ``F`` and its argmins, ``n / 8`` for its
  bits, ``16`` for its sketch (below), ``8 width`` for its frontier).
* **Pruning by an upper bound** ``U`` (a partition's cost; ``inf``: none).  A block costs at
  least its work at the fastest speed, so only ``J`` with ``work(I) - work(J) <= U * fastest``
  can serve: ``J`` is searched among the downsets sorted by work in that window, then kept if
  ``J <= I`` (a bitset test, on a one-word sketch of each downset first: its bits on 64 nodes).
  States worth more than ``U`` are dropped.  And ``F_b(I)`` is computed only on the stages ``b``
  with ``work(I) <= b U s_max`` and ``work(V) - work(I) <= (k - b) U s_max`` (the stages so far,
  and those left, hold at most ``U s_max`` work each), so a column reads only the ``J`` whose
  stages meet ``b - 1``: at small ``k`` a band of the lattice.  The partition of cost ``U`` is a
  chain of downsets all within these limits, so the optimum is never pruned: the result is exact
  (and equal to ``U`` when nothing is better).
* **Block costs from frontiers.**  Write ``P(X)`` for the producers in ``X`` with a consumer
  outside ``X`` and ``C_X(u)`` for the number of ``u``'s consumers in ``X``.  For ``J <= I``
  (so producers feeding ``I - J`` from outside lie in ``J``, and consumers of ``I - J`` outside
  it lie outside ``I``)::

      out(I - J) = sum_{u in P(I)} s(u) - sum_{u in P(I) & J} s(u)
      in(I - J)  = sum_{u in P(J)} s(u) [C_I(u) > C_J(u)]

  so a pair costs ``O(|P(I)| + |P(J)|)``, the frontiers' widths, not ``O(n)``.

>>> import pjpart
>>> from pjpart.lattice import exact_partition
>>> from pjpart.generators import dnn_like
>>> g = dnn_like(40, seed=2)
>>> value, _ = large_exact_partition(g, 4, pjpart.CostModel(), 10 ** 5)
>>> bool(abs(value - exact_partition(g, 4, pjpart.CostModel(), 10 ** 5, reduce=False)[0]) <= 1e-9 * value)
True
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
from .cost import CostModel
from .graph import Graph
from .cost_model import stage_term_array
from .lattice import checked, downsets, pricing_model


class _Lattice:
    """Downsets as packed bit rows (``words``), with their sums and frontiers ``P(X)``; and each
    node's consumers as a bit row (``consumers``), so ``C_I(u) > C_J(u)``, a consumer of ``u`` in
    ``I - J``, is ``consumers[u] & I & ~J != 0``: memory ``O(D (n / 64 + width))``."""

    def __init__(self, graph: Graph, sets: list[int]) -> None:
        n = graph.n
        self.n = n
        nbytes = -(-(n + 1) // 64) * 8  # room for the dummy node n that pads the frontiers
        raw = np.frombuffer(b"".join(m.to_bytes(nbytes, "little") for m in sets), dtype=np.uint8)
        self.words = raw.reshape(len(sets), nbytes).view(np.uint64).copy()       # (D, W)
        cons = np.zeros((n + 1, nbytes * 8), dtype=bool)
        if graph.m:
            cons[graph.edges[:, 0], graph.edges[:, 1]] = True
        self.consumers = np.packbits(cons, axis=1, bitorder="little").view(np.uint64)  # (n + 1, W)
        self.work, self.params = np.zeros(len(sets)), np.zeros(len(sets))
        for lo in range(0, len(sets), 4096):  # in chunks: (rows, n) bits at a time
            bits = self._bits(lo)
            self.work[lo: lo + 4096], self.params[lo: lo + 4096] = bits @ graph.work, bits @ graph.params
        self.graph = graph

    def _bits(self, lo: int) -> np.ndarray:
        rows = self.words[lo: lo + 4096].view(np.uint8)
        return np.unpackbits(rows, axis=1, bitorder="little")[:, : self.n].astype(bool)

    def prepare(self, max_bytes: float = math.inf) -> bool:
        """The frontiers (after the time estimate, which needs only the bits and the work);
        ``False``, with nothing built, when they would take more than ``max_bytes``."""
        n, g = self.n, self.graph
        src, dst = g.edges[:, 0], g.edges[:, 1]  # sorted by source
        starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]]) if g.m else np.zeros(0, np.int64)
        rows, cols = [], []
        for lo in range(0, len(self.words), 4096):  # (rows, m) at a time, not (rows, n, n / 64)
            bits = self._bits(lo)
            front = np.zeros(bits.shape, dtype=bool)
            if g.m:
                crossing = bits[:, src] & ~bits[:, dst]                      # u inside, a consumer outside
                front[:, src[starts]] = np.logical_or.reduceat(crossing, starts, axis=1)
            r, c = np.nonzero(front)                                               # P(X), row by row
            rows.append(r + lo)
            cols.append(c)
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        counts = np.bincount(rows, minlength=len(self.words))
        width = max(1, int(counts.max(initial=0)))
        if len(self.words) * width * 8 > max_bytes:
            return False
        self.front = np.full((len(self.words), width), n, dtype=np.int64)
        self.front[rows, np.arange(len(rows)) - np.searchsorted(rows, rows)] = cols
        self.size = np.r_[self.graph.sizeout, 0.0]
        self.out = self.size[self.front].sum(axis=1)                             # sum over P(X)
        return True

    def sketch(self) -> np.ndarray:
        """Each downset's bits on 64 nodes (those whose share of the downsets is closest to a half,
        the most telling), as one word: ``J <= I`` implies ``sketch[J] & ~sketch[I] == 0``, so the loop
        tests the word of every downset in a window, in work order, and the full bit rows of the few
        that pass."""
        share = np.zeros(self.n)
        for lo in range(0, len(self.words), 4096):
            share += self._bits(lo).sum(axis=0)
        chosen = np.argsort(np.abs(share / max(1, len(self.words)) - 0.5), kind="stable")[:64]
        out = np.zeros(len(self.words), dtype=np.uint64)
        for lo in range(0, len(self.words), 4096):
            bits = np.zeros((min(4096, len(self.words) - lo), 64), dtype=bool)
            bits[:, :len(chosen)] = self._bits(lo)[:, chosen]
            out[lo: lo + 4096] = np.packbits(bits, axis=1, bitorder="little").view(np.uint64)[:, 0]
        return out

    def members(self, i: int) -> np.ndarray:
        """Downset ``i`` as a boolean node mask."""
        return np.unpackbits(self.words[i].view(np.uint8), bitorder="little")[: self.n].astype(bool)


@functools.lru_cache(maxsize=None)
def _kernel():
    """The column loop, compiled by numba (cached on disk): the pairs ``(J, I)`` are irregular
    (a window per column, an early exit per subset test), where NumPy would build a temporary
    per step and XLA needs static shapes."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def columns(first, last, words, sketch, scan, work, params, front, consumers, size, out_sum,
                by_work, sorted_work, F, arg, reach, keep_below, stage_lo, stage_hi, sorted_lo, sorted_hi,
                terms, hetero):
        k = F.shape[0] - 1
        pad = size.shape[0] - 1  # the dummy node n that pads the frontiers
        speed, memory, limit, b_in, b_out, obw = terms[0], terms[1], terms[2], terms[3], terms[4], terms[5, 0]
        best = np.empty(k + 1)
        pick = np.empty(k + 1, np.int64)
        for i in range(first, last):
            b_lo, b_hi = max(1, stage_lo[i]), stage_hi[i]
            if b_lo > b_hi:
                continue
            # J within reach of I by work, on a stage range meeting b_lo - 1 .. b_hi - 1
            lo = max(np.searchsorted(sorted_work, work[i] - reach - 1e-12 * abs(work[i])),
                     np.searchsorted(sorted_hi, b_lo - 1))
            hi = min(np.searchsorted(sorted_work, work[i] * (1 + 1e-12), side="right"),
                     np.searchsorted(sorted_lo, b_hi - 1, side="right"))
            best[:] = np.inf
            pick[:] = i
            mine = sketch[i]
            for t in range(lo, hi):
                if scan[t] & ~mine:  # J <= I fails on the sketch's 64 nodes: read in order, not gathered
                    continue
                j = by_work[t]
                if j == i:
                    continue
                inside = True
                for w in range(words.shape[1]):
                    if words[j, w] & ~words[i, w]:
                        inside = False
                        break
                if not inside:
                    continue
                useful = False
                for b in range(b_lo, b_hi + 1):
                    if F[b - 1, j] <= keep_below:
                        useful = True
                        break
                if not useful:
                    continue
                d_work, d_params = work[i] - work[j], params[i] - params[j]
                out = out_sum[i]  # less the frontier of I inside J
                for t2 in range(front.shape[1]):
                    u = front[i, t2]
                    if u == pad:
                        break  # a row's producers come first, then the padding
                    if (words[j, u >> 6] >> np.uint64(u & 63)) & np.uint64(1):
                        out -= size[u]
                inn = 0.0  # the frontier of J with a consumer in I - J
                for t2 in range(front.shape[1]):
                    u = front[j, t2]
                    if u == pad:
                        break
                    for w in range(words.shape[1]):
                        if consumers[u, w] & words[i, w] & ~words[j, w]:
                            inn += size[u]
                            break
                for b in range(b_lo, b_hi + 1):
                    s = b - 1 if hetero else 0
                    over = 0.0
                    if d_params > limit[s]:
                        over = np.inf
                    elif d_params > memory[s]:
                        over = (d_params - memory[s]) / obw
                    if hetero:
                        cost = d_work / speed[s] + inn / b_in[s] + out / b_out[s] + over
                    else:
                        cost = d_work + (inn + out) / b_in[0] + over
                    value = max(F[b - 1, j], cost)
                    if value < best[b]:
                        best[b], pick[b] = value, j
            for b in range(b_lo, b_hi + 1):  # J = I (stage b empty) reads F[b - 1, I], set just before
                value, start = best[b], pick[b]
                if F[b - 1, i] < value:  # an empty stage, when strictly better
                    value, start = F[b - 1, i], i
                if value <= keep_below:
                    F[b, i], arg[b, i] = value, start

    return columns


#: the DP's own arrays (bit rows, frontiers, ``F`` and its argmins) are kept below this many bytes
MAX_BYTES = 2 * 2 ** 30

#: measured cost of the compiled loop per (J, I) pair, per downset of a window it tests (on its sketch;
#: most are no subset) and per column, for the time estimate
SECONDS_PER_PAIR, SECONDS_PER_CANDIDATE, SECONDS_PER_COLUMN = 30e-9, 2e-9, 3e-6


def _stage_ranges(work: np.ndarray, reach: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The stages ``b`` whose ``F[b, I]`` can be finite, ``lo..hi`` per downset: under an upper
    bound, ``work(I) <= b reach`` and ``work(V) - work(I) <= (k - b) reach`` (the remaining
    stages hold the rest), each rounded in the bound's favour by ``1e-9``.  ``lo`` is 0 for a weightless
    downset, so the empty one serves stage 1.  Both grow with ``work(I)``, so among downsets
    sorted by work those whose range meets a given one are contiguous."""
    if not (math.isfinite(reach) and reach > 0):
        return np.zeros(len(work), np.int64), np.full(len(work), k, np.int64)
    total = float(work[-1])
    lo = np.ceil(work / reach - 1e-9).astype(np.int64)
    hi = np.minimum(k, k - np.ceil((total - work) / reach - 1e-9).astype(np.int64))
    return lo, hi


def _windows(lat: _Lattice, by_work: np.ndarray, reach: float, stages: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Per column ``I``, the positions ``lo..hi`` (sorted by work) of the ``J`` the loop tests: within
    ``reach`` below its work, on a stage range meeting ``b_lo - 1 .. b_hi - 1`` (the compiled loop
    inlines the same four searches); ``hi = lo`` for a column priced on no stage."""
    stage_lo, stage_hi = stages
    w = lat.work
    sorted_work, sorted_lo, sorted_hi = w[by_work], stage_lo[by_work], stage_hi[by_work]
    b_lo, b_hi = np.maximum(1, stage_lo), stage_hi
    lo = np.maximum(np.searchsorted(sorted_work, w - reach - 1e-12 * np.abs(w)), np.searchsorted(sorted_hi, b_lo - 1))
    hi = np.minimum(np.searchsorted(sorted_work, w * (1 + 1e-12), side="right"),
                    np.searchsorted(sorted_lo, b_hi - 1, side="right"))
    return lo, np.where(b_lo <= b_hi, np.maximum(hi, lo), lo)


def _loop_counts(lat: _Lattice, by_work: np.ndarray, reach: float, stages: tuple,
                 samples: int = 64) -> tuple[float, float]:
    """``(pairs, tests)``: the pairs ``J <= I`` the loop prices, estimated, and the ``J`` its windows
    test, exactly.  The pairs are counted in ``samples`` windows drawn with replacement in proportion
    to their length (seeded): each draw's share of subsets, times the tests, is unbiased for the pairs,
    and the long windows, where the pairs are, are the ones drawn."""
    lo, hi = _windows(lat, by_work, reach, stages)
    size = (hi - lo).astype(np.float64)
    tests = float(size.sum())
    if tests == 0:
        return 0.0, 0.0
    picks = np.random.default_rng(0).choice(len(size), size=samples, p=size / tests)
    share = [float((~(lat.words[by_work[lo[i]:hi[i]]] & ~lat.words[i]).any(axis=1)).mean()) for i in picks.tolist()]
    return tests * float(np.mean(share)), tests


def large_exact_partition(graph: Graph, k: int, cost_model: CostModel, max_downsets: int,
                          upper: float = math.inf, should_stop: Callable[[], bool] | None = None,
                          seconds: float = math.inf) -> tuple[float, np.ndarray] | None:
    """``(optimum, assignment)`` by the pruned column DP (module docstring), or ``None`` past
    ``max_downsets`` downsets, when its arrays would take more than :data:`MAX_BYTES`, or when
    ``should_stop()`` (asked every 256 columns) says stop.

    Parameters
    ----------
    graph, k, cost_model
        The problem (per-stage models too: stage ``b`` prices its blocks with its device).
    max_downsets
        Give up on larger lattices.
    upper
        The cost of a known partition, or ``inf``: the tighter, the faster.
    seconds
        Give up at once (``None``) when the DP is estimated to need longer (the pairs it prices,
        counted in 64 windows drawn by length, times :data:`SECONDS_PER_PAIR`, and the downsets its
        windows test, counted exactly, times :data:`SECONDS_PER_CANDIDATE`).

    Returns
    -------
    (float, numpy.ndarray) or None
        The optimum, recomputed in float64 from the assignment (``inf``: no feasible partition),
        and each node's stage.
    """
    sets = downsets(graph, max_downsets)
    if sets is None:
        return None
    lat = _Lattice(graph, sets)
    D = len(sets)
    fastest = cost_model.fastest_speed
    reach = upper * fastest * (1 + 1e-9) if math.isfinite(upper) else math.inf
    keep_below = upper * (1 + 1e-9) if math.isfinite(upper) else math.inf
    by_work = np.argsort(lat.work, kind="stable")
    stage_lo, stage_hi = _stage_ranges(lat.work, reach, k)
    sorted_work, sorted_lo, sorted_hi = lat.work[by_work], stage_lo[by_work], stage_hi[by_work]
    if math.isfinite(seconds):
        pairs, tests = _loop_counts(lat, by_work, reach, (stage_lo, stage_hi))
        estimate = pairs * SECONDS_PER_PAIR + tests * SECONDS_PER_CANDIDATE + D * SECONDS_PER_COLUMN
        if estimate > seconds:
            return None
    table_bytes = D * (k + 1) * 16 + D * 16  # F and arg, and the sketches twice
    if table_bytes + lat.words.nbytes > MAX_BYTES or not lat.prepare(MAX_BYTES - table_bytes - lat.words.nbytes):
        return None
    sketch = lat.sketch()
    scan = sketch[by_work]  # once: the windows read it in work order
    F = np.full((k + 1, D), np.inf)
    F[0, 0] = 0.0
    arg = np.zeros((k + 1, D), dtype=np.int64)
    columns = _kernel()
    for first in range(0, D, 256):
        if should_stop is not None and first and should_stop():
            return None
        columns(first, min(D, first + 256), lat.words, sketch, scan, lat.work, lat.params, lat.front,
                lat.consumers, lat.size, lat.out, by_work, sorted_work, F, arg, reach, keep_below, stage_lo, stage_hi,
                sorted_lo, sorted_hi, stage_term_array(pricing_model(graph, cost_model), k), cost_model.heterogeneous)
    if not np.isfinite(F[k, D - 1]):  # nothing within the caps, or nothing within `upper` (then: not solved)
        return checked(graph, k, cost_model, math.inf, np.zeros(graph.n, np.int64), pruned=math.isfinite(upper))
    assignment = np.zeros(graph.n, dtype=np.int64)
    cur = D - 1
    for b in range(k, 0, -1):
        prev = int(arg[b, cur])
        assignment[lat.members(cur) & ~lat.members(prev)] = b - 1
        cur = prev
    return checked(graph, k, cost_model, float(F[k, D - 1]), assignment, pruned=math.isfinite(upper))


__all__ = ["MAX_BYTES", "large_exact_partition"]
