"""Stage packing (pjpart.search.packing): each stage's MIP against every downset of the nodes left,
the partitions it builds against the float64 reference and the exhaustive optimum, and the gates
by which the search starts from it."""

import itertools
import math

import numpy as np
import pytest
from cases import cost_setting, fixed_shape_dag, series_graph, stage_setting

import pjpart
from pjpart import CostModel
from pjpart.bounds.highs_child import run_highs
from pjpart.budget import Budget
from pjpart.problem import Problem
from pjpart.search import packing, solver
from pjpart.search.finish import Candidate
from pjpart.search.seeds import best_slicing


def _stage_cost(g, cm, S, placed):
    """What stage ``S`` costs after the ``placed`` stages, the rest after it (SPEC's block cost)."""
    recv = {int(u) for u, v in g.edges if S[v] and placed[u]}
    send = {int(u) for u, v in g.edges if S[u] and not S[v]}
    over = max(0.0, g.params[S].sum() - cm.memory) / cm.overflow_bandwidth if math.isfinite(cm.memory) else 0.0
    traffic = (sum(g.sizeout[u] for u in recv) + sum(g.sizeout[u] for u in send)) / cm.bandwidth
    return g.work[S].sum() + traffic + over


def test_a_stage_is_the_heaviest_downset_of_the_nodes_left_that_fits(rng):
    """Random DAGs of 6-8 nodes, the four cost settings, a random downset placed before: the MIP (its
    gap closed) picks a downset of the nodes left, of cost at most ``T``, of the largest work of all
    such downsets (enumerated); none when none fits."""
    checked = empty = 0
    for trial in range(60):
        n = int(rng.integers(6, 9))
        g = fixed_shape_dag(rng, n=n, m=int(rng.integers(n - 1, n + 5)))
        cm = cost_setting(rng, trial)
        ancestors = packing._ancestors(g)
        placed = ancestors[rng.integers(n)] > 0 if trial % 3 else np.zeros(n, dtype=bool)  # a downset
        left = ~placed
        T = float(rng.uniform(0.3, 1.0)) * (g.work.sum() + g.sizeout.sum() / cm.bandwidth)
        cand = left & (ancestors[:, left].astype(float) @ g.work[left] <= T)
        best = 0.0  # the empty set always fits
        for bits in itertools.product([False, True], repeat=n):
            S = np.array(bits)
            if (S & ~cand).any():
                continue
            if any(S[v] and left[u] and not S[u] for u, v in g.edges):
                continue  # not a downset of the nodes left
            if g.params[S].sum() <= cm.memory_limit and _stage_cost(g, cm, S, placed) <= T:
                best = max(best, float(g.work[S].sum()))
        if not cand.any():
            continue
        request = packing._stage_request(g, cm, g.sizeout / cm.bandwidth, placed, cand, T)
        request.update(time_limit=None, mip_rel_gap=0.0)
        reply = run_highs(request)
        S = np.zeros(n, dtype=bool)
        if reply["values"] is not None:
            S[np.flatnonzero(cand)[reply["values"] > 0.5]] = True
        got = float(g.work[S].sum())
        assert abs(got - best) <= 1e-6 * (1 + T), (trial, got, best)
        if S.any():
            assert _stage_cost(g, cm, S, placed) <= T * (1 + 1e-6) and g.params[S].sum() <= cm.memory_limit * (1 + 1e-9)
            assert not any(S[v] and left[u] and not S[u] for u, v in g.edges)
        checked += 1
        empty += best == 0
    assert checked >= 40 and empty < checked // 2, (checked, empty)


def _checked_packing(g, k, cm, best):
    """The packing's cost between the combinatorial bound and a sliced order's cost (at least ``best``
    times 1.5), its partition checked: data flows forward only, it costs what the reference says, and
    no less than ``best`` (the exhaustive optimum); ``None`` when it finds none."""
    high = best_slicing(g, g.topological_order(), k, cm, None)[1]
    out = packing.packed_partition(g, k, cm, pjpart.combinatorial_bound(g, k, cm), max(high, best * 1.5))
    if out is None:
        return None
    cost, stages = out
    assert all(stages[u] <= stages[v] for u, v in g.edges)
    assert cost == float(pjpart.evaluate(g, stages, k, cm).max()) and cost >= best * (1 - 1e-9)
    return cost


def test_a_packed_partition_is_valid_and_costed_in_float64(rng):
    """Random DAGs of 8-10 nodes, k = 2..4, between the combinatorial bound and a sliced order's
    cost: the partition returned sends data forward only, costs what the reference says, and is
    never below the exhaustive optimum; on a share of them it is the optimum."""
    found = optimal = 0
    for trial in range(30):
        g = fixed_shape_dag(rng, n=int(rng.integers(8, 11)), m=int(rng.integers(8, 16)))
        cm = cost_setting(rng, trial)
        k = int(rng.integers(2, 5))
        best, _ = pjpart.reference.exhaustive_partition(g, k, cm)
        if not math.isfinite(best):
            continue
        cost = _checked_packing(g, k, cm, best)
        if cost is None:
            continue
        found += 1
        optimal += cost <= best * (1 + 1e-9)
    assert found >= 15 and optimal >= 3, (found, optimal)


def test_the_search_packs_only_wide_graphs_with_the_time_to(rng, monkeypatch):
    """``_packs``: a graph in series, a short time limit, too few stages or nodes are left alone; a
    wide graph (here chain is told it cannot cut it) is packed (``_packed``) and the partition taken
    when cheaper."""
    monkeypatch.setattr(solver, "PACK_MIN_NODES", 6)
    cm, k = CostModel(), 4
    chain = series_graph(rng, 4)
    line = np.minimum(np.argsort(np.argsort(chain.topological_order())) * k // chain.n, k - 1)
    seed = Candidate(line, float(pjpart.evaluate(chain, line, k, cm).max()), chain.topological_order(), "seed")
    assert chain.n >= 6 and not solver._packs(Problem(chain, k, cm), Budget(60.0), lambda: seed)
    monkeypatch.setattr("pjpart.bounds.chain.chain_links", lambda *args: ([], None))
    wide = pjpart.Graph.from_arrays(work=[2, 3, 1, 3, 2, 2, 1, 2], sizeout=[2, 1, 2, 1, 1, 1, 1, 0],
                                    edges=[(0, 1), (0, 3), (1, 2), (2, 3), (2, 5), (3, 4), (4, 5), (4, 6),
                                           (5, 7), (6, 7), (3, 6)])
    poor = np.minimum(np.argsort(np.argsort(wide.topological_order())) // 3, k - 1)  # a poor partition
    start = Candidate(poor, float(pjpart.evaluate(wide, poor, k, cm).max()), wide.topological_order(), "seed")
    assert solver._packs(Problem(wide, k, cm), Budget(60.0), lambda: start)
    got = solver._packed(Problem(wide, k, cm), Budget(60.0), start)
    best, _ = pjpart.reference.exhaustive_partition(wide, k, cm)
    assert got is not None and got.method == "packing" and best <= got.value < start.value
    assert got.value == float(pjpart.evaluate(wide, got.assignment, k, cm).max())
    # too short for PACK_MIN_GUESSES guesses of k - 1 stage MIPs
    assert not solver._packs(Problem(wide, k, cm), Budget(0.5), lambda: start)
    assert not solver._packs(Problem(wide, k, cm), Budget(None), lambda: start)  # no time limit: reproducible
    assert not solver._packs(Problem(wide, 3, cm), Budget(60.0), lambda: start)  # under PACK_MIN_STAGES
    monkeypatch.setattr(solver, "PACK_MIN_NODES", 9)
    assert not solver._packs(Problem(wide, k, cm), Budget(60.0), lambda: start)  # under PACK_MIN_NODES


def test_the_bounds_started_beside_a_packing_end_with_the_run(monkeypatch):
    """A run that packs starts its bounds process before the packing; when the packing raises (here
    an error of its own; Ctrl-C alike), the error reaches the caller and the bounds process is
    stopped, not left running to its own time limit."""
    from pjpart.search.certify import BoundSource

    monkeypatch.setattr(solver, "PACK_MIN_NODES", 6)
    monkeypatch.setattr("pjpart.bounds.chain.chain_links", lambda *args: ([], None))
    events = []

    class Recorded(BoundSource):
        def start(self, upper, niceness=0):
            super().start(upper, niceness)
            events.append("started" if self._pending is not None else "not started")

        def stop(self):
            events.append("stopped" if self._pending is not None else "nothing to stop")
            super().stop()

    def failing(*args, **kwargs):
        events.append("packing")
        raise RuntimeError("packing failed")

    monkeypatch.setattr(solver, "BoundSource", Recorded)
    monkeypatch.setattr(solver, "_packed", failing)
    wide = pjpart.Graph.from_arrays(work=[2, 3, 1, 3, 2, 2, 1, 2], sizeout=[2, 1, 2, 1, 1, 1, 1, 0],
                                    edges=[(0, 1), (0, 3), (1, 2), (2, 3), (2, 5), (3, 4), (4, 5), (4, 6),
                                           (5, 7), (6, 7), (3, 6)])
    with pytest.raises(RuntimeError, match="packing failed"):
        pjpart.partition(wide, 4, time_limit=60.0, exact_max_downsets=0)
    assert events == ["started", "packing", "stopped"]


def test_a_guess_ends_once_its_last_stage_would_hold_too_much():
    """Chains without traffic.  Works 3, 4, 4, 4, 1 and k = 3 at T = 6: the first stage holds 3, and
    the 13 left is more than the next stage (6) and a last stage of work 6 hold: no partition, and
    the traffic of the stage filled (0); with ``cap = 8`` (a partition of cost 8 known) the guess goes
    on to a partition whose last stage holds 9.  Works 4, 4, 4, 4 and k = 2: at T = 7 more work than
    two stages hold, known before any MIP (no traffic known); at T = 8 two nodes each."""
    cm = CostModel()
    g = pjpart.Graph.from_arrays(work=[3, 4, 4, 4, 1], edges=[(0, 1), (1, 2), (2, 3), (3, 4)])
    stages, traffic = packing.pack(g, 3, cm, 6.0, packing._ancestors(g))
    assert stages is None and traffic == 0.0
    stages, _ = packing.pack(g, 3, cm, 6.0, packing._ancestors(g), cap=8.0)
    assert stages.tolist() == [0, 1, 2, 2, 2]
    g = pjpart.Graph.from_arrays(work=[4, 4, 4, 4], edges=[(0, 1), (1, 2), (2, 3)])
    stages, traffic = packing.pack(g, 2, cm, 7.0, packing._ancestors(g))
    assert stages is None and math.isnan(traffic)
    stages, traffic = packing.pack(g, 2, cm, 8.0, packing._ancestors(g))
    assert stages.tolist() == [0, 0, 1, 1] and traffic == 0.0


def test_a_guess_the_stages_so_far_say_will_not_fit_is_given_up(monkeypatch):
    """A chain of 24 nodes of work 1 sending 1, k = 8, T = 4: the first stage holds 3 and pays 1, the
    next two hold 2 and pay 2 each.  The 17 left fit 4 stages of 4 and a last of 4 (20), but not 4
    stages of 4 - 2 with a quarter to spare and the last (14): given up after 3 stage MIPs, with the
    median traffic 2.  Without the prediction the guess learns it after 5 stage MIPs (the 13 left
    exceed two stages of 4 and a last of 4)."""
    g = pjpart.Graph.from_arrays(work=[1] * 24, sizeout=[1] * 23 + [0], edges=[(i, i + 1) for i in range(23)])
    calls = []
    run = packing.run_highs
    monkeypatch.setattr(packing, "run_highs", lambda request: calls.append(1) or run(request))
    stages, traffic = packing.pack(g, 8, CostModel(), 4.0, packing._ancestors(g))
    assert stages is None and traffic == 2.0 and len(calls) == 3
    calls.clear()
    monkeypatch.setattr(packing, "PREDICT_STAGES", 100)
    stages, traffic = packing.pack(g, 8, CostModel(), 4.0, packing._ancestors(g))
    assert stages is None and traffic == 2.0 and len(calls) == 5


def test_a_guess_started_in_time_may_run_on(monkeypatch):
    """A guess that starts within ``budget`` runs while ``overrun`` lasts: a window of 1 s and a guess
    that takes longer (it waits 2 s first) finds the partition; without the overrun the same one
    guess is cut short and nothing is found."""
    import time

    g = pjpart.Graph.from_arrays(work=[4, 4, 4, 4], sizeout=[1, 1, 1, 0], edges=[(0, 1), (1, 2), (2, 3)])
    pack, guesses = packing.pack, []
    monkeypatch.setattr(packing, "pack", lambda *a, **kw: guesses.append(a[3]) or time.sleep(2.0) or pack(*a, **kw))
    found = packing.packed_partition(g, 2, CostModel(), 8.0, 12.0, Budget(1.0), overrun=Budget(60.0))
    assert found is not None and found[0] == 9.0 and len(guesses) == 1
    assert packing.packed_partition(g, 2, CostModel(), 8.0, 12.0, Budget(1.0)) is None and len(guesses) == 2


def test_the_next_guess_is_the_traffic_model_kept_inside_the_interval_open():
    """``traffic + work / k`` inside ``(low, high)``, a tenth of the interval from either end, with the
    side it fell outside of; the midpoint without a model, or when it misses the same side twice."""
    assert packing._next_guess(10.0, 20.0, 13.0) == (13.0, 0)
    assert packing._next_guess(10.0, 20.0, 25.0) == (19.0, 1) and packing._next_guess(10.0, 20.0, 5.0) == (11.0, -1)
    assert packing._next_guess(10.0, 20.0, 25.0, 1) == (15.0, 0)
    assert packing._next_guess(10.0, 20.0, 5.0, 1) == (11.0, -1)
    assert packing._next_guess(10.0, 20.0, math.nan) == (15.0, 0)


def test_the_first_guess_reads_the_traffic_of_a_known_partitions_cheap_stages():
    """A chain of four nodes of work 4 sending 1, 3, 1 (bandwidth 1) in stages 0, 1, 2, 2: the stages
    pay 1 (send), 1 + 3 and 3 (receive); their 10th percentile is 1.4 (linear interpolation)."""
    g = pjpart.Graph.from_arrays(work=[4, 4, 4, 4], sizeout=[1, 3, 1, 0], edges=[(0, 1), (1, 2), (2, 3)])
    stages = np.array([0, 1, 2, 2])
    assert math.isclose(packing._seed_traffic(g, stages, 3, CostModel()), 1.4)
    assert math.isclose(packing._seed_traffic(g, stages, 4, CostModel()), 1.4)  # an empty stage pays nothing


def test_small_ops_are_packed_in_pieces_of_their_in_trees(rng, monkeypatch):
    """A DAG whose every edge passes through two light ops of its own (a norm, an activation), scalar
    and heterogeneous models: each pair is one piece; every partition of the pieces costs on the graph
    what it costs on them, stage by stage; the packing's MIPs see the pieces; and its partition,
    lifted to the graph, sends data forward only, costs what the reference says and is never below
    the exhaustive optimum."""
    seen = []
    pack = packing.pack
    monkeypatch.setattr(packing, "pack", lambda g, *a, **kw: seen.append(g.n) or pack(g, *a, **kw))
    found = 0
    for trial in range(12):
        base = fixed_shape_dag(rng, n=5, m=int(rng.integers(4, 7)))
        n, edges, pairs = base.n, [], []
        work, sizeout, params = list(base.work), list(base.sizeout), list(base.params)
        for u, v in base.edges.tolist():  # u -> w -> x -> v, w and x light, passing u's tensor on
            edges += [(u, n), (n, n + 1), (n + 1, v)]
            work += [1e-5 * float(base.work.sum())] * 2
            sizeout += [float(base.sizeout[u])] * 2
            params += [0.0, 0.0]
            pairs.append((n, n + 1))
            n += 2
        g = pjpart.Graph.from_arrays(work=work, sizeout=sizeout, params=params, edges=edges)
        k = 2
        cm = stage_setting(rng, k, g, trial) if trial % 2 else CostModel(bandwidth=float(rng.uniform(0.5, 4)))
        trees = packing._small_trees(g, k, cm)
        assert all(trees.members[w] == trees.members[x] for w, x in pairs)
        order = trees.graph.topological_order()
        for _ in range(10):  # random partitions of the pieces: slices of their order
            cuts = np.sort(rng.integers(0, trees.graph.n + 1, k - 1))
            coarse = np.searchsorted(cuts, np.argsort(order), side="right")
            np.testing.assert_allclose(pjpart.evaluate(g, coarse[trees.members], k, cm),
                                       pjpart.evaluate(trees.graph, coarse, k, cm), rtol=1e-12)
        best, _ = pjpart.reference.exhaustive_partition(g, k, cm)
        if not math.isfinite(best):
            continue
        seen.clear()
        cost = _checked_packing(g, k, cm, best)
        assert seen and set(seen) == {trees.graph.n}
        found += cost is not None
    assert found >= 5, found
