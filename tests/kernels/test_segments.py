"""pjpart.kernels.segments: the banded segment-cost table against the NumPy reference table."""

import jax
import jax.numpy as jnp
import numpy as np

from pjpart import Evaluator
from pjpart.reference import decode_keys, segment_cost_table

from cases import COST_MODELS, K, N, fixed_shape_dag




def test_banded_table_entries_equal_reference(rng):
    from pjpart.kernels import segment_costs

    with jax.enable_x64(True):
        for t in range(4):
            g = fixed_shape_dag(rng)
            cm = COST_MODELS[t % 3]
            ev = Evaluator(g, K, cm, dtype="float64", band=N)
            order = decode_keys(g, rng.random(N))
            C = segment_cost_table(g, order, cm)
            band = 5
            T = np.asarray(segment_costs(ev._arrays, ev._cost, jnp.asarray(order, jnp.int32), band))
            for d in range(band + 1):
                for j in range(N + 1):
                    want = C[j - d, j] if j >= d else np.inf
                    assert (np.isinf(want) and np.isinf(T[d, j])) or abs(T[d, j] - want) <= 1e-9 * max(1, want)
