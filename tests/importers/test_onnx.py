"""The ONNX importer against hand counts, and per-stage ONNX files that chain in onnxruntime.

Every model is built here with ``onnx.helper`` (nothing downloaded).
"""

import json
import math

import networkx as nx
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the ONNX importer needs the onnx package (pip install '.[test]')")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import pjpart  # noqa: E402
from pjpart import GraphError, from_onnx  # noqa: E402
from pjpart.cli import main  # noqa: E402
from pjpart.hardware import Hardware  # noqa: E402
from pjpart.result import make_result  # noqa: E402

#: work == FLOPs: one FLOP/s and a memory so fast that no op is memory-bound
COUNTER = Hardware(name="flop-counter", peak_flops={"float32": 1.0}, hbm_bandwidth=math.inf)
F32 = TensorProto.FLOAT


def vi(name, shape, kind=F32):
    return helper.make_tensor_value_info(name, kind, shape)


def init(name, shape, rng):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)


def test_flops_by_op_rules_match_hand_counts(rng):
    """One node per rule, each on its own inputs, so each node's work is its FLOPs."""
    cases = [  # (node, input shapes, output shape, hand count)
        (helper.make_node("MatMul", ["a0", "a1"], ["o"], name="matmul"), [(2, 3, 4), (4, 5)], (2, 3, 5),
         2 * (2 * 3 * 5) * 4),
        (helper.make_node("Gemm", ["a0", "a1", "a2"], ["o"], name="gemm_bias", transB=1),
         [(8, 16), (32, 16), (32,)], (8, 32), 2 * 8 * 32 * 16 + 8 * 32),
        (helper.make_node("Gemm", ["a0", "a1"], ["o"], name="gemm_transA", transA=1), [(16, 8), (16, 32)], (8, 32),
         2 * 8 * 32 * 16),
        (helper.make_node("Conv", ["a0", "a1", "a2"], ["o"], name="conv_grouped", group=2, pads=[1, 1, 1, 1]),
         [(1, 4, 8, 8), (6, 2, 3, 3), (6,)], (1, 6, 8, 8), 2 * (6 * 8 * 8) * (2 * 3 * 3) + 6 * 8 * 8),
        (helper.make_node("ConvTranspose", ["a0", "a1"], ["o"], name="deconv", strides=[2, 2]),
         [(1, 2, 4, 4), (2, 3, 2, 2)], (1, 3, 8, 8), 2 * (2 * 4 * 4) * (3 * 2 * 2)),
        (helper.make_node("Attention", ["a0", "a1", "a2"], ["o"], name="attention"),
         [(2, 4, 5, 8), (2, 4, 7, 8), (2, 4, 7, 6)], (2, 4, 5, 6), 2 * 4 * 5 * 7 * (2 * 8 + 2 * 6 + 5)),
        (helper.make_node("LayerNormalization", ["a0", "a1", "a2"], ["o"], name="layernorm"), [(2, 4), (4,), (4,)],
         (2, 4), 8 * 7),
        (helper.make_node("BatchNormalization", ["a0", "a1", "a2", "a3", "a4"], ["o"], name="batchnorm"),
         [(1, 3, 2, 2), (3,), (3,), (3,), (3,)], (1, 3, 2, 2), 12 * 2),
        (helper.make_node("Softmax", ["a0"], ["o"], name="softmax"), [(2, 5)], (2, 5), 10 * 5),
        (helper.make_node("Relu", ["a0"], ["o"], name="relu"), [(2, 5)], (2, 5), 10),
        (helper.make_node("Add", ["a0", "a1"], ["o"], name="add_broadcast"), [(2, 5), (5,)], (2, 5), 10),
        (helper.make_node("Sum", ["a0", "a1", "a2"], ["o"], name="sum3"), [(2, 5)] * 3, (2, 5), 2 * 10),
        (helper.make_node("ReduceMean", ["a0"], ["o"], name="reduce", keepdims=0), [(2, 5)], (), 10),
        (helper.make_node("MaxPool", ["a0"], ["o"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
         [(1, 1, 4, 4)], (1, 1, 2, 2), 4 * 4),
        (helper.make_node("GlobalAveragePool", ["a0"], ["o"], name="gap"), [(1, 2, 4, 4)], (1, 2, 1, 1), 32),
        (helper.make_node("Einsum", ["a0", "a1"], ["o"], name="einsum", equation="bij,bjk->bik"),
         [(2, 3, 4), (2, 4, 5)], (2, 3, 5), 2 * 2 * 3 * 5 * 4),
        (helper.make_node("Transpose", ["a0"], ["o"], name="transpose"), [(2, 5)], (5, 2), 0),
    ]
    nodes, inputs, outputs = [], [], []
    for node, shapes, out, _ in cases:
        renamed = {f"a{i}": f"{node.name}_in{i}" for i in range(len(shapes))}
        node.input[:] = [renamed[t] for t in node.input]
        node.output[:] = [f"{node.name}_out"]
        nodes.append(node)
        inputs += [vi(renamed[f"a{i}"], list(s)) for i, s in enumerate(shapes)]
        outputs.append(vi(f"{node.name}_out", list(out)))
    model = helper.make_model(helper.make_graph(nodes, "rules", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 23)])
    g = from_onnx(model, hardware=COUNTER)
    assert g.m == 0 and "unknown_ops" not in g.meta
    assert dict(zip(g.ids, g.work.tolist())) == {node.name: float(count) for node, _, _, count in cases}
    assert g.meta["flops"] == sum(count for *_, count in cases)


def test_weights_counted_once_constants_folded_and_edges_follow_tensors(rng):
    w = init("W", (8, 8), rng)
    nodes = [
        helper.make_node("Identity", ["W"], ["W_alias"]),                     # folded: an alias of a weight
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones(8, np.float32))),
        helper.make_node("MatMul", ["x", "W"], ["h1"], name="/fc1/MatMul"),   # claims W: 256 bytes
        helper.make_node("MatMul", ["h1", "W_alias"], ["h2"], name="/fc2/MatMul"),  # claims the alias
        helper.make_node("MatMul", ["h2", "W"], ["h3"], name="/fc3/MatMul"),  # W already counted
        helper.make_node("Add", ["h3", "c"], ["h4"], name="/bias/Add"),       # claims c: 32 bytes
        helper.make_node("Add", ["h4", "h1"], ["y"], name="/skip/Add"),       # skip connection from fc1
    ]
    model = helper.make_model(helper.make_graph(nodes, "mlp", [vi("x", [2, 8])], [vi("y", [2, 8])],
                                                initializer=[w]))
    g = from_onnx(model)
    assert g.ids == ("/fc1/MatMul", "/fc2/MatMul", "/fc3/MatMul", "/bias/Add", "/skip/Add")
    assert g.params.tolist() == [256, 256, 0, 32, 0] and g.meta["param_bytes"] == 544
    assert g.sizeout.tolist() == [64] * 5  # every (2, 8) float32 output is read once
    assert {tuple(e) for e in g.edges.tolist()} == {(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)}
    assert g.meta["flops"] == 3 * (2 * 2 * 8 * 8) + 16 + 16
    assert g.meta["scopes"]["/fc2/MatMul"] == ["fc2"] and g.meta["source"] == "onnx"
    # work is the H100 roofline: fc1 reads x and W, writes h1
    hw = pjpart.hardware.load_hardware("h100")
    assert g.work[0] == hw.op_time(2 * 2 * 8 * 8, 64 + 256 + 64, "float32")


def test_module_granularity_from_names_and_torch_metadata_stays_acyclic():
    relu = lambda name, a, b: helper.make_node("Relu", [a], [b], name=name)  # noqa: E731
    meta = helper.make_node("Neg", ["t4"], ["t5"], name="neg_from_dynamo")
    entry = meta.metadata_props.add()
    entry.key, entry.value = "pkg.torch.onnx.name_scopes", "['', 'head', 'head.act', 'neg']"
    nodes = [relu("/enc/layers.0/attn/Relu", "x", "t1"), relu("/enc/layers.0/mlp/Relu", "t1", "t2"),
             relu("/enc/layers.1/attn/Relu", "t2", "t3"), relu("/enc/layers.0/attn/Relu_1", "t3", "t4"), meta]
    model = helper.make_model(helper.make_graph(nodes, "enc", [vi("x", [4])], [vi("t5", [4])]))
    op = from_onnx(model)
    assert op.meta["scopes"]["/enc/layers.0/mlp/Relu"] == ["enc", "enc.layers.0", "enc.layers.0.mlp"]
    assert op.meta["scopes"]["neg_from_dynamo"] == ["head", "head.act"]
    assert from_onnx(model, granularity="module", depth=1).ids == ("enc", "head")
    g2 = from_onnx(model, granularity="module", depth=2)
    # layers.0 comes back after layers.1: a second node, so the graph stays a DAG
    assert g2.ids == ("enc.layers.0", "enc.layers.1", "enc.layers.0#2", "head.act")
    assert nx.is_directed_acyclic_graph(g2.to_networkx())
    assert g2.meta["granularity"] == "module" and g2.meta["depth"] == 2
    assert g2.sizeout.tolist() == [16, 16, 16, 16]


def test_bad_models_and_arguments_name_what_is_wrong(tmp_path):
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                                                [vi("x", ["batch", 3])], [vi("y", ["batch", 3])]))
    with pytest.raises(GraphError, match=r"symbolic or unknown dimensions: batch \(input 'x', dimension 0\).*"
                                         r"dims=\{'batch': N\}"):
        from_onnx(model)
    assert from_onnx(model, dims={"batch": 5}).sizeout.tolist() == [60]
    assert from_onnx(model, dims={"x": (2, 3)}).sizeout.tolist() == [24]
    with pytest.raises(GraphError, match="no such ONNX model file"):
        from_onnx(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\xffnot a protobuf at all" * 10)
    with pytest.raises(GraphError, match="junk.onnx: not an ONNX model"):
        from_onnx(junk)
    with pytest.raises(GraphError, match="granularity must be 'op' or 'module'"):
        from_onnx(model, granularity="layer", dims={"batch": 1})
    orphan = helper.make_model(helper.make_graph([helper.make_node("Relu", ["ghost"], ["y"], name="r")], "g",
                                                 [vi("x", [3])], [vi("y", [3])]))
    with pytest.raises(GraphError, match="ONNX node 'r' \\(Relu\\) reads tensor 'ghost', which no node produces"):
        from_onnx(orphan)


def test_an_operator_without_a_rule_is_listed_and_costs_its_memory_time():
    node = helper.make_node("Frobnicate", ["x"], ["y"], name="custom", domain="my.ops")
    model = helper.make_model(helper.make_graph([node, helper.make_node("Relu", ["y"], ["z"], name="relu")], "g",
                                                [vi("x", [4])], [vi("z", [4])]),
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 1)])
    with pytest.warns(UserWarning, match="1 tensor.*without a static shape.*'y'"):
        g = from_onnx(model, hardware=COUNTER)
    assert g.meta["unknown_ops"] == ["Frobnicate"] and g.work.tolist() == [0.0, 4.0]
    with pytest.warns(UserWarning):
        g = from_onnx(model)
    assert g.work[0] == 16 / pjpart.hardware.load_hardware("h100").hbm_bandwidth  # reads x; y's size is unknown


def branchy(rng):
    """A small CNN with two parallel branches, a skip connection over them and a side branch to the head."""
    conv = lambda name, x, w, y, **kw: helper.make_node("Conv", [x, w], [y], name=name, **kw)  # noqa: E731
    nodes = [
        conv("/stem/Conv", "x", "w0", "s0", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["s0"], ["h0"], name="/stem/Relu"),
        conv("/block/a/Conv", "h0", "wa", "a0", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a0"], ["a1"], name="/block/a/Relu"),
        conv("/block/b/Conv", "h0", "wb", "b0"),
        helper.make_node("Add", ["a1", "b0"], ["m"], name="/block/Add"),
        helper.make_node("Add", ["m", "h0"], ["h1"], name="/block/Add_1"),            # skip over the branches
        helper.make_node("GlobalAveragePool", ["h1"], ["p"], name="/head/GlobalAveragePool"),
        helper.make_node("Flatten", ["p"], ["f"], name="/head/Flatten"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["g"], name="/head/Gemm", transB=1),
        helper.make_node("ReduceMax", ["h1", "axes"], ["side"], name="/side/ReduceMax", keepdims=0),
        helper.make_node("MatMul", ["side", "ws"], ["t"], name="/side/MatMul"),
        helper.make_node("Add", ["g", "t"], ["u"], name="/head/Add"),
        helper.make_node("Softmax", ["u"], ["y"], name="/head/Softmax"),
    ]
    inits = [init("w0", (8, 4, 3, 3), rng), init("wa", (8, 8, 3, 3), rng), init("wb", (8, 8, 1, 1), rng),
             init("wf", (5, 8), rng), init("bf", (5,), rng), init("ws", (8, 5), rng),
             numpy_helper.from_array(np.array([2, 3], np.int64), "axes")]
    return helper.make_model(helper.make_graph(nodes, "branchy", [vi("x", [2, 4, 8, 8])], [vi("y", [2, 5])],
                                               initializer=inits), opset_imports=[helper.make_opsetid("", 18)])


def full_and_chained(path, out, x):
    import onnxruntime as ort

    full = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]
    chained = pjpart.export.run_onnx_stages(out, {"x": x})["y"]
    return float(np.abs(full - chained).max())


@pytest.mark.parametrize("coarsen", [None, "1"])
def test_cli_partition_then_export_onnx_stages_chain_to_the_full_output(tmp_path, rng, capsys, coarsen):
    pytest.importorskip("onnxruntime", reason="running the stages needs onnxruntime (pip install '.[test]')")
    path = tmp_path / "m.onnx"
    onnx.save(branchy(rng), str(path))
    result, out = tmp_path / "r.json", tmp_path / "stages"
    extra = ["--coarsen", coarsen] if coarsen else []
    # links so fast that the three stages balance compute only
    assert main(["partition", str(path), "-k", "3", "--bandwidth", "1e18", "--quiet", "--json", str(result)]
                + extra) == 0
    data = json.loads(result.read_text())
    assert data["stages_used"] == 3
    assert main(["export", str(result), "--format", "onnx", "--model", str(path), "--out", str(out)]) == 0
    assert "wrote 3 stage files and manifest.json" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert [m["file"] for m in manifest] == ["stage_0.onnx", "stage_1.onnx", "stage_2.onnx"]
    produced = {"x"}
    for m in manifest:  # every stage reads only what the model takes or earlier stages produced
        assert set(m["inputs"]) <= produced
        produced |= set(m["outputs"])
    assert "y" in manifest[-1]["outputs"]
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    assert full_and_chained(path, out, x) <= 1e-5


def test_a_cut_across_the_branches_and_the_skip_sends_exactly_the_crossing_tensors(tmp_path, rng):
    pytest.importorskip("onnxruntime", reason="running the stages needs onnxruntime (pip install '.[test]')")
    model = branchy(rng)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    g = from_onnx(path)
    stage = {"/stem/Conv": 0, "/stem/Relu": 0, "/block/b/Conv": 0, "/block/a/Conv": 1, "/block/a/Relu": 1,
             "/block/Add": 1, "/block/Add_1": 1, "/side/ReduceMax": 1}
    assignment = [stage.get(v, 2) for v in g.ids]
    r = make_result(g, assignment, 3, pjpart.CostModel(), lower_bound=0.0, bound_method="none")
    manifest = r.export("onnx", tmp_path / "cut", model=path)
    # stage 1 receives the stem's output (read by branch a and by the skip) and branch b's output
    assert [(m["inputs"], m["outputs"]) for m in manifest] == [
        (["x"], ["h0", "b0"]), (["h0", "b0"], ["h1", "side"]), (["h1", "side"], ["y"])]
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    assert full_and_chained(path, tmp_path / "cut", x) <= 1e-5
    # the same cut in the stages plan: stage 1's received bytes are its `in` of the cost model
    plan = r.export("stages", graph=g)
    assert [t["tensor"] for t in plan["stages"][1]["receives"]] == ["/stem/Relu", "/block/b/Conv"]
    assert plan["stages"][1]["in"] == 2 * (2 * 8 * 8 * 8 * 4)
    assert plan["boundaries"][1]["bytes"] == 2 * 8 * 8 * 8 * 4 + 2 * 8 * 4


def test_load_graph_and_the_cli_choose_the_reader_by_extension(tmp_path, rng, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(branchy(rng), str(path))
    g = pjpart.load_graph(path)
    assert g.name == "m" and g.n == 14 and g.meta["source"] == "onnx"
    pb = tmp_path / "two.pbtxt"
    pb.write_text('node { name: "a" id: 0 compute_cost: 5 output_info { size: 8 } }\n'
                  'node { name: "b" id: 1 compute_cost: 3 input_info { preceding_node: 0 } }\n')
    assert pjpart.load_graph(pb).ids == ("a", "b")
    assert main(["partition", str(pb), "-k", "2", "--quiet"]) == 0
    assert "graph two (file" in capsys.readouterr().out
    pb.write_text('node { name: "a" id: 0 ')
    assert main(["partition", str(pb), "-k", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "two.pbtxt: pbtxt: unexpected end of file" in err and "malformed JSON" not in err
    with pytest.raises(GraphError, match="nothing.onnx: no such graph file"):
        pjpart.load_graph(tmp_path / "nothing.onnx")
    assert math.isclose(g.params.sum(), (8 * 4 * 9 + 8 * 8 * 9 + 8 * 8 + 5 * 8 + 5 + 8 * 5) * 4 + 2 * 8)


def test_a_model_with_a_symbolic_batch_is_imported_with_dims_and_still_cut_from_its_file(tmp_path, rng):
    pytest.importorskip("onnxruntime", reason="running the stages needs onnxruntime (pip install '.[test]')")
    model = branchy(rng)
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    path, graph, result, out = tmp_path / "m.onnx", tmp_path / "m.json", tmp_path / "r.json", tmp_path / "st"
    onnx.save(model, str(path))
    assert main(["partition", str(path), "-k", "2", "--quiet"]) == 2  # the command line cannot guess the batch
    pjpart.save_graph(from_onnx(path, dims={"batch": 2}), graph)
    assert main(["partition", str(graph), "-k", "3", "--bandwidth", "1e18", "--quiet", "--json", str(result)]) == 0
    assert main(["export", str(result), "--format", "onnx", "--model", str(path), "--out", str(out)]) == 0
    x = rng.standard_normal((3, 4, 8, 8)).astype(np.float32)  # any batch runs through the cut files
    assert full_and_chained(path, out, x) <= 1e-5
