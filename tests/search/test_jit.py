"""partition(engine="jit"): the compiled loop reaches the optimum and is compiled once per shape."""

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, evaluate
from pjpart.generators import random_dag
from pjpart.reference import exhaustive_partition
from pjpart.search import brkga_jax as bj


@pytest.mark.slow  # compiles the whole loop (about 6 s a case)
@pytest.mark.parametrize("seed", range(2))  # each graph shape compiles the loop: keep it short
def test_partition_jit_engine_reaches_the_optimum(seed):
    rng = np.random.default_rng(100 + seed)
    g = random_dag(int(rng.integers(6, 10)), rng, density=0.35)
    k = int(rng.integers(2, 4))
    cm = CostModel(bandwidth=float(rng.uniform(0.5, 2)))
    opt, _ = exhaustive_partition(g, k, cm)
    r = pjpart.partition(g, k, cm, engine="jit", exact_max_downsets=0, bound_methods="combinatorial",
                         population=32, islands=2, generations=30, time_limit=None, seed=seed)
    assert r.bottleneck == evaluate(g, r.assignment, k, cm).max()
    assert r.bottleneck == pytest.approx(opt, rel=1e-9)
    before = bj.make_loop.cache_info()
    again = pjpart.partition(g, k, cm, engine="jit", exact_max_downsets=0, bound_methods="combinatorial",
                             population=32, islands=2, generations=30, time_limit=None, seed=seed)
    assert np.array_equal(r.assignment, again.assignment)
    after = bj.make_loop.cache_info()  # the second run reuses the compiled loop
    assert after.hits == before.hits + 1 and after.misses == before.misses
