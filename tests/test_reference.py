"""NumPy reference algorithms: decoder, segment table, slicing DP."""

import itertools

import numpy as np

from pjpart import CostModel, evaluate
from pjpart.generators import random_dag
from pjpart.reference import decode_keys, order_to_keys, segment_cost_table, slice_order


def cost_models(rng):
    return [CostModel(), CostModel(bandwidth=float(rng.uniform(0.3, 3))),
            CostModel(bandwidth=0.5, memory=float(rng.uniform(0.2, 1.5)), overflow_bandwidth=2.0)]


def brute_decode(g, keys):
    placed, order = set(), []
    while len(order) < g.n:
        ready = [v for v in range(g.n) if v not in placed and all(u in placed for u in g.predecessors(v))]
        v = min(ready, key=lambda v: (keys[v], v))
        placed.add(v)
        order.append(v)
    return order


def test_decoder_is_kahn_smallest_key_ties_by_index(rng):
    for _ in range(40):
        g = random_dag(int(rng.integers(1, 12)), rng)
        keys = rng.integers(0, 3, g.n) / 3.0  # many ties
        assert decode_keys(g, keys).tolist() == brute_decode(g, keys)
        order = decode_keys(g, rng.random(g.n))
        assert decode_keys(g, order_to_keys(order)).tolist() == order.tolist()


def test_table_equals_evaluator_on_every_segment(rng):
    for _ in range(40):
        g = random_dag(int(rng.integers(1, 10)), rng)
        for cm in cost_models(rng):
            order = decode_keys(g, rng.random(g.n))
            C = segment_cost_table(g, order, cm)
            for i in range(g.n + 1):
                for j in range(i, g.n + 1):
                    a = np.full(g.n, 2)
                    a[order[:i]] = 0
                    a[order[i:j]] = 1
                    want = evaluate(g, a, 3, cm)[1]
                    assert abs(C[i, j] - want) <= 1e-12 * max(1, want), (i, j)


def test_slicing_dp_equals_brute_force_over_cuts(rng):
    for _ in range(40):
        g = random_dag(int(rng.integers(1, 9)), rng)
        k = int(rng.integers(1, 5))
        cm = cost_models(rng)[int(rng.integers(3))]
        order = decode_keys(g, rng.random(g.n))
        C = segment_cost_table(g, order, cm)
        best = np.inf
        for cuts in itertools.combinations_with_replacement(range(g.n + 1), k - 1):
            bounds = (0,) + cuts + (g.n,)
            best = min(best, max(C[bounds[b], bounds[b + 1]] for b in range(k)))
        value, stages = slice_order(C, k, order)
        assert abs(value - best) <= 1e-12 * max(1, best)
        assert abs(evaluate(g, stages, k, cm).max() - value) <= 1e-12 * max(1, value)
