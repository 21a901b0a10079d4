"""Chain contraction: acyclic, exact costs, projections valid, and the search over it."""

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, evaluate
from pjpart.coarsen import contract_chains
from pjpart.generators import dnn_like, random_dag
from pjpart.reference import decode_keys, exhaustive_partition


def test_every_coarse_partition_costs_the_same_on_the_graph(rng):
    for trial in range(60):
        g = random_dag(int(rng.integers(2, 30)), rng, density=float(rng.uniform(0.03, 0.3)))
        c = contract_chains(g)
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


def test_the_coarse_optimum_is_never_below_the_graphs(rng):
    for trial in range(30):
        g = random_dag(int(rng.integers(2, 9)), rng, density=0.3)
        c = contract_chains(g)
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
    r = pjpart.partition(g, 8, coarsen_min_nodes=2000, **kw)
    assert "+coarse" in r.method and r.evaluations <= 300
    flat = pjpart.partition(g, 8, coarsen_min_nodes=0, **kw)
    assert "+coarse" not in flat.method
    for res in (r, flat):
        assert res.bottleneck == evaluate(g, res.assignment, 8, res.cost_model).max()
