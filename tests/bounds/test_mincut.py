"""pjpart.bounds.mincut: each node's closure value against a brute-force minimum over node sets."""

from pjpart import CostModel
from pjpart.generators import random_dag


def _block_cost(g, S, cm):
    """f(S) straight from the SPEC's definition, for any node set S (not only stages)."""
    inside = set(S)
    succ = {u: set(g.successors(u).tolist()) for u in range(g.n)}
    inn = sum(g.sizeout[u] for u in range(g.n) if u not in inside and succ[u] & inside)
    out = sum(g.sizeout[u] for u in inside if succ[u] - inside)
    return sum(g.work[v] for v in inside) + (inn + out) / cm.bandwidth + cm.overflow(sum(g.params[v] for v in inside))


def test_node_closure_equals_brute_force_min_over_sets(rng):
    from itertools import combinations

    from pjpart.bounds.mincut import node_closure_values

    for trial in range(40):
        g = random_dag(int(rng.integers(1, 8)), rng, density=float(rng.uniform(0.2, 0.7)))
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)))
        vals, done = node_closure_values(g, cm)
        assert done == g.n
        for v in range(g.n):
            others = [u for u in range(g.n) if u != v]
            best = min(_block_cost(g, (v,) + extra, cm) for r in range(len(others) + 1)
                       for extra in combinations(others, r))
            # equal up to the int32 rounding, and never above
            assert best * (1 - 1e-6) - 1e-9 <= vals[v] <= best + 1e-12, (trial, v, vals[v], best)
