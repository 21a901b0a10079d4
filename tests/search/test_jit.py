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


def test_the_compiled_fitness_on_work_windows_equals_the_evaluator():
    """Under a finite bound the compiled loop's fitness slices on work windows: its values are
    the evaluator's within the bound (the float64 reference ties the evaluator down) and above
    the bound beyond it."""
    import jax

    from pjpart.generators import dnn_like

    g = dnn_like(400, seed=2)
    ev = pjpart.Evaluator(g, 8, chunk_size=32)  # bound: the own order's optimum
    seeds = np.random.default_rng(0).random((4, g.n))
    fitness, params = ev.fitness_function(64, sample=seeds)
    assert fitness.width is not None and fitness.width < g.n
    keys = np.random.default_rng(1).random((64, g.n))
    got = np.asarray(jax.jit(fitness)(keys, params), np.float64)
    want = ev.evaluate(keys)
    within = want <= ev.upper_bound
    assert within.sum() >= 8
    np.testing.assert_allclose(got[within], want[within], rtol=1e-6)
    assert np.all(got[~within] >= ev.upper_bound * (1 - 1e-6))  # a real slicing's cost: above the bound too
    again, _ = ev.fitness_function(64, band=fitness.band, width=fitness.width)
    assert again is fitness  # the same static settings: the same function, one compilation
