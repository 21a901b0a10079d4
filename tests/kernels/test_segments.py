"""pjpart.kernels.segments: the banded segment-cost table against the NumPy reference table."""

import jax
import jax.numpy as jnp
import numpy as np

from pjpart import CostModel, Evaluator, Graph
from pjpart.reference import decode_keys, segment_cost_table


N, M, K = 12, 18, 3  # one shape for all graphs here: the kernels compile once


def fixed_shape_dag(rng, n=N, m=M):
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = rng.choice(len(pairs), size=m, replace=False)
    perm = rng.permutation(n)
    edges = [(int(perm[pairs[c][0]]), int(perm[pairs[c][1]])) for c in chosen]
    col = lambda: np.where(rng.random(n) < 0.15, 0.0, rng.random(n))
    return Graph.from_arrays(work=col(), params=col(), sizeout=col(), edges=edges)


COST_MODELS = [CostModel(), CostModel(bandwidth=0.4), CostModel(bandwidth=2.0, memory=1.0, overflow_bandwidth=0.5)]


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
