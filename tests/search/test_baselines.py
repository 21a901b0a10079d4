"""Baselines against brute force and hand-computed cases."""

import numpy as np
import pytest

import pjpart
from pjpart import ConfigError, CostModel, baseline, evaluate
from pjpart.generators import random_dag
from pjpart.reference import exhaustive_partition, segment_cost_table, slice_order
from pjpart.search.baselines import balance_work


def test_balance_work_matches_brute_force(rng):
    for _ in range(100):
        n, k = int(rng.integers(1, 9)), int(rng.integers(1, 5))
        w = rng.integers(0, 10, size=n).astype(float)
        stage = balance_work(w, k)
        assert stage[0] == 0 and np.all(np.diff(stage) >= 0) and np.all(np.diff(stage) <= 1) and stage[-1] < k
        best = min(
            max(w[a:b].sum() for a, b in zip((0,) + cuts, cuts + (n,)))
            for cuts in _cuts(n, k - 1)
        )
        got = max(w[stage == s].sum() for s in range(k))
        assert got == pytest.approx(best)


def _cuts(n, c):
    import itertools

    for combo in itertools.combinations_with_replacement(range(n + 1), c):
        yield tuple(combo)


@pytest.mark.slow  # compiles a search per graph shape (about 20 s)
def test_baselines_are_valid_and_greedy_is_the_given_order_sliced(rng):
    for trial in range(10):
        g = random_dag(int(rng.integers(3, 9)), rng)
        k = int(rng.integers(1, 4))
        cm = CostModel(bandwidth=0.5)
        opt, _ = exhaustive_partition(g, k, cm)
        order = g.topological_order()
        expect, _ = slice_order(segment_cost_table(g, order, cm), k, order)
        for name in pjpart.BASELINES:
            r = baseline(g, k, name, cm, max_evaluations=256)
            assert r.bottleneck == evaluate(g, r.assignment, k, cm).max() >= opt - 1e-12
            assert r.method == name
        assert baseline(g, k, "greedy", cm).bottleneck == pytest.approx(expect)
    with pytest.raises(ConfigError, match="unknown baseline 'nope'"):
        baseline(g, 2, "nope")


def test_chain_balanced_balances_work_only():
    # work 1,1,1,1 but a huge tensor after node 1: work balancing cuts there anyway, paying the transfer
    g = pjpart.Graph.from_arrays(work=[1, 1, 1, 1], sizeout=[0, 100, 0, 0], edges=[(0, 1), (1, 2), (2, 3)])
    r = baseline(g, 2, "chain-balanced", CostModel())
    assert r.assignment.tolist() == [0, 0, 1, 1] and r.bottleneck == 102
    assert baseline(g, 2, "greedy", CostModel()).bottleneck == 3  # the optimal cut is after node 0
