"""The PyTorch importer against hand counts and FlopCounterMode, and ``torch_pipe`` building a real pipeline.

Every model is built here (random weights, nothing downloaded).  PyTorch is optional: without it
these tests are skipped, saying so.
"""

import math

import networkx as nx
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch importer and torch_pipe are "
                                            "optional (pip install 'pjpart[torch]')")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import pjpart  # noqa: E402
from pjpart import CostModel, GraphError, coarsen, from_torch  # noqa: E402
from pjpart.export import ExportError, split_spec, torch_pipe  # noqa: E402
from pjpart.hardware import Hardware  # noqa: E402
from pjpart.result import make_result  # noqa: E402

COUNTER = Hardware(name="flop-counter", peak_flops={"float32": 1.0}, hbm_bandwidth=math.inf)
FAST_LINKS = CostModel(bandwidth=1e18)


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 32)
        self.conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.bn = nn.BatchNorm2d(6)

    def forward(self, x, img, q):
        h = torch.relu(self.fc(x))
        c = self.bn(self.conv(img))
        a = F.scaled_dot_product_attention(q, q, q)
        return h, c, a


def test_flops_come_from_flop_counter_mode_and_match_hand_counts():
    torch.manual_seed(0)
    model = Ops().eval()
    x, img, q = torch.randn(8, 16), torch.randn(2, 4, 5, 5), torch.randn(2, 3, 7, 4)
    g = from_torch(model, (x, img, q), hardware=COUNTER)
    work = dict(zip(g.ids, g.work.tolist()))
    assert work["fc/linear"] == 2 * 8 * 32 * 16                       # FlopCounterMode counts no bias add
    assert work["conv/conv2d"] == 2 * (2 * 6 * 5 * 5) * (4 // 2) * 3 * 3
    assert work["scaled_dot_product_attention"] == 2 * (2 * 2 * 3 * 7 * 7 * 4)  # Q K^T and the product with V
    assert work["relu"] == 0 and work["bn/batch_norm"] == 0
    from torch.utils.flop_counter import FlopCounterMode
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.MATH]), FlopCounterMode(display=False) as counter:
        model(x, img, q)
    assert g.meta["flops"] == counter.get_total_flops()  # the whole model's count, independently
    state = sum(t.numel() * t.element_size() for t in model.state_dict().values() if t.is_floating_point())
    assert g.params.sum() == state  # every weight and buffer an operation reads (not num_batches_tracked)
    assert g.params[g.index("fc/linear")] == (16 * 32 + 32) * 4
    assert g.sizeout[g.index("fc/linear")] == 8 * 32 * 4
    assert g.meta["scopes"]["conv/conv2d"] == ["conv"] and g.meta["source"] == "torch"


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(self.ln(x))))


class Decoder(nn.Module):
    def __init__(self, d=32, layers=6, vocab=50):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(Block(d) for _ in range(layers))
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

    def forward(self, tokens):
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x))


def decoder():
    torch.manual_seed(0)
    return Decoder().eval(), torch.randint(0, 50, (2, 16))


def test_module_granularity_keeps_the_module_fqns_as_ids():
    model, tokens = decoder()
    g = from_torch(model, tokens, granularity="module")
    assert g.ids == ("embed",) + tuple(f"layers.{i}" for i in range(6)) + ("norm", "head")
    assert nx.is_directed_acyclic_graph(g.to_networkx())
    op = from_torch(model, tokens)
    assert op.ids[:3] == ("embed/embedding", "layers.0.ln/layer_norm", "layers.0.fc1/linear")
    assert op.meta["scopes"]["layers.0.fc1/linear"] == ["layers.0", "layers.0.fc1"]
    assert coarsen(op, 1).graph.ids == g.ids and np.allclose(coarsen(op, 1).graph.work, g.work)
    params = {name: sum(p.numel() * 4 for p in m.parameters()) for name, m in
              [("embed", model.embed), ("layers.0", model.layers[0]), ("head", model.head)]}
    assert {v: g.params[g.index(v)] for v in params} == params
    with pytest.raises(GraphError, match="needs a torch.nn.Module or a torch.export.ExportedProgram"):
        from_torch(lambda t: t, tokens)


def test_torch_pipe_builds_the_partitions_pipeline_and_runs_it_on_cpu():
    model, tokens = decoder()
    g = from_torch(model, tokens, granularity="module")
    r = pjpart.partition(g, 3, FAST_LINKS, seed=0)
    assert r.stages_used == 3
    spec = split_spec(r, g)
    assert list(spec) == [stage[0] for stage in r.stages()[1:3]] and set(spec.values()) == {"BEGINNING"}
    pipe = torch_pipe(model, tokens, r)  # placed on the op graph of from_torch(model, tokens)
    assert pipe.num_stages == 3
    with torch.no_grad():
        assert torch.equal(pipe(tokens)[0], model(tokens))
    for b, nodes in enumerate(r.stages()[:3]):  # each stage module holds exactly its stage's weights
        held = sum(p.numel() * p.element_size() for p in pipe.get_stage_module(b).parameters())
        assert held == r.breakdown["params"][b]
        names = {n.split(".")[0] if not n.startswith("layers") else ".".join(n.split(".")[:2])
                 for n, _ in pipe.get_stage_module(b).named_parameters()}
        assert names == set(nodes)


def test_torch_pipe_refuses_a_stage_that_starts_inside_a_module():
    model, tokens = decoder()
    op = from_torch(model, tokens)
    cut = op.index("layers.2/gelu_2")  # gelu is a function call inside layers.2, not a module of its own
    r = make_result(op, [int(v >= cut) for v in range(op.n)], 2, CostModel(), lower_bound=0.0, bound_method="none")
    with pytest.raises(ExportError, match="stage 1 starts at node 'layers.2/gelu_2', inside module 'layers.2'"):
        torch_pipe(model, tokens, r)
    cut = op.index("layers.2.fc2/linear_5")  # the beginning of layers.2.fc2: a split point
    r = make_result(op, [int(v >= cut) for v in range(op.n)], 2, CostModel(), lower_bound=0.0, bound_method="none")
    pipe = torch_pipe(model, tokens, r, graph=op)
    with torch.no_grad():
        assert pipe.num_stages == 2 and torch.equal(pipe(tokens)[0], model(tokens))


def test_layer_plans_of_a_torch_model_follow_its_pipe():
    model, tokens = decoder()
    g = from_torch(model, tokens, granularity="module")
    r = pjpart.partition(g, 4, FAST_LINKS, seed=1)
    counts = [sum(v.startswith("layers.") for v in nodes) for nodes in r.stages()[:r.stages_used]]
    assert r.export("vllm", graph=g)["VLLM_PP_LAYER_PARTITION"] == ",".join(map(str, counts))
    parts = r.export("deepspeed", graph=g)["parts"]
    pipe = torch_pipe(model, tokens, r, graph=g)
    units = list(g.ids)
    for b in range(pipe.num_stages):
        held = {n.rsplit(".", 2)[0] if n.startswith("layers") else n.split(".")[0]
                for n, _ in pipe.get_stage_module(b).named_parameters()}
        assert held == set(units[parts[b]:parts[b + 1]])


def test_the_bundled_torch_zoo_model_is_what_the_generator_builds():
    onnx = pytest.importorskip("onnx", reason="the generator's ONNX models need onnx")
    from pjpart import zoo
    from pjpart.data import make_zoo_torch

    del onnx
    g, shape = make_zoo_torch.build("vit-s16-torch")
    bundled = zoo.load("vit-s16-torch")
    assert (g.n, g.m) == (bundled.n, bundled.m) and g.ids == bundled.ids
    assert g.meta["flops"] == bundled.meta["flops"] and g.params.sum() == bundled.params.sum()
    assert shape == (1, 3, 224, 224)
