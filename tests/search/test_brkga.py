"""BRKGA state steps: elites kept, best consistent with its keys, island migration, injection, near-ties."""

import numpy as np

from pjpart.search import brkga


def test_elites_survive_and_best_matches_its_keys():
    cfg = brkga.BRKGAConfig(population=20, elite_fraction=0.2, mutant_fraction=0.1)
    fitness_of = lambda keys: np.abs(keys - 0.3).sum(axis=1)
    st = brkga.init(cfg, n=6, seed=1)
    for _ in range(15):
        keys, st = brkga.ask(cfg, st)
        old_elites = st.keys[: cfg.n_elite].copy() if st.generation else None
        st = brkga.tell(cfg, st, keys, fitness_of(keys))
        assert st.best_fitness == fitness_of(st.best_keys[None])[0]
        assert np.all(np.diff(st.fitness) >= 0)
        if old_elites is not None:  # the old elites are still in the population
            assert all(any(np.array_equal(e, row) for row in st.keys) for e in old_elites)
    assert len(keys) == cfg.population - cfg.n_elite


def test_migration_ring_passes_elites():
    cfg = brkga.BRKGAConfig(population=10)
    states = []
    for i in range(3):
        st = brkga.init(cfg, n=4, seed=i)
        keys, st = brkga.ask(cfg, st)
        states.append(brkga.tell(cfg, st, keys, np.arange(10) + 100 * i))  # island i is worse with i
    moved = brkga.migrate(states, count=2)
    for i in range(3):
        src = states[i - 1]
        for row in src.keys[:2]:
            assert any(np.array_equal(row, r) for r in moved[i].keys)
    assert moved[1].best_fitness == states[0].best_fitness  # island 1 received island 0's best
    assert np.array_equal(moved[1].best_keys, states[0].best_keys)


def test_inject_replaces_the_worst_rows_and_updates_the_best():
    cfg = brkga.BRKGAConfig(population=6, elite_fraction=0.34)
    st = brkga.init(cfg, n=4, seed=1)
    keys, st = brkga.ask(cfg, st)
    st = brkga.tell(cfg, st, keys, np.array([5.0, 3.0, 4.0, 9.0, 7.0, 6.0]))
    # a worse newcomer than the best: it replaces the worst row (9.0), the best stays
    worse = np.full((1, 4), 0.5)
    st2 = brkga.inject(cfg, st, worse, np.array([4.5]))
    assert st2.fitness.tolist() == [3.0, 4.0, 4.5, 5.0, 6.0, 7.0]
    assert np.array_equal(st2.keys[2], worse[0]) and st2.best_fitness == 3.0
    assert np.array_equal(st2.best_keys, st.best_keys)
    # a better one becomes the best, with its own keys
    better = np.full((2, 4), 0.25)
    st3 = brkga.inject(cfg, st2, better, np.array([1.0, 8.0]), np.array([0.0, 0.0]))
    assert st3.fitness.tolist() == [1.0, 3.0, 4.0, 4.5, 5.0, 8.0]
    assert st3.best_fitness == 1.0 and np.array_equal(st3.best_keys, better[0])
    assert st3.keys.shape == st.keys.shape


def test_near_ties_rank_by_tiebreak_and_best_stays_the_lowest_fitness():
    cfg = brkga.BRKGAConfig(population=6, elite_fraction=0.5, mutant_fraction=0.0, tie_tolerance=1e-6)
    fitness = np.array([2.0, 1.0 + 5e-7, 1.0, 3.0, 1.0 + 1e-7, 1.5])
    tiebreak = np.array([0.0, 0.2, 0.9, 0.0, 0.5, 0.1])
    order = brkga.rank(cfg, fitness, tiebreak)
    # the three values within 1e-6 of 1.0 come first, by tie-break; the rest by fitness
    assert order.tolist() == [1, 4, 2, 5, 0, 3]
    assert brkga.rank(brkga.BRKGAConfig(tie_tolerance=0.0), fitness, tiebreak).tolist() == [2, 4, 1, 5, 0, 3]
    assert brkga.rank(cfg, fitness, np.zeros(6)).tolist() == [2, 4, 1, 5, 0, 3]
    st = brkga.init(cfg, n=3, seed=0)
    keys, st = brkga.ask(cfg, st)
    st = brkga.tell(cfg, st, keys, fitness, tiebreak)
    assert np.array_equal(st.keys, keys[order]) and np.array_equal(st.tiebreak, tiebreak[order])
    assert st.best_fitness == 1.0 and np.array_equal(st.best_keys, keys[2])  # ranked third, still the best
    # the elites keep their tie-break into the next generation; a new near-tie with a better one goes first
    offspring, st = brkga.ask(cfg, st)
    st = brkga.tell(cfg, st, offspring, np.array([1.0 + 2e-7, 9.0, 9.0]), np.array([0.1, 0.0, 0.0]))
    assert np.array_equal(st.keys[0], offspring[0]) and st.tiebreak[:3].tolist() == [0.1, 0.2, 0.5]
    assert st.best_fitness == 1.0 and st.stall == 1
    # migration carries the tie-break with the keys
    other = brkga.tell(cfg, brkga.init(cfg, n=3, seed=1), keys, fitness + 10, tiebreak)
    moved = brkga.migrate([st, other], count=1, cfg=cfg)
    assert np.array_equal(moved[1].keys[0], st.keys[0]) and moved[1].tiebreak[0] == st.tiebreak[0]
