"""Stage packing: a partition built stage by stage, each stage the most work a MIP fits within a guess.

Why.  A wide multi-branch net (NASNet) has cheap stage boundaries inside its cells, past the 1x1
convolutions that shrink each input, and dear ones everywhere else; the search's topological orders,
sliced, seldom line up with the cheap ones at a thousand nodes.  :mod:`pjpart.bounds.spine`'s caps showed sets
of the cost of a stage holding a cell's work at a fifth of the traffic the search's stages pay.  A
MIP that picks the next stage directly finds them.

How.  For a guess ``T``, stage ``b = 0, 1, ...`` takes, among the nodes not yet placed, the set ``S`` of
largest work that is a downset of them (every predecessor placed or in ``S``: data flows forward) and
costs ``work(S) + in(S) + out(S) + overflow(S) <= T``, ``in`` counting the tensors of the stages
before that ``S`` reads and ``out`` those ``S`` sends to nodes not in it (each producer once); weights
within the memory limit.  The last stage takes what is left.  The MIP: a binary ``x_v`` per node whose
remaining ancestors (itself included) hold at most ``T`` of work, ``x_c <= x_p`` per edge among them,
``r_u >= x_c`` per placed producer ``u`` and consumer ``c``, ``s_u >= x_u - x_c`` (``s_u >= x_u`` for a
consumer outside the candidates), ``o >= (params(S) - memory) / overflow_bandwidth``, the cost row
scaled by ``1 / T``; maximise ``work(S)``.  Guesses between a lower bound and a known partition's cost
keep the cheapest partition found, each re-costed in float64 (:func:`pjpart.cost.evaluate`): a
heuristic, it proves nothing and needs no proof.  The guesses follow a traffic model: ``k`` stages of
the work, each paying a stage's traffic, fit just so at ``traffic + work / k`` (the greedy fills its
stages nearly to the guess, and the traffic a stage pays changes little from guess to guess).  The
first guess is the model with the traffic of a known partition's cheap stages (:func:`_seed_traffic`:
where its boundaries happen to be clean; the midpoint without one: a guess that fits is an answer,
and on a slow machine the first may be the only one); the next
is the model with the median traffic of the last guess's stages, or, after a guess that fits,
halfway to it (every guess that fits is an answer), kept a tenth of the way inside the interval
still open (the midpoint when it misses the same side twice).
A guess ends as soon as its last stage would hold more work than the best partition so far costs,
or once the traffic its stages paid so far says it would (:data:`PREDICT_STAGES`).
The stages are packed from pieces of the graph's in-trees (:func:`_small_trees`), each costing on
the graph what it costs as a piece.  Greedy: the most work first may leave the last stage
too much, so a guess can fail above one that succeeds.

Example
-------
A chain ``4 -> 4 -> 4 -> 4`` whose tensors cost 1: two stages of two nodes each cost 9.

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[4, 4, 4, 4], sizeout=[1, 1, 1, 0], edges=[(0, 1), (1, 2), (2, 3)])
>>> cost, stages = packed_partition(g, 2, pjpart.CostModel(), 8.0, 12.0)
>>> cost, stages.tolist()
(9.0, [0, 0, 1, 1])
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ..bounds.highs_child import GRACE, HighsChild, run_highs
from ..budget import Budget
from ..coarsen import Coarsening, contract_in_trees
from ..cost import CostModel, evaluate, homogeneous_relaxation
from ..graph import Graph

#: graphs of more nodes are not packed (the ancestor matrix holds ``n^2`` 4-byte floats)
MAX_NODES = 4000
#: the stages are packed from pieces of in-trees of at most this share of a stage's work: an
#: operator-level graph's chains of near-free ops (reshapes, casts, activations) go whole, so its first
#: stage's MIP holds pieces rather than a thousand ops; a layer-level graph's layers weigh more than
#: that and stay as they are (pieces of more work take cuts the best packings use)
TREE_SHARE = 1 / 1024
#: each stage's MIP gets at most this many seconds (its best point found so far counts)
STAGE_SECONDS = 2.0
#: ... and takes about this many on graphs of a thousand nodes (a run packs only when it has the time
#: for a few guesses of ``k - 1`` of them)
STAGE_TYPICAL_SECONDS = 0.1
#: ... and stops within this relative gap of the most work (a stage a little short is still a good one)
STAGE_GAP = 1e-2
#: the first guess takes this quantile of a known partition's stage traffic (:func:`_seed_traffic`)
SEED_QUANTILE = 0.1
#: the guesses stop when the interval left is this narrow (relative), or after this many
WIDTH, GUESSES = 2e-3, 10
#: a guess is given up once this many stages are packed and the stages left, each holding the guess
#: less the median traffic so far with this share to spare (later stages pay less: the stem's
#: tensors are the largest), cannot hold the work left: a guess that fails costs a few stage MIPs
PREDICT_STAGES, PREDICT_SLACK = 3, 0.25


def _stage_request(g: Graph, cm: CostModel, comm: np.ndarray, placed: np.ndarray, cand: np.ndarray, T: float) -> dict:
    """The MIP of the module docstring for the next stage (columns: the candidates first)."""
    idx = np.flatnonzero(cand)
    nx = len(idx)
    col = np.full(g.n, -1)
    col[idx] = np.arange(nx)
    e = g.edges if g.m else np.zeros((0, 2), dtype=np.int64)
    u, c = e[:, 0], e[:, 1]
    inner = cand[u] & cand[c]
    recv = placed[u] & cand[c] & (comm[u] > 0)  # r_u >= x_c
    send = cand[u] & ~placed[c] & (comm[u] > 0)  # s_u >= x_u - x_c (x_c = 0 off the candidates)
    r_nodes, s_nodes = np.unique(u[recv]), np.unique(u[send])
    r_col = np.full(g.n, -1)
    r_col[r_nodes] = nx + np.arange(len(r_nodes))
    s_col = np.full(g.n, -1)
    s_col[s_nodes] = nx + len(r_nodes) + np.arange(len(s_nodes))
    over = nx + len(r_nodes) + len(s_nodes)  # the overflow column
    ncol = over + 1
    n_in, n_r, n_s = int(inner.sum()), int(recv.sum()), int(send.sum())
    rows = [np.repeat(np.arange(n_in), 2), n_in + np.repeat(np.arange(n_r), 2)]
    cols = [np.stack([col[c[inner]], col[u[inner]]], 1).ravel(), np.stack([r_col[u[recv]], col[c[recv]]], 1).ravel()]
    vals = [np.tile([1.0, -1.0], n_in), np.tile([1.0, -1.0], n_r)]
    lo = [np.full(n_in, -np.inf), np.zeros(n_r)]
    hi = [np.zeros(n_in), np.full(n_r, np.inf)]
    base = n_in + n_r  # s_u - x_u + x_c >= 0, the x_c term only for a candidate consumer
    su, sc = u[send], c[send]
    both = cand[sc]
    rows += [base + np.arange(n_s), base + np.arange(n_s), base + np.flatnonzero(both)]
    cols += [s_col[su], col[su], col[sc[both]]]
    vals += [np.ones(n_s), -np.ones(n_s), np.ones(int(both.sum()))]
    lo.append(np.zeros(n_s))
    hi.append(np.full(n_s, np.inf))
    nrow = _weight_rows(g.params[idx].astype(np.float64), cm, T, over, base + n_s, (rows, cols, vals, lo, hi))
    rows += [np.full(ncol, nrow)]
    cols += [np.arange(ncol)]
    vals += [np.concatenate([g.work[idx] / T, comm[r_nodes] / T, comm[s_nodes] / T, [1.0]])]
    lo.append([-np.inf])
    hi.append([1.0])
    matrix = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrow + 1, ncol))
    cost = np.zeros(ncol)
    cost[:nx] = -g.work[idx] / T
    col_hi = np.ones(ncol)
    col_hi[over] = np.inf
    return dict(cost=cost, col_lo=np.zeros(ncol), col_hi=col_hi, matrix=matrix, row_lo=np.concatenate(lo).astype(float),
                row_hi=np.concatenate(hi).astype(float), integer=nx, keep=nx)


def _weight_rows(params: np.ndarray, cm: CostModel, T: float, over: int, nrow: int, parts: tuple) -> int:
    """Append the overflow row ``o >= (params(S) - memory) / overflow_bandwidth`` (scaled by ``1 / T``)
    and the hard limit on weights, where finite, to ``parts`` (rows, cols, vals, lo, hi); the next row."""
    rows, cols, vals, lo, hi = parts
    nx = len(params)
    if math.isfinite(cm.memory):
        rows += [np.full(nx + 1, nrow)]
        cols += [np.concatenate([np.arange(nx), [over]])]
        vals += [np.concatenate([-params / cm.overflow_bandwidth / T, [1.0]])]
        lo.append([-cm.memory / cm.overflow_bandwidth / T])
        hi.append([np.inf])
        nrow += 1
    if math.isfinite(cm.memory_limit):
        rows += [np.full(nx, nrow)]
        cols += [np.arange(nx)]
        vals += [params]
        lo.append([-np.inf])
        hi.append([cm.memory_limit])
        nrow += 1
    return nrow


def _ancestors(g: Graph) -> np.ndarray:
    """``A[v, u] = 1`` where ``u`` is ``v`` or one of its ancestors (float32: it multiplies works)."""
    A = np.zeros((g.n, g.n), dtype=bool)
    for v in g.topological_order().tolist():
        A[v, v] = True
        for p in g.predecessors(v).tolist():
            A[v] |= A[p]
    return A.astype(np.float32)


def pack(g: Graph, k: int, cm: CostModel, T: float, ancestors: np.ndarray, budget: Budget | None = None,
         child: HighsChild | None = None, cap: float | None = None) -> tuple[np.ndarray | None, float]:
    """Every node's stage by the greedy packing at ``T`` (the scalar ``cm``), or ``None`` when a stage
    finds nothing that fits, the last stage would hold more than ``cap`` (default ``T``) of work
    (the stages before it hold at most ``T`` each), the stages so far predict it would
    (:data:`PREDICT_STAGES`), or the budget ends first; and the median traffic (load less work) of
    the stages it filled (nan: none)."""
    cap = T if cap is None else max(cap, T)
    stop = budget.stopper() if budget is not None else None
    comm = g.sizeout / cm.bandwidth
    stages = np.full(g.n, -1, dtype=np.int64)
    traffic: list[float] = []
    median = lambda: float(np.median(traffic)) if traffic else math.nan  # noqa: E731
    for b in range(k - 1):
        left = stages < 0
        if not left.any():
            return stages, median()
        # the stages before the last hold at most T of work each (at most T less their traffic, as
        # far as the stages so far tell): the last holds the rest
        work_left = float(g.work[left].sum())
        if work_left > ((k - 1 - b) * T + cap) * (1 + 1e-9) or (stop is not None and stop()):
            return None, median()
        if len(traffic) >= PREDICT_STAGES \
                and work_left > (k - 1 - b) * max(T - median(), 0.0) * (1 + PREDICT_SLACK) + cap:
            return None, median()
        # the work of each node's ancestors left (itself included): a matrix-vector product, no copy
        cand = left & (ancestors @ np.where(left, g.work, 0.0).astype(np.float32) <= T * (1 + 1e-6))
        if not cand.any():
            return None, median()
        request = _stage_request(g, cm, comm, ~left, cand, T)
        seconds = STAGE_SECONDS if budget is None or not budget.limited else min(STAGE_SECONDS, budget.remaining())
        request["time_limit"], request["mip_rel_gap"] = seconds, STAGE_GAP
        reply = run_highs(request) if child is None else child.solve(request, seconds + GRACE)
        if reply is None or reply["values"] is None:
            return None, median()
        chosen = np.flatnonzero(cand)[reply["values"] > 0.5]
        if not len(chosen):
            return None, median()
        stages[chosen] = b
        # the stage's traffic: its cost, the nodes left in a stage after it, less its work
        load = evaluate(g, np.where(stages < 0, b + 1, stages), b + 2, cm)[b]
        traffic.append(float(load) - float(g.work[chosen].sum()))
    stages[stages < 0] = k - 1
    return stages, median()


def _small_trees(graph: Graph, k: int, cost_model: CostModel) -> Coarsening:
    """The graph's in-trees contracted in pieces of at most :data:`TREE_SHARE` of a stage's work and
    of the least stage memory limit (:func:`pjpart.coarsen.contract_in_trees`: every partition of it
    costs on the graph what it costs on it, stage by stage)."""
    memory = float(np.min(cost_model.stage_terms().memory_limit))
    return contract_in_trees(graph, TREE_SHARE * float(graph.work.sum()) / k, TREE_SHARE * memory)


def _next_guess(low: float, high: float, model: float, side: int = 0) -> tuple[float, int]:
    """The next guess and the side of ``(low, high)`` the model fell outside of (``-1``, ``1``; 0: inside):
    ``model`` (k stages of the work, each with the median traffic a packing's stages paid: where the
    greedy's stages fit just so) kept a tenth of the way inside ``(low, high)``; the midpoint when
    there is no model, or when it falls outside on the same ``side`` as the last time (a model that
    keeps missing one way would creep by tenths: bisection's halving instead)."""
    margin = (high - low) / 10
    if not math.isfinite(model):
        return (low + high) / 2, 0
    out = -1 if model < low + margin else 1 if model > high - margin else 0
    if out and out == side:
        return (low + high) / 2, 0
    return min(max(model, low + margin), high - margin), out


def _seed_traffic(graph: Graph, stages: np.ndarray, k: int, cm: CostModel) -> float:
    """The traffic (load less work) of a partition's cheap stages, the :data:`SEED_QUANTILE` of its
    non-empty stages' (the scalar ``cm``): where its boundaries happen to be clean, they cost about
    what a packed stage's do."""
    work = np.bincount(stages, weights=graph.work, minlength=k)
    traffic = (evaluate(graph, stages, k, cm) - work)[np.bincount(stages, minlength=k) > 0]
    return float(np.quantile(traffic, SEED_QUANTILE)) if len(traffic) else math.nan


def packed_partition(graph: Graph, k: int, cost_model: CostModel, low: float, high: float,
                     budget: Budget | None = None, seed: np.ndarray | None = None,
                     overrun: Budget | None = None) -> tuple[float, np.ndarray] | None:
    """The cheapest partition the packing finds (on :func:`_small_trees`) over guesses between ``low``
    (a lower bound) and ``high`` (a known partition's cost, ``seed`` its stages when given: they set
    the first guess), the next by :func:`_next_guess`, as ``(cost, stages)`` re-costed on the graph's
    own model; ``None`` when none is found, or the graph has more than :data:`MAX_NODES` nodes.  A guess
    starts while ``budget`` lasts and runs while ``overrun`` does (default ``budget``): a guess cut
    short finds nothing, and on a slow machine one guess may outlast the time meant for several."""
    if graph.n > MAX_NODES or k < 2 or not (math.isfinite(high) and 0 <= low < high):
        return None
    trees = _small_trees(graph, k, cost_model)
    g, cm = homogeneous_relaxation(trees.graph, cost_model)
    stop = budget.stopper() if budget is not None else None
    ancestors = _ancestors(g)
    best: tuple[float, np.ndarray] | None = None
    child = HighsChild() if budget is not None and budget.limited else None
    share = float(g.work.sum()) / k  # a stage's work, were the stages even
    T, side = (low + high) / 2, 0
    if seed is not None:  # the traffic model with the seed's cheap stages
        T = _next_guess(low, high, _seed_traffic(homogeneous_relaxation(graph, cost_model)[0], seed, k, cm)
                        + share)[0]
    try:
        for _ in range(GUESSES):
            if high - low <= WIDTH * high or (stop is not None and stop()):
                break
            # a guess that fails may still beat the best partition so far: it ends once it cannot (or
            # its stages so far say it will not fit)
            pieces, traffic = pack(g, k, cm, T, ancestors, overrun or budget, child, cap=best[0] if best else high)
            stages = None if pieces is None else pieces[trees.members]  # on the graph, at the same cost
            # the guess stands when the packing fits it on the relaxed model the MIPs priced; the
            # partition is kept at its cost on the graph's own model
            relaxed = float(evaluate(g, pieces, k, cm).max()) if pieces is not None else math.inf
            fits = relaxed <= T * (1 + 1e-9)
            cost = float(evaluate(graph, stages, k, cost_model).max()) if stages is not None else math.inf
            if math.isfinite(cost) and (best is None or cost < best[0]):
                best = (cost, stages)
            if fits:
                high = relaxed
            else:
                low = T
            model = traffic + share
            # from a guess that fits, halfway to the model: the guesses that fit are the answers
            T, side = _next_guess(low, high, (model + T) / 2 if fits else model, side)
    finally:
        if child is not None:
            child.close()
    return best


__all__ = ["GUESSES", "MAX_NODES", "PREDICT_SLACK", "PREDICT_STAGES", "STAGE_GAP", "STAGE_SECONDS",
           "STAGE_TYPICAL_SECONDS", "TREE_SHARE", "WIDTH", "pack", "packed_partition"]
