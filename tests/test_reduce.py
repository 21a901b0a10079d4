"""Optimum-preserving reductions (pjpart.reduce) against exhaustive search, and the fuzz of every
bound, reductions included, against the true optimum."""

import math

import numpy as np
import pytest

import pjpart
from pjpart.bounds import SOLVER_FREE, available_methods, lower_bound
from pjpart.cost import CostModel, evaluate
from pjpart.reduce import reduce_graph
from pjpart.reference import exhaustive_partition

from cases import fixed_shape_dag, stage_setting


def cheap_nodes_graph(rng):
    """A tiny DAG where half the nodes are cheap and weightless, so that the rules fire."""
    n = int(rng.integers(3, 8))
    m = int(rng.integers(n - 1, min(n * (n - 1) // 2, 2 * n) + 1))
    g = fixed_shape_dag(rng, n, m)
    work, params = g.work.copy(), g.params.copy()
    cheap = rng.random(n) < 0.5
    work[cheap] *= rng.choice([0.0, 0.01, 0.3], int(cheap.sum()))
    params[cheap] = 0
    return pjpart.Graph.from_arrays(work=work, params=params, sizeout=g.sizeout * rng.uniform(0.5, 3, n),
                                    edges=g.edges.tolist())


def problem(rng, trial):
    g = cheap_nodes_graph(rng)
    k = int(rng.integers(1, 5))
    cm = stage_setting(rng, k, g, trial) if trial % 2 else CostModel(
        bandwidth=float(rng.uniform(0.2, 3)), memory=float(rng.uniform(0.5, 2)), overflow_bandwidth=1.0)
    return g, k, cm


def test_each_rule_keeps_the_optimum():
    rng = np.random.default_rng(0)
    fired = 0
    for trial in range(1500):
        g, k, cm = problem(rng, trial)
        r = reduce_graph(g, cm, k)
        if r.graph.n == g.n:
            continue
        fired += 1
        best, _ = exhaustive_partition(g, k, cm)
        reduced, assignment = exhaustive_partition(r.graph, k, cm)
        assert reduced == pytest.approx(best, rel=1e-9) or (math.isinf(best) and math.isinf(reduced)), trial
        if math.isfinite(reduced):  # a reduced partition costs the same on the graph
            assert evaluate(g, r.project(assignment), k, cm).max() == pytest.approx(reduced, rel=1e-12)
    assert fired >= 300


def test_the_rules_by_hand():
    # S: a weightless mask source (work 0.5 <= 2 bytes / 1 B/s) joins its consumer
    g = pjpart.Graph.from_arrays(work=[0.5, 4, 3], sizeout=[2, 1, 0], edges=[(0, 1), (1, 2)])
    assert reduce_graph(g, CostModel(), 2).members.tolist() == [0, 0, 1]
    # ... but not when its work is worth more than the tensor it saves, or it holds weights
    assert reduce_graph(g, CostModel(bandwidth=10), 2).graph.n == 3  # 0.5 > 2 bytes at 10 B/s: kept apart
    assert reduce_graph(pjpart.Graph.from_arrays(work=[0.5, 4], params=[1, 0], sizeout=[2, 0], edges=[(0, 1)]),
                        CostModel(), 2).graph.n == 2
    # C: a pooling that shrinks 8 bytes to 1 for 2 units of work joins its producer
    pool = pjpart.Graph.from_arrays(work=[5, 2, 5], sizeout=[8, 1, 0], edges=[(0, 1), (1, 2)])
    r = reduce_graph(pool, CostModel(bandwidth=1.0), 2)
    assert r.members.tolist()[:2] == [0, 0] and r.graph.sizeout[0] == 1.0  # the group sends the small tensor
    # k = 1: nothing to gain, nothing merged
    assert reduce_graph(g, CostModel(), 1).graph is g


@pytest.mark.slow
def test_no_bound_above_the_optimum_on_10000_fuzzed_instances():
    """Every solver-free bound, on the reduced graph as lower_bound runs them, on 10^4 instances;
    the MIP family on every 20th."""
    rng = np.random.default_rng(1)
    solvers = [m for m in available_methods(["superblock2", "superblock3", "lp", "mip"]) if m not in SOLVER_FREE]
    checked = 0
    for trial in range(10_000):
        g, k, cm = problem(rng, trial)
        best, _ = exhaustive_partition(g, k, cm)
        if not math.isfinite(best):
            continue
        # bottleneck guessing and the chain bound (tens of ms an instance) on every 8th, the configuration
        # bound on every 40th, the spine bound (a few ms) on every 4th, the CVXPY formulations on every 20th
        every = {"guess": 8, "chain": 8, "configuration": 40, "spine": 4}
        methods = [m for m in SOLVER_FREE if trial % every.get(m, 1) == 0] + (solvers if trial % 20 == 0 else [])
        b = lower_bound(g, k, cm, methods=methods, time_limit=None, strict=True, upper_bound=best)
        for r in b.results:
            assert r.value <= best * (1 + 1e-9), (trial, r, best)
        checked += 1
    assert checked >= 8000


def test_no_weighted_node_is_merged_away(rng):
    """What lets the exact DP give up before reducing (``pjpart.lattice.exact_partition``):
    every rule moves weightless nodes only, so each weighted node keeps a group of its own."""
    merged = 0
    for trial in range(200):
        g = cheap_nodes_graph(rng)
        cm = CostModel(bandwidth=float(rng.uniform(0.2, 5.0)))
        reduced = reduce_graph(g, cm, int(rng.integers(2, 6)))
        weighted = np.flatnonzero(g.params > 0)
        assert len(np.unique(reduced.members[weighted])) == len(weighted)
        merged += reduced.graph.n < g.n
    assert merged >= 50  # the rules fired


def test_dropping_free_nodes_relaxes():
    """drop_free_nodes and the relaxed-dp method on lattices just too big for exact-dp: the smaller
    graph's exhaustive optimum, and the method's bound, never exceed the graph's optimum."""
    from pjpart.bounds import REGISTRY, BoundRequest
    from pjpart.budget import Budget
    from pjpart.lattice import downsets
    from pjpart.reduce import drop_free_nodes

    rng = np.random.default_rng(7)
    relaxed_runs = method_runs = 0
    for trial in range(300):
        g, k, cm = problem(rng, trial)
        best, _ = exhaustive_partition(g, k, cm)
        if not math.isfinite(best) or k == 1:
            continue
        limit = len(downsets(g, 10 ** 6)) - 1  # the graph itself does not fit
        out = drop_free_nodes(g, cm, k, limit, scale=1e6 * (1 + float(g.work.sum())))
        if out is None:
            continue
        small, dropped = out
        assert dropped == g.n - small.n > 0 and len(downsets(small, 10 ** 6)) <= limit
        assert exhaustive_partition(small, k, cm)[0] <= best * (1 + 1e-9), trial
        relaxed_runs += 1
        # the method drops only nodes cheap next to the combinatorial bound
        res = REGISTRY["relaxed-dp"](BoundRequest(g, k, cm, limit, 0.0), Budget(None))
        assert res.value <= best * (1 + 1e-9), (trial, res)
        assert res.status.startswith(("proven", "skipped (no relaxation")), (trial, res)
        method_runs += res.status.startswith("proven")
    assert relaxed_runs >= 30 and method_runs >= 10, (relaxed_runs, method_runs)
