"""The reference evaluator against hand-computed cases and an independent set-based recount; feasibility."""

import math

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, Graph, GraphError, InfeasibleError, evaluate, lower_bound, stage_breakdown
from pjpart.cost import check_feasible
from pjpart.generators import random_dag


def diamond():
    #   0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3
    return Graph.from_arrays(work=[1, 2, 3, 4], params=[10, 20, 30, 40], sizeout=[5, 6, 7, 8],
                             edges=[(0, 1), (0, 2), (1, 3), (2, 3)])


def test_hand_computed_producer_counted_once():
    g = diamond()
    # stage 0: {0}; stage 1: {1, 2, 3}. Node 0 feeds two consumers in stage 1: sent and read once.
    costs = evaluate(g, [0, 1, 1, 1], 2)
    assert costs.tolist() == [1 + 5, 2 + 3 + 4 + 5]
    # stage 0: {0, 1}; stage 1: {2, 3}: 0 -> 2 and 1 -> 3 cross: out(S0) = 5 + 6, in(S1) = 5 + 6
    assert evaluate(g, [0, 0, 1, 1], 2).tolist() == [3 + 11, 7 + 11]
    # three stages {0}, {1, 2}, {3}: producer 0 read once by stage 1; 1 and 2 both sent to stage 2
    assert evaluate(g, [0, 1, 1, 2], 3).tolist() == [1 + 5, 5 + 5 + 13, 4 + 13]


def test_bandwidth_overflow_and_memory_limit():
    g = diamond()
    cm = CostModel(bandwidth=2.0, memory=25.0, overflow_bandwidth=5.0)
    # stage 0 {0,1}: params 30 -> overflow (30-25)/5 = 1; comm 11/2
    got = evaluate(g, [0, 0, 1, 1], 2, cm)
    assert got.tolist() == [3 + 5.5 + 1, 7 + 5.5 + (70 - 25) / 5]
    capped = evaluate(g, [0, 0, 1, 1], 2, CostModel(memory_limit=50))
    assert capped[0] == 14 and math.isinf(capped[1])
    parts = stage_breakdown(g, [0, 0, 1, 1], 2, cm)
    assert parts["in"].tolist() == [0, 11] and parts["out"].tolist() == [11, 0]
    assert parts["params"].tolist() == [30, 70] and parts["nodes"].tolist() == [2, 2]


def test_empty_stages_cost_zero():
    assert evaluate(diamond(), [2, 2, 2, 2], 4).tolist() == [0, 0, 10, 0]


def test_precedence_and_range_errors():
    g = Graph.from_arrays(work=[1, 1], edges=[(0, 1)], ids=["p", "q"])
    with pytest.raises(GraphError, match=r"edge \('p', 'q'\) goes backwards"):
        evaluate(g, [1, 0], 2)
    with pytest.raises(GraphError, match="node 'q' has stage 2 outside 0..1"):
        evaluate(g, [0, 2], 2)
    with pytest.raises(GraphError, match="shape"):
        evaluate(g, [0, 0, 0], 2)
    with pytest.raises(GraphError, match="bandwidth"):
        CostModel(bandwidth=0)
    with pytest.raises(GraphError, match="memory"):
        CostModel(memory=-1)


def independent_cost(g, a, k, cm):
    """Block costs straight from the SPEC's set definitions (no shared code)."""
    out = []
    for b in range(k):
        S = {v for v in range(g.n) if a[v] == b}
        work = sum(g.work[v] for v in S)
        params = sum(g.params[v] for v in S)
        ins = sum(g.sizeout[u] for u in range(g.n) if u not in S and any(w in S for w in g.successors(u)))
        outs = sum(g.sizeout[u] for u in S if any(w not in S for w in g.successors(u)))
        over = max(0.0, params - cm.memory) / cm.overflow_bandwidth
        if params > cm.memory_limit:
            over = math.inf
        out.append(work + (ins + outs) / cm.bandwidth + over)
    return np.array(out)


def test_batched_evaluate_matches_set_definitions(rng):
    for _ in range(60):
        g = random_dag(int(rng.integers(1, 10)), rng)
        k = int(rng.integers(1, 5))
        cm = CostModel(bandwidth=float(rng.uniform(0.2, 3)), memory=float(rng.uniform(0, 3)),
                       overflow_bandwidth=float(rng.uniform(0.5, 2)), memory_limit=float(rng.uniform(1, 6)))
        # random monotone assignments: stage = sorted random values along a topological order
        rows = []
        for _ in range(5):
            a = np.zeros(g.n, dtype=int)
            for v in g.topological_order():
                lo = max([a[u] for u in g.predecessors(v)], default=0)
                a[v] = rng.integers(lo, k)
            rows.append(a)
        batch = evaluate(g, np.array(rows), k, cm)
        for a, got in zip(rows, batch):
            want = independent_cost(g, a, k, cm)
            assert np.allclose(got, want, rtol=1e-12, atol=0) or np.array_equal(got, want)


def test_stage_cost_of_one_stage_equals_evaluate(rng):
    from pjpart.cost import stage_cost

    assert stage_cost(diamond(), [[0, 0, 1, 1]] * 2, [0, 1]).tolist() == [3 + 11, 7 + 11]
    for _ in range(30):
        g = random_dag(int(rng.integers(2, 12)), rng, density=0.35)
        k = int(rng.integers(1, 5))
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)), memory=float(rng.uniform(0, 30)),
                       overflow_bandwidth=float(rng.uniform(0.5, 2)))
        order = g.topological_order()
        batch = np.empty((8, g.n), dtype=np.int64)
        for row in batch:
            row[order] = np.sort(rng.integers(0, k, size=g.n))
        stages = rng.integers(0, k, size=8)
        full = evaluate(g, batch, k, cm)
        assert np.allclose(stage_cost(g, batch, stages, cm), full[np.arange(8), stages], rtol=1e-12, atol=0)


def test_check_feasible_lives_in_cost_and_raises_infeasible():
    g = pjpart.Graph.from_arrays(work=[1, 1], params=[5, 50], edges=[(0, 1)], ids=["a", "big"])
    check_feasible(g, CostModel(memory_limit=50))
    with pytest.raises(InfeasibleError, match="no feasible partition: node 'big' has params 50 above memory_limit 10"):
        check_feasible(g, CostModel(memory_limit=10))
    with pytest.raises(InfeasibleError, match="no feasible partition"):
        lower_bound(g, 2, CostModel(memory_limit=10))
    assert pjpart.bounds.check_feasible is check_feasible


def test_stages_needed_never_exceeds_the_exact_bin_packing_optimum(rng):
    # the bound declares problems infeasible: above the true minimum it would refuse solvable ones
    import itertools

    from pjpart.cost import stages_needed

    def fewest_bins(items, cap):
        for bins in range(1, len(items) + 1):
            for assign in itertools.product(range(bins), repeat=len(items)):
                loads = np.zeros(bins)
                np.add.at(loads, list(assign), items)
                if loads.max() <= cap:
                    return bins
        return len(items)

    tight = 0
    for trial in range(400):
        n = int(rng.integers(1, 7))
        cap = float(rng.integers(5, 20))
        items = rng.integers(1, int(cap) + 1, size=n).astype(float) if trial % 2 else rng.uniform(0.1, cap, size=n)
        need, best = stages_needed(items, cap), fewest_bins(items, cap)
        assert need <= best, (items, cap)
        tight += need == best
    assert tight > 300  # and it is a useful bound, not 1
    assert stages_needed([5, 5], math.inf) == 1 and stages_needed([11], 10) == math.inf


def test_cost_totals_that_overflow_are_an_error_naming_the_field():
    g = Graph.from_arrays(work=[1, 1], sizeout=[1e300, 1e300], edges=[(0, 1)])
    with pytest.raises(pjpart.PjpartError, match="'bandwidth'"):
        check_feasible(g, CostModel(bandwidth=1e-10))
    check_feasible(g, CostModel(bandwidth=1.0))
