"""Runtime plans from partitions: the stages plan against the cost model, the layer layouts against the
partition's layer counts, the torch split points, the errors, and the ``pjpart export`` command."""

import json
import re

import numpy as np
import pytest

import pjpart
from pjpart import CostModel, coarsen
from pjpart.cli import main
from pjpart.export import ExportError, export, result_from_json
from pjpart.generators import random_dag
from pjpart.result import make_result

FAST_LINKS = CostModel(bandwidth=1e18)


def transformer(layers, rng, ops=("attn", "mlp", "add")):
    """An op graph shaped like a decoder: embedding, `layers` blocks of ops with residuals, norm and head."""
    ids, scopes, work = ["tok", "pos"], {"tok": ["embed"], "pos": ["embed"]}, [1.0, 0.5]
    for i in range(layers):
        for op in ops:
            nid = f"layers.{i}.{op}/{op}" if op != "add" else f"layers.{i}/add"
            ids.append(nid)
            scopes[nid] = [f"layers.{i}"] + ([f"layers.{i}.{op}"] if op != "add" else [])
            work.append(float(rng.uniform(1, 6)))
    ids += ["norm/ln", "head/matmul"]
    scopes.update({"norm/ln": ["norm"], "head/matmul": ["head"]})
    work += [0.5, 3.0]
    edges = [(i, i + 1) for i in range(len(ids) - 1)]
    edges += [(2 + len(ops) * i - 1, 2 + len(ops) * i + len(ops) - 1) for i in range(layers)]  # residual skips
    return pjpart.Graph.from_arrays(work=work, sizeout=[4.0] * len(ids), edges=edges, ids=ids, name="decoder",
                                    meta={"scopes": scopes})


def layer_counts(result):
    """Layers per stage, counted from the partition's node ids alone."""
    counts = []
    for nodes in result.stages()[:result.stages_used]:
        counts.append(len({m.group(1) for v in nodes for m in [re.match(r"layers\.(\d+)", str(v))] if m}))
    return counts


def expand_megatron(layout):
    """Megatron's layout string -> the symbols of each stage (``t*3`` is ``ttt``; commas are cosmetic)."""
    return [re.sub(r"(\w)\*(\d+)", lambda m: m.group(1) * int(m.group(2)), s.replace(",", ""))
            for s in layout.split("|")]


@pytest.mark.parametrize("layers, k, seed", [(8, 4, 0), (12, 3, 1), (6, 6, 2)])
def test_layer_layouts_match_the_partitions_layer_counts(rng, layers, k, seed):
    g = transformer(layers, np.random.default_rng(seed))
    c = coarsen(g, "layer")
    assert c.graph.ids == ("embed",) + tuple(f"layers.{i}" for i in range(layers)) + ("norm", "head")
    r = pjpart.partition(c.graph, k, FAST_LINKS, seed=seed)
    counts = layer_counts(r)
    assert sum(counts) == layers and r.stages_used > 1
    for graph in (c.graph, g):  # on the graph solved, and placed back on the op graph
        vllm = export(r, "vllm", graph=graph)
        assert vllm["VLLM_PP_LAYER_PARTITION"] == ",".join(map(str, counts))
        mega = export(r, "megatron", graph=graph)["pipeline_model_parallel_layout"]
        symbols = expand_megatron(mega)
        assert [s.count("t") for s in symbols] == counts
        assert symbols[0].startswith("E") and symbols[-1].endswith("L") and "".join(symbols).count("E") == 1
        ds = export(r, "deepspeed", graph=graph)
        units = ds["layers"]
        assert units == list(c.graph.ids) and ds["num_stages"] == r.stages_used
        per_stage = [units[ds["parts"][b]:ds["parts"][b + 1]] for b in range(ds["num_stages"])]
        assert per_stage == r.stages()[:r.stages_used]


def test_a_layer_split_between_stages_is_refused_with_the_way_out(rng):
    g = transformer(4, rng)
    stage = [0 if i < 2 + 3 * 2 + 1 else 1 for i in range(g.n)]  # cuts layers.2 after its attention
    r = make_result(g, stage, 2, CostModel(), lower_bound=0.0, bound_method="none")
    for fmt in ("megatron", "vllm", "deepspeed"):
        with pytest.raises(ExportError, match=r"unit 'layers.2' is split between stages 0 \(node 'layers.2.attn/attn'"
                                              r"\) and 1 \(node 'layers.2.mlp/mlp'\).*--coarsen layer"):
            export(r, fmt, graph=g)
    # the embedding alone on stage 1 of a 2-stage plan: DeepSpeed takes it, Megatron and vLLM do not
    c = coarsen(g, "layer").graph
    r = make_result(c, [0, 0, 0, 1, 1, 1, 1], 2, CostModel(), lower_bound=0.0, bound_method="none")
    assert export(r, "megatron", graph=c)["pipeline_model_parallel_layout"] == "E,t*2|t*2,L"
    r = make_result(c, [0, 0, 0, 0, 0, 0, 1], 2, CostModel(), lower_bound=0.0, bound_method="none")
    with pytest.raises(ExportError, match="'norm' comes after the last layer.*stage 0, not the last"):
        export(r, "vllm", graph=c)
    assert export(r, "deepspeed", graph=c)["parts"] == [0, 6, 7]


def test_the_stages_plan_adds_up_to_the_cost_model(rng):
    for trial in range(25):
        g = random_dag(int(rng.integers(3, 20)), rng, density=0.3)
        k = int(rng.integers(2, 5))
        order = g.kahn_order(rng.random(g.n))
        stage = np.empty(g.n, dtype=np.int64)
        stage[order] = np.sort(rng.integers(0, k, size=g.n))
        r = make_result(g, stage, k, CostModel(bandwidth=2.0), lower_bound=0.0, bound_method="none")
        plan = export(r, "stages", graph=g)
        a = r.assignment
        assert sorted(v for s in plan["stages"] for v in s["nodes"]) == sorted(g.ids)
        for s in plan["stages"]:
            b = s["stage"]
            assert sum(t["bytes"] for t in s["receives"]) == pytest.approx(r.breakdown["in"][b])
            assert sum(t["bytes"] for t in s["sends"]) == pytest.approx(r.breakdown["out"][b])
            assert s["cost"] == pytest.approx(r.stage_costs[b]) and s["params"] == pytest.approx(r.breakdown["params"][b])
        for bnd in plan["boundaries"]:  # a tensor crosses b | b+1 when made at or before b and read after b
            b = bnd["between"][0]
            want = sorted(u for u, v in g.edges.tolist() if a[u] <= b < a[v])
            assert [g.index(t["tensor"]) for t in bnd["tensors"]] == sorted(set(want))
            assert bnd["bytes"] == pytest.approx(sum(g.sizeout[u] for u in set(want)))


def test_torch_split_points_are_module_beginnings_in_execution_order(rng):
    g = transformer(4, rng)
    c = coarsen(g, 1).graph
    assert c.ids == ("embed", "layers.0", "layers.1", "layers.2", "layers.3", "norm", "head")
    r = make_result(c, [0, 0, 0, 1, 1, 2, 2], 3, CostModel(), lower_bound=0.0, bound_method="none")
    assert export(r, "torch", graph=g)["split_spec"] == {"layers.2": "BEGINNING", "norm": "BEGINNING"}
    # an op-level cut at the start of a submodule is a split point; one in the middle of a module is not
    cut = g.index("layers.1.mlp/mlp")
    r = make_result(g, [int(v >= cut) for v in range(g.n)], 2, CostModel(), lower_bound=0.0, bound_method="none")
    assert export(r, "torch", graph=g)["split_spec"] == {"layers.1.mlp": "BEGINNING"}
    cut = g.index("layers.1/add")
    r = make_result(g, [int(v >= cut) for v in range(g.n)], 2, CostModel(), lower_bound=0.0, bound_method="none")
    with pytest.raises(ExportError, match="stage 1 starts at node 'layers.1/add', inside module 'layers.1', which "
                                          "is not the first operation of any module.*--coarsen"):
        export(r, "torch", graph=g)
    # two parallel branches: a partition that runs the second first is not consecutive in execution order
    par = pjpart.Graph.from_arrays(work=[1, 1, 1, 1], edges=[(0, 1), (0, 2), (1, 3), (2, 3)],
                                   ids=["stem", "left", "right", "join"])
    r = make_result(par, [0, 1, 0, 1], 2, CostModel(), lower_bound=0.0, bound_method="none")
    with pytest.raises(ExportError, match="node 'right' \\(stage 0\\) runs after 'left' \\(stage 1\\)"):
        export(r, "torch", graph=par)


def test_results_are_placed_only_on_their_own_graph(rng):
    g = transformer(2, rng)
    r = pjpart.partition(coarsen(g, "layer").graph, 2, FAST_LINKS, seed=0)
    other = pjpart.Graph.from_arrays(work=[1, 2], edges=[(0, 1)], ids=["a", "b"])
    with pytest.raises(ExportError, match="neither the nodes of graph 'graph'.*nor its modules"):
        export(r, "stages", graph=other)
    with pytest.raises(ExportError, match="unknown export format 'tensorrt'"):
        export(r, "tensorrt", graph=g)
    with pytest.raises(ExportError, match="give model= the .onnx file"):
        export(r, "onnx", out="x", graph=g)
    again = result_from_json(json.loads(json.dumps(r.to_json())), g)
    assert again.stages() == r.stages() and again.bottleneck == r.bottleneck
    bad = dict(r.to_json(), bottleneck=r.bottleneck * 2)
    with pytest.raises(ExportError, match="computed on another graph or cost model"):
        result_from_json(bad, g)
    with pytest.raises(ExportError, match="must be a JSON object with 'assignment'"):
        result_from_json({"k": 2}, g)


def test_export_command_writes_each_plan_and_refuses_bad_input(tmp_path, capsys, rng):
    graph = tmp_path / "decoder.json"
    pjpart.save_graph(transformer(6, rng), graph)
    result = tmp_path / "r.json"
    assert main(["partition", str(graph), "-k", "3", "--coarsen", "layer", "--bandwidth", "1e18", "--quiet",
                 "--json", str(result)]) == 0
    out = capsys.readouterr().out
    assert "coarsened by layer: 22 -> 9 nodes" in out
    counts = layer_counts(result_from_json(json.loads(result.read_text()), pjpart.load_graph(graph)))
    assert main(["export", str(result), "--format", "vllm", "--model", str(graph)]) == 0
    assert capsys.readouterr().out.strip() == "VLLM_PP_LAYER_PARTITION=" + ",".join(map(str, counts))
    assert main(["export", str(result), "--format", "megatron", "--model", str(graph), "--out",
                 str(tmp_path / "mega.txt")]) == 0
    text = (tmp_path / "mega.txt").read_text()
    assert text.startswith("--pipeline-model-parallel-size 3 --pipeline-model-parallel-layout 'E")
    for fmt in ("stages", "deepspeed", "torch"):
        assert main(["export", str(result), "--format", fmt, "--model", str(graph), "--out",
                     str(tmp_path / f"{fmt}.json")]) == 0
        assert json.loads((tmp_path / f"{fmt}.json").read_text())["format"] == fmt
    capsys.readouterr()
    bad = [(["export", str(tmp_path / "none.json"), "--format", "stages"], "none.json: no such result file"),
           (["export", str(result), "--format", "onnx", "--out", str(tmp_path)], "give --model MODEL.onnx"),
           (["export", str(result), "--format", "stages"], "export needs the graph the partition of 'decoder'"),
           (["export", str(result), "--format", "vllm", "--model", str(graph), "--layers", "blocks"],
            "no module 'blocks' with numbered children"),
           (["partition", str(graph), "-k", "2", "--coarsen", "deep"], "--coarsen must be a module depth")]
    for argv, message in bad:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{")
    assert main(["export", str(tmp_path / "broken.json"), "--format", "stages"]) == 2
    assert "broken.json: malformed JSON" in capsys.readouterr().err


def test_a_zoo_transformer_exports_from_its_name_alone(tmp_path, capsys):
    result = tmp_path / "r.json"
    assert main(["partition", "zoo:gpt2-small-onnx", "-k", "4", "--coarsen", "layer", "--quiet", "--json",
                 str(result)]) == 0
    capsys.readouterr()
    assert main(["export", str(result), "--format", "megatron"]) == 0  # the graph is found by the result's name
    layout = capsys.readouterr().out.split("'")[1]
    data = json.loads(result.read_text())
    counts = [0] * data["stages_used"]
    for unit, s in data["assignment"].items():
        counts[s] += unit.startswith("h.")
    assert [s.count("t") for s in expand_megatron(layout)] == counts and sum(counts) == 12


@pytest.mark.parametrize("name, layers", [("resnet18-onnx", None), ("gpt2-small-onnx", 12), ("vit-s16-torch", 12),
                                          ("mixer-b16-torch", 12)])
def test_the_zoos_torch_and_onnx_models_partition_and_export(name, layers):
    from pjpart import zoo

    g, info = zoo.load(name, strict=True), zoo.info(name)
    assert (g.n, g.m, g.params.sum()) == (info["n"], info["m"], info["param_bytes"])
    assert ("from_onnx" if name.endswith("onnx") else "from_torch") in info["source"]
    assert set(g.meta["scopes"]) == {str(v) for v in g.ids}
    units = coarsen(g, 1 if layers is None else "layer").graph
    r = pjpart.partition(units, 4, seed=0, max_evaluations=2000)
    spec = export(r, "torch", graph=g)["split_spec"]
    assert len(spec) == len(set(r.assignment.tolist())) - 1
    assert set(spec) <= {m for path in g.meta["scopes"].values() for m in path}
    if layers:
        counts = [sum(str(v).split(".")[0] in ("h", "blocks") for v in nodes) for nodes in r.stages()[:r.stages_used]]
        assert export(r, "vllm", graph=g)["VLLM_PP_LAYER_PARTITION"] == ",".join(map(str, counts))
        assert sum(counts) == layers
