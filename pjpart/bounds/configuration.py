"""The configuration bound: how many blocks of cost at most ``T`` it takes to cover the graph.

Bottleneck guessing (:mod:`.guess`) refutes a guess ``T`` with the LP of the stage-assignment
problem, which splits a node over stages.  On a layer of parallel experts, or of attention heads,
that LP cuts every stage between two cheap tensors a fraction of an expert apart and pays almost no
traffic: on an 82-node mixture-of-experts layer it refutes only 0.71 of what 7 stages need.  The
configuration LP (the bin-packing relaxation of Gilmore and Gomory) asks instead how many whole
blocks of cost ``<= T`` cover the nodes; a block that holds one and a half experts pays the tensor
its cut sends, so the experts stay whole in the count.

Validity.  Write ``B`` for the convex blocks (a difference ``D2 - D1`` of two downsets, ``D1 ⊆ D2``)
with ``g(B) <= T``, where ``g(B) = work(B) / s_max + (in(B) + out(B)) / beta`` (``s_max`` the
fastest stage, ``beta`` the fastest link; a scalar model has ``s_max = 1``, ``beta`` its bandwidth)
and ``params(B)`` within the largest stage memory limit: the block cost of the scalar problem of
:func:`pjpart.cost_model.homogeneous_relaxation`, on which everything below works.  Every stage of a
partition of bottleneck ``<= T`` is such a block: a stage is ``D_b - D_{b-1}`` (``D_b``: stages ``0..b``),
and stage ``b`` costs ``work / s_b + in / bi_b + out / bo_b + over_b >= g`` (``s_b <= s_max``, every
link at most ``beta``, overflow ``>= 0``).  So ``k`` such blocks cover ``V``.  Now take any ``pi >= 0``
on the nodes and any ``U`` with ``pi(B) <= U`` for every block ``B`` above.  With ``lambda_B = 1``
on the (non-empty) stages, ``sum_v pi_v <= sum_v pi_v sum_{B ∋ v} lambda_B = sum_B lambda_B pi(B)
<= U k``: if ``sum_v pi_v > U k``, no partition of bottleneck ``<= T`` exists (Farley's bound for
column generation: it holds at every iteration, not only at the LP optimum).

``pi`` comes from the duals of the cover LP over the blocks found so far (``min sum lambda``, every
node covered at least once); ``U`` is the dual bound of the pricing MIP ``max pi(B)`` over the blocks,
so a time limit on the MIP costs strength, never validity.  Pricing model: binaries ``d1, d2`` (two
downsets: ``d[u] >= d[v]`` on every edge ``u -> v``, ``d1 <= d2``), ``x = d2 - d1``, and per producer
``u`` continuous ``y_u >= x_w - x_u`` (``u`` sends into ``B``) and ``z_u >= x_u - x_w`` (``B`` sends
``u``'s tensor out) over its consumers ``w``; the cost row ``work . x / s_max + sizeout . (y + z) /
beta <= T`` (divided by ``T (1 + ROOM)``, so a block of cost exactly ``T`` is inside with room to
spare).  At an integer point ``y_u``, ``z_u`` can be 0 exactly when ``u`` sends nothing, so the row
holds for every block of ``g(B) <= T`` and the MIP's maximum is at least ``max pi(B)``.

Pricing.  Any ``pi`` and any valid ``U`` give a bound, so how columns are found does not touch
validity.  The intervals of a few topological orders (depth-first orders keep a branch's nodes
together) are priced first; only when none prices above 1 do the MIPs run, and their ``U`` is the
proof.  The restricted LP over the columns found is at least the cover LP's optimum, which is at
least every Farley bound: once it is at most ``k``, the guess is out of this relaxation's reach.

Windows.  One MIP over a graph of a thousand nodes does not finish in minutes, so ``U`` is the
largest of several MIPs over convex node sets ``W`` (their neighbours outside fixed: predecessors in
both downsets, successors in neither, so a block inside ``W`` pays its exact traffic).  The graph is
cut at clean cut nodes into groups ``G_1, ..., G_r`` (:func:`series_groups`), each of work above
``top * s_max`` (``top >= T``): every node of ``G_i`` reaches every node of ``G_j``, ``i < j``, through
the last node of ``G_i``.  A block ``B`` of cost ``<= T`` meeting ``G_i`` and ``G_j``, ``i < j``, holds
every node on a path between its nodes (convexity), so all of ``G_{i+1}`` when ``j > i + 1``, which
weighs more than ``T``: hence ``B`` lies in one group, or in two consecutive ones, where it holds with
each node of ``G_i`` its descendants in ``G_i`` and with each node of ``G_{i+1}`` its ancestors there.
The windows are the groups and, per consecutive pair, the nodes of ``G_i`` whose descendants in
``G_i`` weigh ``<= T`` with those of ``G_{i+1}`` whose ancestors there do (a convex set): every block is
inside one, and ``max pi(B)`` over the blocks is at most the largest window's ``U``.

Groups.  Column generation over a whole graph of a few hundred nodes tails off for minutes, so
:func:`configuration_bound` counts group by group when the graph has several: with ``c_i`` the
blocks of cost ``<= T`` that cover ``G_i`` alone (its own edges only), a partition of bottleneck
``<= T`` has at least ``sum_i c_i - (r - 1)`` stages.  Proof: stage ``b`` meets the groups in a
range (all of ``G_i`` precedes all of ``G_j``), and consecutive groups share at most one stage, so
``sum_i #(stages meeting G_i) <= k + r - 1``; the part of stage ``b`` in ``G_i`` is convex in
``G_i``, its work and weights are at most the stage's, and each producer it receives from or sends
to inside ``G_i`` is one the stage receives from or sends to, so its cost is at most the stage's.
Each ``c_i`` is at least ``work(G_i) / (T s_max)`` and at least the group's Farley bound rounded up
(after a relative ``1e-6`` taken off).  Blocks needed at a guess are needed at every smaller one.

Relaxations.  Light sources and sinks that stop clean cuts (a norm's weights) are dropped first
(:func:`without_strays`): the optimum can only fall, so every bound above stays valid.

Example
-------
A chain ``4 -> 4 -> 4`` (no traffic): blocks of cost 7.9 hold one node, so three are needed and
two stages cannot reach 7.9; at 8 two nodes fit in one block, and two blocks cover the chain:

>>> import pjpart
>>> g = pjpart.Graph.from_arrays(work=[4, 4, 4], edges=[(0, 1), (1, 2)])
>>> cover_bound(g, pjpart.CostModel(), 7.9).blocks > 2, cover_bound(g, pjpart.CostModel(), 8.0).blocks <= 2
(True, True)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..budget import Budget
from ..cost import CostModel
from ..cost_model import homogeneous_relaxation
from ..graph import Graph
from ..reduce import subgraph
from .cover_pricing import ROOM, Intervals, Window, block_costs, sliced_cost
from .series import STRAY_SHARE, closure_work, series_groups, without_strays

#: ``U`` is raised by this much, relative, before the test (the MIP's dual bound is a float)
U_SLACK = 1e-6
#: column generation stops after this many pricing rounds
MAX_ROUNDS = 400
#: the first pricing pass gives each window's MIP at most this many seconds
QUICK_SECONDS = 1.0
#: orders learned per round, from the best blocks the MIPs found
LEARN_PER_ROUND = 8
#: at most this many new columns per round
NEW_COLUMNS = 24
#: the descent's first step below the known partition's cost (relative), and its growth per guess
DESCENT = 0.02
DESCENT_GROWTH = 1.6
#: while descending, a guess may take this share of the time left
DESCENT_SHARE = 0.25
#: a group whose count has not risen above its work bound in this many seconds of column generation,
#: its restricted LP less than ``STUBBORN_ROOM`` blocks above its count, gets this share of a
#: guess's time from then on (attention layers: their LP tails off for minutes)
STUBBORN_AFTER = 3.0
STUBBORN_SHARE = 0.1
STUBBORN_ROOM = 0.5
#: the method runs on graphs of at most this many nodes (the interval tables are ``n^2``)
MAX_NODES = 3000
#: and only where every group it counts (the whole graph when it has one) has at most this many:
#: column generation converged in about a second on groups of 90-100 nodes (mixture-of-experts
#: layers) and not in two minutes on groups of 150 (attention with 8 heads)
MAX_PART_NODES = 160


@dataclass(frozen=True)
class CoverBound:
    """``blocks``: a proven lower bound on the number of blocks of cost ``<= T`` that cover the graph
    (0 when nothing was proved); ``lp``: the cover LP's last value over the columns found;
    ``rounds``: pricing rounds; ``status``: ``"converged"`` (no column prices above 1: ``blocks`` is
    then the LP optimum, up to the MIP's tolerance), ``"proved"`` (``blocks`` passed ``stop_above``),
    ``"out of reach"`` (the LP over the columns found is at most ``stop_above``, so no ``pi`` can
    prove more) or ``"time"`` (the clock, :data:`MAX_ROUNDS`, or a round that found no new column)."""

    blocks: float
    lp: float
    rounds: int
    status: str


def cover_graph(graph: Graph, cost_model: CostModel, top: float) -> tuple[Graph, CostModel]:
    """The cover LP's graph for guesses ``<= top``: the scalar relaxation less its light strays."""
    graph, cost_model = homogeneous_relaxation(graph, cost_model)
    keep = without_strays(graph, STRAY_SHARE * float(top), cost_model.bandwidth)
    return (graph if len(keep) == graph.n else subgraph(graph, keep)), cost_model


def counted_groups(cover: Graph, floor: float, upper: float) -> list[np.ndarray]:
    """The groups counted one by one (any in series will do; heavier than the floor, a proxy for the
    optimum, they stay small where ``upper`` is far above it)."""
    return series_groups(cover, (floor if 0 < floor < upper else upper) * (1 + ROOM))


class ConfigurationLP:
    """The cover LP of one graph and cost model, for guesses ``T <= top``: columns found at one
    guess serve every guess above their cost, and the pricing windows are built once.  It covers
    the graph less its light stray sources and sinks (:func:`without_strays`, a relaxation).

    Windows (module docstring, "Windows"): the groups of :func:`series_groups` (each heavier than
    ``top``), and between consecutive groups the nodes a block spanning both may hold.
    """

    def __init__(self, graph: Graph, cost_model: CostModel, top: float, seed: int = 0):
        self.graph, cost_model = cover_graph(graph, cost_model, top)
        self.cost_model, self.top, self.cap, self.seed = cost_model, float(top), cost_model.memory_limit, seed
        self.groups = series_groups(self.graph, self.top * (1 + ROOM))
        self._windows: dict[float, list[Window]] = {}
        self._intervals: Intervals | None = None
        self.blocks = np.zeros((0, self.graph.n), dtype=bool)
        self.block_cost, self.block_params = np.zeros(0), np.zeros(0)
        self.add(list(np.eye(self.graph.n, dtype=bool)))  # the single nodes

    def windows(self, T: float) -> list[Window]:
        """The pricing windows at guess ``T``; a spanning window keeps only the nodes whose
        descendants (in the group before) or ancestors (in the group after) weigh ``<= T``."""
        if T not in self._windows:
            out = [Window(self.graph, self.cost_model, g) for g in self.groups]
            for first, second in zip(self.groups, self.groups[1:]):
                tail = first[closure_work(self.graph, first, True) <= T * (1 + ROOM)]
                head = second[closure_work(self.graph, second, False) <= T * (1 + ROOM)]
                if len(tail) and len(head):
                    out.append(Window(self.graph, self.cost_model, np.concatenate([tail, head])))
            self._windows = {T: out}  # one guess at a time: the last one's
        return self._windows[T]

    def add(self, blocks: list[np.ndarray]) -> None:
        if not blocks:
            return
        new = np.array(blocks, dtype=bool)
        cost, params = block_costs(self.graph, self.cost_model, new)
        self.blocks = np.vstack([self.blocks, new])
        self.block_cost = np.r_[self.block_cost, cost]
        self.block_params = np.r_[self.block_params, params]

    def _price(self, pi: np.ndarray, T: float, cap: float, left) -> tuple[float, float, list[np.ndarray]]:
        """``(U, best value, blocks of value > 1)`` over the windows, each MIP given at most ``cap``
        seconds (and its share of ``left()``)."""
        n = self.graph.n
        U, value, found = 0.0, 0.0, []
        windows = self.windows(T)
        for i, window in enumerate(windows):
            whole = float(pi[window.nodes].sum())  # pi >= 0: no block inside is worth more
            if whole <= max(U, 1.0):
                U = max(U, whole)
                continue
            block, v, u = window.price(pi, T, min(cap, left() / (len(windows) - i)))
            U, value = max(U, u), max(value, v)
            if v > 1 + 1e-9:
                mask = np.zeros(n, dtype=bool)
                mask[block] = True
                found.append(mask)
        return U, value, found

    def cover(self, T: float, *, stop_above: float = math.inf, budget: Budget | None = None,
              seconds: float = math.inf) -> CoverBound:
        """A lower bound on the number of blocks of cost ``<= T`` covering the graph (module
        docstring), by column generation until it converges, passes ``stop_above`` (proved), can
        no longer pass it (out of reach) or the clock (``seconds``, ``budget``) stops it."""
        from scipy.optimize import linprog
        from scipy.sparse import csc_matrix, hstack, identity

        t0 = time.perf_counter()
        graph, n = self.graph, self.graph.n

        def left() -> float:
            own = seconds - (time.perf_counter() - t0)
            return min(own, budget.remaining()) if budget is not None and budget.limited else own

        if T > self.top * (1 + ROOM):
            raise ValueError(f"guess {T!r} above the cover LP's top {self.top!r}: its windows would miss blocks")
        if self._intervals is None and left() > 0:
            self._intervals = Intervals(graph, self.cost_model, self.top, self.seed)
        best, lp_value, status, rounds = 0.0, math.inf, "time", 0
        penalty = 2.0 * n + 2.0
        tight = T * (1 + ROOM)
        while rounds < MAX_ROUNDS and left() > 0:
            fits = (self.block_cost <= tight) & (self.block_params <= self.cap * (1 + ROOM))
            columns = csc_matrix(self.blocks[fits].T.astype(float))
            A = hstack([identity(n, format="csc"), columns]).tocsc()
            c = np.concatenate([np.full(n, penalty), np.ones(columns.shape[1])])
            lp = linprog(c, A_ub=-A, b_ub=-np.ones(n), bounds=(0, None), method="highs")
            if lp.status != 0:
                break
            lp_value = float(lp.fun)
            rounds += 1
            if math.isfinite(stop_above) and lp_value <= stop_above:
                status = "out of reach"
                break
            pi = np.maximum(0.0, -np.asarray(lp.ineqlin.marginals, dtype=float))
            new = self._intervals.columns(pi, T, self.cap, NEW_COLUMNS) if self._intervals is not None else []
            if new:
                self.add(new)
                continue
            # no interval prices above 1: the windows' MIPs price exactly and give U; a quick
            # pass first (a block found early needs no proof), the full one when it finds none
            for cap in (QUICK_SECONDS, math.inf):
                U, value, found = self._price(pi, T, cap, left)
                if found or left() <= 0:
                    break
            if self._intervals is not None:
                for mask in found[:LEARN_PER_ROUND]:
                    self._intervals.learn(mask)
            if math.isfinite(U):
                U_safe = max(U, value, 1e-300) * (1 + U_SLACK) + 1e-12
                best = max(best, float(pi.sum()) / U_safe)
            if best > stop_above:
                status = "proved"
                break
            if not found:
                status = "converged" if math.isfinite(U) and U <= 1.0 + 1e-6 else "time"
                break
            before = len(self.blocks)
            self.add(found)
            if len(self.blocks) == before:
                break
        return CoverBound(best, lp_value, rounds, status)


def cover_bound(graph: Graph, cost_model: CostModel, T: float, *, stop_above: float = math.inf,
                seconds: float = math.inf) -> CoverBound:
    """A lower bound on the blocks of cost ``<= T`` that cover ``graph``: :meth:`ConfigurationLP.cover`."""
    return ConfigurationLP(graph, cost_model, T).cover(T, stop_above=stop_above, seconds=seconds)


def configuration_refutes(graph: Graph, k: int, cost_model: CostModel, T: float, seconds: float = math.inf) -> bool:
    """Whether the configuration bound proves that no partition into ``k`` stages has bottleneck
    ``<= T`` (more than ``k`` blocks needed, with a relative ``1e-6`` to spare)."""
    need = k * (1 + 1e-6) + 1e-9
    return cover_bound(graph, cost_model, T, stop_above=need, seconds=seconds).blocks > need


class _GroupCount:
    """The stages a partition of bottleneck ``<= T`` needs, counted group by group (module
    docstring, "Groups"): ``sum_i c_i - (r - 1)``, ``c_i`` the blocks covering group ``i`` alone.
    Groups of the same content share one cover LP."""

    def __init__(self, whole: ConfigurationLP, groups: list[np.ndarray], top: float):
        self.parts: list[ConfigurationLP] = []
        shared: dict[bytes, ConfigurationLP] = {}
        for group in groups:
            sub = subgraph(whole.graph, np.sort(group))
            key = b"".join(a.tobytes() for a in (sub.work, sub.params, sub.sizeout, sub.edges))
            if key not in shared:
                shared[key] = ConfigurationLP(sub, whole.cost_model, top)
            self.parts.append(shared[key])
        self.proven: dict[int, list[tuple[float, int]]] = {}  # per part: (T, blocks proven at T)
        self.spent: dict[int, float] = {}  # per part: seconds of column generation so far
        self.rose: set[int] = set()  # parts whose count rose above their work bound at some guess
        self.room: dict[int, float] = {}  # per part: its restricted LP's value less its count, last seen

    def _stubborn(self, i: int) -> bool:
        # with little room between its restricted LP and its count, the Farley bound must close nearly
        # all of the LP's gap to gain a block (attention); with room, it needs more rounds (experts)
        return i not in self.rose and self.spent.get(i, 0.0) >= STUBBORN_AFTER and \
            self.room.get(i, math.inf) < STUBBORN_ROOM

    def stages(self, T: float, k: int, budget: Budget, seconds: float) -> CoverBound:
        """``blocks``: a proven lower bound on the stages (``> k`` refutes ``T`` for ``k`` stages);
        ``lp``: the most this count can reach with the columns found; status as :class:`CoverBound`."""
        t0 = time.perf_counter()
        r = len(self.parts)
        by_id = {id(p): p for p in self.parts}
        # stubborn groups last, small ones first (they converge fastest)
        order = sorted(by_id, key=lambda i: (self._stubborn(i), by_id[i].graph.n))
        counts, reach, rounds = {}, {i: math.inf for i in by_id}, 0
        for i, part in by_id.items():
            # the work alone (a block holds at most T of it, relaxed), and what a larger guess needed
            # (fewer blocks fit under a smaller one)
            work = math.ceil(float(part.graph.work.sum()) / (T * (1 + ROOM)) * (1 - 1e-9))
            counts[i] = max([1, work] + [b for t, b in self.proven.get(i, []) if t >= T])

        def total(per_part: dict) -> int:
            return sum(per_part[id(p)] for p in self.parts) - (r - 1)

        for done, i in enumerate(order):
            if total(counts) > k:
                break  # refuted: the groups not counted yet need at least what they have
            part, c = by_id[i], counts[i]
            stubborn, started = self._stubborn(i), time.perf_counter()
            while True:
                left = min(seconds - (time.perf_counter() - t0), budget.remaining() if budget.limited else math.inf)
                share = left / (len(order) - done)
                if stubborn:
                    share = min(share, STUBBORN_SHARE * seconds - (time.perf_counter() - t0))
                if share <= 0:
                    break
                out = part.cover(T, stop_above=c, budget=budget, seconds=share)
                rounds += out.rounds
                if math.isfinite(out.lp):
                    reach[i] = max(c, math.ceil(out.lp * (1 - 1e-9)))
                    self.room[i] = out.lp - c
                if out.blocks <= c:
                    break
                c = max(c + 1, math.ceil(out.blocks * (1 - 1e-6) - 1e-9))
                self.rose.add(i)
            counts[i] = c
            self.proven.setdefault(i, []).append((T, c))
            self.spent[i] = self.spent.get(i, 0.0) + time.perf_counter() - started
        proven = total(counts)
        most = total({i: max(counts[i], reach[i]) for i in by_id})
        status = "proved" if proven > k else ("out of reach" if most <= k else "time")
        return CoverBound(float(proven), float(most), rounds, status)


@dataclass(frozen=True)
class ConfigurationOutcome:
    """``value``: the largest guess refuted (0 when none); ``guesses``: ``(T, CoverBound)`` per guess
    tried; ``status``: ``"proven"`` (the value reached ``upper / (1 + 2e-6)``: that partition is
    optimal), ``"partial"``, ``"no time"`` or why it did not run (``"skipped (...)"``)."""

    value: float
    status: str
    guesses: tuple = ()


def configuration_bound(graph: Graph, k: int, cost_model: CostModel, budget: Budget, *, floor: float = 0.0,
                        upper: float = math.inf, tolerance: float = 1e-3,
                        on_rise: Callable[[float, int], None] | None = None,
                        latest_upper: Callable[[], float] | None = None) -> ConfigurationOutcome:
    """The largest guess ``T`` below ``upper`` that the cover LP refutes for ``k`` stages (with no
    ``upper``, below the cost of a few orders sliced optimally).

    The first guess sits just below ``upper`` (a refutation proves that partition optimal); the next ones
    descend from it in growing steps (:data:`DESCENT`, 2% first: a guess far below the optimum needs smaller
    blocks and more columns, so it is the slow one) until one is refuted, then halve the bracket between the
    largest guess refuted and the smallest not, until it is ``tolerance`` narrow or ``budget`` ends; never
    below ``floor``, a bound already proven.  A guess gets at most :data:`DESCENT_SHARE` of the time left
    while descending, half once bisecting (the clock stopping it: not refuted).  ``on_rise(T, rounds)``
    follows each refuted guess; ``latest_upper()``, read first and after each guess, is the best partition's
    cost known now (a search alongside lowers it): the guesses follow.

    Example
    -------
    Three chains of two nodes (work 2, 1 sent between them) beside each other: two stages need a
    block of two chains, ``4 + 1`` at least (a chain split sends its tensor), so 4.9 is refuted:

    >>> import pjpart
    >>> from pjpart.budget import Budget
    >>> g = pjpart.Graph.from_arrays(work=[2] * 6, sizeout=[1, 0] * 3, edges=[(0, 1), (2, 3), (4, 5)])
    >>> out = configuration_bound(g, 2, pjpart.CostModel(), Budget(30), floor=3.0, upper=8.0)
    >>> 4.9 <= out.value <= 8.0
    True
    """
    skip = "k = 1" if k == 1 else "empty graph" if graph.n == 0 else f"n > {MAX_NODES}" if graph.n > MAX_NODES else ""
    if skip:
        return ConfigurationOutcome(0.0, f"skipped ({skip})")
    if latest_upper is not None:  # a search alongside may have lowered it since the request was made
        upper = min(upper, float(latest_upper()))
    if not math.isfinite(upper):
        upper = sliced_cost(graph, k, cost_model)
        if not math.isfinite(upper):
            return ConfigurationOutcome(0.0, "skipped (no partition known)")
    need = k * (1 + 1e-6) + 1e-9
    whole = ConfigurationLP(graph, cost_model, upper)
    groups = counted_groups(whole.graph, floor, upper)
    if (largest := max(len(g) for g in groups)) > MAX_PART_NODES:
        return ConfigurationOutcome(0.0, f"skipped (a group of {largest} > {MAX_PART_NODES} nodes)")
    counter = _GroupCount(whole, groups, upper) if len(groups) > 1 else None
    lo, hi, refuted, guesses = float(floor), float(upper), 0.0, []
    ceiling = upper  # the best partition's cost known now: the guesses stay below it
    T, step = upper / (1 + 2e-6), DESCENT
    while T > lo and not budget.expired():
        # while descending a guess may take a share of the time left, once bisecting half of it
        share = DESCENT_SHARE if not refuted else 0.5
        seconds = share * budget.remaining() if budget.limited else math.inf
        if counter is not None:
            out = counter.stages(T, k, budget, seconds)
        else:
            out = whole.cover(T, stop_above=need, budget=budget, seconds=seconds)
        guesses.append((T, out))
        if out.blocks > need:
            lo = refuted = T
            if on_rise is not None:
                on_rise(T, out.rounds)
        else:
            hi = T
        now = math.inf if latest_upper is None else float(latest_upper())
        if now < ceiling:
            if not refuted and now < hi:
                step = DESCENT  # the guesses that failed lay above the new ceiling: start afresh
            ceiling, hi = now, min(hi, now)
        if hi - lo <= tolerance * hi:
            break
        if refuted:
            T = 0.5 * (lo + hi)
        else:
            T, step = max(ceiling * (1 - step), 0.5 * (lo + hi)), step * DESCENT_GROWTH
    status = "proven" if refuted >= ceiling / (1 + 2e-6) else ("partial" if guesses else "no time")
    return ConfigurationOutcome(refuted, status, tuple(guesses))


__all__ = ["ConfigurationLP", "ConfigurationOutcome", "CoverBound", "configuration_bound", "configuration_refutes",
           "counted_groups", "cover_bound", "cover_graph"]
