"""pjpart.bounds.configuration (the cover of a graph by blocks of cost <= T) against exhaustive
search: the bound never exceeds the fewest stages a partition of bottleneck <= T needs, a guess it
refutes has no such partition, and on a layer of parallel branches it counts the whole branches."""

import math

import numpy as np
import pytest
from cases import cost_setting, series_graph, solved_problems, stage_setting

import pjpart
from pjpart import CostModel
from pjpart.bounds.configuration import configuration_refutes, cover_bound
from pjpart.generators import random_dag
from pjpart.reference import exhaustive_partition


def _fewest_stages(optima, T):
    """The fewest stages a partition of bottleneck ``<= T`` takes (``optima[k - 1]``: the exhaustive
    optimum at ``k`` stages), or ``inf``."""
    return next((k for k, value in enumerate(optima, 1) if value <= T), math.inf)


def test_the_count_never_exceeds_the_fewest_stages(rng):
    """Over random small graphs, scalar and heterogeneous models, and guesses between the optima at
    1 and n stages (ties to an optimum included): blocks <= the exhaustive fewest stages."""
    checked = refuted = 0
    for trial in range(40):
        g = random_dag(int(rng.integers(1, 7)), rng, density=float(rng.uniform(0.1, 0.6)))
        k_max = g.n
        cm = stage_setting(rng, k_max, g, trial) if trial % 3 == 2 else cost_setting(rng, trial)
        optima = [exhaustive_partition(g, k, cm)[0] for k in range(1, k_max + 1)]
        finite = [v for v in optima if math.isfinite(v)]
        if not finite:
            continue
        guesses = set(finite) | {float(rng.uniform(min(finite) * 0.8, max(finite) * 1.1)) for _ in range(2)}
        for T in sorted(guesses):
            fewest = _fewest_stages(optima, T)
            out = cover_bound(g, cm, T)
            assert out.blocks <= fewest * (1 + 1e-9), (trial, T, out, fewest, optima)
            checked += 1
            for k in range(1, k_max + 1):
                if configuration_refutes(g, k, cm, T):
                    refuted += 1
                    assert optima[k - 1] > T, (trial, k, T, optima)
    assert checked > 60 and refuted > 10


def test_parallel_branches_stay_whole_in_the_count():
    """Three parallel branches a -> b (work 2 each, a sends 1 to b, b sends 0.5 to the sink) between
    a source and a sink of no work: at T = 5 a block holds at most one branch (4 + 0.5 sent; a second
    branch's first node would add 2 + 1 sent), so three blocks are needed and two stages refuted."""
    edges = [(0, 1), (1, 2), (0, 3), (3, 4), (0, 5), (5, 6), (2, 7), (4, 7), (6, 7)]
    g = pjpart.Graph.from_arrays(work=[0, 2, 2, 2, 2, 2, 2, 0], sizeout=[0, 1, 0.5, 1, 0.5, 1, 0.5, 0], edges=edges)
    cm = CostModel()
    assert exhaustive_partition(g, 2, cm)[0] > 5
    assert configuration_refutes(g, 2, cm, 5.0)
    assert not configuration_refutes(g, 3, cm, exhaustive_partition(g, 3, cm)[0])


def test_a_clock_costs_strength_not_validity(rng):
    """With no time the bound is 0; with a little it never exceeds the exact count."""
    g = random_dag(6, rng, density=0.4)
    cm = CostModel()
    optima = [exhaustive_partition(g, k, cm)[0] for k in range(1, g.n + 1)]
    T = optima[1]
    assert cover_bound(g, cm, T, seconds=0.0).blocks == 0.0
    assert cover_bound(g, cm, T, seconds=0.05).blocks <= _fewest_stages(optima, T) * (1 + 1e-9)


def test_windows_price_as_one_mip_over_the_graph(rng, monkeypatch):
    """Graphs in series cut into several groups: the cover LP priced over the windows converges to
    the value priced by one MIP over the whole graph (every block lies in a window, at its exact cost),
    the MIPs alone pricing."""
    from pjpart.bounds import configuration, cover_pricing

    # no heuristic columns: every column comes from the MIPs, so a window missed changes the value
    monkeypatch.setattr(cover_pricing.Intervals, "columns", lambda *args: [])
    compared = 0
    for trial in range(12):
        g = series_graph(rng, int(rng.integers(3, 5)))
        cm = CostModel(bandwidth=float(rng.uniform(0.5, 4.0)))
        T = float(rng.uniform(1.2, 3.0)) * float(g.work.max())
        windowed = configuration.ConfigurationLP(g, cm, T)
        if len(windowed.groups) < 2:
            continue
        assert len(windowed.graph.edges) < len(g.edges)  # the stray source is dropped
        split = windowed.cover(T)
        whole = configuration.ConfigurationLP(g, cm, T)
        monkeypatch.setattr(whole, "groups", [np.arange(whole.graph.n)])
        one = whole.cover(T)
        assert split.status == one.status == "converged", (trial, split, one)
        assert split.blocks == pytest.approx(one.blocks, rel=1e-5), (trial, split, one)
        compared += 1
    assert compared >= 6


def test_the_bisection_stays_below_the_optimum(rng):
    """configuration_bound (windows, strays dropped, bisection from the floor) never passes the
    exhaustive optimum, on series graphs and random ones, scalar and heterogeneous models."""
    from pjpart.bounds.configuration import configuration_bound
    from pjpart.budget import Budget

    rose = 0
    graphs = lambda trial: series_graph(rng, 2) if trial % 2 else random_dag(int(rng.integers(3, 8)), rng, density=0.4)
    for trial, g, k, cm, best in solved_problems(rng, 30, graphs):
        out = configuration_bound(g, k, cm, Budget(None), upper=best)
        assert out.value <= best * (1 + 1e-9), (trial, k, out, best)
        rose += out.value > 0
    assert rose >= 5


def test_the_guesses_follow_a_falling_upper(rng):
    """A search alongside lowers the known partition's cost (``latest_upper``, read first and after
    each guess): every guess, the first too, stays below the cheapest cost read so far, and the value
    stays below the exhaustive optimum."""
    from pjpart.bounds.configuration import configuration_bound
    from pjpart.budget import Budget

    followed = 0
    for trial in range(20):
        g = series_graph(rng, 2) if trial % 2 else random_dag(int(rng.integers(3, 8)), rng, density=0.4)
        k = int(rng.integers(2, 4))
        cm = cost_setting(rng, trial)
        best, _ = exhaustive_partition(g, k, cm)
        if not math.isfinite(best) or best <= 0:
            continue
        costs, seen = iter([1.3 * best, 1.1 * best]), []

        def latest() -> float:
            seen.append(next(costs, best))
            return seen[-1]

        out = configuration_bound(g, k, cm, Budget(None), upper=1.5 * best, latest_upper=latest)
        assert out.value <= best * (1 + 1e-9), (trial, k, out, best)
        for i, (T, _) in enumerate(out.guesses):
            assert T < min(seen[:i + 1]), (trial, i, T, seen)
            followed += T < 1.3 * best
    assert followed >= 10


def test_the_group_count_never_exceeds_the_fewest_stages(rng):
    """Counted group by group (sum of each group's blocks less the shared boundaries), the stages
    never exceed the exhaustive fewest stages that reach T, and the count passes the work bound."""
    from pjpart.bounds.configuration import ConfigurationLP, _GroupCount
    from pjpart.budget import Budget

    counted = above_work = 0
    for trial in range(60):
        g = series_graph(rng, 3)
        if g.n > 12:
            continue
        cm = cost_setting(rng, trial)
        optima = [exhaustive_partition(g, k, cm)[0] for k in range(1, 5)]
        T = float(rng.uniform(0.5, 1.0)) * optima[int(rng.integers(0, 3))]
        whole = ConfigurationLP(g, cm, T)
        if len(whole.groups) < 2:
            continue
        out = _GroupCount(whole, whole.groups, T).stages(T, 4, Budget(None), math.inf)
        fewest = _fewest_stages(optima, T)
        assert out.blocks <= fewest, (trial, T, out, optima)
        counted += 1
        above_work += out.blocks > math.ceil(float(whole.graph.work.sum()) / T)
    assert counted >= 8 and above_work >= 1
