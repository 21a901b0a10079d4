"""pjpart.kernels.slicing work windows: the DP on the positions a slicing within an upper bound
can cut, against exhaustive enumeration of slicings and the float64 reference DP."""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pjpart.cost import DEFAULT_COST_MODEL
from pjpart.generators import dnn_like, random_dag
from pjpart.kernel_inputs import band_bucket, cost_params, graph_arrays
from pjpart.reference import decode_keys, segment_cost_table, slice_order

from cases import stage_setting


def slicings(n, stages):
    """Every split of positions ``0..n`` into ``stages`` contiguous, possibly empty, segments: the cuts."""
    for inner in itertools.combinations_with_replacement(range(n + 1), stages - 1):
        yield (0,) + inner + (n,)


def test_every_cut_of_a_slicing_within_the_bound_lies_in_its_window(rng):
    from pjpart.kernels import needed_width, work_windows

    windows = jax.jit(work_windows, static_argnums=2)
    width = jax.jit(needed_width, static_argnums=3)
    checked = 0
    for trial in range(200):
        n, stages = int(rng.integers(1, 9)), int(rng.integers(1, 5))
        work = rng.random(n) * (rng.random(n) > 0.2)  # some exact zeros
        order = rng.permutation(n)
        prefix = np.r_[0.0, np.cumsum(work[order])]
        bound = float(prefix[-1] / stages * rng.choice([1.0, 1.2, 1.5, 2.0]) + 1e-9)
        lo, hi = (np.asarray(x) for x in windows(jnp.asarray(prefix, jnp.float32), jnp.float32(bound), stages))
        w = int(width(jnp.asarray(work, jnp.float32), jnp.asarray(order, jnp.int32), jnp.float32(bound), stages))
        assert w >= max(1, int((hi - lo + 1).max()))
        for cuts in slicings(n, stages):
            if all(prefix[b] - prefix[a] <= bound for a, b in zip(cuts, cuts[1:])):
                checked += 1
                assert all(lo[b] <= cuts[b] <= hi[b] for b in range(stages + 1)), (trial, cuts, lo, hi)
    assert checked > 100


def cases():
    """``(graph, k, cost model, heterogeneous)``: random DAGs and DNN-like graphs of 24 nodes."""
    rng = np.random.default_rng(11)
    for trial in range(6):
        g = dnn_like(24, seed=trial) if trial % 2 else random_dag(24, np.random.default_rng(trial), density=0.15)
        k = (2, 3, 5)[trial % 3]
        yield g, k, DEFAULT_COST_MODEL, False
        if trial in (1, 2):
            yield g, k, stage_setting(rng, k, g, trial), True


@pytest.mark.slow  # compiles about 30 small kernels (20 s)
def test_the_windowed_dp_is_exact_within_the_bound_and_never_below_the_optimum():
    from pjpart.kernels import needed_width, order_bottleneck, order_bottleneck_pair

    @functools.partial(jax.jit, static_argnames=("k", "band", "width", "pair"))
    def windowed(arrays, cost, orders, bound, k, band, width, pair):
        fn = order_bottleneck_pair if pair else order_bottleneck
        return jax.vmap(lambda o: fn(arrays, cost, o, k, band, width, bound))(orders)

    rng = np.random.default_rng(5)
    exact = 0
    for g, k, cm, hetero in cases():
        arrays, cost = graph_arrays(g, jnp.float32), cost_params(cm, k, jnp.float32)
        orders = np.stack([g.topological_order()] + [decode_keys(g, rng.random(g.n)) for _ in range(5)])
        opt = np.array([slice_order(segment_cost_table(g, o, cm), k, o)[0] for o in orders])
        nxt = np.array([slice_order(segment_cost_table(g, o, cm), k + 1, o)[0] for o in orders]) if not hetero else opt
        finite = opt[np.isfinite(opt)]
        if not len(finite):
            continue
        for factor in (0.8, 1.2, math.inf):
            upper = float(np.median(finite)) * factor
            bound = jnp.float32(min(upper * cm.fastest_speed * (1 + 1e-3), np.finfo(np.float32).max))
            for pair in (False, True):
                stages = k + 1 if pair and not hetero else k
                need = max(int(needed_width(arrays.work, jnp.asarray(o, jnp.int32), bound, stages)) for o in orders)
                width = band_bucket(need, g.n + 1)
                got = np.asarray(windowed(arrays, cost, jnp.asarray(orders, jnp.int32), bound, k=k, band=g.n,
                                          width=width, pair=pair), np.float64).reshape(len(orders), -1)
                within = opt <= upper
                exact += int(within.sum())
                np.testing.assert_allclose(got[within, 0], opt[within], rtol=1e-5)
                assert np.all(got[~within, 0] >= opt[~within] * (1 - 1e-5))
                if pair:
                    np.testing.assert_allclose(got[within, 1], nxt[within], rtol=1e-5)
                    assert np.all(got[:, 1] >= nxt * (1 - 1e-5))
    assert exact > 40
