"""The spine bound (pjpart.bounds.spine) against exhaustive search: its cuts against every set of a
hop's family, its refutations against the optimum."""

import itertools
import math

import numpy as np
from cases import fixed_shape_dag, series_graph, solved_problems

import pjpart
from pjpart import CostModel
from pjpart.bounds import REGISTRY, BoundRequest
from pjpart.bounds.spine import NUS, _Cuts, heaviest_path, spine_bound
from pjpart.bounds.spine_caps import HopCaps, exact_cap
from pjpart.budget import Budget


def _comm(g, S, bandwidth):
    """What the set ``S`` (a mask) receives and sends, each producer once per direction (SPEC)."""
    recv = {int(u) for u, v in g.edges if S[v] and not S[u]}
    send = {int(u) for u, v in g.edges if S[u] and not S[v]}
    return sum(g.sizeout[u] for u in recv | send) / bandwidth


def test_a_hop_value_is_the_least_over_its_family(rng):
    """Every hop of the heaviest path and every family off it, on random DAGs of 7-9 nodes: the cut's
    ``L`` and ``m_nu`` equal the least over all the family's sets (enumerated), less the rounding."""
    checked = 0
    for trial in range(12):
        g = fixed_shape_dag(rng, n=int(rng.integers(7, 10)), m=int(rng.integers(8, 14)))
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)))
        path = heaviest_path(g)
        assert all(b in g.successors(a) for a, b in zip(path, path[1:]))  # a path, of the largest work
        cuts = _Cuts(g, cm, path)
        sets = [np.array(bits, dtype=bool) for bits in itertools.product([False, True], repeat=g.n)]
        hops = [(a, b) for a in range(len(path) + 1) for b in range(a, len(path) + 1)]
        for hop in hops:
            inside, out = cuts.forced(hop)
            family = [S for S in sets if not (inside & ~S).any() and not (S & out).any()]
            comm = np.array([_comm(g, S, cm.bandwidth) for S in family])
            work = np.array([g.work[S].sum() for S in family])
            tol = 1e-6 * (1 + g.work.sum() + g.sizeout.sum())
            for nu in list(NUS) + [None]:
                exact = (comm + work).min() if nu is None else (nu * comm - (1 - nu) * work).min()
                got = cuts.value(hop, nu)
                assert exact - tol <= got <= exact + 1e-12, (trial, hop, nu, got, exact)
                checked += 1
    assert checked >= 12 * 6 * 3


def test_an_exact_cap_is_the_most_work_a_set_of_the_family_holds_within_the_guess(rng):
    """Random DAGs of 5-7 nodes, random forced nodes in and out, guesses around half the cost of
    everything: the MIP's cap equals the largest work over the family's sets (enumerated) of cost
    ``<= T``, ``-inf`` when none, less than its margin above it; a cap bounds the guesses below its own."""
    infeasible = 0
    for trial in range(80):
        n = int(rng.integers(5, 8))
        g = fixed_shape_dag(rng, n=n, m=int(rng.integers(4, n + 3)))
        comm = g.sizeout * float(rng.uniform(0.3, 3))
        kind = rng.integers(0, 3, g.n) if trial % 3 else np.where(rng.random(g.n) < 0.3, 2, 0)
        inside, out = kind == 1, kind == 2
        T = float(rng.uniform(0.3, 1.5)) * (g.work.sum() + comm.sum()) / 2
        best = -math.inf
        for bits in itertools.product([False, True], repeat=g.n):
            S = np.array(bits)
            crossing = {int(u) for u, v in g.edges if S[u] != S[v]}  # a producer sends or receives, once
            if not (inside & ~S).any() and not (S & out).any() and g.work[S].sum() + comm[list(crossing)].sum() <= T:
                best = max(best, float(g.work[S].sum()))
        cap, status = exact_cap(g, comm, inside, out, T)
        if best == -math.inf:
            assert cap == -math.inf and status == "infeasible", (trial, cap, status)
            infeasible += 1
        else:
            assert best <= cap <= best + 1e-5 * (1 + T), (trial, cap, best)
    assert 0 < infeasible < 60
    caps = HopCaps(2)
    caps.add(1, 5.0, 3.0)
    caps.add(1, 4.0, 2.5)
    assert caps.at(4.5).tolist() == [math.inf, 3.0] and caps.at(3.0).tolist() == [math.inf, 2.5]
    assert caps.at(6.0).tolist() == [math.inf, math.inf] and caps.fresh(1, 4.0, 1e-3) and not caps.fresh(1, 4.5, 1e-3)


def test_a_refuted_guess_lies_below_the_optimum(rng):
    """Random DAGs and series graphs of at most 10 nodes, scalar and heterogeneous models, k = 2..4,
    the known cost at the optimum and above it: the bound never exceeds the exhaustive optimum, and
    it refutes guesses above the combinatorial bound on a share of them."""
    checked = raised = 0
    graphs = lambda trial: series_graph(rng, int(rng.integers(2, 4))) if trial % 3 == 0 else \
        fixed_shape_dag(rng, n=int(rng.integers(6, 11)), m=int(rng.integers(6, 16)))
    for trial, g, k, cm, best in solved_problems(rng, 60, graphs, ks=(2, 5), max_nodes=10):
        for upper in (best, best * 1.3):
            out = spine_bound(g, k, cm, upper=upper)
            assert out.value <= best * (1 + 1e-9), (trial, k, out, best)
            assert out.status == "proven"
            raised += out.value > pjpart.combinatorial_bound(g, k, cm) * (1 + 1e-9)
            checked += 1
    assert checked >= 80 and raised >= checked // 10, (checked, raised)


def test_exact_caps_refute_guesses_the_min_cuts_leave_open(rng, monkeypatch):
    """The same graphs: with the MIP caps (no budget) the bound is never below the min cuts' alone
    (a budget too short for the MIPs), never above the exhaustive optimum, and above it on some."""
    monkeypatch.setattr("pjpart.bounds.spine.MIP_MIN_SECONDS", 1e9)
    checked = raised = 0
    graphs = lambda trial: fixed_shape_dag(rng, n=int(rng.integers(6, 11)), m=int(rng.integers(6, 16)))
    for trial, g, k, cm, best in solved_problems(rng, 40, graphs, ks=(3, 5), max_nodes=10):
        cuts_only = spine_bound(g, k, cm, Budget(60.0), upper=best)
        with_caps = spine_bound(g, k, cm, upper=best)
        assert cuts_only.mips == 0 and cuts_only.value <= with_caps.value <= best * (1 + 1e-9), (trial, cuts_only, with_caps)
        raised += with_caps.value > cuts_only.value * (1 + 1e-6)
        checked += 1
    assert checked >= 30 and raised >= 3, (checked, raised)


def test_the_method_skips_graphs_in_series_and_stops_by_its_budget(rng, monkeypatch):
    """Through the registry: a graph that chain cuts into groups is left to it; one it cannot cut is
    bounded (here chain is told it cannot); with no time left the bound stays valid (at most the
    optimum) and says it ran out of time."""
    g = series_graph(rng, 4)
    res = REGISTRY["spine"](BoundRequest(g, 3, CostModel(), upper=float(g.work.sum())), Budget(10.0))
    assert res.method == "spine" and res.value == 0.0 and res.status.startswith("skipped"), res
    monkeypatch.setattr("pjpart.bounds.chain.chain_links", lambda *args: ([], None))
    # the skips 0 -> 3 and 2 -> 5 leave no clean cut node
    wide = pjpart.Graph.from_arrays(work=[2, 3, 1, 3, 2, 2], sizeout=[2, 1, 2, 1, 1, 0],
                                    edges=[(0, 1), (0, 3), (1, 2), (2, 3), (2, 5), (3, 4), (4, 5)])
    best, _ = pjpart.reference.exhaustive_partition(wide, 2, CostModel())
    res = REGISTRY["spine"](BoundRequest(wide, 2, CostModel(), upper=best), Budget(10.0))
    assert res.value == 0.0 and res.status.startswith("skipped (k <"), res  # guess has k = 2 to itself
    best, _ = pjpart.reference.exhaustive_partition(wide, 4, CostModel())
    res = REGISTRY["spine"](BoundRequest(wide, 4, CostModel(), upper=best), Budget(10.0))
    assert 0 < res.value <= best and res.status == "proven", (res, best)
    spent = Budget(1e-9)
    spent.expired()
    res = REGISTRY["spine"](BoundRequest(wide, 4, CostModel(), upper=best), spent)
    assert res.value <= best and res.status == "no time", res
    assert math.isfinite(res.seconds)
