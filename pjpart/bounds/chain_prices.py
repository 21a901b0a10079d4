"""The groups of the chain bound (:mod:`.chain`) as priced: each group ``G_i`` becomes the small graph
``H_i`` (:class:`Link`, :func:`chain_links`), and a *price* (:func:`price`) bounds below the cost of
the stage that holds its last node, over the assignments of ``H_i`` to ``j + 2`` stages that a
partition of bottleneck ``<= T`` can make.  The proofs are in :mod:`.chain`'s docstring; the
variants of a price (``away``, ``kind``) are proved in its section "Tables received before".

Example
-------
A node feeding two of work 4 that join: the group after the first node, priced with no stage between
the first (room 3, 4 or 8) and the last, leaves the last stage all three, two, or the join alone:

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[4, 4, 4, 4], edges=[(0, 1), (0, 2), (1, 3), (2, 3)])
>>> links, cm = chain_links(g, pjpart.CostModel(), 0.0)
>>> [link.graph.n for link in links], [round(price(links[1], 0, r, 20.0, cm, 5.0), 3) for r in (3.0, 4.0, 8.0)]
([1, 4], [12.0, 8.0, 4.0])
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..budget import Budget
from ..cost import CostModel
from ..cost_model import homogeneous_relaxation
from ..graph import Graph
from .guess import solve_guess
from .highs_child import HighsChild
from .series import broadcast_producers, floating_nodes, series_groups, without_strays
from .symmetry import symmetric_windows, twin_branches
from .windows import GuessProblem, Stages, along_edges, guess_problem, reach_costs, stage_windows

#: the room left on a cut node's stage is rounded up to this many levels of the guess
LEVELS = 1_000_000
#: the method runs only where every group has at most this many nodes (a group's MIP over more would
#: not finish in a guess's time)
MAX_GROUP_NODES = 400
#: a price's MIP gets at most this many seconds at first (its dual bound counts after that)
MIP_SECONDS = 1.0
#: a guess left open with MIPs out of time is priced again, those MIPs given this many times longer
#: (:meth:`Prices.deepen`; the guess's other MIPs keep :data:`MIP_SECONDS`) ...
DEEPEN = 3.0
#: ... up to this many seconds each
MAX_MIP_SECONDS = 16.0
#: a MIP with more binaries runs in the child process of :class:`Prices` (killed when HiGHS overruns its
#: clock); the smaller ones here, where the round trip would cost more than the solve
CHILD_BINARIES = 100
#: capacities are posed this much larger (relative): a partition on the boundary keeps room to spare
ROOM = 1e-5
#: groups cut past broadcast tensors are priced only when their floating nodes (whose work no price
#: counts) hold at most this share of the work
FLOATING_SHARE = 0.1
#: ... and when no group holds more than this share of the work (MIPs over a lump do not finish)
LUMP_SHARE = 0.25
#: a price's kinds (:func:`price`): any last stage; one holding a reader of a pinned table; one holding none
ANY, READS, QUIET = "any", "reads", "quiet"


@dataclass(frozen=True)
class Link:
    """One group ``G_i`` as priced: ``graph`` is ``H_i`` (node 0 the cut node before it when
    ``enters``; its last node ``c_i`` when ``leaves``), with the reach costs of its nodes."""

    graph: Graph
    enters: bool
    leaves: bool
    work: float
    key: str
    before: np.ndarray = field(repr=False)
    after: np.ndarray = field(repr=False)
    twins: tuple = field(default=(), repr=False)
    pinned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    free: np.ndarray | None = field(default=None, repr=False)
    #: ``(producer, cost)``: the broadcast producers of earlier groups that nodes of the group (not
    #: floating) read, each with the cost of receiving its tensor
    reads: tuple = ()
    #: the broadcast producers the stage holding ``c_i`` may hold or have received, when the group
    #: ends on a new stage: those pinned, and the group's own
    touches: frozenset = frozenset()
    #: the producers pinned (``pinned``, in order), as nodes of the graph the links were cut from
    pin_ids: tuple = ()
    #: the nodes of ``H_i`` that read a pinned producer
    readers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    #: per pinned producer, its part of ``H_i``'s free nodes joined by edges (either way), and the
    #: positions of those the cut node before reads (:func:`_truly_away`)
    pin_parts: tuple = ()
    cut_reads: frozenset = frozenset()

    @property
    def floor(self) -> float:
        """The least cost of the stage holding ``c_i`` (the cheapest upset holding it); 0 for the last group."""
        return float(self.after[-1]) if self.leaves else 0.0


def chain_links(graph: Graph, cost_model: CostModel, light: float,
                max_nodes: float = math.inf) -> tuple[list[Link], CostModel]:
    """The groups of the relaxed problem (module docstring) as :class:`Link` s, in series order,
    and the scalar cost model they are priced under; no links when a group has more than
    ``max_nodes`` nodes (its reach costs alone take seconds).  Cut past broadcast tables (module
    docstring) when that splits the graph finer, no group then holding over :data:`LUMP_SHARE` of
    the work nor the floating nodes over :data:`FLOATING_SHARE`."""
    from ..reduce import subgraph

    g, cm = homogeneous_relaxation(graph, cost_model)
    keep = without_strays(g, light, cm.bandwidth)
    if len(keep) < g.n:
        g = subgraph(g, keep)
    groups, loose, spread = series_groups(g, 0.0), np.zeros(g.n, dtype=bool), np.zeros(g.n, dtype=bool)
    broadcast = np.zeros(g.n, dtype=bool)  # the producers the cuts pass: none in plain groups
    wide, order = broadcast_producers(g)
    if wide.any():
        cut = series_groups(g, 0.0, wide, order)
        floating = floating_nodes(g, cut)
        finer = max(len(grp) for grp in cut) < max(len(grp) for grp in groups)
        if finer and g.work[floating].sum() <= FLOATING_SHARE * g.work.sum() \
                and max(g.work[grp].sum() for grp in cut) <= LUMP_SHARE * g.work.sum():
            groups, loose, spread, broadcast = cut, floating, wide & ~floating, wide
    if max(len(grp) for grp in groups) + 1 > max_nodes:
        return [], cm
    stages = Stages.of(cm, 2)
    links, reach = [], {}  # reach costs by group content: a model's layers repeat
    done = np.zeros(g.n, dtype=bool)  # the nodes of the groups so far
    for i, grp in enumerate(groups):
        inside = np.zeros(g.n, dtype=bool)
        inside[grp] = True
        into = inside[g.edges[:, 1]] & ~inside[g.edges[:, 0]] if g.m else np.zeros(0, dtype=bool)
        before = [int(groups[i - 1][-1])] if i else []
        pins = [int(v) for v in np.unique(g.edges[into, 0]) if done[v] and v not in before]
        done[grp] = True
        nodes = before + pins + grp.tolist()
        if len(nodes) > max_nodes:
            return [], cm
        local = np.full(g.n, -1)
        local[nodes] = np.arange(len(nodes))
        e = local[g.edges] if g.m else np.zeros((0, 2), np.int64)
        e = e[(e >= 0).all(axis=1)]
        free = np.zeros(len(nodes), dtype=bool)  # pinned before the group, or floating in it
        free[len(before):] = np.concatenate([np.ones(len(pins), dtype=bool), loose[grp]])
        work, params = g.work[nodes].copy(), g.params[nodes].copy()
        work[free] = params[free] = 0.0  # counted in their own group, or (floating) nowhere
        if i:
            work[0] = params[0] = 0.0  # c_{i-1} is counted in the group before
        h = Graph.from_arrays(work=work, params=params, sizeout=g.sizeout[nodes], edges=e.tolist())
        leaves = i < len(groups) - 1
        hubs = np.flatnonzero((np.arange(len(nodes)) < len(before) + len(pins)) | spread[nodes])
        digest = hashlib.sha1()
        for a in (h.work, h.params, h.sizeout, h.edges, free, hubs, np.array([bool(i), leaves, len(pins)])):
            digest.update(np.ascontiguousarray(a).tobytes())
        key = digest.hexdigest()
        if key not in reach:
            sends = h if not free.any() else Graph.from_arrays(  # what free nodes send is charged nowhere
                work=work, params=params, sizeout=np.where(free, 0.0, h.sizeout), edges=e.tolist())
            reach[key] = (*reach_costs(sends, stages)[:2], tuple(twin_branches(h, hubs=hubs)))
        pinned = np.arange(len(before), len(before) + len(pins))
        read = np.unique(g.edges[into & ~loose[g.edges[:, 1]], 0]) if g.m else np.zeros(0, np.int64)
        reads = tuple((int(u), float(g.sizeout[u]) / cm.bandwidth) for u in read if broadcast[u])
        touches = frozenset(int(v) for v in before + pins + grp.tolist() if broadcast[v])
        readers = np.unique(h.edges[np.isin(h.edges[:, 0], pinned), 1]) if h.m else np.zeros(0, np.int64)
        joined = h.edges[free[h.edges[:, 0]] & free[h.edges[:, 1]]] if h.m else np.zeros((0, 2), np.int64)
        parts = connected_components(sp.coo_matrix((np.ones(len(joined)), (joined[:, 0], joined[:, 1])),
                                                shape=(h.n, h.n)), directed=False)[1]
        links.append(Link(h, bool(i), leaves, float(g.work[grp[~loose[grp]]].sum()), key, *reach[key],
                          pinned=pinned, free=free if free.any() else None, reads=reads, touches=touches,
                          pin_ids=tuple(pins), readers=readers, pin_parts=tuple(parts[pinned].tolist()),
                          cut_reads=frozenset(p for p, v in enumerate(pinned.tolist()) if i and 0 in h.successors(v))))
    return links, cm


def price(link: Link, j: int, room: float, T: float, cost_model: CostModel, seconds: float,
          away: tuple = (), kind: str = ANY) -> float:
    """The price itself (:func:`solved_price`'s first value)."""
    return solved_price(link, j, room, T, cost_model, seconds, away, kind)[0]


def cheap_price(link: Link, j: int, room: float, T: float) -> float:
    """The price without a MIP: ``after(c_i)``, and the work the other stages cannot hold."""
    return max(link.floor, float(link.graph.work.sum()) - room - j * T)


def solved_price(link: Link, j: int, room: float, T: float, cost_model: CostModel, seconds: float,
                 away: tuple = (), kind: str = ANY,
                 child: HighsChild | None = None) -> tuple[float, float, float, bool]:
    """A lower bound on the least cost of the last of ``j + 2`` stages that ``link``'s group can
    take: the first of cost ``<= room`` (holding the cut node before), ``j`` of cost ``<= T``, the
    last holding the group's last node (``inf``: no such assignment).  ``away``: positions in
    ``link.pinned`` of producers on a stage before the first (a stage of their own, of no cost, where
    floating nodes may sit too), whose tensors the first stage then pays to receive (those
    :func:`_truly_away` keeps); ``kind``
    :data:`READS` or :data:`QUIET`: only last stages that hold a node reading a pinned producer, or
    none.  :mod:`.chain`'s docstring, "Tables received before".  ``child``: the process to solve a MIP
    of more than :data:`CHILD_BINARIES` binaries in (:class:`~.highs_child.HighsChild`, killed when
    HiGHS overruns its clock; the MIP then proves nothing).

    Returns ``(price, bound, fits, open)``: ``bound`` is what the MIP proved (``inf``: no assignment; 0:
    none solved), so that ``max(cheap_price(..., room'), bound)`` bounds the price at any ``room' <=
    room`` (fewer assignments fit in less room); ``fits`` is the least room the MIP's own optimal
    assignment needs on the first stage (``inf``: none found optimal; 0 where ``bound`` is ``inf``),
    down to which that bound is also the price's exact value (:class:`Prices`; up to the MIP's gap);
    ``open``: the MIP ran out of time with a dual bound, so a longer one may price higher."""
    h, cm = link.graph, cost_model
    cheap = cheap_price(link, j, room, T)
    if h.n > MAX_GROUP_NODES or seconds <= 0.05:
        return cheap, 0.0, math.inf, False
    kk = j + 2
    model = T * (1 + ROOM)
    caps = np.full(kk, model)
    caps[0] = max(room * (1 + ROOM), 1e-12 * model)
    speed = caps / model
    first, last = stage_windows(h, model, link.before, link.after, speed)
    if link.enters:
        last[0] = 0
    last[link.pinned] = 0
    if link.leaves:
        first[-1] = kk - 1
    if kind == QUIET:
        last[link.readers] = np.minimum(last[link.readers], kk - 2)
    away = _truly_away(link, away)
    if away:  # a stage 0 before the others, holding the producers away and any floating node
        floating = np.zeros(h.n, dtype=bool) if link.free is None else link.free.copy()
        floating[link.pinned] = False
        first, last, kk, speed = first + 1, last + 1, kk + 1, np.concatenate([[1.0], speed])
        first[floating & (first == 1)] = 0
        first[link.pinned[list(away)]] = last[link.pinned[list(away)]] = 0
    first, last = along_edges(h, *symmetric_windows(first, last, link.twins))
    if np.any(first > last):
        return math.inf, math.inf, 0.0, False
    stages = Stages(speed, speed * cm.bandwidth, speed * cm.bandwidth, np.full(kk, cm.memory),
                    np.full(kk, cm.memory_limit), cm.overflow_bandwidth)
    prob = guess_problem(h, kk, stages, model, first, last, bottleneck=np.arange(kk) == kk - 1,
                         twins=link.twins, free_out=link.free)
    if kind == READS and not _some_on_last(prob, link.readers, kk):
        return math.inf, math.inf, 0.0, False
    prob.col_lo[prob.t_col] = min(cheap / model * (1 - 1e-9), 1.0)  # valid: the MIP need not prove it again
    in_child = child if prob.binaries > CHILD_BINARIES else None
    verdict = solve_guess(prob, integer=True, time_limit=seconds, child=in_child)
    if verdict.status == "refuted":
        return math.inf, math.inf, 0.0, False
    bound = verdict.reach * (1 - 1e-6)
    fits = math.inf
    if verdict.status == "optimal" and verdict.stage is not None:
        fits = _first_room(h, verdict.stage, 1 if away else 0, cm, model, link.free)
    # out of time with a dual bound (not a child killed, which proves nothing: a stuck HiGHS)
    return max(cheap, bound), bound, fits, verdict.status == "open" and verdict.reach > 0


def _first_room(h: Graph, stage: np.ndarray, first: int, cm: CostModel, model: float,
                free: np.ndarray | None) -> float:
    """The least room of the first stage (``first``) that holds its part of ``stage``, as the price's
    MIP costs it: its work, each producer it receives from, each one it holds and sends (not
    ``free``), over the bandwidth, and its overflow (not scaled by the room)."""
    on = stage == first
    src, dst = (h.edges[:, 0], h.edges[:, 1]) if h.m else (np.zeros(0, np.int64),) * 2
    sent = on[src] & (stage[dst] > first)
    if free is not None:
        sent &= ~free[src]
    producers = np.union1d(src[on[dst] & (stage[src] < first)], src[sent])
    over = max(0.0, float(h.params[on].sum()) - cm.memory) / cm.overflow_bandwidth
    if over >= model:
        return math.inf
    return (float(h.work[on].sum()) + float(h.sizeout[producers].sum()) / cm.bandwidth) * model / (model - over)


def _truly_away(link: Link, away: tuple) -> tuple:
    """The producers of ``away`` posed away: less those the cut node before reads, and those joined
    through free nodes (edges between free nodes, either way) to a pinned producer not away, taken as
    received (the first stage pays less, so the price stays valid; so no free node is held on the first
    stage by one producer while it pays there for another)."""
    kept = set(away) - link.cut_reads
    mixed = {part for p, part in enumerate(link.pin_parts) if p not in kept}
    return tuple(p for p in sorted(kept) if link.pin_parts[p] not in mixed)


def _some_on_last(prob: GuessProblem, nodes: np.ndarray, k: int) -> bool:
    """Adds to ``prob`` the row "a node of ``nodes`` sits on the last stage" (``sum Y[v, k - 2] <=
    |nodes| - 1`` over those whose window holds both stages); ``False`` when none can sit there."""
    b = k - 2
    if np.any(prob.first[nodes] > b):
        return True  # one sits there in every point
    able = nodes[prob.last[nodes] > b]
    if not len(able):
        return False
    row = sp.csc_matrix((np.ones(len(able)), (np.zeros(len(able), dtype=np.int64),
                                              prob.y_starts[able] + b - prob.first[able])), shape=(1, prob.columns))
    prob.matrix = sp.vstack([prob.matrix, row], format="csc")
    prob.row_lo, prob.row_hi = np.append(prob.row_lo, -np.inf), np.append(prob.row_hi, len(able) - 1.0)
    return True


class Prices:
    """Prices cached per guess by group content, stage count and level; each MIP gets at most
    :data:`MIP_SECONDS` (those :meth:`deepen` gives longer, more), and none once the budget is spent
    (the cheap price then stands, or the price a shorter run gave) or once ``moot()`` says the guess
    cannot be refuted (a partition that cheap turned up: ``self.moot``).

    A price asked at a room that a MIP solved at a larger room (same group, stage count, tables away
    and kind) reaches down to is read off it: with less room fewer assignments fit, so the bound that
    MIP proved holds (valid at any smaller room), and down to the room its own optimal assignment
    needs on the first stage, that assignment still fits, so the bound is also the exact value (no
    strength lost).  A MIP that found no assignment answers every smaller room.  The DP asks the
    larger rooms first.  The MIPs of earlier guesses price later, smaller ones too (:meth:`known`)."""

    def __init__(self, links: list[Link], cost_model: CostModel, budget: Budget) -> None:
        self.links, self.cm, self.budget = links, cost_model, budget
        self.T, self.cache = math.nan, {}
        #: per group content, stage count, tables away and kind: ``(T, room, bound, fits)`` of every
        #: MIP that proved a bound or found its optimum, at any guess (:func:`solved_price`)
        self.proved: dict[tuple, list] = {}
        self.reused = 0  # prices read off a MIP solved at a larger room, at the current guess
        self.late = 0  # prices the clock left cheap at the current guess
        self.seconds: dict = {}  # the time limit of the current guess's MIPs deepen() gave longer, by key
        self.open: dict = {}  # the prices of the current guess whose MIP ran out of time, by key
        self.shorter: dict = {}  # ... and those deepen() dropped, to be solved anew (never below these)
        self.moot = False
        # a clocked MIP runs in a child killed when HiGHS overruns its clock (highs_child.py)
        self.child = HighsChild() if budget.limited else None

    def close(self) -> None:
        """Ends the child process the MIPs ran in, if any."""
        if self.child is not None:
            self.child.close()

    def at(self, T: float, budget: Budget | None = None,
           moot: Callable[[], bool] | None = None) -> Callable[..., float]:
        """Prices at the guess ``T``, their MIPs within ``budget`` (by default the whole one)."""
        if T != self.T:
            self.T, self.cache, self.late, self.reused, self.open, self.shorter, self.seconds = T, {}, 0, 0, {}, {}, {}
        clock, self.moot = budget or self.budget, False

        def priced(i: int, j: int, q: int, away: tuple = (), kind: str = ANY) -> float:
            link, room = self.links[i], q * T / LEVELS
            key, family = (link.key, j, q, away, kind), (link.key, j, away, kind)
            self.moot = self.moot or (moot is not None and moot())
            if self.moot:  # the rest of the guess is wasted: cheap prices end it at once, not kept
                return cheap_price(link, j, room, T)
            if key not in self.cache:
                for t, r, bound, fits in self.proved.get(family, ()):
                    if t == T and r >= room and (fits <= room * (1 + ROOM) * (1 - 1e-9) or bound == math.inf):
                        self.reused += 1
                        self.cache[key] = max(cheap_price(link, j, room, T), bound, self.shorter.pop(key, 0.0))
                        return self.cache[key]
                seconds = min(self.seconds.get(key, MIP_SECONDS), clock.remaining())
                self.late += seconds <= 0.05
                value, bound, fits, out = solved_price(link, j, room, T, self.cm, seconds, away, kind, self.child)
                value = self.cache[key] = max(value, self.shorter.pop(key, 0.0))  # as strong as a shorter run
                if out:
                    self.open[key] = value
                if bound > 0 or fits < math.inf:
                    self.proved.setdefault(family, []).append((T, room, bound, fits))
            return self.cache[key]
        return priced

    def deepen(self, seconds: float) -> bool:
        """Whether the current guess has prices whose MIP ran out of time with a dual bound (a child
        killed is not retried) that may run :data:`DEEPEN` times longer (up to
        :data:`MAX_MIP_SECONDS`), fitting in ``seconds`` together: if so, those prices are dropped
        (asked again, their MIPs are solved anew with that limit, never below the shorter run's
        price: both bound the same least cost); the guess's other MIPs keep :data:`MIP_SECONDS`."""
        longer = {key: min(MAX_MIP_SECONDS, self.seconds.get(key, MIP_SECONDS) * DEEPEN) for key in self.open}
        longer = {key: limit for key, limit in longer.items() if limit > self.seconds.get(key, MIP_SECONDS)}
        if not longer or sum(longer.values()) > seconds:
            return False
        for key in longer:
            del self.cache[key]
            self.shorter[key] = self.open.pop(key)
        self.seconds.update(longer)
        return True

    def known(self, T: float) -> Callable[..., float]:
        """Prices at the guess ``T`` from the MIPs solved so far, none solved now: the largest bound a
        MIP proved at a guess ``>= T`` and a room ``>=`` the one asked (with less room, and stages
        that may cost less, fewer assignments fit, so that bound holds), and the cheap price."""
        def priced(i: int, j: int, q: int, away: tuple = (), kind: str = ANY) -> float:
            link, room = self.links[i], q * T / LEVELS
            bounds = [b for t, r, b, _ in self.proved.get((link.key, j, away, kind), ()) if t >= T and r >= room]
            return max([cheap_price(link, j, room, T)] + bounds)
        return priced


__all__ = ["ANY", "Link", "Prices", "QUIET", "READS", "chain_links", "cheap_price", "price", "solved_price"]
