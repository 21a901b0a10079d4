"""Single-node moves priced from local counts, against the whole-assignment stage costs."""

import numpy as np

from pjpart import CostModel, evaluate
from pjpart.cost import stage_cost
from pjpart.generators import dnn_like, random_dag
from pjpart.search.local import improve, legal_moves
from pjpart.search.moves import improve_single, single_move_costs


def models(rng, k):
    speeds = rng.uniform(0.5, 2.0, size=k).tolist()
    return [CostModel(), CostModel(bandwidth=float(rng.uniform(0.2, 3))),
            CostModel(bandwidth=0.5, memory=float(rng.uniform(0.5, 3)), overflow_bandwidth=2.0),
            CostModel(stage_speed=speeds, link_bandwidth=rng.uniform(0.3, 2.0, size=max(1, k - 1)).tolist(),
                      stage_memory=rng.uniform(0.5, 3.0, size=k).tolist(), overflow_bandwidth=1.5)]


def test_the_local_prices_are_the_stage_costs_of_the_moved_assignments(rng):
    for trial in range(120):
        g = random_dag(int(rng.integers(2, 14)), rng, density=float(rng.uniform(0.1, 0.7))) if trial % 2 else \
            dnn_like(int(rng.integers(10, 80)), seed=trial)
        k = int(rng.integers(2, 6))
        order = g.topological_order()
        cuts = np.sort(rng.integers(0, g.n + 1, size=k - 1))
        assignment = np.empty(g.n, dtype=np.int64)
        assignment[order] = np.searchsorted(cuts, np.arange(g.n), side="right")
        nodes, to = legal_moves(g, assignment, k)
        if not len(nodes):
            continue
        cm = models(rng, k)[trial % 4]
        got = single_move_costs(g, assignment, k, nodes, to, cm)
        moved = np.repeat(assignment[None], len(nodes), axis=0)
        moved[np.arange(len(nodes)), nodes] = to
        want = np.stack([stage_cost(g, moved, assignment[nodes], cm), stage_cost(g, moved, to, cm)], axis=1)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        for r in range(len(nodes)):  # and the rest of the stages do not change
            others = np.setdiff1d(np.arange(k), [assignment[nodes[r]], to[r]])
            np.testing.assert_allclose(evaluate(g, moved[r], k, cm)[others], evaluate(g, assignment, k, cm)[others])


def test_single_move_search_never_worsens_and_matches_the_priced_search(rng):
    """The counted search takes the same moves as the whole-assignment one (single moves,
    same key), so it ends at the same partition."""
    for trial in range(20):
        g = dnn_like(int(rng.integers(30, 200)), seed=50 + trial)
        k = int(rng.integers(2, 8))
        cm = models(rng, k)[trial % 3]
        order = g.topological_order()
        start = np.empty(g.n, dtype=np.int64)
        start[order] = np.minimum(np.arange(g.n) * k // g.n, k - 1)
        got = improve_single(g, start, k, cm)
        assert evaluate(g, got, k, cm).max() <= evaluate(g, start, k, cm).max()
        np.testing.assert_array_equal(got, improve(g, start, k, cm, moves="single"))
