"""Bounds alongside a search: the bounds process publishes what lower_bound computes, at its niceness."""

import math
import os

import pytest

import pjpart
from pjpart import CostModel
from pjpart.generators import random_dag


def test_bounds_process_publishes_each_method_at_its_priority(rng):
    # bounds alongside the search run in a child process (the GIL: see pjpart.bounds.background) at
    # the niceness asked for; what it sends equals lower_bound computed here
    from pjpart.bounds import BackgroundBounds
    from pjpart.budget import Budget
    from pjpart.problem import Problem
    from pjpart.search.certify import BoundSource
    from pjpart.search.config import BoundPolicy

    g = random_dag(9, rng, density=0.3)
    cm = CostModel(bandwidth=0.7)
    methods = ["combinatorial", "mincut", "exact-dp"]
    want = pjpart.lower_bound(g, 3, cm, methods=methods, time_limit=30)
    problem = Problem.validated(g, 3, cm)
    source = BoundSource(problem, BoundPolicy(methods=",".join(methods)), Budget(60.0))
    source.start(upper=math.inf, niceness=19)
    pending = source._pending
    source.start(upper=1e9)  # started already (beside a packing): the same process, told the upper bound
    assert source._pending is pending and pending._sent_upper == 1e9
    source.collect(wait=True)
    assert (source.value, source.method) == (want.value, want.method)
    request = dict(graph=g, k=3, cost_model=cm, methods=methods, time_limit=30)
    child = BackgroundBounds({**request, "niceness": 19})
    child.done.wait(30)
    child.stop()
    assert child.error is None and child.proc.returncode == 0 and child.best == (want.value, want.method)
    if hasattr(os, "getpriority"):
        assert child.nice == 19
    # started at 0 (the core XLA's compilation leaves idle), then reniced, every thread of it,
    # once the search has compiled (partition does so when the time affords only small populations)
    if hasattr(os, "setpriority") and os.path.isdir("/proc/self/task"):
        for niceness, want_nice in ((19, 19), (0, 0)):
            child = BackgroundBounds({**request, "niceness": 0})
            child.renice(niceness)
            child.done.wait(30)
            child.stop()
            assert child.error is None and child.nice == want_nice and child.best == (want.value, want.method)
    # a failing bound is raised, not dropped
    source = BoundSource(problem, BoundPolicy(methods="mincut"), Budget(60.0))
    source.request = lambda upper: {**request, "methods": ["no-such-method"]}
    source.start(upper=math.inf)
    with pytest.raises(RuntimeError, match="no-such-method"):
        source.collect(wait=True)
