"""The JAX importer against hand counts: FLOPs, parameters, output sizes, module coarsening."""

import math

import jax
import jax.numpy as jnp
import networkx as nx
import pytest

from pjpart import from_jax
from pjpart.hardware import load_hardware
# the coarsening is tested on random op lists, which only the private op record can build
from pjpart.importers.jaxpr import _Op, _to_graph, group_runs


def mlp(w, x):
    return jnp.tanh(x @ w["a"] + w["c"]) @ w["b"]


def test_jax_mlp_flops_params_and_sizes_match_hand_counts():
    w = {"a": jnp.ones((4, 8)), "b": jnp.ones((8, 2)), "c": jnp.ones((8,))}
    g = from_jax(mlp, w, jnp.ones((3, 4)))
    # x@a: 2*3*8*4 = 192, + c: 24 (after a broadcast of c), tanh: 24, @b: 2*3*2*8 = 96
    assert g.meta["flops"] == 192 + 24 + 24 + 96
    assert g.params.sum() == (4 * 8 + 8 * 2 + 8) * 4
    # op level: every output once; outputs (3,8) x3 plus the (1,8)/(3,8) broadcast and the (3,2) result
    cj = jax.make_jaxpr(mlp)(w, jnp.ones((3, 4)))
    out_bytes = sum(math.prod(v.aval.shape) * 4 for e in cj.jaxpr.eqns for v in e.outvars)
    assert g.sizeout.sum() == out_bytes
    assert nx.is_directed_acyclic_graph(g.to_networkx())
    # work is the roofline of each op: the first op x@a reads 3x4 + 4x8 floats and writes 3x8
    hw = load_hardware("h100")
    assert g.ids[0] == "0:dot_general"
    assert g.work[0] == hw.op_time(192, (12 + 32 + 24) * 4, "float32")


def test_jax_conv_flops_exact_including_groups():
    def net(w, x):
        y = jax.lax.conv_general_dilated(x, w["k"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        z = jax.lax.conv_general_dilated(y, w["g"], (2, 2), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                         feature_group_count=2)
        return jax.nn.relu(z)

    w = {"k": jnp.ones((3, 3, 3, 4)), "g": jnp.ones((2, 2, 2, 6))}
    g = from_jax(net, w, jnp.ones((2, 8, 8, 3)))
    conv1 = 2 * (2 * 8 * 8 * 4) * (3 * 3 * 3)
    conv2 = 2 * (2 * 4 * 4 * 6) * (2 * 2 * 2)  # each output reads 2x2 x (4 / 2 groups) inputs
    relu = 2 * 4 * 4 * 6
    assert g.meta["flops"] == conv1 + conv2 + relu
    assert g.params.sum() == (3 * 3 * 3 * 4 + 2 * 2 * 2 * 6) * 4


def test_module_granularity_groups_by_scope_and_stays_acyclic():
    def f(w, x):
        with jax.named_scope("A"):
            h = x @ w["a"]
        with jax.named_scope("B"):
            h2 = jnp.sin(h)
        with jax.named_scope("A"):
            return h2 @ w["b"] + h.sum()

    w = {"a": jnp.ones((4, 4)), "b": jnp.ones((4, 4))}
    op = from_jax(f, w, jnp.ones((2, 4)))
    mod = from_jax(f, w, jnp.ones((2, 4)), granularity="module")
    # naive grouping {A} = {a-ops, later a-ops} would make the cycle A -> B -> A; runs give A, B, A#2
    assert mod.ids == ("A", "B", "A#2")
    assert nx.is_directed_acyclic_graph(mod.to_networkx())
    assert mod.meta["flops"] == op.meta["flops"] and mod.params.sum() == op.params.sum()
    assert mod.work.sum() == pytest.approx(op.work.sum())


def test_coarsening_random_scope_labellings_is_always_a_dag(rng):
    hw = load_hardware("h100")
    for trial in range(200):
        n = int(rng.integers(2, 40))
        ops = []
        for i in range(n):
            preds = set(rng.choice(i, size=min(i, int(rng.integers(0, 3))), replace=False).tolist()) if i else set()
            scope = (f"s{int(rng.integers(0, 4))}", f"t{int(rng.integers(0, 2))}")
            ops.append(_Op(prim="add", scope=scope, flops=float(rng.integers(0, 100)), bytes=8.0,
                           params=float(rng.integers(0, 3)), sizeout=4.0, dtype="float32", preds=preds))
        for depth in (1, 2):
            g = _to_graph(ops, "module", depth, hw, "random")  # Graph() raises on a cycle
            assert nx.is_directed_acyclic_graph(g.to_networkx())
            assert g.params.sum() == sum(o.params for o in ops)
            assert g.meta["flops"] == sum(o.flops for o in ops)
    assert group_runs(["a", "a", "b", "a"]) == [0, 0, 1, 2]
