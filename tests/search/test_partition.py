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
    # bounds run on a thread alongside a time-limited search; a bound at the optimum (exact-dp's, or
    # mincut's with the partition around its block, within the proof tolerance) must reach the run,
    # certify it and stop it well before the limit
    for trial in range(3):
        g = random_dag(9, rng, density=0.3)
        cm = CostModel(bandwidth=0.7)
        opt, _ = exhaustive_partition(g, 3, cm)
        t = time.perf_counter()
        r = partition(g, 3, cm, seed=trial, time_limit=60.0, exact_max_downsets=0)
        assert time.perf_counter() - t < 30
        check_result(g, r, 3, cm)
        assert r.stopped_by == "optimal" and r.gap <= 1e-6
        assert opt * (1 - 2e-6) <= r.lower_bound <= opt * (1 + 1e-9) and abs(r.bottleneck - opt) <= 1e-6 * opt


@pytest.mark.slow  # wall-clock budget: a 6 s time-limited run
def test_partition_reports_a_solver_bound():
    g = dnn_like(120, seed=5)
    cm = CostModel(bandwidth=0.3)
    r = pjpart.partition(g, 4, cm, exact_max_downsets=0, time_limit=6)
    assert r.lower_bound <= r.bottleneck
    assert r.lower_bound >= pjpart.combinatorial_bound(g, 4, cm)
    assert r.bound_method in ("exact-dp", "superblock2", "superblock3", "mip", "combinatorial")


# --- issue 21: budgets, infeasible problems, empty stages ---------------------------------------

def test_max_evaluations_alone_bounds_the_run_and_is_never_exceeded():
    # no time limit unless one is given (the result must not depend on the machine's speed), and the
    # last generation is cut to the evaluations left: 3000 gave 3640 before
    g = dnn_like(80, seed=4)
    kw = dict(seed=2, exact_max_downsets=0, bound_methods="combinatorial", population=64, islands=2)
    for budget in (100, 333, 1000):
        r = partition(g, 4, max_evaluations=budget, **kw)
        assert r.evaluations == budget and r.stopped_by in ("evaluations", "optimal") or r.evaluations < budget
        assert r.evaluations <= budget
        again = partition(g, 4, max_evaluations=budget, **kw)
        assert np.array_equal(r.assignment, again.assignment) and r.evaluations == again.evaluations
    cfg_time = pjpart.load_preset("default").stop.time_limit
    assert cfg_time == 10.0  # the preset has one; the budget alone replaced it
    r = partition(g, 4, max_evaluations=200, time_limit=30.0, **kw)
    assert r.evaluations <= 200


def test_an_explicit_none_time_limit_without_a_budget_is_a_config_error():
    with pytest.raises(pjpart.ConfigError, match="needs a stop"):
        partition(dnn_like(20, seed=1), 2, time_limit=None)


def test_infeasible_memory_limits_say_so_with_the_tightest_constraint():
    # every node fits alone, the whole graph does not fit k stages: k = 1 raised an IndexError in the
    # local search, k >= 2 returned a table of inf
    g = pjpart.Graph.from_arrays(work=[1, 1, 1, 1], params=[6, 6, 6, 6], edges=[(0, 1), (1, 2), (2, 3)])
    for k in (1, 2, 3):
        with pytest.raises(InfeasibleError, match=r"need at least 4 stages of memory_limit 6.*k = " + str(k)):
            partition(g, k, CostModel(memory_limit=6.0))
    r = partition(g, 4, CostModel(memory_limit=6.0))
    assert math.isfinite(r.bottleneck) and r.breakdown["params"].max() <= 6


def test_infeasible_by_precedence_alone_is_proven_by_the_exact_dp():
    # weights 5, 6, 5 on a chain a -> b -> c with limit 10 pack into 2 bins ({a, c}, {b}) ignoring
    # precedence; with it, a stage holding a and c holds b too: 3 stages needed
    g = pjpart.Graph.from_arrays(work=[1, 1, 1], params=[5, 6, 5], edges=[(0, 1), (1, 2)])
    from pjpart.cost import stages_needed

    assert stages_needed(g.params, 10.0) == 2
    with pytest.raises(InfeasibleError, match="exact DP over all downsets finds none"):
        partition(g, 2, CostModel(memory_limit=10.0))
    assert math.isfinite(partition(g, 3, CostModel(memory_limit=10.0)).bottleneck)
    # the exact-dp bound proves it too; without it the search says it found none, and that it proved nothing
    with pytest.raises(InfeasibleError, match="exact DP over all downsets finds none"):
        partition(g, 2, CostModel(memory_limit=10.0), exact_max_downsets=0, max_evaluations=200)
    with pytest.raises(InfeasibleError, match=r"no feasible partition found.*not proven impossible"):
        partition(g, 2, CostModel(memory_limit=10.0), exact_max_downsets=0, max_evaluations=200,
                  bound_methods="combinatorial")


def test_empty_stages_come_last():
    # a 1-node graph with k = 3 put its node in stage 2 (empty stages first) and counted 3 stages of latency
    g = pjpart.Graph.from_arrays(work=[2.0], edges=[])
    r = partition(g, 3)
    assert r.assignment.tolist() == [0] and r.stages_used == 1 and r.latency == 2.0
    assert r.stage_costs.tolist() == [2.0, 0.0, 0.0]
    chain = pjpart.Graph.from_arrays(work=[1, 1, 1], edges=[(0, 1), (1, 2)])
    r = partition(chain, 5)
    assert sorted(set(r.assignment.tolist())) == list(range(r.stages_used)) and r.stages_used == 3
    assert r.to_json()["stages_used"] == 3


@pytest.mark.slow  # cold and warm time-limited runs in fresh processes
@pytest.mark.parametrize("limit", [1.0, 2.0])
def test_time_limit_holds_on_its_own_clock_in_a_fresh_process(limit, tmp_path):
    # a cold start (JAX imported and compiled in the run) must not overrun: within T x 1.1 + 0.1 s
    import subprocess
    import sys

    script = ("import pjpart; from pjpart.generators import dnn_like; g = dnn_like(600, seed=3); "
              f"r = pjpart.partition(g, 16, time_limit={limit}); print(r.seconds)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[-1]) <= limit * 1.1 + 0.1


@pytest.mark.slow  # a time-limited search of a zoo model (about 4 s)
def test_a_proof_ends_a_time_limited_run_at_once():
    # the mincut bound proves inceptionv3 k = 8 optimal within a second: the run stopped only at
    # 31 s of its 60 (it waited for the other bound methods)
    g = pjpart.resolve_graph("inceptionv3")
    t = time.perf_counter()
    r = partition(g, 8, time_limit=60.0)
    assert time.perf_counter() - t < 20 and r.proven_optimal and r.stopped_by == "optimal"
    assert r.to_json()["proven_optimal"] is True
