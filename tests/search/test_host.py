"""The host engine: populations fitted to the time, and Ctrl-C keeping the best so far."""

import pjpart
from pjpart.generators import dnn_like


def test_fit_populations_leaves_the_target_generations():
    from pjpart.search.host import fit_populations

    assert fit_populations(256, 4, 1e6, 100, 0.15) == (256, 4)  # enough time: the preset's sizes
    # 20,000 offspring for 100 generations: 235 chromosomes per generation -> 3 islands of 78
    size, islands = fit_populations(256, 4, 20_000, 100, 0.15)
    assert (size, islands) == (78, 3)
    assert abs(size * islands * 0.85 * 100 - 20_000) < 0.02 * 20_000
    assert fit_populations(256, 4, 100, 100, 0.15) == (32, 1)  # the floors


def test_keyboard_interrupt_returns_best_so_far():
    g = dnn_like(40, seed=4)
    calls = []

    def stop_at_third(info):
        calls.append(info["best"])
        if len(calls) == 3:
            raise KeyboardInterrupt

    r = pjpart.partition(g, 4, seed=0, exact_max_downsets=0, bound_methods="combinatorial", population=16,
                         islands=2, time_limit=None, generations=1000, callback=stop_at_third)
    assert r.stopped_by == "interrupted" and len(calls) == 3
    assert r.bottleneck == pjpart.evaluate(g, r.assignment, 4, r.cost_model).max()
    assert r.bottleneck <= calls[-1] * (1 + 1e-5)
