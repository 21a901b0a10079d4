"""The chain bound: a graph in series, cut at its clean cut nodes into groups, each group priced by
a small exact MIP, the groups chained by a DP over the stage that holds each cut node.

Where it wins.  An operator-level transformer at ``k = 16`` has a cheap cut (one hidden state) only
between sublayers, a handful of them, and ``k - 1`` stage boundaries: most boundaries must fall inside
an attention or an expert layer, where several tensors cross.  The LP of :mod:`.guess` spreads each
boundary over many nodes at a fraction of its traffic, and the cover count of :mod:`.configuration`
gives a stage back at every group boundary; a MIP over one group and three or four stages, though,
is small and solved in well under a second, and the DP joins the groups exactly.

Validity.  Work on the scalar problem of :func:`pjpart.cost_model.homogeneous_relaxation`, less its
light stray sources and sinks (:func:`.series.without_strays`): both only lower the optimum.  Let
``G_1, ..., G_r`` be its groups in series (:func:`.series.series_groups`), ``c_i`` the last node of
``G_i``: every edge leaving ``G_i`` leaves ``c_i`` and enters ``G_{i+1}``.  Take a partition of
bottleneck ``<= T`` into ``k`` stages and write ``s(v)`` for a node's stage.  Nodes of ``G_i`` sit on
stages ``s(c_{i-1})..s(c_i)`` (descendants of ``c_{i-1}``, ancestors of ``c_i``), and a stage strictly
between holds nodes of ``G_i`` alone.  Let ``H_i`` be ``G_i`` with ``c_{i-1}`` (work 0) and its edges
into ``G_i``, and cost a set of ``H_i`` by its work, the tensors it receives from and sends to other
nodes of ``H_i`` (each producer once), and its overflow.  Restricted to ``H_i`` a stage costs at most
what it costs in the graph (fewer nodes, fewer producers).  The stage ``s(c_i)`` holds ``S_i``, its part
of ``H_i``, and ``P_{i+1}``, its part of ``H_{i+1}``; they share no node (``c_i``'s work counts in
``H_i`` only), ``S_i`` sends nothing within ``H_i`` (its consumers there sit on later stages only if
after ``c_i``: none) and ``P_{i+1}`` receives nothing within ``H_{i+1}`` (nothing there precedes it
but ``c_i``, which it holds), so the terms they pay are distinct terms of the stage's cost: ``h(S_i) +
h(P_{i+1}) <= T`` (overflow is superadditive), and likewise when a whole group lies on that stage
(its cost in ``H_i`` is its work).  So, with ``x_i = h(S_i)`` (the *carry*) and ``n_i = s(c_i) + 1``:
``n_1, x_1`` come from stage 0 holding ``P_1`` (room ``T``) and, per group, either ``s(c_i) =
s(c_{i-1})`` (``n`` stays, ``x`` grows by ``work(G_i) <= T - x``), or ``j = s(c_i) - s(c_{i-1}) - 1 >= 0``
stages of cost ``<= T`` lie between, ``h(P_i) <= T - x_{i-1}`` and ``n_i = n_{i-1} + j + 1``; and ``n_r
<= k`` (the last group's last stage closes the count).

Broadcast tables.  A causal mask or rotary tables computed once and read by every layer leave no
clean cut.  Cut past them (:func:`.series.series_groups` with :func:`.series.broadcast_producers`):
every node of ``G_i`` but the *floating* ones (those that do not descend from ``c_{i-1}``: a reshape
of a table, a decoder's first sublayer beside its encoder; they read only broadcast nodes and floating
nodes) still lies on stages ``s(c_{i-1})..s(c_i)``, every node of ``G_i`` reaches ``c_i``, and besides
``c_{i-1}`` only broadcast nodes of earlier groups send into ``G_i``; those are ancestors of
``c_{i-1}``, so on stage ``s(c_{i-1})`` or before.  ``H_i`` takes them *pinned* to its first stage, and the floating nodes of ``G_i`` free to sit
on any of its stages; both with work and params 0 (counted in their own group, or nowhere) and their
sending charged nowhere (``free_out`` of :func:`.windows.guess_problem`), which only lowers what is
charged: a stage of ``H_i`` that reads a pinned table pays to receive it, as the true stage does (the
table sits on an earlier one), the first stage pays nothing for it, and a floating node that truly
sits before the group is taken to sit on the first stage, where it costs nothing.  The terms charged
on the stage shared by ``H_i`` and ``H_{i+1}`` stay distinct (``H_{i+1}`` charges no receiving on its
first stage), so the argument below holds as it stands.  Reach costs are computed with the free
nodes sending nothing (lower, so the windows they give are wider).

Received tables.  A stage holding whole groups in a row pays to receive each broadcast tensor their
nodes read, once per producer (a position bias or an encoder's output read by every layer: a third
of such a stage's cost), which the carry ``work(G_i)`` alone misses.  So a state also keeps a set
``R`` holding every broadcast producer on the stage of ``c_i`` and every one whose receiving its carry
may count.  A group ending on a new stage (a priced transition) sets ``R`` to the producers pinned in
``H_i`` and those of ``G_i`` (its price may count the first's receiving on that stage, which may hold
the second; an earlier group's reaches ``c_{i-1}``, so lies on an earlier stage).  A group whole on
the stage of ``c_{i-1}`` adds ``s(u)`` to the carry for each broadcast producer ``u`` of an earlier
group that a node of ``G_i`` not floating reads, ``u`` not in ``R`` (that node is on the stage, ``u``
on an earlier one, and nothing counted it), and joins those and its own to ``R``.  Each term added is
paid once by the true stage, apart from those the next price charges there (``P_{i+1}``'s: none for a
pinned producer); a state ``(n, x, R)`` stands for every ``(n' >= n, x' >= x, R' <= R)``.

The DP keeps, per count ``n <= k``, the least carry it can prove (a state ``(n, x)`` stands for every
``(n' >= n, x' >= x)``).  Its transition asks the *price* ``p(i, j, q)``: a lower bound on ``h(S_i)``
over assignments of ``H_i`` to a first stage of cost ``<= q T / LEVELS`` holding ``c_{i-1}``, ``j``
stages of cost ``<= T``, and a last one holding ``c_i`` (the last group: any last stage of cost ``<=
T``), ``inf`` when none exists.  The room ``T - x`` is rounded up to a level, so the true assignment
is among those priced; by induction over ``i`` the DP holds a state at or below the partition's own
``(n_i, x_i)`` (from a state at or below it, each step the partition takes has a priced counterpart at or
below its own: a larger room admits the partition's assignment of the group, and a price bounds the
cheapest last stage over all that it admits), so a DP that ends with every count above ``k`` proves
``T* > T``; a state with more stages and no less carry than another is dropped, the one kept being
below whatever it stood below.  A price is the
minimum of the windowed MIP of :mod:`.windows` (item 3, on ``H_i`` with ``j + 2`` stages, the first
one's capacity ``q T / LEVELS``, ``t`` bounding the last stage only) or its dual bound at a time
limit, raised to ``after(c_i)`` (the cheapest upset holding ``c_i``, item 1 there) and to ``work(H_i)
- q T / LEVELS - j T`` (what the other stages cannot hold); a group too large for the MIP, or out of
time, is priced by the last two alone.  The MIP orders the group's interchangeable branches (attention
heads; :func:`.symmetry.twin_branches`) by how early they sit, on windows widened to the same span on
every twin: its constraints (windows, capacities, the cut nodes' stages) are defined by ``H_i`` and
``T`` alone, so the order keeps an optimum (:mod:`.symmetry`); on 16 heads it turns MIPs that ran out of
time into ones solved in about a second.  Once a price reaches ``after(c_i)``, more stages between
cannot lower the carry: larger ``j`` are dominated and not priced.

Example
-------
Two groups in series, ``4 -> 4 (cut) -> 4 -> 4``, sending nothing: with the guess ``T = 7.9`` each stage
holds one node of work 4, so four stages are needed and three are refuted; at 8 two suffice:

>>> import pjpart
>>> from pjpart.budget import Budget
>>> g = pjpart.Graph.from_arrays(work=[4, 4, 4, 4], edges=[(0, 1), (1, 2), (2, 3)])
>>> chain_refutes(g, 3, pjpart.CostModel(), 7.9), chain_refutes(g, 2, pjpart.CostModel(), 8.0)
(True, False)
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..budget import Budget
from ..cost import CostModel
from ..cost_model import homogeneous_relaxation
from ..graph import Graph
from ..result import PROOF_TOLERANCE
from .guess import solve_guess
from .series import STRAY_SHARE, broadcast_producers, floating_nodes, series_groups, without_strays
from .stages import safe_bound
from .symmetry import symmetric_windows, twin_branches
from .windows import Stages, along_edges, guess_problem, reach_costs, stage_windows

#: the room left on a cut node's stage is rounded up to this many levels of the guess
LEVELS = 1_000_000
#: the method runs only where every group has at most this many nodes (a group's MIP over more would
#: not finish in a guess's time)
MAX_GROUP_NODES = 400
#: a price's MIP gets at most this many seconds (its dual bound counts after that)
MIP_SECONDS = 1.0
#: a guess may take this share of the time left (its prices past that are the cheap ones; a guess they
#: leave unrefuted ends the search)
GUESS_SHARE = 0.5
#: capacities are posed this much larger (relative): a partition on the boundary keeps room to spare
ROOM = 1e-5
#: the first guess is just below the known partition's cost when the bracket is this narrow (relative)
PROOF_FIRST = 0.04
#: how far below it (relative): the room a capacity is posed with, twice (a guess closer cannot be refuted)
CLOSE = 2 * ROOM
#: else the first guess is this far below it (relative; the step doubles while guesses are not refuted)
FIRST_STEP = 0.02
#: the descent ends, with nothing refuted, once a guess this far below it (relative) is not refuted
MAX_DESCENT = 0.03
#: groups cut past broadcast tensors are priced only when their floating nodes (whose work no price
#: counts) hold at most this share of the work
FLOATING_SHARE = 0.1
#: ... and when no group holds more than this share of the work (MIPs over a lump do not finish)
LUMP_SHARE = 0.25
#: the guess midway to the floor (:func:`chain_bound`) only when the first took at most this share of the
#: time: where groups are slow to price (parallel experts) the methods after this one bound better
MIDDLE_SHARE = 0.1
#: the DP merges a count's states whose carries lie within this share of the guess (each room is priced)
MERGE = 0.01


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
        links.append(Link(h, bool(i), leaves, float(g.work[grp[~loose[grp]]].sum()), key, *reach[key],
                          pinned=pinned, free=free if free.any() else None, reads=reads, touches=touches))
    return links, cm


def price(link: Link, j: int, room: float, T: float, cost_model: CostModel, seconds: float) -> float:
    """A lower bound on the least cost of the last of ``j + 2`` stages that ``link``'s group can
    take: the first of cost ``<= room`` (holding the cut node before), ``j`` of cost ``<= T``, the
    last holding the group's last node (``inf``: no such assignment).  Module docstring."""
    h, cm = link.graph, cost_model
    cheap = max(link.floor, float(h.work.sum()) - room - j * T)
    if h.n > MAX_GROUP_NODES or seconds <= 0.05:
        return cheap
    kk = j + 2
    model = T * (1 + ROOM)
    caps = np.full(kk, model)
    caps[0] = max(room * (1 + ROOM), 1e-12 * model)
    speed = caps / model
    stages = Stages(speed, speed * cm.bandwidth, speed * cm.bandwidth, np.full(kk, cm.memory),
                    np.full(kk, cm.memory_limit), cm.overflow_bandwidth)
    first, last = stage_windows(h, model, link.before, link.after, speed)
    if link.enters:
        last[0] = 0
    last[link.pinned] = 0
    if link.leaves:
        first[-1] = kk - 1
    first, last = along_edges(h, *symmetric_windows(first, last, link.twins))
    if np.any(first > last):
        return math.inf
    last_only = np.arange(kk) == kk - 1
    prob = guess_problem(h, kk, stages, model, first, last, bottleneck=last_only, twins=link.twins,
                         free_out=link.free)
    prob.col_lo[prob.t_col] = min(cheap / model * (1 - 1e-9), 1.0)  # valid: the MIP need not prove it again
    verdict = solve_guess(prob, integer=True, time_limit=seconds)
    if verdict.status == "refuted":
        return math.inf
    return max(cheap, verdict.reach * (1 - 1e-6))


def stages_needed(links: list[Link], k: int, T: float, priced: Callable[[int, int, int], float]) -> int:
    """The DP of the module docstring: the fewest stages (``k + 1``: more than ``k``) it proves a
    partition of bottleneck ``<= T`` needs; ``priced(i, j, q)`` prices group ``i`` (:func:`price`).
    A state also keeps what its stage may hold or have received (module docstring, "Received tables")."""
    states = {(1, frozenset()): 0.0}  # (count, received) -> least carry
    read = {u for link in links for u, _ in link.reads}  # the producers worth keeping in a state
    for i, link in enumerate(links):
        touches = link.touches & read
        taken = touches | {u for u, _ in link.reads}  # what a whole group leaves received
        new: dict[tuple, float] = {}

        def put(count: int, received: frozenset, carry: float) -> None:
            if count <= k and carry < new.get((count, received), math.inf):
                new[(count, received)] = carry

        for (count, received), carry in states.items():
            room = T - carry
            pays = sum(cost for u, cost in link.reads if u not in received)
            if link.work + pays <= room * (1 + ROOM):
                put(count, received | taken, carry + link.work + pays)
            q = min(LEVELS, max(0, math.ceil(room / T * LEVELS * (1 - 1e-12))))
            for j in range(k - count):
                s = priced(i, j, q)
                if s > T * (1 + ROOM):
                    continue  # no such assignment, or its last stage costs more than T
                put(count + j + 1, touches, s)
                if not link.leaves or s <= link.floor * (1 + 1e-9):
                    break  # the last group needs one fit; a carry at its floor is not lowered by more stages
        # a state stands for those of its count at most MERGE * T above its carry (it takes all they
        # received); a state with more stages, no less carry, no more received than another is dominated
        pool: dict[int, list] = {}
        for (count, received), carry in sorted(new.items(), key=lambda item: item[1]):
            kept = pool.setdefault(count, [])
            if kept and carry <= kept[-1][0] + MERGE * T:
                kept[-1][1] |= received
            else:
                kept.append([carry, set(received)])
        states = {}
        for count in sorted(pool):
            for carry, received in pool[count]:
                received = frozenset(received)
                if not any(c2 <= count and x2 <= carry and r2 >= received for (c2, r2), x2 in states.items()):
                    states[(count, received)] = carry
        if not states:
            return k + 1
    return min(count for count, _ in states)


class _Prices:
    """Prices cached per guess by group content, stage count and level; each MIP gets at most
    :data:`MIP_SECONDS`, and none once the budget is spent (the cheap price then stands)."""

    def __init__(self, links: list[Link], cost_model: CostModel, budget: Budget) -> None:
        self.links, self.cm, self.budget = links, cost_model, budget
        self.T, self.cache = math.nan, {}
        self.late = 0  # prices the clock left cheap at the current guess

    def at(self, T: float, budget: Budget | None = None) -> Callable[[int, int, int], float]:
        """Prices at the guess ``T``, their MIPs within ``budget`` (by default the whole one)."""
        if T != self.T:
            self.T, self.cache, self.late = T, {}, 0
        clock = budget or self.budget

        def priced(i: int, j: int, q: int) -> float:
            key = (self.links[i].key, j, q)
            if key not in self.cache:
                seconds = min(MIP_SECONDS, clock.remaining())
                self.late += seconds <= 0.05
                self.cache[key] = price(self.links[i], j, q * T / LEVELS, T, self.cm, seconds)
            return self.cache[key]
        return priced


def chain_refutes(graph: Graph, k: int, cost_model: CostModel, T: float, budget: Budget | None = None) -> bool:
    """Whether the chain DP proves that no partition into ``k`` stages has bottleneck ``<= T``."""
    links, cm = chain_links(graph, cost_model, STRAY_SHARE * T)
    return stages_needed(links, k, T, _Prices(links, cm, budget or Budget(None)).at(T)) > k


@dataclass(frozen=True)
class ChainOutcome:
    """What :func:`chain_bound` proved: ``value`` (safe; 0 when nothing), how it ended, and every
    guess with the stages the DP counted there."""

    value: float
    status: str
    guesses: tuple = ()


def chain_bound(graph: Graph, k: int, cost_model: CostModel, budget: Budget, *, floor: float = 0.0,
                upper: float = math.inf, tolerance: float = 1e-3,
                on_rise: Callable[[float], None] | None = None,
                latest_upper: Callable[[], float] | None = None) -> ChainOutcome:
    """The largest guess below ``upper`` that the chain DP refutes for ``k`` stages, never below
    ``floor`` (a bound already proven).  The first guess is :data:`FIRST_STEP` below ``upper`` (just
    below it, :data:`CLOSE`, when the bracket is :data:`PROOF_FIRST` narrow); guesses not refuted
    descend in doubling steps (by the share of ``k`` the count fell short, when more), never below
    the bracket's middle; past :data:`MAX_DESCENT` (at once when a count two or more stages short puts
    the next guess there) one guess midway between ``floor`` and the least guess left unrefuted
    follows when the first guess took at most :data:`MIDDLE_SHARE` of the time (an encoder-decoder's
    stages may need a guess well below the known partition), and the search ends if it is not
    refuted; once one is refuted the bracket is halved until it is ``tolerance`` narrow or ``budget``
    ends, and a last guess :data:`CLOSE` below ``upper`` follows when none below it was left open.  A guess takes at
    most :data:`GUESS_SHARE` of the time left; one the clock leaves unrefuted ends the search.
    ``latest_upper()`` (read first and after each guess) is the best partition's cost known now: the
    guesses stay below it.  ``on_rise(value)`` follows each refuted guess with the safe value.  Only
    graphs whose groups have at most :data:`MAX_GROUP_NODES` nodes are tried.

    Example
    -------
    The two groups of the module's example at three stages: every guess up to just below the
    optimum 8 is refuted:

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[4, 4, 4, 4], edges=[(0, 1), (1, 2), (2, 3)])
    >>> out = chain_bound(g, 3, pjpart.CostModel(), Budget(30), upper=8.0)
    >>> 7.999 < out.value < 8.0
    True
    """
    if k == 1 or graph.n == 0:
        return ChainOutcome(0.0, "skipped (k = 1)" if k == 1 else "skipped (empty graph)")
    if not math.isfinite(upper):
        return ChainOutcome(0.0, "skipped (no partition known)")
    if latest_upper is not None:  # a search alongside may have lowered it since the request was made
        upper = min(upper, float(latest_upper()))
    links, cm = chain_links(graph, cost_model, STRAY_SHARE * max(floor, upper / k), MAX_GROUP_NODES)
    if not links:
        return ChainOutcome(0.0, f"skipped (a group of more than {MAX_GROUP_NODES} nodes)")
    if len(links) < 2:
        return ChainOutcome(0.0, "skipped (no clean cut)")
    prices, ceiling = _Prices(links, cm, budget), float(upper)
    lo, hi, refuted, guesses = float(floor), float(upper), 0.0, []
    # just below the known partition first when the bracket is narrow (and last, when no guess below
    # it was left open), else a step below it, never below the bracket's middle
    step, middle = FIRST_STEP, False
    T = upper * (1 - CLOSE) if upper - lo <= PROOF_FIRST * upper else max(upper * (1 - step), 0.5 * (lo + upper))
    started, whole = time.perf_counter(), budget.remaining()
    while T > lo and not budget.expired():
        count = stages_needed(links, k, T, prices.at(T, budget.within(GUESS_SHARE * budget.remaining())))
        middle = middle or (not guesses and time.perf_counter() - started > MIDDLE_SHARE * whole)
        if count <= k and prices.late:
            break  # priced in part by the cheap rule: the guess tells nothing, and the time is short
        guesses.append((T, count))
        if count > k:
            lo = refuted = T
            if on_rise is not None:
                on_rise(safe_bound(1.0, T))
        else:
            hi = T
        now = math.inf if latest_upper is None else float(latest_upper())
        if now < ceiling:
            ceiling, hi = now, min(hi, now)
        close = ceiling * (1 - CLOSE)
        if hi - lo <= tolerance * hi:
            if hi < ceiling or lo >= close:
                break
            T = close  # no guess left open below the known partition: as close to it as the room allows
            continue
        if refuted:
            T = 0.5 * (lo + hi)
        else:  # descending: a count short of k by a share of it puts the guess about that share too high
            step = max(2 * step, (k - count) / k)
            below = max(ceiling * (1 - step), 0.5 * (lo + hi))
            if T < ceiling * (1 - MAX_DESCENT) or (count < k and below < ceiling * (1 - MAX_DESCENT)):
                if middle:  # past the descent's end (two stages short: the guess that could be refuted
                    break   # lies there): one guess midway to the floor, bisection on if it is refuted
                middle, below = True, 0.5 * (lo + hi)
            T = below
    value = safe_bound(1.0, refuted) if refuted else 0.0
    status = "proven" if refuted and value >= ceiling * (1 - PROOF_TOLERANCE) else ("partial" if guesses else "no time")
    return ChainOutcome(value, status, tuple(guesses))


__all__ = ["ChainOutcome", "Link", "chain_bound", "chain_links", "chain_refutes", "price", "stages_needed"]
