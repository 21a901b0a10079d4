"""partition(): optimal on small graphs (exact path and BRKGA path), validated results, stops."""

import json
import math
import os
import sys
import time

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, GraphError, evaluate, partition
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


def test_result_json_shape():
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    r = partition(g, 3)
    d = json.loads(json.dumps(r.to_json()))
    assert d["graph"] == "tiny" and d["k"] == 3 and set(d["assignment"]) == set(g.ids)
    assert d["bottleneck"] == max(d["stage_costs"]) and d["gap"] == 0.0
    assert d["lower_bound"] <= d["bottleneck"] and len(d["stages"]) == 3
    assert math.isclose(d["throughput"], 1 / d["bottleneck"]) and math.isclose(d["latency"], 3 * d["bottleneck"])


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


def test_time_limit_holds_when_a_kernel_call_outlasts_it(monkeypatch):
    # compiling a search's kernels can take longer than the whole time limit (seconds on real
    # models, and no way to interrupt it): simulated by kernel calls that sleep first.  The run
    # returns on time with the best seed order's partition, improved by local search
    from pjpart.evaluator import Evaluator
    from pjpart.search.driver import best_slicing, seed_orders

    pairs = Evaluator.evaluate_pairs

    def slow_pairs(self, keys, deadline=None):
        time.sleep(3.0)
        return pairs(self, keys, deadline)

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
    from pjpart.evaluator import Evaluator

    pairs = Evaluator.evaluate_pairs
    calls = []

    def interrupted_third(self, keys, deadline=None):
        calls.append(len(keys))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return pairs(self, keys, deadline)

    monkeypatch.setattr(Evaluator, "evaluate_pairs", interrupted_third)
    g = dnn_like(120, seed=2)
    r = partition(g, 4, seed=0, time_limit=30.0, exact_max_downsets=0, bound_methods="combinatorial")
    assert r.stopped_by == "interrupted" and len(calls) == 3 and r.evaluations > 0
    check_result(g, r, 4, r.cost_model)


def test_infeasible_memory_limit_is_reported():
    g = pjpart.Graph.from_arrays(work=[1, 1], params=[5, 50], edges=[(0, 1)], ids=["a", "big"])
    with pytest.raises(GraphError, match="no feasible partition: node 'big'"):
        partition(g, 2, CostModel(memory_limit=10))


def test_memory_limit_respected():
    g = pjpart.Graph.from_arrays(work=[1, 1, 1, 1], params=[6, 6, 6, 6], edges=[(0, 1), (1, 2), (2, 3)])
    r = partition(g, 4, CostModel(memory_limit=12))
    assert r.breakdown["params"].max() <= 12 and math.isfinite(r.bottleneck)


def test_progress_bar_and_json_lines(capsys):
    """Live progress shows generation, evaluations, rate, best, bound and gap; --json-progress logs parse."""
    g = dnn_like(40, seed=2)
    kw = dict(seed=0, generations=4, exact_max_downsets=0, bound_methods="combinatorial", population=16, islands=1)
    r = partition(g, 4, quiet=False, **kw)
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "/4.0 gen" in last or "gen 4" in last
    for field in ("gen 4", f"evals {r.evaluations}", "/s)", "best", "bound", "gap"):
        assert field in err, field
    r2 = partition(g, 4, quiet=False, json_progress=True, **kw)
    lines = [json.loads(x) for x in capsys.readouterr().err.strip().splitlines()]
    assert [x["generation"] for x in lines][-1] == 4 and lines[-1]["evaluations"] == r2.evaluations
    assert set(lines[-1]) >= {"generation", "evaluations", "evals_per_s", "best", "bound", "gap", "seconds"}
    assert math.isclose(lines[-1]["best"], r2.bottleneck) and r2.bottleneck == r.bottleneck
    partition(g, 4, quiet=True, **kw)
    assert capsys.readouterr().err == ""


def test_fit_populations_leaves_the_target_generations():
    from pjpart.search.driver import fit_populations

    assert fit_populations(256, 4, 1e6, 100, 0.15) == (256, 4)  # enough time: the preset's sizes
    # 20,000 offspring for 100 generations: 235 chromosomes per generation -> 3 islands of 78
    size, islands = fit_populations(256, 4, 20_000, 100, 0.15)
    assert (size, islands) == (78, 3)
    assert abs(size * islands * 0.85 * 100 - 20_000) < 0.02 * 20_000
    assert fit_populations(256, 4, 100, 100, 0.15) == (32, 1)  # the floors


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


def test_finalists_are_the_float32_near_ties_of_the_best():
    from pjpart.search.driver import SearchConfig, _Progress, _Run

    run = _Run(SearchConfig(), time.perf_counter(), 0.0, _Progress(False, False, SearchConfig()), None)
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


def test_bounds_process_publishes_each_method_at_its_priority(rng):
    # bounds alongside the search run in a child process (the GIL: see pjpart.bounds.worker) at
    # the niceness asked for; what it sends equals lower_bound computed here
    from pjpart.search.driver import SearchConfig, _Progress, _Run

    g = random_dag(9, rng, density=0.3)
    cm = CostModel(bandwidth=0.7)
    methods = ["combinatorial", "mincut", "exact-dp"]
    want = pjpart.lower_bound(g, 3, cm, methods=methods, time_limit=30)
    cfg = SearchConfig(time_limit=60.0)
    run = _Run(cfg, time.perf_counter(), 0.0, _Progress(False, False, cfg), None)
    run.start_bounds(dict(graph=g, k=3, cost_model=cm, methods=methods, time_limit=30), niceness=19)
    pending = run.pending_bound
    run.collect_bound(wait=True)
    assert pending.error is None and run.pending_bound is None and pending.proc.returncode == 0
    assert (run.bound, run.bound_method) == (want.value, want.method)
    if hasattr(os, "getpriority"):
        assert pending.nice == 19
    # started at 0 (the core XLA's compilation leaves idle), then reniced, every thread of it,
    # once the search has compiled (partition does so when the time affords only small populations)
    if hasattr(os, "setpriority") and os.path.isdir("/proc/self/task"):
        for niceness, want_nice in ((19, 19), (0, 0)):
            cfg_n = SearchConfig(time_limit=60.0, bound_niceness=niceness)
            run = _Run(cfg_n, time.perf_counter(), 0.0, _Progress(False, False, cfg_n), None)
            run.start_bounds(dict(graph=g, k=3, cost_model=cm, methods=methods, time_limit=30))
            pending = run.pending_bound
            run.deprioritise_bounds()
            run.collect_bound(wait=True)
            assert pending.error is None and pending.nice == want_nice
            assert (run.bound, run.bound_method) == (want.value, want.method)
    # a failing bound is raised, not dropped
    run = _Run(cfg, time.perf_counter(), 0.0, _Progress(False, False, cfg), None)
    run.start_bounds(dict(graph=g, k=3, cost_model=cm, methods=["no-such-method"], time_limit=30))
    with pytest.raises(RuntimeError, match="no-such-method"):
        run.collect_bound(wait=True)
