"""The banded row-by-row slicing against the reference DP over the full segment table."""

import math

import numpy as np
import pytest

from pjpart import CostModel, GraphError, evaluate
from pjpart.banded import balanced_upper_bound, bottleneck_pair, slice_order_banded
from pjpart.generators import dnn_like, random_dag
from pjpart.reference import decode_keys, segment_cost_table, slice_order


def models(rng):
    return [CostModel(), CostModel(bandwidth=float(rng.uniform(0.2, 3))),
            CostModel(bandwidth=0.5, memory=float(rng.uniform(0.5, 3)), overflow_bandwidth=2.0),
            CostModel(memory_limit=float(rng.uniform(1.0, 4.0)))]


def test_equals_the_reference_optimum_on_random_orders(rng):
    for trial in range(300):
        g = random_dag(int(rng.integers(1, 40)), rng, density=float(rng.uniform(0.05, 0.4)))
        cm = models(rng)[trial % 4]
        k = int(rng.integers(1, 9))
        order = decode_keys(g, rng.random(g.n))
        ref, ref_stages = slice_order(segment_cost_table(g, order, cm), k, order)
        value, stages = slice_order_banded(g, order, k, cm)
        if math.isinf(ref):
            assert math.isinf(value), trial
            continue
        assert abs(value - ref) <= 1e-9 * max(1.0, ref), (trial, value, ref)
        # the stages are a valid slicing of the order that costs the optimum
        assert np.all(np.diff(stages[order]) >= 0)
        assert abs(evaluate(g, stages, k, cm).max() - ref) <= 1e-9 * max(1.0, ref)


def test_any_valid_upper_bound_gives_the_same_optimum(rng):
    g = dnn_like(120, seed=5)
    cm = CostModel(bandwidth=0.8)
    order = g.topological_order()
    ref, _ = slice_order(segment_cost_table(g, order, cm), 6, order)
    for upper in (ref, ref * 1.5, balanced_upper_bound(g, order, 6, cm), math.inf):
        assert slice_order_banded(g, order, 6, cm, upper=upper)[0] == pytest.approx(ref, rel=1e-12)


def test_a_non_topological_order_is_an_error():
    g = random_dag(6, np.random.default_rng(1), density=0.9)
    assert g.m
    with pytest.raises(GraphError, match="order is not topological|goes backwards"):
        slice_order_banded(g, g.topological_order()[::-1], 2)
    with pytest.raises(GraphError, match="order is not topological|goes backwards"):
        slice_order_banded(g, g.topological_order()[::-1], 2, upper=math.inf)


def test_stage_pruning_keeps_the_optimum_at_large_k(rng):
    """Many stages over long orders (where only a few stages per end are pushed), scalar and
    per-stage models, against the reference over the full table."""
    for trial in range(24):
        g = dnn_like(int(rng.integers(80, 300)), seed=trial)
        k = int(rng.choice([8, 16, 33]))
        cm = [CostModel(bandwidth=float(rng.uniform(0.3, 3))),
              CostModel(memory=float(g.params.sum() / k), overflow_bandwidth=3.0),
              CostModel(stage_speed=rng.uniform(0.5, 2.0, k).tolist(),
                        link_bandwidth=rng.uniform(0.3, 3.0, k - 1).tolist())][trial % 3]
        order = decode_keys(g, rng.random(g.n))
        ref, _ = slice_order(segment_cost_table(g, order, cm), k, order)
        value, stages = slice_order_banded(g, order, k, cm)
        assert abs(value - ref) <= 1e-9 * ref, (trial, value, ref)
        assert np.all(np.diff(stages[order]) >= 0)
        assert abs(evaluate(g, stages, k, cm).max() - ref) <= 1e-9 * ref


def test_the_pair_is_the_optimum_with_k_and_k_plus_one_stages(rng):
    for trial in range(60):
        g = dnn_like(int(rng.integers(5, 150)), seed=100 + trial)
        cm = models(rng)[trial % 4]
        k = int(rng.integers(1, 12))
        order = decode_keys(g, rng.random(g.n))
        table = segment_cost_table(g, order, cm)
        ref = [slice_order(table, kk, order)[0] for kk in (k, k + 1)]
        got = bottleneck_pair(g, order, k, cm)
        for value, expected in zip(got, ref):
            assert (math.isinf(value) and math.isinf(expected)) or abs(value - expected) <= 1e-9 * max(1.0, expected)


def test_an_upper_bound_below_the_optimum_gives_a_real_slicing_above_it(rng):
    """Pruned by a better partition's cost (seed orders, the host evaluator): exact at or above
    the order's optimum; below it, a valid slicing whose reported cost is its own and never
    below the optimum, so such an order ranks above the bound."""
    for trial in range(30):
        g = dnn_like(int(rng.integers(20, 200)), seed=300 + trial)
        cm = models(rng)[trial % 4]
        k = int(rng.integers(2, 10))
        order = decode_keys(g, rng.random(g.n))
        ref = slice_order(segment_cost_table(g, order, cm), k, order)[0]
        ref_pair = slice_order(segment_cost_table(g, order, cm), k + 1, order)[0]
        if not math.isfinite(ref):
            continue
        for scale in (0.3, 0.9, 1.0, 2.0):
            value, stages = slice_order_banded(g, order, k, cm, upper=ref * scale)
            assert value == pytest.approx(float(evaluate(g, stages, k, cm).max()), rel=1e-12)
            pair = bottleneck_pair(g, order, k, cm, upper=ref * scale)
            if scale >= 1.0:
                assert value == pytest.approx(ref, rel=1e-9) and pair[0] == pytest.approx(ref, rel=1e-9)
                if not cm.heterogeneous:
                    assert pair[1] == pytest.approx(ref_pair, rel=1e-9)
            else:
                assert value >= ref * (1 - 1e-9) and pair[0] >= ref * (1 - 1e-9)
