"""The cost model and the float64 reference evaluator (SPEC section 1).

This module is the single place where the block cost formula is written in
code.  Kernels, search and bound formulations are tested against it.

For a block ``S``::

    f(S) = work(S) + (in(S) + out(S)) / bandwidth + overflow(S)
    overflow(S) = max(0, params(S) - memory) / overflow_bandwidth

``in(S)`` sums ``sizeout(u)`` once per producer ``u`` outside ``S`` with a
consumer in ``S``; ``out(S)`` sums ``sizeout(u)`` once per producer ``u`` in
``S`` with a consumer outside ``S``.  A block whose ``params`` exceed the hard
``memory_limit`` costs ``inf``.

Heterogeneous pipelines (SPEC section 5).  A cost model may carry per-stage lists
(``stage_speed``, ``stage_memory``, ``stage_memory_limit``: ``k`` values;
``link_bandwidth``: ``k - 1``, the link from stage ``b`` to ``b + 1``); stage ``b`` then
costs ``f_b(S) = work(S) / stage_speed[b] + in(S) / link[b - 1] + out(S) / link[b] +
max(0, params(S) - stage_memory[b]) / overflow_bandwidth`` (``inf`` above
``stage_memory_limit[b]``).  ``in(S_0)`` and ``out(S_{k-1})`` are always 0 (data flows
forward), so the links before stage 0 and after stage ``k - 1`` never matter.

Example
-------
>>> from pjpart import Graph, CostModel, evaluate
>>> g = Graph.from_arrays(work=[1, 2, 3], sizeout=[4, 5, 6], edges=[(0, 1), (1, 2)])
>>> evaluate(g, [0, 0, 1], k=2).tolist()   # stage 0 sends 5 bytes, stage 1 receives them
[8.0, 8.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .cost_model import (DEFAULT_COST_MODEL, STAGE_FIELDS, CostModel, StageTerms, cost_model_for,
                         homogeneous_relaxation, stage_block_cost)
from .errors import InfeasibleError, PjpartError
from .graph import Graph, GraphError, check_k


def stages_needed(params: Any, limit: float) -> int:
    """A lower bound on the number of stages that can hold items of ``params`` bytes each,
    at most ``limit`` per stage (a bin-packing bound, precedence ignored).

    Proof.  A stage is a bin of capacity ``limit``; every partition packs the nodes'
    weights into its stages, so any bin-packing lower bound is a bound on the stages a
    partition needs.  This is Martello and Toth's L2: for ``0 <= a <= limit / 2``, items
    above ``limit - a`` (J1) and items in ``(limit / 2, limit - a]`` (J2) each need their own
    bin, no two of them share one, and the items in ``[a, limit / 2]`` (J3) fit only into
    the room J2's bins leave (J1's bins have less than ``a`` left) or into new bins:
    ``|J1| + |J2| + max(0, ceil((sum J3 - (|J2| limit - sum J2)) / limit))``.  With ``a = 0``
    this is at least ``ceil(sum / limit)`` of items up to ``limit``.

    Examples
    --------
    >>> stages_needed([6, 6, 6], 10), stages_needed([3, 3, 3, 3], 6), stages_needed([1, 2], float("inf"))
    (3, 2, 1)
    """
    items = np.sort(np.asarray(params, dtype=np.float64))
    if not math.isfinite(limit) or len(items) == 0:
        return 1 if len(items) else 0
    if items[-1] > limit:
        return math.inf
    # a slightly larger capacity against rounding: a bound that says infeasible must never be wrong
    cap = limit * (1 + 1e-9)
    prefix = np.concatenate([[0.0], np.cumsum(items)])
    total = prefix[-1]
    best = max(1, math.ceil(total / cap - 1e-9))
    candidates = np.unique(np.concatenate([[0.0], items[items <= cap / 2]]))
    half = np.searchsorted(items, cap / 2, side="right")        # items <= cap/2: [0, half)
    lo = np.searchsorted(items, candidates, side="left")         # items >= a: [lo, n)
    hi = np.searchsorted(items, cap - candidates, side="right")  # items <= cap - a: [0, hi)
    n = len(items)
    j1 = n - hi
    j2 = np.maximum(0, hi - half)
    sum_j2 = prefix[hi] - prefix[np.minimum(half, hi)]
    sum_j3 = prefix[half] - prefix[np.minimum(lo, half)]
    room = j2 * cap - sum_j2
    extra = np.ceil(np.maximum(0.0, sum_j3 - room) / cap - 1e-9)
    return int(max(best, int((j1 + j2 + extra).max())))


def check_feasible(graph: Graph, cost_model: CostModel, k: int | None = None) -> None:
    """Raise when no partition can be feasible: a node alone above the hard ``memory_limit``,
    or (given ``k``) weights that ``k`` stages cannot hold (:func:`stages_needed`), or a cost
    model under which a stage's cost overflows float64.

    Parameters
    ----------
    graph
        The graph to partition.
    cost_model
        Its cost model.
    k
        The number of stages, for the packing test (``None``: skip it).

    Raises
    ------
    InfeasibleError
        Naming the first node whose ``params`` exceed ``memory_limit``, or the number of
        stages the weights need.
    PjpartError
        The graph's totals under the cost model are not finite (naming the field).

    Examples
    --------
    >>> from pjpart import Graph
    >>> g = Graph.from_arrays(work=[1, 1], params=[5, 50], edges=[(0, 1)], ids=["a", "big"])
    >>> check_feasible(g, CostModel(memory_limit=100))
    >>> check_feasible(g, CostModel(memory_limit=10))
    Traceback (most recent call last):
    ...
    pjpart.errors.InfeasibleError: no feasible partition: node 'big' has params 50 above memory_limit 10
    >>> check_feasible(g, CostModel(memory_limit=50), k=1)
    Traceback (most recent call last):
    ...
    pjpart.errors.InfeasibleError: no feasible partition: the weights (55 in all) need at least 2 stages of memory_limit 50, k = 1
    """
    cm = cost_model
    if cm.heterogeneous:
        if k is not None:
            cm.check_stages(k)
        _check_stage_limits(graph, cm)
        cm = homogeneous_relaxation(graph, cm)[1]  # the largest cap: a node above it fits nowhere
    if math.isfinite(cm.memory_limit):
        bad = np.flatnonzero(graph.params > cm.memory_limit)
        if len(bad):
            v = int(bad[0])
            raise InfeasibleError(f"no feasible partition: node {graph.ids[v]!r} has params {graph.params[v]:g} "
                                  f"above memory_limit {cm.memory_limit:g}")
        need = stages_needed(graph.params, cm.memory_limit) if k is not None else 0
        if k is not None and need > k:
            raise InfeasibleError(f"no feasible partition: the weights ({graph.params.sum():g} in all) need at "
                                  f"least {need} stages of memory_limit {cm.memory_limit:g}, k = {k}")
    cm = cost_model
    with np.errstate(over="ignore", divide="ignore"):
        t = cm.stage_terms()  # the slowest stage and link (the scalar fields for a scalar model)
        link = "link_bandwidth" if cm.link_bandwidth is not None else "bandwidth"
        memory = float(t.memory.min()) if cm.heterogeneous else cm.memory
        terms = {link: 2 * float(graph.sizeout.sum()) / float(np.r_[t.bandwidth_in[1:], cm.bandwidth].min()),
                 "overflow_bandwidth": 0.0 if math.isinf(memory) else  # the soft term: no memory_limit
                 max(0.0, float(graph.params.sum()) - memory) / cm.overflow_bandwidth,
                 "stage_speed": float(graph.work.sum()) / float(t.speed.min()) - float(graph.work.sum())}
        total = float(graph.work.sum()) + sum(terms.values())
    if not math.isfinite(total):
        field = next((f for f, v in terms.items() if not math.isfinite(v)), None)
        shown = getattr(cm, field) if field else None
        shown = min(shown) if isinstance(shown, tuple) else shown
        culprit = f"cost model field {field!r} ({shown:g})" if field else "the graph's totals"
        raise PjpartError(f"{culprit} makes stage costs overflow float64 (sums up to {total}); "
                          f"use other units, e.g. seconds and bytes/s")


def _check_stage_limits(graph: Graph, cm: CostModel) -> None:
    """Per-stage caps: the weights must fit their sum (each node sits on one stage)."""
    limits = cm.stage_terms().memory_limit
    if np.isfinite(limits).all() and float(graph.params.sum()) > float(limits.sum()) * (1 + 1e-12):
        raise InfeasibleError(f"no feasible partition: the weights ({graph.params.sum():g} in all) exceed the "
                              f"stages' stage_memory_limit ({limits.sum():g} in all)")


def check_assignment(graph: Graph, assignment: Any, k: int) -> np.ndarray:
    """Validate stage numbers and precedence; return the assignment as int64 array(s).

    Accepts one assignment ``(n,)`` or a batch ``(B, n)``.
    """
    k = check_k(k)
    a = np.asarray(assignment)
    if a.shape[-1:] != (graph.n,) or a.ndim not in (1, 2):
        raise GraphError(f"assignment has shape {a.shape}, expected ({graph.n},) or (B, {graph.n})")
    if a.dtype.kind not in "iu":
        if a.dtype.kind != "f" or not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise GraphError("assignment must hold integer stage numbers")
    a = a.astype(np.int64)
    bad = (a < 0) | (a >= k)
    if bad.any():
        r, v = (int(x) for x in np.argwhere(np.atleast_2d(bad))[0])
        raise GraphError(f"node {graph.ids[v]!r} has stage {np.atleast_2d(a)[r, v]} outside 0..{k - 1}")
    if graph.m:
        u, v = graph.edges[:, 0], graph.edges[:, 1]
        A2 = np.atleast_2d(a)
        viol = A2[:, u] > A2[:, v]
        if viol.any():
            r, e = (int(x) for x in np.argwhere(viol)[0])
            raise GraphError(f"edge ({graph.ids[u[e]]!r}, {graph.ids[v[e]]!r}) goes backwards: "
                             f"stage {A2[r, u[e]]} -> stage {A2[r, v[e]]}")
    return a


def stage_breakdown(graph: Graph, assignment: Any, k: int, cost_model: CostModel | None = None) -> dict:
    """Per-stage ``work``, ``params``, ``in``, ``out``, ``overflow`` and ``cost`` in float64.

    Parameters
    ----------
    graph
        The graph.
    assignment
        One stage per node ``(n,)`` or a batch ``(B, n)``, precedence-respecting.
    k
        Number of stages (an integer >= 1).
    cost_model
        The block cost's parameters; ``CostModel()`` (the SPEC defaults) when not given.

    Returns
    -------
    dict
        ``work``, ``params``, ``in``, ``out``, ``overflow`` and ``cost`` (float64), and
        ``nodes`` (the number of nodes in each stage); every array has shape ``(k,)`` or
        ``(B, k)`` accordingly.

    Raises
    ------
    GraphError
        On a stage outside ``0..k-1`` or a backward edge.

    Examples
    --------
    >>> g = Graph.from_arrays(work=[1, 2, 3], sizeout=[4, 5, 6], edges=[(0, 1), (1, 2)])
    >>> parts = stage_breakdown(g, [0, 0, 1], k=2)
    >>> parts["work"].tolist(), parts["in"].tolist(), parts["out"].tolist(), parts["cost"].tolist()
    ([3.0, 3.0], [0.0, 5.0], [5.0, 0.0], [8.0, 8.0])
    >>> stage_breakdown(g, [[0, 0, 1], [0, 1, 1]], k=2)["cost"].tolist()
    [[8.0, 8.0], [5.0, 9.0]]
    """
    cm = cost_model or DEFAULT_COST_MODEL
    a = check_assignment(graph, assignment, k)
    single = a.ndim == 1
    A = np.atleast_2d(a)
    B, n = A.shape
    onehot = np.zeros((B, n, k), dtype=bool)
    onehot[np.arange(B)[:, None], np.arange(n)[None, :], A] = True
    work = np.einsum("bvk,v->bk", onehot, graph.work)
    params = np.einsum("bvk,v->bk", onehot, graph.params)
    # reads[b, u, s]: producer u has a consumer in stage s != its own stage.
    reads = np.zeros((B, n, k), dtype=bool)
    if graph.m:
        u, v = graph.edges[:, 0], graph.edges[:, 1]
        su, sv = A[:, u], A[:, v]
        rows, cols = np.nonzero(su != sv)
        reads[rows, u[cols], sv[rows, cols]] = True
    inb = np.einsum("bvk,v->bk", reads, graph.sizeout)
    sends = reads.any(axis=2)  # producer u is read by some other stage
    outb = np.einsum("bvk,v->bk", onehot & sends[:, :, None], graph.sizeout)
    if cm.heterogeneous:
        stage = np.arange(k)
        overflow = cm.stage_overflow(params, stage)
        cost = stage_block_cost(work, inb, outb, params, cm, stage)
    else:
        overflow = cm.overflow(params)
        cost = _block_cost(work, inb + outb, overflow, cm)
    out = {"work": work, "params": params, "in": inb, "out": outb, "overflow": overflow, "cost": cost,
           "nodes": onehot.sum(axis=1)}
    if single:
        out = {key: val[0] for key, val in out.items()}
    return out


def evaluate(graph: Graph, assignment: Any, k: int, cost_model: CostModel | None = None) -> np.ndarray:
    """Stage costs ``f(S_0), ..., f(S_{k-1})`` (float64) of a precedence-respecting assignment.

    Parameters
    ----------
    graph
        The graph.
    assignment
        One stage per node ``(n,)``, or a batch ``(B, n)`` (as :func:`stage_breakdown`).
    k
        Number of stages (an integer >= 1).
    cost_model
        The block cost's parameters; ``CostModel()`` (the SPEC defaults) when not given.

    Returns
    -------
    numpy.ndarray
        The float64 cost of each stage, shape ``(k,)`` (``(B, k)`` for a batch); the
        bottleneck is its maximum.

    Raises
    ------
    GraphError
        If a node's stage is outside ``0..k-1`` or an edge goes from a later stage to an
        earlier one.

    Examples
    --------
    >>> g = Graph.from_arrays(work=[1, 2, 3], sizeout=[4, 5, 6], edges=[(0, 1), (1, 2)])
    >>> evaluate(g, [0, 0, 1], k=2).tolist()
    [8.0, 8.0]
    >>> evaluate(g, [1, 0, 0], k=2)
    Traceback (most recent call last):
    ...
    pjpart.errors.GraphError: edge (0, 1) goes backwards: stage 1 -> stage 0
    """
    return stage_breakdown(graph, assignment, k, cost_model)["cost"]


def stage_cost(graph: Graph, assignments: Any, stages: Any, cost_model: CostModel | None = None) -> np.ndarray:
    """``f(S)`` (float64) of one stage per row: ``stages[r]`` under ``assignments[r]``.

    The same formula as :func:`evaluate` for a single named stage, at O(n + m)
    per row instead of O(k (n + m)): local search prices a move by the two stages
    it changes.  Rows are not checked for precedence (the caller's moves keep it).

    >>> from pjpart import Graph
    >>> g = Graph.from_arrays(work=[1, 2, 3], sizeout=[4, 5, 6], edges=[(0, 1), (1, 2)])
    >>> stage_cost(g, [[0, 0, 1], [0, 0, 1]], [0, 1]).tolist()
    [8.0, 8.0]
    """
    cm = cost_model or DEFAULT_COST_MODEL
    A = np.atleast_2d(np.asarray(assignments))
    inside = A == np.asarray(stages).reshape(-1, 1)
    work, params = inside @ graph.work, inside @ graph.params
    comm = np.zeros((2, len(A)))
    if graph.m:
        src, dst = graph.edges[:, 0], graph.edges[:, 1]
        starts = producer_starts(src)
        comm = border_traffic(inside[:, src], inside[:, dst], starts, graph.sizeout[src[starts]], split=True)
    if cm.heterogeneous:
        return stage_block_cost(work, comm[1], comm[0], params, cm, np.broadcast_to(np.asarray(stages), len(A)))
    return _block_cost(work, comm[0] + comm[1], cm.overflow(params), cm)


def producer_starts(src: np.ndarray) -> np.ndarray:
    """Where each producer's run of edges begins in ``src`` (edges sorted by source, as
    ``Graph.edges`` are)."""
    return np.flatnonzero(np.r_[True, src[1:] != src[:-1]]) if len(src) else np.zeros(0, np.int64)


def border_traffic(src_inside: np.ndarray, dst_inside: np.ndarray, starts: np.ndarray,
                   size: np.ndarray, split: bool = False) -> np.ndarray:
    """Per row, the bytes a stage sends plus those it receives: ``src_inside`` / ``dst_inside``
    ``(R, E)`` say whether each edge's ends are in the stage, ``starts`` is
    :func:`producer_starts` of the edges and ``size`` each producer's output bytes.  A
    producer's bytes count once per direction, however many of its consumers cross.
    ``split``: ``(2, R)``, the bytes sent (out) and received (in) apart."""
    out = np.logical_or.reduceat(src_inside & ~dst_inside, starts, axis=1) @ size  # to later stages
    inn = np.logical_or.reduceat(~src_inside & dst_inside, starts, axis=1) @ size  # from earlier ones
    return np.stack([out, inn]) if split else out + inn


def _block_cost(work: np.ndarray, comm: np.ndarray, overflow: np.ndarray, cm: CostModel) -> np.ndarray:
    """``f(S) = work(S) + (in(S) + out(S)) / bandwidth + overflow(S)``: the formula, once."""
    return work + comm / cm.bandwidth + overflow


__all__ = ["DEFAULT_COST_MODEL", "STAGE_FIELDS", "CostModel", "StageTerms", "border_traffic", "check_assignment",
           "check_feasible", "cost_model_for", "evaluate", "homogeneous_relaxation", "producer_starts",
           "stage_block_cost", "stage_breakdown", "stage_cost", "stages_needed"]
