"""Local search: moves that keep precedence, local optima, border re-cuts and feeder pulls, against brute force."""

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, evaluate
from pjpart.generators import random_dag
from pjpart.lattice import mask_bits, small_downsets
from pjpart.reference import exhaustive_partition
from pjpart.search.local import (WINDOWS, best_split, border_window, closure_moves, feeder_pulls, improve,
                                 improve_and_reslice, legal_moves, pull_feeders, resplit_borders, split_costs,
                                 stage_closures, stage_major_order)


def test_local_moves_keep_precedence_and_never_worsen(rng):
    for _ in range(40):
        g, k, cm, start = _random_case(rng, 10)
        nodes, stages = legal_moves(g, start, k)
        for v, s in zip(nodes.tolist(), stages.tolist()):
            moved = start.copy()
            moved[v] = s
            pjpart.cost.check_assignment(g, moved, k)  # raises on a precedence violation
        out = improve(g, start, k, cm)
        assert evaluate(g, out, k, cm).max() <= evaluate(g, start, k, cm).max()
        # a local optimum: no single legal move lowers the bottleneck
        nodes, stages = legal_moves(g, out, k)
        base = evaluate(g, out, k, cm).max()
        for v, s in zip(nodes.tolist(), stages.tolist()):
            moved = out.copy()
            moved[v] = s
            assert evaluate(g, moved, k, cm).max() >= base - 1e-12


def _descendants(g, v):
    seen, todo = set(), [v]
    while todo:
        for w in g.successors(todo.pop()).tolist():
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def _random_assignment(g, k, rng):
    start = np.empty(g.n, dtype=np.int64)
    start[g.topological_order()] = np.sort(rng.integers(0, k, size=g.n))
    return start


def _random_case(rng, n_max):
    """A random DAG, k, cost model and a precedence-respecting start assignment."""
    g = random_dag(int(rng.integers(3, n_max)), rng, density=0.3)
    k = int(rng.integers(2, 5))
    return g, k, CostModel(bandwidth=float(rng.uniform(0.3, 3))), _random_assignment(g, k, rng)


def test_stage_closures_against_reachability(rng):
    for _ in range(30):
        g = random_dag(int(rng.integers(2, 11)), rng, density=0.35)
        a = _random_assignment(g, int(rng.integers(1, 4)), rng)
        anc, desc = stage_closures(g, a)
        for v in range(g.n):
            # paths inside a stage: a descendant in v's stage is reached through that stage only,
            # since stages never decrease along a path
            want = {w for w in _descendants(g, v) if a[w] == a[v]} | {v}
            assert set(np.flatnonzero(desc[v]).tolist()) == want
            assert set(np.flatnonzero(anc[:, v]).tolist()) == want
            assert set(np.flatnonzero(anc[v]).tolist()) == {u for u in range(g.n) if desc[u, v]}


def test_closure_moves_keep_precedence_and_improve_reaches_their_local_optimum(rng):
    for _ in range(40):
        g, k, cm, start = _random_case(rng, 11)
        masks, nodes, to = closure_moves(g, start, k)
        # every single-node move is among them, and every move keeps precedence
        singles = set(zip(*legal_moves(g, start, k)))
        assert singles <= {(int(v), int(s)) for v, s, mk in zip(nodes, to, masks) if mk.sum() == 1}
        for mk, s in zip(masks, to):
            pjpart.cost.check_assignment(g, np.where(mk, s, start), k)  # raises on a violation
        out = improve(g, start, k, cm)
        base = evaluate(g, out, k, cm).max()
        assert base <= evaluate(g, start, k, cm).max()
        masks, nodes, to = closure_moves(g, out, k)
        for mk, s in zip(masks, to):
            assert evaluate(g, np.where(mk, s, out), k, cm).max() >= base - 1e-12


def test_closure_move_escapes_where_single_moves_are_stuck():
    # chain 0 -> 1 -> 2, node 1's output is large: moving node 2 alone to stage 1 sends it
    # (3 + 3 + 10 = 16 > 7); moving 1 with its descendant 2 costs nothing to send
    g = pjpart.Graph.from_arrays(work=[3, 3, 1], sizeout=[0, 10, 0], edges=[(0, 1), (1, 2)])
    cm = CostModel(bandwidth=1.0)
    start = np.array([0, 0, 0])
    assert improve(g, start, 2, cm, moves="single").tolist() == [0, 0, 0]
    assert improve(g, start, 2, cm).tolist() == [0, 1, 1]
    assert evaluate(g, [0, 1, 1], 2, cm).tolist() == [3, 4]


def test_improve_and_reslice_is_valid_and_never_worse(rng):
    for _ in range(30):
        g, k, cm, start = _random_case(rng, 11)
        order = g.topological_order()
        # the stage-major order is topological and its stage borders give the assignment back
        major = stage_major_order(start, order)
        pos = np.empty(g.n, dtype=np.int64)
        pos[major] = np.arange(g.n)
        assert all(pos[u] < pos[v] for u, v in g.edges.tolist())
        assert np.all(np.diff(start[major]) >= 0)
        out, out_order = improve_and_reslice(g, start, order, k, cm)
        pjpart.cost.check_assignment(g, out, k)
        assert evaluate(g, out, k, cm).max() <= evaluate(g, improve(g, start, k, cm), k, cm).max() + 1e-12
        opt, _ = pjpart.reference.exhaustive_partition(g, k, cm)
        assert evaluate(g, out, k, cm).max() >= opt - 1e-12


def _valid(g, a, k):
    return all(a[u] <= a[v] for u, v in g.edges.tolist()) and a.min() >= 0 and a.max() < k


def _longest_inside(g, a, v, stage, forward):
    """Edges on the longest path from v (forward) or to v inside ``stage``, by brute force."""
    nxt = g.successors if forward else g.predecessors
    best, todo = 0, [(v, 0)]
    while todo:
        u, d = todo.pop()
        best = max(best, d)
        todo += [(int(w), d + 1) for w in nxt(u) if a[w] == stage]
    return best


def test_border_windows_are_what_they_say_and_every_downset_recuts_validly(rng):
    for trial in range(60):
        g, k, cm, a = _random_case(rng, 12)
        order = g.topological_order()
        s = int(rng.integers(0, k - 1))
        size = int(rng.integers(1, 5))
        major = stage_major_order(a, order)
        for shape in WINDOWS:
            window = border_window(g, a, order, s, size, shape)
            if shape == "order":
                want = set(major[a[major] == s][-size:].tolist()) | set(major[a[major] == s + 1][:size].tolist())
            else:  # nodes of s within size - 1 edges of its last nodes, of s + 1 within size - 1 of its first
                want = {v for v in range(g.n) if a[v] == s and _longest_inside(g, a, v, s, True) < size} \
                    | {v for v in range(g.n) if a[v] == s + 1 and _longest_inside(g, a, v, s + 1, False) < size}
            assert set(window.tolist()) == want and len(window) == len(want), (trial, shape)
            for mask in small_downsets(g, window, 1 << len(window)):
                cut = a.copy()
                cut[window] = np.where(mask_bits(np.array([mask]), len(window))[0], s, s + 1)
                assert _valid(g, cut, k), (trial, shape)
    with pytest.raises(ValueError, match="window shape"):
        border_window(g, a, order, 0, 2, "nodes")


def test_split_costs_match_the_reference_evaluator(rng):
    for trial in range(40):
        g, k, _, a = _random_case(rng, 12)
        cm = [CostModel(), CostModel(bandwidth=0.7), CostModel(bandwidth=2.0, memory=1.0, overflow_bandwidth=0.5),
              CostModel(bandwidth=1.3, memory=0.5, memory_limit=2.5)][trial % 4]
        order = g.topological_order()
        s = int(rng.integers(0, k - 1))
        window = border_window(g, a, order, s, int(rng.integers(1, 6)), WINDOWS[trial % 2])
        to_first = mask_bits(small_downsets(g, window, 1 << 12), len(window))
        got = split_costs(g, a, s, window, to_first, cm)
        for row, costs in zip(to_first, got):
            cut = a.copy()
            cut[window] = np.where(row, s, s + 1)
            ref = evaluate(g, cut, k, cm)[[s, s + 1]]
            assert np.allclose(costs, ref, rtol=1e-12, atol=1e-12) or np.array_equal(costs, ref), (trial, costs, ref)


def test_best_split_is_the_best_recut_of_its_window_by_brute_force(rng):
    for trial in range(40):
        g, k, cm, a = _random_case(rng, 11)
        order = g.topological_order()
        s = int(rng.integers(0, k - 1))
        shape, size = WINDOWS[trial % 2], int(rng.integers(1, 5))
        window = border_window(g, a, order, s, size, shape)
        out = best_split(g, a, order, s, cm, size=size, shape=shape)
        assert _valid(g, out, k) and np.array_equal(np.delete(out, window), np.delete(a, window))
        # every 2^|window| re-assignment of the window to s or s + 1 that keeps precedence
        best = None
        for mask in range(1 << len(window)):
            cut = a.copy()
            cut[window] = [s if (mask >> i) & 1 else s + 1 for i in range(len(window))]
            if _valid(g, cut, k):
                c = evaluate(g, cut, k, cm)[[s, s + 1]]
                key = (c.max(), (c ** 2).sum())
                best = key if best is None or key < best else best
        c = evaluate(g, out, k, cm)[[s, s + 1]]
        assert c.max() == pytest.approx(best[0], rel=1e-12)
        assert (c ** 2).sum() == pytest.approx(best[1], rel=1e-9)


def test_resplit_borders_is_valid_never_worse_and_settled(rng):
    for trial in range(30):
        g, k, cm, a = _random_case(rng, 11)
        order = g.topological_order()
        shape = WINDOWS[trial % 2]
        out = resplit_borders(g, a, order, k, cm, size=3, shape=shape)
        assert _valid(g, out, k)
        assert evaluate(g, out, k, cm).max() <= evaluate(g, a, k, cm).max()
        opt, _ = exhaustive_partition(g, k, cm)
        assert evaluate(g, out, k, cm).max() >= opt - 1e-12
        # no border's re-cut lowers its pair's slower stage any further
        costs = evaluate(g, out, k, cm)
        for s in range(k - 1):
            again = evaluate(g, best_split(g, out, order, s, cm, size=3, shape=shape), k, cm)
            assert max(again[s], again[s + 1]) >= max(costs[s], costs[s + 1]) * (1 - 1e-12)


def test_feeder_pulls_are_valid_and_unbounded_they_are_every_private_feeder(rng):
    for trial in range(60):
        g, k, cm, a = _random_case(rng, 12)
        t = int(rng.integers(1, k))
        rows = feeder_pulls(g, a, t, depth=g.n, max_size=g.n)
        # brute force: v before t is a private feeder iff no node without successors is reachable
        # from v through nodes before t (every path from v enters stage t or later)
        sinks = {v for v in range(g.n) if len(g.successors(v)) == 0}
        feeders = set()
        for v in range(g.n):
            if a[v] >= t:
                continue
            seen, todo = {v}, [v]
            while todo:
                for w in g.successors(todo.pop()).tolist():
                    if a[w] < t and w not in seen:
                        seen.add(w)
                        todo.append(w)
            if not seen & sinks:
                feeders.add(v)
        want = set()
        for v in feeders:  # v with the feeders it reaches, if that set feeds stage t itself
            row = {v} | {w for w in _descendants(g, v) if w in feeders}
            if any(a[w] == t for u in row for w in g.successors(u).tolist()):
                want.add(frozenset(row))
        assert {frozenset(np.flatnonzero(r).tolist()) for r in rows} == want, trial
        for r in rows:
            assert _valid(g, np.where(r, t, a), k)
        # depth and size limits only drop rows
        small = {frozenset(np.flatnonzero(r).tolist()) for r in feeder_pulls(g, a, t, depth=1, max_size=2)}
        assert small <= want and all(len(r) <= 2 for r in small)


def test_pull_feeders_never_worsens_and_gathers_an_input_free_pair_into_its_consumer():
    rng = np.random.default_rng(5)
    for _ in range(30):
        g, k, cm, a = _random_case(rng, 11)
        out = pull_feeders(g, a, k, cm)
        assert _valid(g, out, k)
        assert evaluate(g, out, k, cm).max() <= evaluate(g, a, k, cm).max()
        assert evaluate(g, out, k, cm).max() >= exhaustive_partition(g, k, cm)[0] - 1e-12
    # chain 0 -> 1 -> 2 -> 3 and an input-free node 4 -> 5 -> 3: with 4 and 5 in stage 0,
    # stage 2 (node 3, work 6) receives 2's and 5's outputs: 6 + 1 + 3 = 10. Moving 4 and 5
    # there: 6 + 1 + 1 + 1 (2's output) = 9. Moving 5 alone there: 4's output crosses
    # instead (6 + 1 + 1 + 2 = 10); moving them to stage 1: 2 + 2 + 1 + 1 + in 1 + out 1 + 3 = 11
    g = pjpart.Graph.from_arrays(work=[2, 2, 2, 6, 1, 1], sizeout=[1, 1, 1, 0, 2, 3],
                                 edges=[(0, 1), (1, 2), (2, 3), (4, 5), (5, 3)])
    cm = CostModel(bandwidth=1.0)
    a = np.array([0, 1, 1, 2, 0, 0])
    assert evaluate(g, a, 3, cm).tolist() == [8, 6, 10]
    assert evaluate(g, improve(g, a, 3, cm), 3, cm).max() == 10  # closure moves do not help
    after = pull_feeders(g, a, 3, cm)
    assert after.tolist() == [0, 1, 1, 2, 2, 2]
    assert evaluate(g, after, 3, cm).tolist() == [3, 6, 9]


def test_local_search_docstring_examples_run():
    import doctest

    import pjpart.lattice
    import pjpart.search.local

    for module in (pjpart.search.local, pjpart.lattice):
        result = doctest.testmod(module)
        assert result.failed == 0
    assert doctest.testmod(pjpart.search.local).attempted >= 5
