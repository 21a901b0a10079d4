"""The downset lattice: every downset enumerated, block costs, and the exact DP against brute force."""

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, evaluate
from pjpart.generators import random_dag
from pjpart.lattice import block_costs, downsets, downsets_at_least, exact_partition, mask_bits, small_downsets
from pjpart.reference import exhaustive_partition, segment_cost_table, slice_order, topological_orders
from cases import cost_setting


def cost_models(rng):
    return [CostModel(), CostModel(bandwidth=float(rng.uniform(0.3, 3))),
            CostModel(bandwidth=0.5, memory=float(rng.uniform(0.2, 1.5)), overflow_bandwidth=2.0)]



def test_the_downset_count_lower_bound_never_exceeds_the_count(rng):
    for trial in range(300):
        g = random_dag(int(rng.integers(1, 13)), rng, density=float(rng.uniform(0.0, 0.6)))
        count = len(downsets(g, 1 << 13))
        for limit in (1, g.n, count - 1, count, 1 << 13):
            bound = downsets_at_least(g, limit)
            assert g.n + 1 <= bound <= count


def test_a_graph_past_the_downset_limit_is_given_up_at_once():
    """Weighted nodes are never merged away by the reduction, nor is any node past it: a
    graph of more of them than the limit is not enumerated (seconds at 10^5 nodes)."""
    from pjpart.generators import dnn_like

    g = dnn_like(3000, seed=0)
    assert np.count_nonzero(g.params) + 1 > 1000
    assert exact_partition(g, 4, CostModel(), max_downsets=1000) is None
    wide = pjpart.Graph.from_arrays(work=np.ones(12), params=np.ones(12), edges=[(0, v) for v in range(1, 12)])
    assert downsets_at_least(wide, 5000) == 1 + 1 + (2 ** 11 - 1) == len(downsets(wide, 5000))
    assert exact_partition(wide, 3, CostModel(), max_downsets=2000) is None
    assert exact_partition(wide, 3, CostModel(), max_downsets=3000) is not None


def test_downsets_are_every_predecessor_closed_subset(rng):
    for trial in range(30):
        g = random_dag(int(rng.integers(1, 11)), rng, density=float(rng.uniform(0.05, 0.5)))
        closed = [mask for mask in range(1 << g.n)
                  if all(not (mask >> v) & 1 or all((mask >> int(u)) & 1 for u in g.predecessors(v))
                         for v in range(g.n))]
        got = downsets(g, 1 << g.n)
        assert sorted(got) == closed, trial
        assert len(got) == len(set(got))
        assert [bin(m).count("1") for m in got] == sorted(bin(m).count("1") for m in got)  # by size
        assert downsets(g, len(closed)) is not None and downsets(g, len(closed) - 1) is None


def test_downsets_of_a_node_subset_and_the_vectorised_enumeration(rng):
    for trial in range(40):
        g = random_dag(int(rng.integers(2, 13)), rng, density=float(rng.uniform(0.05, 0.5)))
        nodes = rng.permutation(g.n)[: int(rng.integers(1, g.n + 1))]
        pos = {int(v): i for i, v in enumerate(nodes)}
        # predecessor-closed inside the induced subgraph, by brute force over bitmasks of positions
        closed = [mask for mask in range(1 << len(nodes))
                  if all(not (mask >> i) & 1 or all((mask >> pos[int(u)]) & 1
                                                    for u in g.predecessors(v) if int(u) in pos)
                         for i, v in enumerate(nodes))]
        got = downsets(g, 1 << len(nodes), nodes)
        assert sorted(got) == closed, trial
        fast = small_downsets(g, nodes, len(closed))
        assert fast.dtype == np.uint64 and [int(m) for m in fast] == got  # same order: by size, then value
        assert small_downsets(g, nodes, len(closed) - 1) is None
        bits = mask_bits(fast, len(nodes))
        assert np.array_equal(bits, mask_bits(got, len(nodes)))
        assert all(int(m) == sum(1 << i for i in np.flatnonzero(row)) for m, row in zip(fast, bits))
    with pytest.raises(ValueError, match="at most 63"):
        small_downsets(random_dag(64, rng), range(64), 10)


def test_block_costs_match_the_reference_evaluator(rng):
    for trial in range(20):
        g = random_dag(int(rng.integers(2, 9)), rng, density=0.3)
        cm = cost_setting(rng, trial)
        sets = downsets(g, 10_000)
        bits = np.array([[(mask >> v) & 1 for v in range(g.n)] for mask in sets], dtype=bool)
        table = block_costs(g, bits, cm)
        for J in range(len(sets)):
            for I in range(len(sets)):
                if (bits[J] & ~bits[I]).any():
                    assert table[J, I] == np.inf
                    continue
                stage = np.where(bits[J], 0, np.where(bits[I], 1, 2))
                ref = pjpart.evaluate(g, stage, 3, cm)[1]
                assert table[J, I] == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_exact_solvers_agree(rng):
    for _ in range(40):
        g = random_dag(int(rng.integers(1, 8)), rng)
        k = int(rng.integers(1, 4))
        cm = cost_models(rng)[int(rng.integers(3))]
        opt, a = exhaustive_partition(g, k, cm)
        assert abs(evaluate(g, a, k, cm).max() - opt) < 1e-12
        via_orders = min(slice_order(segment_cost_table(g, o, cm), k)[0] for o in topological_orders(g))
        assert abs(via_orders - opt) <= 1e-12 * max(1, opt)
        dp_value, dp_assignment = exact_partition(g, k, cm)
        assert abs(dp_value - opt) <= 1e-12 * max(1, opt)
        assert abs(evaluate(g, dp_assignment, k, cm).max() - opt) <= 1e-12 * max(1, opt)


def test_the_column_dp_is_exact_with_and_without_an_upper_bound():
    """pjpart.lattice_dp against exhaustive search: scalar and per-stage models, memory caps,
    upper bounds at, above and far above the optimum (pruning must never lose it)."""
    import math

    from pjpart.lattice_dp import large_exact_partition
    from pjpart.reference import exhaustive_partition

    from cases import cost_setting, fixed_shape_dag, stage_setting

    rng = np.random.default_rng(21)
    for trial in range(600):
        n = int(rng.integers(2, 9))
        g = fixed_shape_dag(rng, n, int(rng.integers(n - 1, min(n * (n - 1) // 2, 2 * n) + 1)))
        k = int(rng.integers(1, 6))
        cm = stage_setting(rng, k, g, trial) if trial % 2 else cost_setting(rng, trial)
        best, _ = exhaustive_partition(g, k, cm)
        upper = best * (1 + rng.choice([0.0, 0.1, 1.0])) if math.isfinite(best) and trial % 3 else math.inf
        value, assignment = large_exact_partition(g, k, cm, 10 ** 5, upper=upper)
        assert value == pytest.approx(best, rel=1e-9, abs=1e-300) or (math.isinf(best) and math.isinf(value))
        if math.isfinite(value):
            assert evaluate(g, assignment, k, cm).max() == value


def test_the_column_dp_gives_up_past_its_limits(monkeypatch):
    from pjpart.lattice_dp import large_exact_partition

    from cases import fixed_shape_dag

    g = fixed_shape_dag(np.random.default_rng(5), 16, 18)
    assert len(downsets(g, 10 ** 5)) > 256  # more than one chunk of columns
    assert large_exact_partition(g, 4, CostModel(), max_downsets=3) is None
    assert large_exact_partition(g, 4, CostModel(), 10 ** 5, seconds=1e-9) is None  # estimated too long
    assert large_exact_partition(g, 4, CostModel(), 10 ** 5, should_stop=lambda: True) is None
    D = len(downsets(g, 10 ** 5))
    # its arrays: F and arg 16 (k + 1) bytes per downset and two sketches, then the bit rows, then the frontiers
    monkeypatch.setattr(pjpart.lattice_dp, "MAX_BYTES", D * 5 * 16 - 1)
    assert large_exact_partition(g, 4, CostModel(), 10 ** 5) is None
    monkeypatch.setattr(pjpart.lattice_dp, "MAX_BYTES", D * (5 * 16 + 8) + 8)  # no room for a frontier
    assert large_exact_partition(g, 4, CostModel(), 10 ** 5) is None
    monkeypatch.undo()
    value, _ = large_exact_partition(g, 4, CostModel(), 10 ** 5)
    monkeypatch.setattr(pjpart.lattice, "DENSE_MAX_DOWNSETS", 10 ** 5)  # the D x D table DP as the reference
    assert value == pytest.approx(exact_partition(g, 4, CostModel(), 10 ** 5, reduce=False)[0], rel=1e-12)


def test_a_sketch_keeps_every_subset():
    """The column DP skips a pair on its 64-node sketches: for every pair of downsets ``J <= I`` the
    sketches keep ``J``'s bits inside ``I``'s (graphs of fewer and more than 64 nodes), and on
    graphs of at most 64 nodes the sketch is the whole set, so it decides every pair."""
    from pjpart.lattice_dp import _Lattice

    rng = np.random.default_rng(8)
    for n in (6, 12, 70, 90):
        half = n // 2  # two chains with a few forward edges between them: about n^2 / 4 downsets
        edges = [(u, u + 1) for u in range(half - 1)] + [(u, u + 1) for u in range(half, n - 1)]
        for _ in range(n // 8):
            a, b = int(rng.integers(0, half)), int(rng.integers(half, n))
            edges.append((a, b) if b - half > a else (b, a + 1) if a + 1 < half else (b, a))
        g = pjpart.Graph.from_arrays(work=rng.uniform(1, 2, n), edges=sorted(set(edges)))
        sets = downsets(g, 10 ** 5)
        lat = _Lattice(g, sets)
        sketch = lat.sketch()
        picks = rng.choice(len(sets), size=min(len(sets), 300), replace=False)
        for i in picks:
            for j in picks:
                subset = sets[j] & ~sets[i] == 0
                kept = int(sketch[j] & ~sketch[i]) == 0
                assert kept or not subset, (n, i, j)
                if n <= 64:
                    assert kept == subset, (n, i, j)


def test_a_block_at_the_memory_limit_is_feasible_for_the_dps():
    """Weights summing to the cap exactly, but one ulp above it as a difference of prefix sums:
    the DPs must not reject the block (the optimum would be lost and the bound be too high)."""
    from pjpart.lattice_dp import large_exact_partition

    g = pjpart.Graph.from_arrays(work=[10, 1, 1], params=[0.1, 0.2, 0.3], edges=[(0, 1), (1, 2)])
    for cm in (CostModel(memory_limit=0.5), CostModel(stage_memory_limit=[0.5, 0.5], stage_speed=[1, 1])):
        best, _ = exhaustive_partition(g, 2, cm)
        assert best == 10.0
        assert exact_partition(g, 2, cm, 10 ** 5, reduce=False)[0] == best
        assert large_exact_partition(g, 2, cm, 10 ** 5)[0] == best
        assert pjpart.lower_bound(g, 2, cm, methods=["combinatorial", "exact-dp"]).value <= best


def test_a_pruning_upper_bound_below_the_optimum_is_not_infeasibility():
    from pjpart.lattice_dp import large_exact_partition

    from cases import fixed_shape_dag

    g = fixed_shape_dag(np.random.default_rng(5), 16, 18)
    best, _ = large_exact_partition(g, 3, CostModel(), 10 ** 5)
    assert large_exact_partition(g, 3, CostModel(), 10 ** 5, upper=best * (1 - 1e-6)) is None
