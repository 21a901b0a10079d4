"""The compiled BRKGA engine's pure steps on an explicit state."""

import jax.numpy as jnp
import numpy as np
import pytest

from pjpart.search import brkga_jax as bj
from pjpart.search.brkga import BRKGAConfig


def toy(keys, params=None):
    return jnp.sum(keys * jnp.arange(1, keys.shape[-1] + 1), axis=-1)


@pytest.mark.slow  # compiles the jitted steps (about 3 s)
def test_tell_keeps_elites_sorted_and_best_consistent():
    cfg = BRKGAConfig(population=10, elite_fraction=0.2, mutant_fraction=0.2)
    st = bj.tell_initial(bj.init(cfg, 6, islands=3, seed=1), toy)
    elites = np.asarray(st.keys[:, : cfg.n_elite])
    off, st2 = bj.ask(cfg, st)
    assert off.shape == (3, 10 - cfg.n_elite, 6)
    st3 = bj.tell(cfg, st2, off, toy(off))
    fit = np.asarray(st3.fitness)
    assert np.all(np.diff(fit, axis=1) >= 0)  # sorted per island
    # the old elites are still there unless beaten: the worst surviving value is no worse than before
    assert np.all(fit[:, cfg.n_elite - 1] <= np.asarray(st.fitness)[:, cfg.n_elite - 1])
    assert all(any(np.array_equal(e, row) for row in np.asarray(st3.keys[i])) or
               np.asarray(st.fitness)[i, j] >= fit[i, cfg.n_elite - 1]
               for i in range(3) for j, e in enumerate(elites[i]))
    np.testing.assert_allclose(np.asarray(toy(st3.best_keys)), np.asarray(st3.best_fitness), rtol=1e-6)
    assert int(st3.generation) == 1


def test_migration_moves_the_best_around_the_ring():
    cfg = BRKGAConfig(population=6)
    st = bj.tell_initial(bj.init(cfg, 4, islands=3, seed=2), toy)
    best = np.asarray(st.keys[:, 0])
    mig = bj.migrate(st, 1)
    for i in range(3):
        rows = np.asarray(mig.keys[i])
        assert any(np.array_equal(best[i - 1], r) for r in rows)  # island i got island i-1's best
        assert np.all(np.diff(np.asarray(mig.fitness[i])) >= 0)
    assert np.all(np.asarray(mig.best_fitness) <= np.asarray(st.best_fitness))


def test_restart_replaces_only_non_elites_of_stalled_islands():
    cfg = BRKGAConfig(population=8, elite_fraction=0.25)
    st = bj.tell_initial(bj.init(cfg, 5, islands=2, seed=3), toy)
    st = st._replace(stall=jnp.asarray([50, 0]))
    new = bj.restart_stalled(cfg, st, after=40)
    k0, k1 = np.asarray(st.keys), np.asarray(new.keys)
    assert np.array_equal(k0[:, :2], k1[:, :2]) and np.array_equal(k0[1], k1[1])
    assert not np.array_equal(k0[0, 2:], k1[0, 2:]) and list(np.asarray(new.stall)) == [0, 0]


@pytest.mark.slow  # compiles the loop (about 3 s)
def test_loop_is_deterministic_and_improves():
    cfg = BRKGAConfig(population=16)
    loop = bj.make_loop(cfg, toy, max_block=32, migrate_every=3, migrate_count=1, restart_after=10)
    runs = []
    for _ in range(2):
        st = bj.tell_initial(bj.init(cfg, 8, islands=2, seed=4), toy)
        start = float(st.best_fitness.min())
        st, bests = loop(st, 20)
        runs.append((np.asarray(st.best_keys), np.asarray(bests)))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    bests = runs[0][1]
    assert np.all(np.isinf(bests[20:])) and np.all(np.diff(bests[:20]) <= 0) and bests[19] < start
