"""pjpart.bounds.symmetry (interchangeable branches) against the cost model itself: every swap it
reports keeps every partition's stage costs, it reports the heads of a head-shaped graph and not
branches that differ, and ordering the twins in a price MIP keeps the price."""

import dataclasses
import math

import numpy as np
from cases import cost_setting, heads_graph

import pjpart
from pjpart.bounds.chain import chain_links, price
from pjpart.bounds.symmetry import twin_branches
from pjpart.cost import evaluate
from pjpart.generators import random_dag
from pjpart.reference import decode_keys


def _random_partition(g, k, rng):
    """A random valid partition: a random topological order cut at random places."""
    order = decode_keys(g, rng.random(g.n))
    cuts = np.sort(rng.integers(0, g.n + 1, k - 1))
    stage = np.empty(g.n, dtype=np.int64)
    stage[order] = np.searchsorted(cuts, np.arange(g.n), side="right")
    return stage


def test_every_reported_swap_keeps_every_partition(rng):
    """For each class and each twin, swapping it with the first: a valid partition maps to a valid one
    with the same stage costs (float64 reference, scalar and memory models)."""
    swaps = 0
    for trial in range(60):
        g = heads_graph(rng) if trial % 3 else random_dag(int(rng.integers(4, 10)), rng, density=0.3)
        cm = cost_setting(rng, trial)
        for rows in twin_branches(g):
            for i in range(1, len(rows)):
                sigma = np.arange(g.n)
                sigma[rows[0]], sigma[rows[i]] = rows[i], rows[0]
                for _ in range(5):
                    k = int(rng.integers(2, 5))
                    stage = _random_partition(g, k, rng)
                    moved = stage[sigma]
                    assert np.all(moved[g.edges[:, 0]] <= moved[g.edges[:, 1]])
                    np.testing.assert_allclose(evaluate(g, moved, k, cm), evaluate(g, stage, k, cm), rtol=1e-12)
                swaps += 1
    assert swaps >= 40


def test_heads_are_found_and_branches_that_differ_are_not(rng):
    for trial in range(20):
        heads = int(rng.integers(2, 5))
        g = heads_graph(rng, heads=heads, size=2)
        classes = twin_branches(g)
        assert sum(len(r) for r in classes) >= heads  # every head, whole or node by node
        assert all(len(r) == heads for r in classes)
        # a head one unit heavier is no twin of the others
        work = g.work.copy()
        work[1] += 1.0
        g2 = pjpart.Graph.from_arrays(work=work, params=g.params, sizeout=g.sizeout, edges=g.edges.tolist())
        assert all(1 not in r for r in twin_branches(g2))
    # experts summed one after another (an add chain) are told apart by where they join it
    edges = [(0, 1), (0, 2), (0, 3), (1, 4), (2, 4), (4, 5), (3, 5)]
    chained = pjpart.Graph.from_arrays(work=[1, 2, 2, 2, 1, 1], sizeout=[1] * 6, edges=edges)
    assert not any(1 in r[:, 0] and 3 in r[:, 0] for r in twin_branches(chained))


def test_ordering_twins_keeps_the_price(rng):
    """Each head group's price with and without the order: equal when both MIPs finish (the order keeps
    an optimum), and the pricing still refuses no feasible assignment (test_chain checks prices against
    every assignment on these graphs too)."""
    compared = 0
    for trial in range(30):
        g = heads_graph(rng, heads=int(rng.integers(2, 5)), size=int(rng.integers(1, 4)))
        cm = cost_setting(rng, trial)
        T = float(rng.uniform(0.5, 1.5)) * float(g.work.sum()) / 2
        links, relaxed = chain_links(g, cm, 0.0)
        for link in links:
            if not link.twins:
                continue
            plain = dataclasses.replace(link, twins=())
            for j in range(3):
                room = float(rng.uniform(0.0, 1.0)) * T
                a, b = price(link, j, room, T, relaxed, 30.0), price(plain, j, room, T, relaxed, 30.0)
                assert a == b or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9 * T), (trial, j, a, b)
                compared += 1
    assert compared >= 30


def test_ordered_twins_at_the_optimum_are_not_refuted():
    """Three twin heads (nodes 4, 5, 6) at k = 4, exhaustive optimum 5.5: the chain must not refute 5.5.
    HiGHS 1.16's MIP presolve called the price MIP with the twins ordered infeasible at room = T = 5.5,
    though a solution meets every row (found in review); the price now solves it without presolve."""
    from pjpart.bounds.chain import chain_refutes
    from pjpart.reference import exhaustive_partition

    g = pjpart.Graph.from_arrays(
        work=[1, 0, 1, 1, 1, 1, 1, 1, 1], sizeout=[1, 2, .5, .5, .5, .5, .5, .5, 0],
        edges=[(0, 1), (0, 2), (1, 2), (1, 4), (1, 5), (1, 6), (1, 8), (2, 3), (3, 4), (3, 5), (3, 6), (4, 7),
               (5, 7), (6, 7), (7, 8)])
    cm = pjpart.CostModel()
    best, _ = exhaustive_partition(g, 4, cm)
    assert best == 5.5 and any(len(link.twins) for link in chain_links(g, cm, 0.0)[0])
    assert not chain_refutes(g, 4, cm, best)
