"""partition(): optimal on small graphs (exact path and BRKGA path), validated results, stops."""

import math
import time

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, InfeasibleError, evaluate, partition
from pjpart.generators import dnn_like, random_dag
from pjpart.reference import exhaustive_partition


def settings(rng):
    return [CostModel(), CostModel(bandwidth=float(rng.uniform(0.3, 3))),
            CostModel(bandwidth=0.5, memory=float(rng.uniform(0.2, 1.5)), overflow_bandwidth=2.0)]


def check_result(g, r, k, cm):
    costs = evaluate(g, r.assignment, k, cm)
    assert np.array_equal(costs, r.stage_costs) and r.bottleneck == costs.max()
    assert r.lower_bound <= r.bottleneck * (1 + 1e-12)


def test_partition_equals_exhaustive_optimum(rng):
    for trial in range(120):
        g = random_dag(int(rng.integers(1, 10)), rng)
        k = int(rng.integers(1, 5))
        cm = settings(rng)[trial % 3]
        opt, _ = exhaustive_partition(g, k, cm)
        r = partition(g, k, cm, seed=trial)
        check_result(g, r, k, cm)
        assert abs(r.bottleneck - opt) <= 1e-9 * max(1, opt), (trial, r.bottleneck, opt)


@pytest.mark.slow  # 12 searches, each graph shape compiles (about 15 s)
def test_brkga_path_reaches_optimum_on_small_graphs(rng):
    # force the search (no exact solver): the BRKGA over the kernels must still find the optimum
    for trial in range(12):
        g = random_dag(int(rng.integers(5, 10)), rng, density=0.25)
        k = int(rng.integers(2, 5))
        cm = settings(rng)[trial % 3]
        opt, _ = exhaustive_partition(g, k, cm)
        r = partition(g, k, cm, seed=trial, exact_max_downsets=0, bound_methods="combinatorial", population=64,
                      islands=2, generations=40, time_limit=None)
        check_result(g, r, k, cm)
        # a seed order proven optimal by the bound ends the run before the search
        assert (r.method.startswith("brkga") and r.evaluations > 0) or (r.method == "seed-order" and r.gap == 0)
        assert abs(r.bottleneck - opt) <= 1e-6 * max(1, opt), (trial, r.bottleneck, opt)


@pytest.mark.slow  # wall-clock budget: an 8 s search
def test_time_limit_and_determinism():
    g = dnn_like(300, seed=3)
    t = time.perf_counter()
    r = partition(g, 8, seed=1, time_limit=8.0, exact_max_downsets=0, bound_methods="combinatorial")
    took = time.perf_counter() - t
    assert r.stopped_by == "time_limit" and took <= 8.0 * 1.1
    a = partition(g, 8, seed=5, generations=3, time_limit=None, exact_max_downsets=0, population=32, islands=2,
                  bound_methods="combinatorial")
    b = partition(g, 8, seed=5, generations=3, time_limit=None, exact_max_downsets=0, population=32, islands=2,
                  bound_methods="combinatorial")
    assert np.array_equal(a.assignment, b.assignment) and a.bottleneck == b.bottleneck


@pytest.mark.slow  # wall-clock budget: a 1 s limit, a 3 s call left running
def test_time_limit_holds_when_a_kernel_call_outlasts_it(monkeypatch):
    # compiling a search's kernels can take longer than the whole time limit (seconds on real
    # models, and no way to interrupt it): simulated by kernel calls that sleep first.  The run
    # returns on time with the best seed order's partition, improved by local search
    from pjpart import Evaluator
    from pjpart.search.seeds import best_slicing, seed_orders

    pairs = Evaluator.evaluate_pairs

    def slow_pairs(self, keys, should_stop=None):
        time.sleep(3.0)
        return pairs(self, keys, should_stop)

    monkeypatch.setattr(Evaluator, "evaluate_pairs", slow_pairs)
    g = dnn_like(300, seed=3)
    cm = pjpart.cost_model_for(g)
    t = time.perf_counter()
    r = partition(g, 8, cm, seed=1, time_limit=1.0, exact_max_downsets=0, bound_methods="combinatorial")
    took = time.perf_counter() - t
    assert took <= 1.0 * 1.1 and r.stopped_by == "time_limit"
    assert r.method.startswith("seed-order") and r.evaluations == 0
    check_result(g, r, 8, cm)
    assert r.bottleneck <= min(best_slicing(g, o, 8, cm, None)[1] for o in seed_orders(g))


def test_ctrl_c_while_a_kernel_call_runs_returns_the_best_so_far(monkeypatch):
    # a time-limited run waits for its kernel calls in a worker thread: Ctrl-C meanwhile stops it
    from pjpart import Evaluator

    pairs = Evaluator.evaluate_pairs
    calls = []

    def interrupted_third(self, keys, should_stop=None):
        calls.append(len(keys))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return pairs(self, keys, should_stop)

    monkeypatch.setattr(Evaluator, "evaluate_pairs", interrupted_third)
    g = dnn_like(120, seed=2)
    r = partition(g, 4, seed=0, time_limit=30.0, exact_max_downsets=0, bound_methods="combinatorial")
    assert r.stopped_by == "interrupted" and len(calls) == 3 and r.evaluations > 0
    check_result(g, r, 4, r.cost_model)


def test_infeasible_memory_limit_is_reported():
    g = pjpart.Graph.from_arrays(work=[1, 1], params=[5, 50], edges=[(0, 1)], ids=["a", "big"])
    with pytest.raises(InfeasibleError, match="no feasible partition: node 'big'"):
        partition(g, 2, CostModel(memory_limit=10))


def test_memory_limit_respected():
    g = pjpart.Graph.from_arrays(work=[1, 1, 1, 1], params=[6, 6, 6, 6], edges=[(0, 1), (1, 2), (2, 3)])
    r = partition(g, 4, CostModel(memory_limit=12))
    assert r.breakdown["params"].max() <= 12 and math.isfinite(r.bottleneck)


@pytest.mark.slow  # wall-clock budgets, bounds in a child process (about 4 s)
def test_time_limited_run_takes_its_bound_from_the_background(rng):
    # bounds run on a thread alongside a time-limited search; the exact-dp bound (the optimum on
    # these small graphs) must reach the run, certify it and stop it well before the limit
    for trial in range(3):
        g = random_dag(9, rng, density=0.3)
        cm = CostModel(bandwidth=0.7)
        opt, _ = exhaustive_partition(g, 3, cm)
        t = time.perf_counter()
        r = partition(g, 3, cm, seed=trial, time_limit=60.0, exact_max_downsets=0)
        assert time.perf_counter() - t < 30
        check_result(g, r, 3, cm)
        assert r.stopped_by == "optimal" and r.gap <= 1e-6
        assert abs(r.lower_bound - opt) <= 1e-9 * opt and abs(r.bottleneck - opt) <= 1e-6 * opt


@pytest.mark.slow  # wall-clock budget: a 6 s time-limited run
def test_partition_reports_a_solver_bound():
    g = dnn_like(120, seed=5)
    cm = CostModel(bandwidth=0.3)
    r = pjpart.partition(g, 4, cm, exact_max_downsets=0, time_limit=6)
    assert r.lower_bound <= r.bottleneck
    assert r.lower_bound >= pjpart.combinatorial_bound(g, 4, cm)
    assert r.bound_method in ("exact-dp", "superblock2", "superblock3", "mip", "combinatorial")
