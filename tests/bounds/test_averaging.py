"""pjpart.bounds.averaging against exhaustive search, on graphs whose broadcast tensors make it
bite (a heavy chain whose every node reads one source), homogeneous and heterogeneous."""

import math

import numpy as np
import pytest

from cases import stage_setting
from pjpart import CostModel, Graph
from pjpart.bounds.averaging import averaging_bound, producer_spans
from pjpart.bounds.combinatorial import combinatorial_bound
from pjpart.generators import random_dag
from pjpart.reference import exhaustive_partition


def broadcast_graph(rng):
    """A random DAG plus a source read by a random subset of it, with big outputs."""
    base = random_dag(int(rng.integers(2, 8)), rng, density=float(rng.uniform(0.2, 0.8)))
    readers = [v for v in range(base.n) if rng.random() < 0.7] or [0]
    edges = [tuple(e) for e in base.edges.tolist()] + [(base.n, v) for v in readers]
    sizeout = np.append(base.sizeout * rng.uniform(0, 3), rng.uniform(0.1, 3))
    return Graph.from_arrays(work=np.append(base.work, rng.uniform(0, 0.3)), params=np.append(base.params, 0.0),
                             sizeout=sizeout, edges=edges)


def stage_counts(g, assignment):
    """q(u) of the module docstring: distinct stages of each producer and its consumers."""
    return [len({int(assignment[u])} | {int(assignment[c]) for c in g.successors(u)}) for u in range(g.n)]


def test_never_above_the_exhaustive_optimum_and_often_above_combinatorial():
    rng = np.random.default_rng(7)
    above = checked = 0
    for trial in range(600):
        g = broadcast_graph(rng)
        k = int(rng.integers(2, 5))
        if trial % 2:
            cm = stage_setting(rng, k, g, trial)
        else:
            cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)), memory=float(rng.uniform(0.5, 3)),
                           overflow_bandwidth=1.0)
        opt, _ = exhaustive_partition(g, k, cm)
        if not math.isfinite(opt):
            continue
        value = averaging_bound(g, k, cm)
        comb = combinatorial_bound(g, k, cm)
        assert comb <= value <= opt * (1 + 1e-12), (trial, value, opt)
        above += value > comb * (1 + 1e-9)
        checked += 1
    assert checked >= 500
    assert above >= 100  # the communication term counts on these graphs


def test_runs_never_exceed_the_stages_an_optimum_uses():
    """Item 3 directly: at T = T*, each producer's greedy run count is at most q(u)."""
    from pjpart.bounds.averaging import _runs

    rng = np.random.default_rng(3)
    tight = 0
    for trial in range(300):
        g = broadcast_graph(rng)
        k = int(rng.integers(2, 5))
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)))
        opt, assignment = exhaustive_partition(g, k, cm)
        q = stage_counts(g, assignment)
        producers = [u for u in range(g.n) if len(g.successors(u)) and g.sizeout[u] > 0]
        spans = producer_spans(g)
        assert len(spans) == len(producers)
        for u, (size, chain, between) in zip(producers, spans):
            assert chain[0] == u
            assert size == g.sizeout[u]
            r = _runs(between, opt, opt - size / cm.bandwidth)
            assert r <= q[u], (trial, u, r, q[u])
            tight += 1 < r == q[u]
    assert tight >= 50  # the count is often exact, so the check has teeth


def test_chains_and_between_work_by_brute_force():
    """Each chain starts at its producer, runs through its consumers, each reachable from the one
    before, and is a longest such chain; M[i, j] is the work of the nodes on paths from x_i to x_j."""
    from itertools import combinations

    import networkx as nx

    rng = np.random.default_rng(5)
    for _ in range(150):
        g = broadcast_graph(rng)
        nxg = nx.DiGraph(g.edges.tolist())
        nxg.add_nodes_from(range(g.n))
        desc = {v: nx.descendants(nxg, v) | {v} for v in range(g.n)}
        for size, chain, between in producer_spans(g):
            u, cons = int(chain[0]), set(g.successors(int(chain[0])).tolist())
            assert set(chain[1:].tolist()) <= cons and size == g.sizeout[u]
            assert all(int(b) in desc[int(a)] for a, b in zip(chain, chain[1:]))
            longest = max(r for r in range(1, len(cons) + 1) for c in combinations(sorted(cons), r)
                          if all(y in desc[x] or x in desc[y] for x, y in combinations(c, 2)))
            assert len(chain) - 1 == longest
            for i, j in combinations(range(len(chain)), 2):
                on_paths = {v for v in desc[int(chain[i])] if int(chain[j]) in desc[v]}
                assert between[i, j] == pytest.approx(sum(g.work[v] for v in on_paths), rel=1e-12, abs=1e-15)
