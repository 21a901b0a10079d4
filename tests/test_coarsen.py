"""Chain, in-tree and interval contraction: acyclic, exact (or upper-bound) costs, projections
valid, and the multilevel search over them."""

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, evaluate
from pjpart.coarsen import (contract_chains, contract_in_trees, contract_intervals, crossing_traffic,
                            interval_cuts)
from pjpart.generators import dnn_like, random_dag
from pjpart.reference import decode_keys, exhaustive_partition


EXACT = {"chains": contract_chains, "in-trees": contract_in_trees,
         "capped in-trees": lambda g: contract_in_trees(g, max_work=float(g.work.sum()) / 4),
         "in-trees capped by weights": lambda g: contract_in_trees(g, max_params=float(g.params.sum()) / 4)}


@pytest.mark.parametrize("contract", EXACT.values(), ids=EXACT.keys())
def test_every_coarse_partition_costs_the_same_on_the_graph(rng, contract):
    for trial in range(60):
        g = random_dag(int(rng.integers(2, 30)), rng, density=float(rng.uniform(0.03, 0.3)))
        c = contract(g)
        assert c.graph.n <= g.n and sorted(c.chain_order.tolist()) == list(range(g.n))
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)), memory=float(rng.uniform(0.5, 3)),
                       overflow_bandwidth=2.0)
        k = int(rng.integers(1, 6))
        for _ in range(5):
            order = decode_keys(c.graph, rng.random(c.graph.n))
            stages = np.empty(c.graph.n, dtype=np.int64)
            stages[order] = np.sort(rng.integers(0, k, size=c.graph.n))
            fine = c.project(stages)
            np.testing.assert_allclose(evaluate(g, fine, k, cm), evaluate(c.graph, stages, k, cm), rtol=1e-12)
            # the projected order is a topological order of the graph
            pos = np.empty(g.n, dtype=np.int64)
            pos[c.project_order(order)] = np.arange(g.n)
            assert np.all(pos[g.edges[:, 0]] < pos[g.edges[:, 1]]) if g.m else True


@pytest.mark.parametrize("contract", EXACT.values(), ids=EXACT.keys())
def test_the_coarse_optimum_is_never_below_the_graphs(rng, contract):
    for trial in range(30):
        g = random_dag(int(rng.integers(2, 9)), rng, density=0.3)
        c = contract(g)
        k = int(rng.integers(1, 4))
        cm = CostModel(bandwidth=0.7)
        assert exhaustive_partition(c.graph, k, cm)[0] >= exhaustive_partition(g, k, cm)[0] - 1e-12


def test_chains_of_a_pipeline_contract_to_one_node():
    g = pjpart.Graph.from_arrays(work=[1, 2, 3], sizeout=[5, 6, 7], edges=[(0, 1), (1, 2)])
    c = contract_chains(g)
    assert c.graph.n == 1 and c.graph.work.tolist() == [6.0] and c.graph.sizeout.tolist() == [7.0]


@pytest.mark.slow  # two searches on 2500 nodes (about 13 s)
def test_a_large_graph_is_searched_coarse_and_refined_fine():
    g = dnn_like(2500, seed=2)
    kw = dict(seed=0, max_evaluations=300, bound_methods="combinatorial", population=32, islands=1,
              exact_max_downsets=0)
    r = pjpart.partition(g, 8, coarsen_min_nodes=2000, coarse_nodes=100, **kw)
    assert "+coarse" in r.method and r.evaluations <= 300
    flat = pjpart.partition(g, 8, coarsen_min_nodes=0, **kw)
    assert "+coarse" not in flat.method
    for res in (r, flat):
        assert res.bottleneck == evaluate(g, res.assignment, 8, res.cost_model).max()


@pytest.mark.slow  # one search on 2500 nodes
def test_a_coarse_graph_whose_seeds_lose_to_the_graphs_is_not_searched(monkeypatch):
    import pjpart.search.solver as solver

    # a negative slack puts every coarse seed above the graph's own: the search falls back to the graph
    monkeypatch.setattr(solver, "COARSE_SEED_SLACK", -1.0)
    g = dnn_like(2500, seed=2)
    r = pjpart.partition(g, 8, coarsen_min_nodes=2000, coarse_nodes=100, seed=0, max_evaluations=300,
                         bound_methods="combinatorial", population=32, islands=1, exact_max_downsets=0)
    assert "+coarse" not in r.method and r.evaluations > 0
    assert r.bottleneck == evaluate(g, r.assignment, 8, r.cost_model).max()


def test_in_trees_join_every_single_consumer_node_and_respect_the_cap(rng):
    for trial in range(40):
        g = random_dag(int(rng.integers(2, 40)), rng, density=float(rng.uniform(0.03, 0.3)))
        outdeg = np.diff(g.succ_ptr)
        c = contract_in_trees(g)
        for u, w in g.edges.tolist():  # a node with one consumer is in its group
            if outdeg[u] == 1:
                assert c.members[u] == c.members[w]
        assert c.graph.n == int((outdeg != 1).sum())
        cap = float(rng.uniform(0.5, 3.0)) * float(g.work.max())
        weights_cap = float(rng.uniform(0.5, 3.0)) * float(g.params.max())
        for capped, caps in ((contract_in_trees(g, max_work=cap), (cap, np.inf)),
                             (contract_in_trees(g, max_work=cap, max_params=weights_cap), (cap, weights_cap))):
            sizes = np.bincount(capped.members, minlength=capped.graph.n)
            for values, limit in zip((g.work, g.params), caps):
                sums = np.bincount(capped.members, weights=values, minlength=capped.graph.n)
                assert np.all((sums <= limit * (1 + 1e-12)) | (sizes == 1))


def test_intervals_cost_at_least_their_projection_and_keep_the_given_cuts(rng):
    for trial in range(60):
        g = random_dag(int(rng.integers(3, 40)), rng, density=float(rng.uniform(0.03, 0.3)))
        order = decode_keys(g, rng.random(g.n))
        keep = np.unique(rng.integers(1, g.n, size=2))
        cuts = interval_cuts(g, order, int(rng.integers(1, g.n + 1)), keep=keep)
        assert set(keep.tolist()) <= set(cuts.tolist()) and np.all(np.diff(cuts) > 0)
        c = contract_intervals(g, order, cuts)
        assert c.graph.n == len(cuts) + 1
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)))
        k = int(rng.integers(1, 5))
        for _ in range(5):
            co = decode_keys(c.graph, rng.random(c.graph.n))
            stages = np.empty(c.graph.n, dtype=np.int64)
            stages[co] = np.sort(rng.integers(0, k, size=c.graph.n))
            fine, coarse = evaluate(g, c.project(stages), k, cm), evaluate(c.graph, stages, k, cm)
            assert np.all(fine <= coarse * (1 + 1e-12) + 1e-12)
            np.testing.assert_allclose(fine.sum() - (fine - coarse).sum(), coarse.sum())
            pos = np.empty(g.n, dtype=np.int64)
            pos[c.project_order(co)] = np.arange(g.n)
            assert np.all(pos[g.edges[:, 0]] < pos[g.edges[:, 1]]) if g.m else True


def test_crossing_traffic_counts_each_tensor_once_per_border():
    g = pjpart.Graph.from_arrays(work=[1, 1, 1, 1], sizeout=[2, 3, 5, 0],
                                 edges=[(0, 1), (0, 3), (1, 2), (2, 3)])
    assert crossing_traffic(g, np.arange(4)).tolist() == [0.0, 2.0, 5.0, 7.0, 0.0]


def test_composed_coarsenings_project_like_their_steps(rng):
    g = dnn_like(300, seed=4)
    trees = contract_in_trees(g)
    order = trees.coarse_order(g.topological_order())
    intervals = contract_intervals(trees.graph, order, interval_cuts(trees.graph, order, 10))
    both = trees.then(intervals)
    stages = np.sort(rng.integers(0, 4, size=both.graph.n))
    assert np.array_equal(both.project(stages), trees.project(intervals.project(stages)))
    pos = np.empty(g.n, dtype=np.int64)
    pos[both.project_order(np.arange(both.graph.n))] = np.arange(g.n)
    assert np.all(pos[g.edges[:, 0]] < pos[g.edges[:, 1]])
    assert np.array_equal(np.diff(both.starts), np.bincount(both.members))
