"""The run tracker: finalists are the float32 near-ties of the best, merged across generations."""

import numpy as np

import pjpart


def test_finalists_are_the_float32_near_ties_of_the_best():
    from pjpart.budget import Budget
    from pjpart.search.progress import Progress
    from pjpart.search.tracker import Tracker

    run = Tracker(pjpart.load_preset("default"), Budget(None), None, Progress(False))
    keys = np.arange(6)[:, None] * np.ones((6, 3))
    fitness = np.array([1.0, 1.0 + 2e-6, 1.1, 1.0 + 5e-6, np.inf, 1.0 + 2e-5])
    run.offer(keys[0], 1.0)
    run.keep_finalists(keys, fitness, tolerance=1e-5)
    assert [int(k[0]) for k in run.finalists] == [0, 1, 3]
    # merged across generations; a better best drops the ones no longer near it
    run.keep_finalists(keys[[2]] + 10, np.array([1.0 + 1e-6]), tolerance=1e-5)
    assert [int(k[0]) for k in run.finalists] == [0, 12, 1, 3]
    run.offer(keys[5] + 20, 0.9)
    run.keep_finalists(keys[[5]] + 20, np.array([0.9]), tolerance=1e-5)
    assert [int(k[0]) for k in run.finalists] == [25]
