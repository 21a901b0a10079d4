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

Tables received before.  A producer ``u`` pinned in ``H_i`` and not in the state's ``R`` is neither
on the stage of ``c_{i-1}`` nor counted by its carry; when ``P_i`` reads it, the true stage pays to
receive it, a term distinct from the carry's.  So the price poses such producers on a stage of their
own before the first (``away`` of :func:`.chain_prices.price`; only free nodes may sit there, so it
costs nothing: they have no work or weights and send at no charge), whose tensors the first stage
pays to receive; a floating node may sit there too (one that truly sits before the group).  A
producer that the cut node before reads, or that edges between free nodes (either way) join to a
pinned producer not away, is taken as received (the first stage pays less): else a free node held on
the first stage by the second would pay there for the first, which it may truly sit beside, before
the group.  Every true assignment is still among those priced, at no more than its own cost, and a price
only rises as more producers are away (fewer received), as the DP's states need.  And a group ending on a new
stage is priced twice for each of the first :data:`SPLIT_STAGES` counts of stages between (groups of
at most :data:`SPLIT_NODES` nodes): over last
stages holding a node that reads a pinned producer (``READS``; ``R`` as above), and over those
holding none (``QUIET``; ``R`` less the pinned producers: they lie on earlier stages and ``S_i``
receives none of them).  Each assignment is of one kind, so the two states stand for all that the
single one did; past those counts one price covers both kinds (``R`` as above).  Without the split, a
stage holding the end of one attention, after its bias is read, would pass that bias to the next
layer's first stage as received.

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
cannot lower the carry: larger ``j`` are dominated and not priced.  A price at a room some MIP
solved at a larger room reaches down to is read off that MIP (:class:`.chain_prices.Prices`: valid at
any smaller room, exact down to the room its own assignment needs).  And a price proved at a guess
``T' >= T`` and a room ``r' >= r`` bounds the price at ``(T, r)``: the assignments it ranges over
there (first stage ``<= r``, the others ``<= T``) are among those at ``(T', r')`` (its windows, reach
costs and twin order depend on the group alone and on the capacities, which only grow, and the
least ``t`` its MIP was given, the cheap price at ``(T', r')``, is at most the one at ``(T, r)``).
So after a guess it leaves open, the DP runs again on the prices proved so far, no MIP solved anew
(:func:`known_refuted`), bisecting below that guess for one they refute.

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

import math
import time
from dataclasses import dataclass
from typing import Callable

from ..budget import Budget
from ..cost import CostModel
from ..graph import Graph
from ..result import PROOF_TOLERANCE
from .chain_prices import (ANY, LEVELS, MAX_GROUP_NODES, QUIET, READS, ROOM, Link, Prices, chain_links,
                           price)
from .series import STRAY_SHARE
from .stages import safe_bound

#: a guess may take this share of the time left (its prices past that are the cheap ones; a guess they
#: leave unrefuted ends the search)
GUESS_SHARE = 0.5
#: the first guess is just below the known partition's cost when the bracket is this narrow (relative)
PROOF_FIRST = 0.04
#: how far below it (relative): the room a capacity is posed with, twice (a guess closer cannot be refuted)
CLOSE = 2 * ROOM
#: else the first guess is this far below it (relative; the step doubles while guesses are not refuted)
FIRST_STEP = 0.02
#: the descent ends, with nothing refuted, once a guess this far below it (relative) is not refuted
MAX_DESCENT = 0.03
#: the guesses past the descent (:func:`chain_bound`) only when the first took at most this share of the
#: idle time: where groups are slow to price (parallel experts) the method after it may bound better
MIDDLE_SHARE = 0.25
#: once a guess is refuted, a guess left open with MIPs out of time is priced again, those MIPs given longer,
#: when they take at most this share of the time left (:meth:`.chain_prices.Prices.deepen`; before, the
#: guesses descend: one far above what the DP can refute would take the time the descent needs)
DEEPEN_SHARE = 0.5
#: after a guess it leaves open, the DP runs this many times on the prices the MIPs so far give (none
#: solved anew), bisecting below that guess for one they refute
KNOWN_PASSES = 8
#: the DP merges a count's states whose carries lie within this share of the guess (each room is priced)
MERGE = 0.01
#: a group with pinned producers ending on a new stage is priced twice (its last stage reading one of
#: them, or none) for this many stage counts between; once, as any, past them
SPLIT_STAGES = 2
#: ... when it has at most this many nodes (else once: twice the MIPs of an attention over its heads
#: would leave a guess too little time)
SPLIT_NODES = 100


def stages_needed(links: list[Link], k: int, T: float, priced: Callable[..., float]) -> int:
    """The DP of the module docstring: the fewest stages (``k + 1``: more than ``k``) it proves a
    partition of bottleneck ``<= T`` needs; ``priced(i, j, q, away, kind)`` prices group ``i``
    (:func:`price`).  A state also keeps what its stage may hold or have received (module docstring,
    "Received tables"), and prices the tables it has not as received before (there, "Tables received
    before")."""
    states = {(1, frozenset()): 0.0}  # (count, received) -> least carry
    # the producers worth keeping in a state: those some group reads or pins
    tracked = {u for link in links for u, _ in link.reads} | {u for link in links for u in link.pin_ids}
    for i, link in enumerate(links):
        touches = link.touches & tracked
        variants = ((READS, touches), (QUIET, touches - set(link.pin_ids)))
        taken = touches | {u for u, _ in link.reads}  # what a whole group leaves received
        new: dict[tuple, float] = {}

        def put(count: int, received: frozenset, carry: float) -> None:
            if count <= k and carry < new.get((count, received), math.inf):
                new[(count, received)] = carry

        for (count, received), carry in sorted(states.items(), key=lambda item: item[1]):
            room = T - carry  # the larger rooms first: the smaller ones may read off their MIPs
            pays = sum(cost for u, cost in link.reads if u not in received)
            if link.work + pays <= room * (1 + ROOM):
                put(count, received | taken, carry + link.work + pays)
            q = min(LEVELS, max(0, math.ceil(room / T * LEVELS * (1 - 1e-12))))
            away = tuple(p for p, u in enumerate(link.pin_ids) if u not in received)
            for j in range(k - count):
                split = link.leaves and link.pin_ids and j < SPLIT_STAGES and link.graph.n <= SPLIT_NODES
                asked = variants if split else ((ANY, touches),)
                prices = [(priced(i, j, q, away, kind), after) for kind, after in asked]
                for s, after in prices:
                    if s <= T * (1 + ROOM):  # else no such assignment, or its last stage costs more than T
                        put(count + j + 1, after, s)
                if not link.leaves and any(s <= T * (1 + ROOM) for s, _ in prices):
                    break  # the last group needs one fit
                if all(s <= link.floor * (1 + 1e-9) for s, _ in prices):
                    break  # carries at the floor are not lowered by more stages
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


def known_refuted(links: list[Link], k: int, prices: Prices, lo: float, hi: float, budget: Budget) -> tuple:
    """``(T, count)``: the largest guess between ``lo`` and ``hi`` that a bisection of
    :data:`KNOWN_PASSES` steps finds the prices known refute (:meth:`.chain_prices.Prices.known`:
    valid at every guess below those their MIPs were solved at), with the DP's count there; ``(0.0,
    0)`` when none."""
    best, a, b = (0.0, 0), lo, hi
    for _ in range(KNOWN_PASSES):
        if budget.expired():
            break
        T = 0.5 * (a + b)
        count = stages_needed(links, k, T, prices.known(T))
        if count > k:
            best, a = (T, count), T
        else:
            b = T
    return best


def chain_refutes(graph: Graph, k: int, cost_model: CostModel, T: float, budget: Budget | None = None) -> bool:
    """Whether the chain DP proves that no partition into ``k`` stages has bottleneck ``<= T``."""
    links, cm = chain_links(graph, cost_model, STRAY_SHARE * T)
    prices = Prices(links, cm, budget or Budget(None))
    try:
        return stages_needed(links, k, T, prices.at(T)) > k
    finally:
        prices.close()


@dataclass(frozen=True)
class ChainOutcome:
    """What :func:`chain_bound` proved: ``value`` (safe; 0 when nothing), how it ended, and every
    guess with the stages the DP counted there."""

    value: float
    status: str
    guesses: tuple = ()


def groups_in_series(graph: Graph, cost_model: CostModel, k: int, floor: float, upper: float) -> tuple:
    """``(links, cm)`` of :func:`.chain_prices.chain_links` as :func:`chain_bound` cuts the graph, the
    light strays judged against the larger of ``floor`` (a bound) and ``upper / k`` (a known cost):
    two links or more are groups in series, where :mod:`.spine` and the search's packing step aside."""
    return chain_links(graph, cost_model, STRAY_SHARE * max(floor, upper / k), MAX_GROUP_NODES)


def chain_bound(graph: Graph, k: int, cost_model: CostModel, budget: Budget, *, floor: float = 0.0,
                upper: float = math.inf, tolerance: float = 1e-3,
                on_rise: Callable[[float], None] | None = None,
                latest_upper: Callable[[], float] | None = None, idle_share: float = 1.0) -> ChainOutcome:
    """The largest guess below ``upper`` that the chain DP refutes for ``k`` stages, never below
    ``floor`` (a bound already proven).  The first guess is :data:`FIRST_STEP` below ``upper`` (just
    below it, :data:`CLOSE`, when the bracket is :data:`PROOF_FIRST` narrow); guesses not refuted
    descend in doubling steps (by the share of ``k`` the count fell short, when more), never below
    the bracket's middle, and each is followed by :func:`known_refuted` (a guess below it that the
    prices proved so far refute closes the bracket from below); past :data:`MAX_DESCENT` (at once
    when a count short of ``k`` puts the next guess there) that next guess, then one midway between
    ``floor`` and the least guess left unrefuted, follow (an encoder-decoder's stages may need a guess
    well below the known partition) unless, with an ``idle_share`` below 1, the first guess took more
    than :data:`MIDDLE_SHARE` of the idle time, and the search ends if neither is refuted; once one is
    refuted the bracket is halved until it is ``tolerance`` narrow or ``budget`` ends, and a last
    guess :data:`CLOSE` below ``upper`` follows when none below it was left open.  A guess takes at
    most :data:`GUESS_SHARE` of the time left; one the clock leaves unrefuted ends the search.  A guess
    left open with MIPs out of time once a guess below it is refuted is asked again, those MIPs given
    longer (:meth:`.chain_prices.Prices.deepen`), while they fit in :data:`DEEPEN_SHARE` of the time
    left (each run within :data:`GUESS_SHARE` of it).  Until
    a guess is refuted the search takes at most ``idle_share`` of ``budget``'s time (the methods after
    it may bound better where it refutes nothing), and the whole budget from then on.
    ``latest_upper()`` (read first, after each guess and before each price) is the best partition's
    cost known now: the guesses stay below it, and one it undercuts is dropped at once for one below
    it.  ``on_rise(value)`` follows each refuted guess with the safe value.  Only graphs whose groups
    have at most :data:`MAX_GROUP_NODES` nodes are tried.

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
    # the idle share counts from here, the groups' reach costs included
    idle = budget.within(idle_share * budget.remaining()) if budget.limited and idle_share < 1 else budget
    links, cm = groups_in_series(graph, cost_model, k, floor, upper)
    if not links:
        return ChainOutcome(0.0, f"skipped (a group of more than {MAX_GROUP_NODES} nodes)")
    if len(links) < 2:
        return ChainOutcome(0.0, "skipped (no clean cut)")
    prices, ceiling = Prices(links, cm, budget), float(upper)
    lo, hi, refuted, guesses = float(floor), float(upper), 0.0, []
    # just below the known partition first when the bracket is narrow (and last, when no guess below
    # it was left open), else a step below it, never below the bracket's middle
    step, slow, past = FIRST_STEP, False, None
    T = upper * (1 - CLOSE) if upper - lo <= PROOF_FIRST * upper else max(upper * (1 - step), 0.5 * (lo + upper))
    whole = idle.remaining()  # the first guess is slow against the time the search has while idle
    moot = None if latest_upper is None else (lambda: float(latest_upper()) <= T)
    try:
        while T > lo and not (budget if refuted else idle).expired():
            clock = budget if refuted else idle  # a search that refutes may take the whole budget
            started = time.perf_counter()
            count = stages_needed(links, k, T, prices.at(T, clock.within(GUESS_SHARE * clock.remaining()), moot))
            late = prices.late
            while count <= k and refuted and not late and not prices.moot \
                    and prices.deepen(DEEPEN_SHARE * clock.remaining()):
                # asked again, its MIPs that ran out of time given longer; each count is a valid one, so a
                # run the clock cuts short keeps what the one before counted
                count = max(count, stages_needed(links, k, T, prices.at(
                    T, clock.within(GUESS_SHARE * clock.remaining()), moot)))
            if prices.moot:  # a partition of cost <= T turned up meanwhile: aim below it afresh
                ceiling = hi = min(hi, float(latest_upper()))
                T = max(ceiling * (1 - step), 0.5 * (lo + hi)) if not refuted else 0.5 * (lo + hi)
                continue
            slow = slow or (idle_share < 1 and not guesses and time.perf_counter() - started > MIDDLE_SHARE * whole)
            if count <= k and late:
                break  # priced in part by the cheap rule: the guess tells nothing, and the time is short
            guesses.append((T, count))
            if count > k:
                lo = refuted = T
                if on_rise is not None:
                    on_rise(safe_bound(1.0, T))
            else:
                hi = T
                below, count_below = known_refuted(links, k, prices, lo, T, clock)
                if below > lo:  # refuted by the MIPs solved so far: the bracket closes for free
                    guesses.append((below, count_below))
                    lo = refuted = below
                    if on_rise is not None:
                        on_rise(safe_bound(1.0, below))
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
                    if past is None:  # past the descent's end: the guess the count points at, then the middle
                        past = 0 if slow else 2
                    if not past:
                        break
                    # the middle below the least guess left unrefuted, that one included
                    below, past = (below if past == 2 else 0.5 * (lo + hi)), past - 1
                T = below
    finally:
        prices.close()
    value = safe_bound(1.0, refuted) if refuted else 0.0
    status = "proven" if refuted and value >= ceiling * (1 - PROOF_TOLERANCE) else ("partial" if guesses else "no time")
    return ChainOutcome(value, status, tuple(guesses))


__all__ = ["ChainOutcome", "Link", "chain_bound", "chain_links", "chain_refutes", "groups_in_series", "known_refuted", "price",
           "stages_needed"]
