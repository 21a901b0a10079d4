"""Importers (JAX, REGAL pbtxt), hardware profiles and the bundled zoo, against hand counts."""

import json
import math

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

import pjpart
from pjpart import GraphError, from_jax, load_regal, zoo
from pjpart.cli import main
from pjpart.hardware import load_hardware
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


def test_hardware_roofline_and_cost_model():
    hw = load_hardware("h100")
    assert hw.op_time(989.4e12, 0, "bfloat16") == pytest.approx(1.0)
    assert hw.op_time(0, 3.35e12, "bfloat16") == pytest.approx(1.0)
    assert hw.op_time(1e12, 1e12, "float32") == pytest.approx(max(1e12 / 494.7e12, 1e12 / 3.35e12))
    cm = hw.cost_model()
    assert cm.bandwidth == hw.interconnect_bandwidth and cm.memory == hw.hbm_bytes
    for name in ("tpu_v4", "l4"):
        assert load_hardware(name).peak("bfloat16") > 0
    with pytest.raises(GraphError, match="unknown hardware profile 'x'"):
        load_hardware("x")


PBTXT = """
# a hand-written CostGraphDef: node 1 has two output ports, read by nodes 2 (port 0) and 3 (port 1)
node {
  name: "input" id: 0 compute_cost: 3
  output_info { size: 100 alias_input_port: -1 }
}
node {
  name: "split" id: 1 compute_cost: 10 persistent_memory_size: 64
  input_info { preceding_node: 0 preceding_port: 0 }
  output_info { size: 40 alias_input_port: -1 }
  output_info { size: 60 alias_input_port: -1 }
  output_info { size: 999 alias_input_port: -1 }
}
node {
  name: "left" id: 2 compute_cost: 7
  input_info { preceding_node: 1 preceding_port: 0 }
  output_info { size: 8 }
}
node {
  name: "right" id: 3 compute_cost: 5
  input_info { preceding_node: 1 preceding_port: 1 }
  output_info { size: 8 }
  control_input: 2
}
node {
  name: "sink" id: 4 compute_cost: 1
  input_info { preceding_node: 2 preceding_port: 0 }
  input_info { preceding_node: 3 preceding_port: 0 }
  control_input: 0
}
"""


def test_regal_pbtxt_multi_output_and_control_inputs(tmp_path):
    path = tmp_path / "g.pbtxt"
    path.write_text(PBTXT)
    g = load_regal(str(path))
    assert g.ids == ("input", "split", "left", "right", "sink")
    assert g.work.tolist() == [3, 10, 7, 5, 1] and g.params.tolist() == [0, 64, 0, 0, 0]
    # split: ports 0 and 1 are read (40 + 60); port 2 (999) is never read
    assert g.sizeout.tolist() == [100, 100, 8, 8, 0]
    assert {tuple(e) for e in g.edges.tolist()} == {(0, 1), (1, 2), (1, 3), (2, 4), (3, 4), (2, 3), (0, 4)}
    dropped = load_regal(str(path), control="drop")
    assert {tuple(e) for e in dropped.edges.tolist()} == {(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)}
    assert g.units["work"] == "us"
    bad = tmp_path / "bad.pbtxt"
    bad.write_text('node { name: "a" id: 0 input_info { preceding_node: 7 } }')
    with pytest.raises(GraphError, match="node 'a': input_info names unknown preceding_node 7"):
        load_regal(str(bad))
    bad.write_text('node { name: "a" id: 0 compute_cost: 1 ')
    with pytest.raises(GraphError, match="end of file"):
        load_regal(str(bad))


def test_zoo_lists_real_models_and_they_load_and_round_trip():
    names = zoo.names()
    assert len(names) >= 30
    for family in ("bert-base", "bert-large", "gpt2-small", "gpt2-medium", "llama-1b-gqa", "vit-b16", "t5-base"):
        assert family in names
    assert any(n.startswith("mixtral") for n in names)
    assert any(zoo.info(n)["n"] >= 700 for n in zoo.names(granularity="op"))
    for name in names:
        g = zoo.load(name)
        info = zoo.info(name)
        assert g.n == info["n"] and g.m == info["m"]
        assert g.params.sum() == pytest.approx(info["param_bytes"], rel=1e-9)
        assert nx.is_directed_acyclic_graph(g.to_networkx())
    g = zoo.load("inceptionv3")
    again = pjpart.Graph.from_json(json.loads(json.dumps(g.to_json())))
    assert again.ids == g.ids and np.array_equal(again.work, g.work) and np.array_equal(again.edges, g.edges)
    back = pjpart.Graph.from_networkx(g.to_networkx(), name=g.name)
    assert back.ids == g.ids and np.array_equal(back.sizeout, g.sizeout)


def test_cli_zoo_list_and_run(tmp_path, capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "bert-base" in out
    outdir = tmp_path / "z"
    assert main(["zoo", "run", "-k", "4", "--models", "resnet50", "--time-limit", "10", "--out", str(outdir),
                 "--quiet"]) == 0
    records = json.loads((outdir / "results.json").read_text())
    assert len(records) == 1 and records[0]["graph"] == "resnet50" and records[0]["k"] == 4
    assert (outdir / "results.csv").exists() and "geo-mean gap" in (outdir / "summary.md").read_text()
    assert (outdir / "gaps.png").exists()
    # resumes: a second run does no new work
    assert main(["zoo", "run", "-k", "4", "--models", "resnet50", "--out", str(outdir), "--quiet"]) == 0
    assert json.loads((outdir / "results.json").read_text()) == records
    assert main(["zoo", "run", "--models", "nothing*", "--out", str(outdir), "--quiet"]) == 2


def test_keras_functional_model_one_node_per_layer():
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="Keras is the optional 'zoo' extra; the core install has none")
    x = keras.Input((8,), name="x")
    h = keras.layers.Dense(4, name="d1")(x)
    a = keras.layers.Dense(3, name="left")(h)
    b = keras.layers.Dense(3, name="right")(h)
    y = keras.layers.Add(name="join")([a, b])
    model = keras.Model(x, y)
    g = pjpart.from_keras(model, batch_size=2)
    assert g.ids == ("d1", "left", "right", "join")
    assert {tuple(e) for e in g.edges.tolist()} == {(0, 1), (0, 2), (1, 3), (2, 3)}
    # dense: 2*batch*in*out + bias adds; join: one add per element
    assert g.meta["flops"] == (2 * 2 * 8 * 4 + 8) + 2 * (2 * 2 * 4 * 3 + 6) + 6
    assert g.params.sum() == model.count_params() * 4
    assert g.sizeout.tolist() == [2 * 4 * 4, 2 * 3 * 4, 2 * 3 * 4, 2 * 3 * 4]
