"""Exact caps for :mod:`.spine`: the most work a stage of a hop's family holds at cost ``<= T``, by a MIP.

Why.  :mod:`.spine` caps a stage's work by a Lagrangian bound, ``min_nu nu T - m_nu(F)``, each
``m_nu`` a minimum cut.  That is the concave hull of what the family's sets achieve, and where a
stage's traffic jumps with its work it lies far above them: the stem of a NASNet, whose first convs
send tensors several times their work, lets a stage of the first hop hold half as much again as any
set of cost ``<= T`` does.  A MIP over the family finds the true largest work.

Validity.  For a family ``F`` (the sets holding the nodes ``inside``, none of those ``out``, any of
the others: item 1 of :mod:`.spine`) and a guess ``T``, ``cap*(F, T) = max {work(S) : S in F,
work(S) + comm(S) <= T}`` (``-inf`` when no set qualifies) bounds the work of every stage of a
partition of bottleneck ``<= T`` that lies in ``F``: such a stage is one of those sets (its overflow,
dropped, only lowers ``f``).  The MIP: a binary ``x_v`` per free node (``inside`` fixed at 1, ``out``
at 0); per producer ``u`` that may be in ``S`` with a consumer that may not, ``o_u >= x_u - x_c`` for
each consumer ``c``; per producer that may be out with a consumer that may be in, ``i_u >= x_c - x_u``;
both in ``[0, 1]``; ``sum work(v) x_v + sum comm(u) (o_u + i_u) <= T``; maximise ``sum work(v) x_v``.
At a binary ``x`` the least ``o_u`` and ``i_u`` are the indicators that ``u`` sends and receives, so
the MIP's optimum is ``cap*`` exactly, and its dual bound at a time limit is at least it.  Rows are
scaled by ``1 / T``; HiGHS's tolerances only admit more sets (a budget a hair over ``T``), and the
cap is raised by :data:`MARGIN`.  A cap priced at ``T'`` bounds the family at every ``T <= T'``: a set
of cost ``<= T`` is one of cost ``<= T'``.

Example
-------
A chain ``1 -> 1 -> 1`` whose first two tensors cost 3, and sets holding node 0: ``{0}`` costs 4,
``{0, 1}`` 5, the whole chain 3 (no traffic).  At ``T = 3.5`` the most is the chain's 3; at 2.5 none fits.

>>> import numpy as np, pjpart
>>> g = pjpart.Graph.from_arrays(work=[1, 1, 1], sizeout=[3, 3, 0], edges=[(0, 1), (1, 2)])
>>> inside, out = np.array([True, False, False]), np.zeros(3, dtype=bool)
>>> cap, status = exact_cap(g, g.sizeout.astype(float), inside, out, 3.5)
>>> round(cap, 4), status
(3.0, 'optimal')
>>> exact_cap(g, g.sizeout.astype(float), inside, out, 2.5)
(-inf, 'infeasible')
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ..graph import Graph
from .highs_child import GRACE, HighsChild, run_highs

#: relative margin added to every cap (HiGHS's tolerances)
MARGIN = 1e-6
#: families with more free nodes than this are left to the Lagrangian cap (an operator-level graph's
#: MIPs take seconds each, which the methods after spine use better)
MAX_FREE_NODES = 250


def cap_request(graph: Graph, comm: np.ndarray, inside: np.ndarray, out: np.ndarray, T: float) -> dict | None:
    """The MIP of the module docstring as a :func:`~.highs_child.run_highs` request (``None`` when
    the forced nodes alone exceed ``T``); ``comm``: each node's tensor, in time."""
    free = ~inside & ~out
    fidx = np.flatnonzero(free)
    nx = len(fidx)
    col = np.full(graph.n, -1)
    col[fidx] = np.arange(nx)
    room = 1.0 - float(graph.work[inside].sum()) / T
    if room < -1e-12:  # a float hair over T keeps the forced set, as spine's DP does
        return None
    e = graph.edges if graph.m else np.zeros((0, 2), dtype=np.int64)
    e = e[comm[e[:, 0]] > 0]
    u, c = e[:, 0], e[:, 1]
    # o_u where u may be in and a consumer may be out; i_u where u may be out and a consumer may be in
    may_send = np.zeros(graph.n, dtype=bool)
    np.logical_or.at(may_send, u, ~out[u] & ~inside[c])
    may_recv = np.zeros(graph.n, dtype=bool)
    np.logical_or.at(may_recv, u, ~inside[u] & ~out[c])
    o_col = np.full(graph.n, -1)
    o_col[may_send] = nx + np.arange(int(may_send.sum()))
    i_col = np.full(graph.n, -1)
    i_col[may_recv] = nx + int(may_send.sum()) + np.arange(int(may_recv.sum()))
    ncol = nx + int(may_send.sum()) + int(may_recv.sum())
    rows, cols, vals, lows, count = [], [], [], [], 0
    for aux, pos, neg in ((o_col, u, c), (i_col, c, u)):  # aux_u >= x_pos - x_neg
        keep = aux[u] >= 0
        a, p, q = aux[u][keep], pos[keep], neg[keep]
        rhs = np.where(inside[p], 1.0, 0.0) - np.where(inside[q], 1.0, 0.0)  # the constant sides
        live = free[p] | free[q] | (rhs > 0)
        a, p, q, rhs = a[live], p[live], q[live], rhs[live]
        idx = count + np.arange(len(a))
        count += len(a)
        rows += [idx, idx[free[p]], idx[free[q]]]
        cols += [a, col[p[free[p]]], col[q[free[q]]]]
        vals += [np.ones(len(a)), -np.ones(int(free[p].sum())), np.ones(int(free[q].sum()))]
        lows.append(rhs)
    lows = np.concatenate(lows) if lows else np.zeros(0)
    budget_row = len(lows)
    aux_nodes = np.concatenate([np.flatnonzero(may_send), np.flatnonzero(may_recv)])
    rows.append(np.full(ncol, budget_row))
    cols.append(np.arange(ncol))
    vals.append(np.concatenate([graph.work[fidx], comm[aux_nodes]]) / T)
    matrix = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(budget_row + 1, ncol))
    cost = np.zeros(ncol)
    cost[:nx] = -graph.work[fidx] / T
    return dict(cost=cost, col_lo=np.zeros(ncol), col_hi=np.ones(ncol), matrix=matrix,
                row_lo=np.concatenate([lows, [-np.inf]]), row_hi=np.concatenate([np.full(budget_row, np.inf), [room]]),
                integer=nx, keep=0)


def exact_cap(graph: Graph, comm: np.ndarray, inside: np.ndarray, out: np.ndarray, T: float,
              seconds: float | None = None, child: HighsChild | None = None) -> tuple[float, str]:
    """``(cap, status)``: ``cap*(F, T)`` of the module docstring, made safe, or a bound above it (the
    MIP's dual bound, ``inf`` without one: out of time, or the ``child`` killed); ``-inf`` when no set
    qualifies.  ``seconds``: the MIP's time limit (a ``child`` runs it, killed when it overruns)."""
    request = cap_request(graph, comm, inside, out, T)
    if request is None:
        return -math.inf, "infeasible"
    request["time_limit"] = seconds
    forced = float(graph.work[inside].sum())
    if not len(request["cost"]):  # no free node and no traffic: the forced set alone
        return forced * (1 + MARGIN), "optimal"
    reply = run_highs(request) if child is None or seconds is None else child.solve(request, seconds + GRACE)
    if reply is None:
        return math.inf, "killed"
    if reply["status"] == "infeasible":
        return -math.inf, "infeasible"
    most = -reply["dual"] if np.isfinite(reply["dual"]) else math.inf  # an LP (no free node) has no dual bound
    if reply["status"] == "optimal":
        most = max(-reply["objective"], most if math.isfinite(most) else -math.inf)
    return (forced + T * most) * (1 + MARGIN) + MARGIN * T, reply["status"]


class HopCaps:
    """The exact caps priced so far, per hop: each ``(T', cap)`` bounds the hop at every ``T <= T'``."""

    def __init__(self, hops: int) -> None:
        self.priced: dict[int, list[tuple[float, float]]] = {}
        self.hops = hops

    def at(self, T: float) -> np.ndarray:
        """Each hop's least cap valid at ``T`` (``inf``: none)."""
        caps = np.full(self.hops, np.inf)
        for i, got in self.priced.items():
            valid = [cap for t, cap in got if t >= T]
            if valid:
                caps[i] = min(valid)
        return caps

    def fresh(self, i: int, T: float, width: float) -> bool:
        """Whether hop ``i`` has a cap priced within ``[T, T (1 + width)]``."""
        return any(T <= t <= T * (1 + width) for t, _ in self.priced.get(i, ()))

    def add(self, i: int, T: float, cap: float) -> None:
        self.priced.setdefault(i, []).append((T, cap))


__all__ = ["MARGIN", "MAX_FREE_NODES", "HopCaps", "cap_request", "exact_cap"]
