"""Heterogeneous pipelines (SPEC section 5): per-stage speeds, memories, caps and links, each
piece against an independent reference (exhaustive search, the float64 evaluator, the scalar
model where the lists are constant)."""

import math

import numpy as np
import pytest

import pjpart
from pjpart.banded import slice_order_banded
from pjpart.bounds import METHODS, available_methods, lower_bound
from pjpart.cost import CostModel, evaluate, homogeneous_relaxation, stage_cost
from pjpart.errors import GraphError, InfeasibleError
from pjpart.lattice import exact_partition
from pjpart.reference import exhaustive_partition, monotone_assignments, segment_cost_table, slice_order
from pjpart.search.local import split_costs

from cases import fixed_shape_dag, stage_setting


def tiny(rng, n=None):
    n = int(rng.integers(2, 8)) if n is None else n
    m = int(rng.integers(n - 1, min(n * (n - 1) // 2, 2 * n) + 1))
    return fixed_shape_dag(rng, n, m)


def by_hand(graph, assignment, k, cm):
    """Stage costs straight from SPEC section 5, one stage and one producer at a time."""
    t = cm.stage_terms()
    costs = []
    for b in range(k):
        inside = [v for v in range(graph.n) if assignment[v] == b]
        work = sum(graph.work[v] for v in inside)
        params = sum(graph.params[v] for v in inside)
        inn = sum(graph.sizeout[u] for u in range(graph.n) if assignment[u] != b
                  and any(assignment[w] == b for w in graph.successors(u)))
        out = sum(graph.sizeout[u] for u in inside if any(assignment[w] != b for w in graph.successors(u)))
        over = math.inf if params > t.memory_limit[b] else max(0.0, params - t.memory[b]) / cm.overflow_bandwidth
        costs.append(work / t.speed[b] + (inn / t.bandwidth_in[b] if inn else 0.0)
                     + (out / t.bandwidth_out[b] if out else 0.0) + over)
    return np.array(costs)


def test_the_evaluator_is_the_formula_of_spec_section_5():
    rng = np.random.default_rng(0)
    for trial in range(60):
        g = tiny(rng)
        k = int(rng.integers(1, 5))
        cm = stage_setting(rng, k, g, trial)
        rows = monotone_assignments(g, k)[:50]
        got = evaluate(g, rows, k, cm)
        want = np.array([by_hand(g, r, k, cm) for r in rows])
        assert np.array_equal(np.isinf(got), np.isinf(want))
        fin = np.isfinite(want)
        assert np.allclose(got[fin], want[fin], rtol=1e-12)
        # one stage priced alone (local search) agrees with the whole evaluation
        b = rng.integers(0, k, len(rows))
        assert np.allclose(stage_cost(g, rows, b, cm), got[np.arange(len(rows)), b], rtol=1e-12, equal_nan=True)


def test_constant_lists_are_the_scalar_model():
    rng = np.random.default_rng(1)
    g = fixed_shape_dag(rng, 10, 15)
    scalar = CostModel(bandwidth=0.7, memory=1.2, overflow_bandwidth=0.5)
    lists = scalar.replace(stage_speed=[1.0] * 3, link_bandwidth=[0.7] * 2, stage_memory=[1.2] * 3)
    rows = monotone_assignments(g, 3)[::97]
    assert np.allclose(evaluate(g, rows, 3, scalar), evaluate(g, rows, 3, lists), rtol=1e-12)
    a = pjpart.partition(g, 3, scalar, time_limit=5, seed=0)
    b = pjpart.partition(g, 3, lists, time_limit=5, seed=0)
    assert b.bottleneck == pytest.approx(a.bottleneck, rel=1e-12)


def test_stage_tables_banded_slicing_and_the_lattice_dp_against_exhaustive_search():
    rng = np.random.default_rng(2)
    for trial in range(80):
        g = tiny(rng)
        k = int(rng.integers(1, 5))
        cm = stage_setting(rng, k, g, trial)
        best, _ = exhaustive_partition(g, k, cm)
        order = g.topological_order()
        full, stages = slice_order(segment_cost_table(g, order, cm), k, order)
        banded, stages2 = slice_order_banded(g, order, k, cm)
        assert full == pytest.approx(banded, rel=1e-12) or (math.isinf(full) and math.isinf(banded))
        if math.isfinite(full):
            assert evaluate(g, stages, k, cm).max() == pytest.approx(full, rel=1e-12)
            assert evaluate(g, stages2, k, cm).max() == pytest.approx(full, rel=1e-12)
            assert full >= best * (1 - 1e-12)
        value, assignment = exact_partition(g, k, cm, max_downsets=10 ** 5)
        assert value == pytest.approx(best, rel=1e-12) or (math.isinf(value) and math.isinf(best))
        if math.isfinite(value):
            assert evaluate(g, assignment, k, cm).max() == pytest.approx(value, rel=1e-12)


def test_local_search_split_costs_match_the_evaluator():
    rng = np.random.default_rng(3)
    for trial in range(30):
        g = fixed_shape_dag(rng, 9, 12)
        k = 3
        cm = stage_setting(rng, k, None, trial % 2)
        a = monotone_assignments(g, k)[int(rng.integers(0, 200))]
        s = int(rng.integers(0, k - 1))
        window = np.flatnonzero((a == s) | (a == s + 1))
        to_first = rng.random((6, len(window))) < 0.5
        got = split_costs(g, a, s, window, to_first, cm)
        for row, mask in zip(got, to_first):
            b = a.copy()
            b[window] = np.where(mask, s, s + 1)
            want = stage_cost(g, [b, b], [s, s + 1], cm)  # rows need not keep precedence: priced per block
            assert np.allclose(row, want, rtol=1e-10)


def test_the_kernels_price_each_stage_with_its_own_device():
    from pjpart import Evaluator
    from pjpart.reference import decode_keys

    rng = np.random.default_rng(4)
    g = fixed_shape_dag(rng, 12, 18)
    for trial in range(3):
        k = 3
        cm = stage_setting(rng, k, g, trial)
        if not math.isfinite(exhaustive_partition(g, k, cm)[0]):
            continue
        ev = Evaluator(g, k, cm, decode="host", threads=1)
        keys = rng.random((24, g.n))
        orders = decode_keys(g, keys)
        want = np.array([slice_order(segment_cost_table(g, o, cm), k, o)[0] for o in orders])
        got = ev.evaluate(keys)
        ok = want <= ev.upper_bound  # exact up to the evaluator's bound (and above it beyond)
        assert np.allclose(got[ok], want[ok], rtol=1e-5)
        assert np.all(got[~ok] > ev.upper_bound)
        assignments, values = ev.decode_best(keys)
        assert np.allclose(values, want, rtol=1e-12)
        assert np.allclose(evaluate(g, assignments, k, cm).max(axis=1), values, rtol=1e-12)


def feasible_pipelines(seed, trials, ks):
    """``(trial, graph, k, cost model, optimum)`` of random tiny pipelines with a feasible partition."""
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        g = tiny(rng, n=int(rng.integers(3, 7)))
        k = int(rng.integers(*ks))
        cm = stage_setting(rng, k, g, trial)
        best, _ = exhaustive_partition(g, k, cm)
        if math.isfinite(best):
            yield trial, g, k, cm, best


def test_every_bound_method_stays_below_the_optimum():
    methods = available_methods(list(METHODS))
    for trial, g, k, cm, best in feasible_pipelines(5, 24, (1, 4)):
        for name in methods:
            b = lower_bound(g, k, cm, methods=[name], time_limit=None, strict=True, upper_bound=best)
            assert b.value <= best * (1 + 1e-9), (trial, name, b.value, best)


def test_the_stage_mip_is_exact_on_a_pipeline():
    from pjpart.bounds.stages import solve_stage_problem, stage_problem

    done = 0
    for trial, g, k, cm, best in feasible_pipelines(9, 12, (2, 4)):
        sol = solve_stage_problem(stage_problem(g, (1,) * k, cm))
        assert sol.status == "optimal" and sol.bound == pytest.approx(best, rel=1e-5), (trial, sol, best)
        assert sol.bound <= best * (1 + 1e-9)
        done += 1
    assert done >= 6


def test_the_relaxation_is_below_every_stage():
    rng = np.random.default_rng(6)
    for trial in range(20):
        g = tiny(rng)
        k = int(rng.integers(1, 5))
        cm = stage_setting(rng, k, g, trial)
        h, relaxed = homogeneous_relaxation(g, cm)
        rows = monotone_assignments(g, k)[:40]
        assert np.all(evaluate(h, rows, k, relaxed) <= evaluate(g, rows, k, cm) * (1 + 1e-12))


def test_exhaustive_agreement_on_2000_tiny_pipelines():
    """Optimum found, reported cost = recomputation, bound <= optimum, on 2000 instances."""
    rng = np.random.default_rng(7)
    solver = pjpart.Solver()
    checked = infeasible = 0
    for trial in range(2000):
        g = tiny(rng)
        k = int(rng.integers(1, 5))
        cm = stage_setting(rng, k, g, trial)
        best, _ = exhaustive_partition(g, k, cm)
        if not math.isfinite(best):
            with pytest.raises(InfeasibleError):
                solver.partition(g, k, cm, time_limit=5)
            infeasible += 1
            continue
        r = solver.partition(g, k, cm, time_limit=5, seed=trial)
        assert r.bottleneck == pytest.approx(best, rel=1e-9), trial
        assert np.allclose(r.stage_costs, evaluate(g, r.assignment, k, cm), rtol=1e-12)
        assert r.lower_bound <= best * (1 + 1e-9)
        checked += 1
    assert checked >= 1500 and infeasible > 0


@pytest.mark.slow
def test_the_search_finds_the_optimum_without_the_exact_solver():
    """BRKGA over the kernels, local search and the float64 re-slicing, with the lattice DP off
    and only the combinatorial bound, against exhaustive search (one shape: one compile)."""
    rng = np.random.default_rng(8)
    solver = pjpart.Solver()
    shapes = [fixed_shape_dag(rng, 7, 9), fixed_shape_dag(rng, 8, 12)]
    found = 0
    for trial in range(60):
        base = shapes[trial % 2]
        g = pjpart.Graph.from_arrays(work=rng.random(base.n), params=rng.random(base.n), sizeout=rng.random(base.n),
                                     edges=base.edges.tolist())
        k = 3
        cm = stage_setting(rng, k, g, trial % 2)
        best, _ = exhaustive_partition(g, k, cm)
        r = solver.partition(g, k, cm, time_limit=10, seed=trial, exact_max_downsets=0, max_evaluations=3000,
                             bound_methods="combinatorial", population=64)
        assert r.bottleneck >= best * (1 - 1e-12)
        assert np.allclose(r.stage_costs, evaluate(g, r.assignment, k, cm), rtol=1e-12)
        found += r.bottleneck <= best * (1 + 1e-9)
    assert found == 60


def test_list_lengths_and_values_are_checked_naming_the_field():
    with pytest.raises(GraphError, match="'stage_speed' has 3 values; a pipeline of 4 stages needs 4"):
        pjpart.partition(pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1)]), 4,
                         CostModel(stage_speed=[1, 1, 2]))
    with pytest.raises(GraphError, match="'link_bandwidth'\\[1\\] must be a positive number"):
        CostModel(link_bandwidth=[1, 0])
    with pytest.raises(GraphError, match="'stage_memory'\\[0\\] must be a non-negative number"):
        CostModel(stage_memory=[-1, 2])
    with pytest.raises(GraphError, match="'stage_memory_limit' has 3 values"):
        CostModel(stage_speed=[1, 2], stage_memory_limit=[1, 2, 3])
    cm = CostModel(stage_speed=[1, 2], stage_memory=[math.inf, 3], link_bandwidth=[4], stage_device=["a", "b"])
    assert CostModel.from_json(cm.to_json()) == cm
    assert cm.to_json()["stage_memory"] == [None, 3.0]


def test_a_stage_cap_too_small_for_the_weights_is_infeasible():
    g = pjpart.Graph.from_arrays(work=[1, 1, 1], params=[4, 4, 4], edges=[(0, 1), (1, 2)])
    with pytest.raises(InfeasibleError, match="stage_memory_limit"):
        pjpart.partition(g, 2, CostModel(stage_memory_limit=[5, 5]))
    # the small stage holds one node, the big one two: feasible, and exact
    r = pjpart.partition(g, 2, CostModel(stage_memory_limit=[4, 8], stage_speed=[1, 1]))
    assert r.assignment.tolist() == [0, 1, 1] and r.bottleneck == pytest.approx(2.0 + 8.0 * 0)


def test_the_cli_builds_a_mixed_pipeline_from_devices_and_lists(tmp_path, capsys):
    import json

    from pjpart.cli import main
    from pjpart.hardware import pipeline_cost_model

    out = tmp_path / "r.json"
    assert main(["partition", "resnet50", "-k", "4", "--devices", "h100,h100,l4,l4", "--link-bandwidth",
                 "450e9,16e9,32e9", "--quiet", "--time-limit", "5", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "h100 x1" in table and "l4 x0.122" in table  # the device column
    data = json.loads(out.read_text())
    cm = CostModel.from_json(data["cost_model"])
    fleet = pipeline_cost_model("h100,h100,l4,l4")
    assert cm.stage_speed == fleet.stage_speed and cm.link_bandwidth == (450e9, 16e9, 32e9)  # the flag wins
    g = pjpart.resolve_graph("resnet50")
    a = np.array([data["assignment"][str(i)] if str(i) in data["assignment"] else data["assignment"][i]
                  for i in g.ids])
    assert evaluate(g, a, 4, cm).max() == pytest.approx(data["bottleneck"], rel=1e-12)
    assert main(["bound", "resnet50", "-k", "2", "--stage-speed", "1,0.5", "--method", "combinatorial"]) == 0
    assert "combinatorial" in capsys.readouterr().out
