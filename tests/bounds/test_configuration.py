"""pjpart.bounds.configuration (the cover of a graph by blocks of cost <= T) against exhaustive
search: the bound never exceeds the fewest stages a partition of bottleneck <= T needs, a guess it
refutes has no such partition, and on a layer of parallel branches it counts the whole branches."""

import math

import numpy as np
from cases import cost_setting, stage_setting

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
