"""pjpart.kernels.slicing: the windowed min-max slicing DP against plain NumPy loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest


def banded_dp_reference(table, k):
    """Min-max DP over a banded table, plain NumPy loops (``table[d, j]``: segment ``[j - d, j)``)."""
    band, n = table.shape[0] - 1, table.shape[1] - 1
    prev = np.r_[0.0, np.full(n, np.inf)]
    for _ in range(k):
        cur = np.full(n + 1, np.inf)
        for j in range(n + 1):
            for d in range(min(band, j) + 1):
                cur[j] = min(cur[j], max(prev[j - d], table[d, j]))
        prev = cur
    return prev[n]


@pytest.mark.slow  # compiles 16 slicing kernels (about 3 s)
def test_windowed_slicing_equals_reference_dp(rng):
    from pjpart.kernels import slice_bottleneck, slice_bottleneck_pair

    n = 20
    # (band, k): full band; windows that overlap; k * band < n (no slicing fits: inf); many stages
    for band, k in [(20, 3), (7, 4), (6, 3), (4, 9)]:
        tables = rng.random((3, band + 1, n + 1))
        tables[:, 0] = 0
        for d in range(1, band + 1):
            tables[:, d, :d] = np.inf
        expected = np.array([banded_dp_reference(t, k) for t in tables])
        for groups in (1, 3):
            fn = jax.jit(jax.vmap(lambda t, k=k, groups=groups: slice_bottleneck(t, k, groups=groups)))
            got = np.asarray(fn(jnp.asarray(tables, jnp.float32)), np.float64)
            np.testing.assert_allclose(got, expected, rtol=1e-6)
        assert np.isinf(expected).all() == (k * band < n)
        # the pair: D_k and D_{k+1} from one DP (both inf when k stages cannot cover the order)
        expected_next = np.array([banded_dp_reference(t, k + 1) for t in tables])
        for groups in (1, 3):
            fn = jax.jit(jax.vmap(lambda t, k=k, groups=groups: slice_bottleneck_pair(t, k, groups=groups)))
            got = np.asarray(fn(jnp.asarray(tables, jnp.float32)), np.float64)
            np.testing.assert_allclose(got[:, 0], expected, rtol=1e-6)
            if k * band >= n:
                np.testing.assert_allclose(got[:, 1], expected_next, rtol=1e-6)
                assert (got[:, 1] <= got[:, 0]).all()
            else:
                assert np.isinf(got).all()
