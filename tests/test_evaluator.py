"""The Evaluator against the NumPy reference (SPEC section 2): values, orders, bands, chunks, threads, devices."""

import math
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from pjpart import Evaluator, Graph, evaluate
from pjpart.reference import decode_keys, segment_cost_table, slice_order

from cases import COST_MODELS, K, N, fixed_shape_dag




def reference_bottleneck(g, keys, cm, k=K):
    order = decode_keys(g, keys)
    return slice_order(segment_cost_table(g, order, cm), k)[0]


@pytest.mark.slow  # compiles every kernel (about 5 s a case)
@pytest.mark.parametrize("x64", [True, False])
def test_bottlenecks_and_orders_match_reference(rng, x64):
    rtol = 1e-9 if x64 else 1e-5
    with jax.enable_x64(x64):
        for t in range(6):
            g = fixed_shape_dag(rng)
            cm = COST_MODELS[t % 3]
            ev = Evaluator(g, K, cm, dtype="float64" if x64 else "float32", band=N, chunk_size=16)
            keys = rng.random((10, N))
            keys[0] = np.round(keys[0] * 3) / 3  # ties: smallest index first
            assert np.array_equal(ev.decode(keys), decode_keys(g, keys))
            got = ev.evaluate(keys)
            want = np.array([reference_bottleneck(g, k_, cm) for k_ in keys])
            np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
            assignments, values = ev.decode_best(keys)
            recomputed = evaluate(g, assignments, K, cm).max(axis=1)
            np.testing.assert_array_equal(values, recomputed)
            np.testing.assert_allclose(values, want, rtol=rtol)
            # the search's pair: the same bottleneck, and the reference optimum with K + 1 stages
            pairs = ev.evaluate_pairs(keys)
            np.testing.assert_array_equal(pairs[:, 0], got)
            want_next = np.array([reference_bottleneck(g, k_, cm, k=K + 1) for k_ in keys])
            np.testing.assert_allclose(pairs[:, 1], want_next, rtol=rtol, atol=0)


def test_banding_never_changes_values_below_the_bound(rng):
    with jax.enable_x64(True):
        for t in range(4):
            g = fixed_shape_dag(rng)
            cm = COST_MODELS[t % 3]
            keys = rng.random((16, N))
            full = Evaluator(g, K, cm, dtype="float64", band=N).evaluate(keys)
            ub = float(np.median(full))
            banded_ev = Evaluator(g, K, cm, dtype="float64", upper_bound=ub)
            banded = banded_ev.evaluate(keys)
            below = full <= ub
            np.testing.assert_allclose(banded[below], full[below], rtol=1e-12)
            assert np.all(banded[~below] >= full[~below] * (1 - 1e-12))
            assert np.all(banded[~below] > ub)


@pytest.mark.slow  # compiles two chunk sizes (about 2.5 s)
def test_chunked_equals_unchunked_and_no_recompile(rng):
    g = fixed_shape_dag(rng)
    keys = rng.random((37, N))
    small = Evaluator(g, K, band=N, chunk_size=4)
    big = Evaluator(g, K, band=N, chunk_size=64)
    np.testing.assert_array_equal(small.evaluate(keys), big.evaluate(keys))
    count = big.compiled_count()
    big.evaluate(keys[:5])
    big.evaluate(rng.random((60, N)))
    assert big.compiled_count() == count


@pytest.mark.slow  # compiles and runs three evaluators (about 2 s)
def test_threads_do_not_change_results(rng):
    g = fixed_shape_dag(rng)
    keys = rng.random((45, N))
    one = Evaluator(g, K, chunk_size=8, threads=1)
    three = Evaluator(g, K, chunk_size=8, threads=3)
    np.testing.assert_array_equal(one.evaluate(keys), three.evaluate(keys))
    np.testing.assert_array_equal(one.decode(keys), three.decode(keys))
    orders = one.decode(keys)
    np.testing.assert_array_equal(one.evaluate_orders(orders), three.evaluate_orders(orders))
    # chunks that would start once should_stop() holds are skipped (nan), the first one never is
    late = three.evaluate(keys, should_stop=lambda: True)
    assert np.isfinite(late[:8]).all() and np.isnan(late[8:]).all()


@pytest.mark.slow  # recompiles the decoder as it widens (about 2.5 s)
def test_decoder_widens_its_ready_list(rng):
    g = Graph.from_arrays(work=np.ones(N), edges=[(0, v) for v in range(1, N)])  # a star: N-1 ready at once
    ev = Evaluator(g, K, band=N, chunk_size=2, threads=2)  # two threads may overflow at once
    ev.set_decode_width(2)
    keys = rng.random((5, N))
    assert np.array_equal(ev.decode(keys), decode_keys(g, keys))
    assert ev.decode_width >= N - 1


def test_host_and_device_decode_agree(rng):
    g = fixed_shape_dag(rng)
    keys = rng.random((9, N))
    a = Evaluator(g, K, band=N, decode="host")
    b = Evaluator(g, K, band=N, decode="device")
    np.testing.assert_array_equal(a.evaluate(keys), b.evaluate(keys))


SHARD_SCRIPT = r"""
import numpy as np, jax
from pjpart import Evaluator
from pjpart.generators import dnn_like
assert len(jax.local_devices()) == 4
g = dnn_like(60, seed=2)
keys = np.random.default_rng(0).random((50, 60))
one = Evaluator(g, 4, chunk_size=16).evaluate(keys)
many = Evaluator(g, 4, chunk_size=16, device="all").evaluate(keys)
assert np.array_equal(one, many), (one, many)
a1, v1 = Evaluator(g, 4, device="all").decode_best(keys[:8])
print("ok")
"""


@pytest.mark.slow  # a subprocess with 4 host devices (about 7 s)
def test_sharded_population_equals_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SHARD_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


def test_host_slicing_is_the_exact_reference(rng):
    """``slicing="host"`` (the default on CPUs for large graphs): values, pairs and
    partitions are the float64 reference's, and a stop leaves the rest ``nan``."""
    for t in range(4):
        g = fixed_shape_dag(rng)
        cm = COST_MODELS[t % 3]
        ev = Evaluator(g, K, cm, slicing="host", chunk_size=4, threads=2)
        assert ev.slicing_on == "host"
        keys = rng.random((9, N))
        want = np.array([reference_bottleneck(g, k_, cm) for k_ in keys])
        np.testing.assert_allclose(ev.evaluate(keys), want, rtol=1e-12)
        want_next = np.array([reference_bottleneck(g, k_, cm, k=K + 1) for k_ in keys])
        np.testing.assert_allclose(ev.evaluate_pairs(keys), np.stack([want, want_next], axis=1), rtol=1e-12)
        assignments, values = ev.decode_best(keys)
        np.testing.assert_array_equal(values, evaluate(g, assignments, K, cm).max(axis=1))
        np.testing.assert_allclose(values, want, rtol=1e-12)
    stopped = Evaluator(g, K, slicing="host", chunk_size=8, threads=1).evaluate(keys, should_stop=lambda: True)
    assert np.isfinite(stopped[0]) and np.isnan(stopped[1:]).all()
    assert Evaluator(g, K).slicing_on == "kernel"  # small graphs: the kernels
    with pytest.raises(Exception, match="slicing must be"):
        Evaluator(g, K, slicing="gpu")


def test_auto_slicing_follows_the_table_the_upper_bound_needs(monkeypatch):
    """On CPUs ``slicing="auto"`` slices on the host once the own order's banded table would
    exceed HOST_SLICING_MIN_TABLE entries, and chooses again with each upper bound."""
    import pjpart.kernel_inputs as kernel_inputs
    from pjpart.generators import dnn_like

    g = dnn_like(6000, seed=1)
    balanced = float(g.work.sum()) / 4
    ev = Evaluator(g, 4, upper_bound=math.inf)  # no bound: the whole order, (n + 1)^2 entries
    assert (g.n + 1) ** 2 > kernel_inputs.HOST_SLICING_MIN_TABLE
    assert ev.slicing_on == "host" and ev.chunk_size == 1
    ev.set_upper_bound(1.05 * balanced)  # a band of about n / 4
    assert ev.slicing_on == "kernel" and ev.chunk_size > 1
    monkeypatch.setattr(kernel_inputs, "HOST_SLICING_MIN_TABLE", (g.n // 4) * (g.n + 1))
    ev.set_upper_bound(1.05 * balanced)
    assert ev.slicing_on == "host"
    assert Evaluator(g, 4, upper_bound=math.inf, slicing="kernel").slicing_on == "kernel"
    assert Evaluator(g, 4, upper_bound=math.inf, band=64).slicing_on == "kernel"  # a fixed band: the kernels
