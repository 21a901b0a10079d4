"""The averaging bound: work plus the communication no partition avoids, spread over the stages.

The combinatorial bound averages the work, ``T* >= work(V) / k``, and ignores communication.
On transformers a tensor read by every layer (T5's position bias, an attention mask, an
encoder's output read by every cross-attention) is sent to every stage that holds one of its
readers, and that is a third of each stage's cost at operator granularity.  This bound counts
such unavoidable transfers.

Validity.  Let ``S_1..S_k`` be an optimal partition with bottleneck ``T*``; stage ``b`` of
speed ``s_b`` costs ``f_b = work_b / s_b + in_b / bi_b + out_b / bo_b + over_b <= T*`` (SPEC 5;
a scalar model has ``s_b = 1`` and every link the bandwidth).  Write ``beta`` for the fastest
link, ``s_min``, ``s_max`` for the slowest and fastest speeds, ``sigma = sum_b s_b``.

1. **Averaging.**  ``s_b T* >= s_b f_b >= work_b + s_min ((in_b + out_b) / beta + over_b)``;
   summed over ``b``: ``sigma T* >= work(V) + s_min (C / beta + O)`` with
   ``C = sum_b (in_b + out_b)`` and ``O <= sum_b over_b`` (``O = max(0, params(V) - sum_b M_b)
   / overflow_bandwidth``, the overflow being convex; :mod:`.combinatorial`).
2. **Communication per producer.**  ``u`` adds ``s(u)`` to ``out`` of its own stage when a
   consumer lies elsewhere, and to ``in`` of every other stage holding a consumer.  So with
   ``q(u)`` the number of distinct stages of ``{u}`` and its consumers ``C(u)``,
   ``C = sum_u s(u) rho(q(u))`` where ``rho(q) = q`` for ``q >= 2`` and ``0`` for ``q = 1``.
3. **Stages a chain must span.**  Take a chain ``x_0 = u, x_1, ..., x_L`` of ``{u} + C(u)``,
   each reachable from the one before.  Stages do not decrease along a path, so the chain's
   nodes on one stage form a run ``x_i..x_j``, and that stage holds every node on a path from
   ``x_i`` to ``x_j`` (its stage lies between theirs): ``work(between(x_i, x_j)) <= work_b``,
   ``between(x, y)`` being the descendants of ``x`` that are ancestors of ``y``, both
   included.  If the chain takes one stage, ``work(between(x_0, x_L)) <= s_max T*``.  If it
   takes more, every one of its stages sends or receives ``s(u)`` (``u``'s own sends it, the
   others hold a consumer and not ``u``), so ``work_b <= s_b (T* - s(u) / beta) <= s_max
   (T* - s(u) / beta) = cap(T*)`` on each.  Greedy runs from the left, each extended while its
   ``between`` work is at most ``cap(T)``, are the fewest runs under that one capacity
   (``between(x_i, x_j)`` grows with ``j`` and shrinks with ``i``).  So ``r_u(T)``, ``1`` when
   the whole chain fits ``s_max T`` and the greedy count otherwise, is at most ``q(u)`` at
   ``T = T*``; ``rho`` does not decrease, so ``C >= sum_u s(u) rho(r_u(T*))``.
4. **Bisection.**  ``r_u(T)`` does not increase with ``T``, so ``g(T) = sigma T - work(V) -
   s_min (sum_u s(u) rho(r_u(T)) / beta + O)`` increases strictly, and ``g(T*) >= 0`` by 1-3.
   A ``T`` with ``g(T) < 0`` is therefore below ``T*``: the largest such ``T`` found by
   bisection is the bound (less a relative ``1e-12`` for the float sums).  The method returns
   the larger of it and the combinatorial bound.

Example
-------
A broadcast source ``b`` read by both nodes of a chain too heavy for one stage: any two stages
split the chain, so ``b``'s output is sent once or twice, and with ``k = 2`` the averaging bound
``(work + 2 s(b)) / 2`` lies above the combinatorial ``work / 2``:

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[0, 4, 4], sizeout=[1, 0, 0], edges=[(0, 1), (0, 2), (1, 2)])
>>> round(averaging_bound(g, 2, pjpart.CostModel()), 6)
5.0
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..cost import CostModel
from ..graph import Graph
from .combinatorial import combinatorial_bound

#: graphs above this many nodes are skipped: the two n x n reachability bit tables
MAX_NODES = 20_000
#: a producer's chain is chosen among at most this many consumers (its first, in topological order)
MAX_CONSUMERS = 512


def _closures(graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    """Packed bit rows of each node's descendants and ancestors, the node included."""
    n = graph.n
    order = graph.topological_order()
    nbytes = -(-n // 8)
    desc = np.zeros((n, nbytes), dtype=np.uint8)
    anc = np.zeros((n, nbytes), dtype=np.uint8)
    for v in order[::-1].tolist():
        desc[v, v >> 3] |= np.uint8(0x80 >> (v & 7))
        succ = graph.successors(v)
        if len(succ):
            desc[v] |= np.bitwise_or.reduce(desc[succ], axis=0)
    for v in order.tolist():
        anc[v, v >> 3] |= np.uint8(0x80 >> (v & 7))
        pred = graph.predecessors(v)
        if len(pred):
            anc[v] |= np.bitwise_or.reduce(anc[pred], axis=0)
    return desc, anc


def _longest_chain(reach: np.ndarray) -> list[int]:
    """The longest chain (by count) in a reachability matrix over nodes in topological order."""
    L = len(reach)
    length = np.ones(L, dtype=np.int64)
    prev = np.full(L, -1, dtype=np.int64)
    for j in range(1, L):
        before = np.flatnonzero(reach[:j, j])
        if len(before):
            i = before[np.argmax(length[before])]
            length[j], prev[j] = length[i] + 1, i
    j = int(np.argmax(length))
    chain = []
    while j >= 0:
        chain.append(j)
        j = int(prev[j])
    return chain[::-1]


def producer_spans(graph: Graph, should_stop: Callable[[], bool] | None = None
                   ) -> list[tuple[float, np.ndarray, np.ndarray]] | None:
    """For each producer ``u`` with a consumer and a positive output, ``(sizeout, chain, M)``:
    ``chain`` is ``x_0 = u, x_1, ...`` (item 3 of the module docstring) and ``M[i, j]`` is
    ``work(between(x_i, x_j))``.  ``None`` when ``should_stop()`` says stop."""
    n = graph.n
    desc, anc = _closures(graph)
    position = np.empty(n, dtype=np.int64)
    position[graph.topological_order()] = np.arange(n)
    work = graph.work.astype(np.float64)
    spans = []
    for u in range(n):
        if should_stop is not None and u % 256 == 0 and should_stop():
            return None
        cons = graph.successors(u)
        if not len(cons) or graph.sizeout[u] <= 0:
            continue
        cons = cons[np.argsort(position[cons], kind="stable")][:MAX_CONSUMERS]
        rows = np.unpackbits(desc[cons], axis=1, count=n).astype(bool)
        chain = cons[_longest_chain(rows[:, cons])]
        nodes = np.concatenate([[u], chain])
        down = np.unpackbits(desc[nodes], axis=1, count=n).astype(np.float64) * work
        up = np.unpackbits(anc[nodes], axis=1, count=n).astype(np.float64)
        spans.append((float(graph.sizeout[u]), nodes, down @ up.T))
    return spans


def _runs(between: np.ndarray, reach: float, cap: float) -> int:
    """``r_u(T)`` (item 3): 1 when the chain's span fits ``reach = s_max T``, else the greedy
    runs of at most ``cap = s_max (T - s(u) / beta)`` work each."""
    if between[0, -1] <= reach:
        return 1
    runs, start = 1, 0
    for j in range(1, len(between)):
        if between[start, j] > cap:
            runs, start = runs + 1, j
    return runs


def copies_at(spans: list, T: float, speed: np.ndarray, links: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(producers, r)``: ``r_u(T)`` of item 3 for the spans' producers where it is at least 2 (every
    partition of bottleneck ``<= T`` puts ``u`` and its consumers on at least that many stages);
    ``speed`` and ``links`` as in :func:`averaging_bound` (``s_max`` and ``beta`` their maxima)."""
    s_max, beta = float(np.max(speed)), float(np.max(links))
    runs = [(int(chain[0]), _runs(between, s_max * T, s_max * (T - size / beta))) for size, chain, between in spans]
    keep = [(u, r) for u, r in runs if r >= 2]
    return np.array([u for u, _ in keep], dtype=np.int64), np.array([r for _, r in keep], dtype=np.int64)


def averaging_bound(graph: Graph, k: int, cost_model: CostModel,
                    should_stop: Callable[[], bool] | None = None, iterations: int = 60) -> float:
    """The averaging bound of the module docstring (at least the combinatorial bound); the
    combinatorial bound alone past :data:`MAX_NODES` nodes or when ``should_stop()`` says stop.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 1, 1, 1], sizeout=[3, 0, 0, 0], edges=[(0, 1), (0, 2), (0, 3)])
    >>> averaging_bound(g, 2, pjpart.CostModel()) == combinatorial_bound(g, 2, pjpart.CostModel())
    True
    """
    base = combinatorial_bound(graph, k, cost_model)
    if graph.n > MAX_NODES or graph.m == 0:
        return base
    spans = producer_spans(graph, should_stop)
    if not spans:
        return base
    if cost_model.heterogeneous:
        cost_model.check_stages(k)
        t = cost_model.stage_terms()
        speed = t.speed
        links = t.bandwidth_in[1:] if k > 1 else np.array([cost_model.bandwidth])
        memory = float(t.memory.sum())
    else:
        speed = np.ones(k)
        links = np.array([cost_model.bandwidth])
        memory = k * cost_model.memory
    sigma, s_min, beta = float(speed.sum()), float(speed.min()), float(links.max())
    over = 0.0
    if math.isfinite(memory):
        over = max(0.0, float(graph.params.sum()) - memory) / cost_model.overflow_bandwidth
    total = float(graph.work.sum())

    def slack(T: float) -> float:  # g(T) of item 4
        producers, copies = copies_at(spans, T, speed, links)
        comm = float(graph.sizeout[producers] @ copies)
        return sigma * T - total - s_min * (comm / beta + over)

    hi = (total + s_min * (sum(size * len(chain) for size, chain, _ in spans) / beta + over)) / sigma
    lo = 0.0
    for _ in range(iterations):
        if should_stop is not None and should_stop():
            break
        mid = 0.5 * (lo + hi)
        if slack(mid) < 0:
            lo = mid
        else:
            hi = mid
    return max(base, lo * (1.0 - 1e-12))


__all__ = ["MAX_NODES", "averaging_bound", "copies_at", "producer_spans"]
