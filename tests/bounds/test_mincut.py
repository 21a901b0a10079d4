"""pjpart.bounds.mincut: each node's closure value against a brute-force minimum over node sets."""

import numpy as np

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


def test_cheapest_block_holds_its_node_at_the_brute_force_minimum(rng):
    from itertools import combinations

    from pjpart.bounds.mincut import cheapest_block

    for trial in range(40):
        g = random_dag(int(rng.integers(1, 8)), rng, density=float(rng.uniform(0.2, 0.7)))
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)))
        for v in range(g.n):
            others = [u for u in range(g.n) if u != v]
            best = min(_block_cost(g, (v,) + extra, cm) for r in range(len(others) + 1)
                       for extra in combinations(others, r))
            block = cheapest_block(g, cm, v)
            assert block[v], (trial, v)
            # the minimum of the rounded network: the true minimum up to the int32 rounding
            assert _block_cost(g, np.flatnonzero(block).tolist(), cm) <= best * (1 + 1e-6) + 1e-9, (trial, v)


def test_a_partition_around_the_cheapest_block_meets_the_bound_where_the_optimum_does(rng):
    """Where the exhaustive optimum equals the node-closure bound, the partition around the block
    of the node that gives the bound meets it far more often than the graph's own order does, and
    it is always a partition (edges forward: the order it slices is topological)."""
    from pjpart.bounds.mincut import block_partition, cheapest_block, node_closure_values
    from pjpart.cost import evaluate
    from pjpart.reference import exhaustive_partition, segment_cost_table, slice_order

    tight = around = own = 0
    for trial in range(300):
        g = random_dag(int(rng.integers(3, 9)), rng, density=float(rng.uniform(0.2, 0.6)))
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)))
        k = int(rng.integers(2, 5))
        vals, _ = node_closure_values(g, cm)
        block = cheapest_block(g, cm, int(np.argmax(vals)))
        stages = block_partition(g, k, cm, block)
        assert stages.min() >= 0 and stages.max() < k, trial
        assert np.all(stages[g.edges[:, 0]] <= stages[g.edges[:, 1]]), trial
        if exhaustive_partition(g, k, cm)[0] > vals.max() * (1 + 1e-6):
            continue
        tight += 1
        around += evaluate(g, stages, k, cm).max() <= vals.max() * (1 + 1e-6)
        order = g.topological_order()
        own += slice_order(segment_cost_table(g, order, cm), k, order)[0] <= vals.max() * (1 + 1e-6)
    assert tight >= 100 and around >= 0.9 * tight and around > own + 10, (tight, around, own)


def test_mincut_returns_its_partition_and_a_run_ends_on_it(tmp_path):
    """A graph (found by a random search) on which none of the search's seed orders slices to the
    optimum 8 at k = 3 while the partition around the cheapest block of the bound's node does:
    ``mincut`` returns it, ``lower_bound`` keeps it as found by ``mincut``, and a run ends with it,
    proven, before any search."""
    import pjpart
    from pjpart.cost import evaluate
    from pjpart.search.seeds import best_slicing, seed_orders

    g = pjpart.Graph.from_arrays(work=[5, 2, 3, 1, 6], sizeout=[5, 3, 7, 3, 1], edges=[(0, 3), (1, 3)])
    cm = CostModel()
    assert min(best_slicing(g, o, 3, cm, None)[1] for o in seed_orders(g)) > 8
    b = pjpart.lower_bound(g, 3, methods=["mincut"], time_limit=None)
    assert b.partition_method == "mincut" and b.partition is not None
    assert b.partition_cost == evaluate(g, b.partition, 3, cm).max() == 8.0
    assert b.by_method()["mincut"] >= 8.0 * (1 - 1e-6)
    for run in range(2):  # the second from the bound cache: mincut's node is kept, its partition rebuilt
        r = pjpart.partition(g, 3, max_evaluations=1000, quiet=True, bound_methods="combinatorial,mincut",
                             exact_max_downsets=0, bound_cache=tmp_path)  # no lattice DP: the bounds come first
        assert (r.method, r.bottleneck, r.stopped_by) == ("mincut-block", 8.0, "optimal") and r.proven_optimal, run


def test_cuts_from_each_matches_a_network_built_per_node(rng):
    """The network built once (its source edge re-pointed) and, where the source has edges of its
    own, built per node: both give the flow of a fresh network per node."""
    from scipy.sparse.csgraph import maximum_flow

    from pjpart.bounds.mincut import _rooted, cuts_from_each

    size = 9  # nodes 0..6, source 7, sink 8
    for own_source_edge in (False, True):
        tails = rng.integers(0, 7, 20)
        heads = rng.integers(0, 7, 20)
        caps = rng.integers(0, 10, 20)
        tails, heads = np.r_[tails, np.arange(7)], np.r_[heads, np.full(7, 8)]
        caps = np.r_[caps, rng.integers(1, 10, 7)]
        if own_source_edge:
            tails, heads, caps = np.r_[tails, 7], np.r_[heads, 3], np.r_[caps, 5]
        keep = (tails != heads) & (caps > 0)
        tails, heads, caps = tails[keep], heads[keep], caps[keep]
        nodes = rng.permutation(7)
        flows, done = cuts_from_each(tails, heads, caps, size, nodes)
        fresh = [maximum_flow(_rooted(tails, heads, caps, size, int(v)), 7, 8).flow_value for v in nodes]
        assert done == 7 and flows.tolist() == fresh
