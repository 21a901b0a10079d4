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


def test_a_stalled_search_stops_after_its_share_of_the_window_without_improvement():
    import time

    from pjpart.budget import Budget
    from pjpart.search.progress import Progress
    from pjpart.search.tracker import Tracker

    cfg = pjpart.load_preset("default", time_limit=20.0)
    budget = Budget(20.0)
    run = Tracker(cfg, budget, None, Progress(False), stall_share=0.015)  # stalled after 0.3 s
    never = Tracker(cfg, budget, None, Progress(False))
    run.offer(np.zeros(2), 2.0)
    time.sleep(0.2)
    run.offer(np.zeros(2), 1.0)  # an improvement restarts the count
    time.sleep(0.2)
    assert not run.should_stop()  # 0.4 s since the start, 0.2 s since the improvement
    run.offer(np.zeros(2), 1.0 * (1 - 1e-12))  # a re-ranking within rounding is no improvement
    time.sleep(0.15)
    assert run.should_stop() and run.stopped_by == "stalled"
    assert not never.should_stop()
