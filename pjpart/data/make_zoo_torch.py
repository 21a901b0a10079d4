"""Add the zoo's PyTorch and ONNX models (``pjpart/data/zoo``): ``python -m pjpart.data.make_zoo_torch``.

Needs PyTorch and onnx (``pip install 'pjpart[torch,test]'``).  No network, no
downloaded weights: every model is written here in PyTorch from its published
configuration, with random weights (``torch.manual_seed(0)``), in inference mode,
and imported through one of the two new importers:

* ``resnet18-onnx``: ResNet-18 (He et al., 2016), batch 8 at 224x224, exported by
  ``torch.onnx.export`` (batch norms folded into the convolutions) and read by
  :func:`pjpart.from_onnx` at op granularity: one node per convolution, ReLU, add, pool;
* ``gpt2-small-onnx``: GPT-2 124M (12 layers, 12 heads, 768 wide, 512 tokens), through
  ONNX, grouped by module at depth 2 (``h.3.attn``, ``h.3.mlp``, ...).  Its weights are
  654 MB, not 497: the exporter folds the head's transpose of the tied token embedding
  into a second initializer, which the ONNX model (and so each stage holding it) really carries;
* ``vit-s16-torch``: ViT-S/16 (12 layers, 6 heads, 384 wide), batch 1, through
  :func:`pjpart.from_torch` (``torch.export`` and ``FlopCounterMode``) at module depth 2;
* ``mixer-b16-torch``: MLP-Mixer-B/16 (Tolstikhin et al., 2021), batch 1, through
  :func:`pjpart.from_torch` at module depth 2;
* ``gpt-decoder-op``: a decoder-only transformer (GPT/Llama-like: token and learned position
  embeddings, 16 pre-norm blocks of RMSNorm, causal attention with q/k/v/o projections and
  ``scaled_dot_product_attention``, SwiGLU MLP; 1024 wide, 16 heads, MLP 2816, vocabulary 32000,
  untied head: 272M parameters), 1 x 512 tokens, through :func:`pjpart.from_torch` at op granularity;
* ``moe-op``: the same decoder with 4 blocks whose MLP is a mixture of 8 SwiGLU experts with
  expert-choice routing (Zhou et al., 2022): each expert takes its 128 best tokens (top-2's share
  of 512), so shapes are static and every expert computes on its share only; op granularity.

Costs are the H100 profile's.  The graphs keep their module paths (``meta["scopes"]``), so
their partitions export to the runtimes (:mod:`pjpart.export`).  ``NAME ...`` (or ``--only
NAME ...``) rebuilds some: ``python -m pjpart.data.make_zoo_torch gpt-decoder-op moe-op``;
the index is rebuilt for the whole folder (from the files, so the others' entries stay as they are).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch
from torch import nn
from torch.nn import functional as F

from pjpart.data.make_zoo import ZOO_DIR, write


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, cin, stages = [64, 128, 256, 512], 64, []
        for i, w in enumerate(widths):
            stages.append(nn.Sequential(BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w, 1)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class GPT2Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5
        mask = torch.ones(s, s, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, d)
        return self.c_proj(y)


class GPT2Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(dim), GPT2Attention(dim, heads), nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, vocab: int = 50257, dim: int = 768, layers: int = 12, heads: int = 12, seq: int = 1024):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, dim), nn.Embedding(seq, dim)
        self.h = nn.ModuleList(GPT2Block(dim, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim)

    def forward(self, tokens):
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1]))
        for block in self.h:
            x = block(x)
        return F.linear(self.ln_f(x), self.wte.weight)  # the head shares the token embedding


class ViTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.qkv, self.proj = nn.LayerNorm(dim), nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, s, d))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, dim: int = 384, layers: int = 12, heads: int = 6, mlp: int = 1536, patch: int = 16,
                 image: int = 224, classes: int = 1000) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
        self.blocks = nn.ModuleList(ViTBlock(dim, heads, mlp) for _ in range(layers))
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int, token_mlp: int, channel_mlp: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.token_mix = nn.Sequential(nn.Linear(tokens, token_mlp), nn.GELU(), nn.Linear(token_mlp, tokens))
        self.channel_mix = nn.Sequential(nn.Linear(dim, channel_mlp), nn.GELU(), nn.Linear(channel_mlp, dim))

    def forward(self, x):
        x = x + self.token_mix(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mix(self.norm2(x))


class Mixer(nn.Module):
    def __init__(self, dim: int = 768, layers: int = 12, token_mlp: int = 384, channel_mlp: int = 3072,
                 patch: int = 16, image: int = 224, classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, dim, patch, patch)
        self.blocks = nn.ModuleList(MixerBlock((image // patch) ** 2, dim, token_mlp, channel_mlp)
                                    for _ in range(layers))
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, classes)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))


class RMSNorm(nn.Module):
    """Written out (square, mean, rsqrt, scale), as a Llama checkpoint's modelling code does."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj, self.up_proj = nn.Linear(dim, hidden, bias=False), nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(dim, dim, bias=False) for _ in range(4))

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = (p(x).view(b, s, self.heads, d // self.heads).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, s, d))


class DecoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: nn.Module) -> None:
        super().__init__()
        self.input_norm, self.attn = RMSNorm(dim), CausalSelfAttention(dim, heads)
        self.post_attention_norm, self.mlp = RMSNorm(dim), mlp

    def forward(self, x):
        x = x + self.attn(self.input_norm(x))
        return x + self.mlp(self.post_attention_norm(x))


class ExpertChoiceMoE(nn.Module):
    """Mixture of experts with expert-choice routing (Zhou et al., 2022): static shapes for ``torch.export``.

    The router's softmax scores every (token, expert); each expert takes its ``capacity`` best
    tokens (``topk`` over its column: ``tokens * top_k / experts``, top-2's share), runs its SwiGLU
    on them alone and adds the gated outputs back at their rows (``index_add``).
    """

    def __init__(self, dim: int, hidden: int, experts: int = 8, top_k: int = 2, tokens: int = 512) -> None:
        super().__init__()
        self.capacity = tokens * top_k // experts
        self.router = nn.Linear(dim, experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(dim, hidden) for _ in range(experts))

    def forward(self, x):
        b, s, d = x.shape
        flat = x.reshape(b * s, d)
        scores = self.router(flat).softmax(-1)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            weight, rows = scores[:, e].topk(self.capacity)
            out = out.index_add(0, rows, expert(flat.index_select(0, rows)) * weight.unsqueeze(-1))
        return out.view(b, s, d)


class Decoder(nn.Module):
    """A decoder-only transformer: token and learned position embeddings, pre-norm blocks (causal
    attention, then a SwiGLU MLP, or ``experts`` of them routed by :class:`ExpertChoiceMoE`), final
    norm, untied LM head."""

    def __init__(self, vocab: int = 32000, dim: int = 1024, layers: int = 16, heads: int = 16, hidden: int = 2816,
                 seq: int = 512, experts: int = 0, top_k: int = 2) -> None:
        super().__init__()
        self.embed_tokens, self.embed_positions = nn.Embedding(vocab, dim), nn.Embedding(seq, dim)
        self.layers = nn.ModuleList(
            DecoderBlock(dim, heads, ExpertChoiceMoE(dim, hidden, experts, top_k, seq) if experts else
                         SwiGLU(dim, hidden)) for _ in range(layers))
        self.norm, self.lm_head = RMSNorm(dim), nn.Linear(dim, vocab, bias=False)

    def forward(self, tokens):
        x = self.embed_tokens(tokens) + self.embed_positions(torch.arange(tokens.shape[1]))
        for block in self.layers:
            x = block(x)
        return self.lm_head(self.norm(x))


def via_onnx(model: nn.Module, example: torch.Tensor, name: str, granularity: str, depth: int):
    from pjpart import from_onnx

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{name}.onnx")
        torch.onnx.export(model, (example,), path, dynamo=False, input_names=["input"], output_names=["output"],
                          opset_version=17)
        return from_onnx(path, granularity=granularity, depth=depth, name=name)


def via_torch(model: nn.Module, example: torch.Tensor, name: str, granularity: str, depth: int):
    from pjpart import from_torch

    return from_torch(model, (example,), granularity=granularity, depth=depth, name=name)


#: name -> (builder, example input, importer, granularity, depth, family, description)
MODELS = {
    "resnet18-onnx": (ResNet18, lambda: torch.randn(8, 3, 224, 224), via_onnx, "op", 1, "cnn",
                      "ResNet-18 in PyTorch -> torch.onnx.export -> pjpart.from_onnx (op granularity)"),
    "gpt2-small-onnx": (GPT2, lambda: torch.randint(0, 50257, (1, 512)), via_onnx, "module", 2, "transformer",
                        "GPT-2 124M in PyTorch -> torch.onnx.export -> pjpart.from_onnx (module depth 2)"),
    "vit-s16-torch": (ViT, lambda: torch.randn(1, 3, 224, 224), via_torch, "module", 2, "transformer",
                      "ViT-S/16 in PyTorch -> pjpart.from_torch (torch.export, module depth 2)"),
    "mixer-b16-torch": (Mixer, lambda: torch.randn(1, 3, 224, 224), via_torch, "module", 2, "mlp",
                        "MLP-Mixer-B/16 in PyTorch -> pjpart.from_torch (torch.export, module depth 2)"),
    "gpt-decoder-op": (Decoder, lambda: torch.randint(0, 32000, (1, 512)), via_torch, "op", 1, "transformer",
                       "decoder-only transformer (16 layers, 16 heads, 1024 wide, SwiGLU 2816, RMSNorm, 512 "
                       "tokens) in PyTorch -> pjpart.from_torch (torch.export, op granularity)"),
    "moe-op": (lambda: Decoder(layers=4, experts=8, top_k=2), lambda: torch.randint(0, 32000, (1, 512)), via_torch,
               "op", 1, "transformer",
               "mixture-of-experts decoder (4 layers, 1024 wide, 8 SwiGLU experts of 2816 with expert-choice "
               "routing at top-2 capacity, 512 tokens) in PyTorch -> pjpart.from_torch (torch.export, op "
               "granularity)"),
}


def build(name: str):
    """The graph of zoo model ``name``, built from code with random weights (``torch.manual_seed(0)``)."""
    builder, example, importer, granularity, depth, _, _ = MODELS[name]
    torch.manual_seed(0)
    with torch.no_grad():
        model = builder().eval()
        x = example()
        return importer(model, x, name, granularity, depth), tuple(x.shape)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="models to build (default: all)")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)
    only = None if args.only is None and not args.names else set(args.names) | set(args.only or ())
    unknown = sorted(only - set(MODELS)) if only else []
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    for name, (_, _, _, granularity, _, family, source) in MODELS.items():
        if only is not None and name not in only:
            continue
        t0 = time.perf_counter()
        g, shape = build(name)
        # the zoo's op-level graphs are the ``-op`` ones (``zoo.names(granularity="op")``)
        level = "op" if name.endswith("-op") else "layer"
        write(g, name, {"source": source, "family": family, "batch_size": shape[0], "input_shape": [list(shape)],
                        "hardware": "h100", "granularity": level, "n": g.n, "m": g.m, "dtype": "float32"})
        print(f"{name:<18} n={g.n:>5} m={g.m:>5} GFLOP={g.meta['flops'] / 1e9:8.2f} "
              f"params={g.params.sum() / 1e6:8.1f} MB  {time.perf_counter() - t0:5.1f} s", flush=True)
    from pjpart.zoo import build_index

    print(f"index: {len(build_index(ZOO_DIR))} graphs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
