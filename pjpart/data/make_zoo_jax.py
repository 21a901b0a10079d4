"""Add the zoo's JAX operator-level decoder (``pjpart/data/zoo``): ``python -m pjpart.data.make_zoo_jax llama-32l-op``.

Needs only JAX (a dependency of pjpart); nothing is allocated or run: the weights and
the input are :class:`jax.ShapeDtypeStruct` placeholders, and :func:`pjpart.from_jax` traces
the model to a jaxpr (one node per equation, ``granularity="op"``), costed on the H100 profile.

:func:`decoder_graph` writes a decoder-only transformer in plain ``jax.numpy``, in bfloat16
(the norms and softmaxes compute in float32, as Llama's modelling code does).  Per layer:

* ``input_norm``: RMSNorm (11 ops: convert, square, sum, broadcast, mean, + eps, rsqrt, scale,
  convert, broadcast of the weight, times the weight);
* ``attn``: one ``head{h}`` branch per head (17 ops: q, k and v projections, transpose of k,
  scores, convert, scale, additive causal mask, the 7 ops of a softmax, convert, context), then
  ``o_proj`` (concatenation of the heads, output projection), then the residual add;
* ``post_norm``: RMSNorm (11 ops);
* ``mlp``: SwiGLU (6 ops: gate and up projections, ``silu`` as logistic and product, gating
  product, down projection), or with ``experts > 0`` a mixture of experts: a ``router`` (10 ops:
  projection, convert, softmax, convert) and one ``expert{e}`` branch per expert, each a SwiGLU
  computed densely on every token and weighted by its column of the router's softmax (9 ops: the
  SwiGLU, the column's slice, the weighting, the sum; the first expert has no sum), then the residual add.

The heads (and experts) of a layer are parallel branches, so the op graph is wide, like a real
trace of per-head kernels.  Every op but the reshapes runs in a ``jax.named_scope`` (``layers.3`` / ``attn`` /
``head5``), recorded as its module path in ``meta["scopes"]`` (``("layers.3", "layers.3.attn",
"layers.3.attn.head5")``), so ``pjpart.coarsen(g, "layer")`` and module-depth grouping work.
The graph has ``layers * (32 + 17 * heads) + 13`` nodes (``35 + 17 * heads + 9 * experts`` per
layer with experts): one reshape before the layers, a final ``norm`` and a reshape after them.
(One op fewer per layer with one head, or one expert: JAX drops a concatenation, or a slice, of
one whole array.)
No embedding or LM head: the input is the embedded tokens, ``(1, tokens, width)``.

The zoo's model (``MODELS``): ``llama-32l-op``, Llama-7B's blocks (32 layers, 32 heads, 4096
wide, SwiGLU 11008, 512 tokens, batch 1; 6.48 billion parameters, 12.95 GB in bfloat16).
The index is rebuilt for the whole folder (from the files, so the others' entries stay).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import numpy as np

DTYPE = "bfloat16"

#: name -> decoder_graph keyword arguments
MODELS = {
    "llama-32l-op": {"layers": 32, "heads": 32, "width": 4096, "ffn": 11008, "tokens": 512},
}


def _shape(*shape):
    import jax

    return jax.ShapeDtypeStruct(shape, jax.numpy.dtype(DTYPE))


def _swiglu_weights(width: int, ffn: int) -> dict:
    return {"gate": _shape(width, ffn), "up": _shape(width, ffn), "down": _shape(ffn, width)}


def decoder_weights(layers: int, heads: int, width: int, ffn: int, experts: int = 0) -> dict:
    """The weights of :func:`decoder_graph` as ``ShapeDtypeStruct`` leaves (one q, k, v matrix per head)."""
    hd = width // heads

    def layer():
        attn = {p: [_shape(width, hd) for _ in range(heads)] for p in ("q", "k", "v")}
        attn["o"] = _shape(width, width)
        mlp = ({"router": _shape(width, experts), "experts": [_swiglu_weights(width, ffn) for _ in range(experts)]}
               if experts else _swiglu_weights(width, ffn))
        return {"input_norm": _shape(width), "attn": attn, "post_norm": _shape(width), "mlp": mlp}

    return {"layers": [layer() for _ in range(layers)], "norm": _shape(width)}


def rms_norm(x, w, eps: float = 1e-5):
    """RMSNorm in float32, scaled by ``w`` in the model's dtype."""
    import jax
    import jax.numpy as jnp

    x32 = x.astype(jnp.float32)
    inv = jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps)
    return (x32 * inv).astype(x.dtype) * w


def softmax(s):
    """Softmax over the last axis, written out (max, subtract, exp, sum, divide)."""
    import jax.numpy as jnp

    e = jnp.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def rotate(t, rope):
    """Rotary position embedding of ``t`` (tokens x head width) by the tables ``(cos, sin)``."""
    import jax.numpy as jnp

    cos, sin = rope
    half = t.shape[-1] // 2
    t1, t2 = t[:, :half], t[:, half:]
    return jnp.concatenate([t1 * cos - t2 * sin, t2 * cos + t1 * sin], axis=-1)


def attention_head(h, wq, wk, wv, mask, rope=None):
    """One causal attention head: projections (rotated by ``rope``, when given), masked softmax of
    the scaled scores, context."""
    import jax.numpy as jnp

    q, k, v = h @ wq, h @ wk, h @ wv
    if rope is not None:
        q, k = rotate(q, rope), rotate(k, rope)
    scores = (q @ k.T).astype(jnp.float32) * (1.0 / np.sqrt(q.shape[-1])) + mask
    return softmax(scores).astype(h.dtype) @ v


def swiglu(h, w):
    import jax

    return (jax.nn.silu(h @ w["gate"]) * (h @ w["up"])) @ w["down"]


def mixture(h, w):
    """Every expert's SwiGLU on every token, weighted by its column of the router's softmax."""
    import jax
    import jax.numpy as jnp

    with jax.named_scope("router"):
        gates = softmax((h @ w["router"]).astype(jnp.float32)).astype(h.dtype)
    out = None
    for e, expert in enumerate(w["experts"]):
        with jax.named_scope(f"expert{e}"):
            y = swiglu(h, expert) * gates[:, e:e + 1]
            out = y if out is None else out + y
    return out


def block(x, w, mask, rope=None):
    """One pre-norm decoder layer: attention head by head, then the (mixture of) SwiGLU MLP."""
    import jax
    import jax.numpy as jnp

    with jax.named_scope("input_norm"):
        h = rms_norm(x, w["input_norm"])
    with jax.named_scope("attn"):
        ctx = []
        for i, (wq, wk, wv) in enumerate(zip(w["attn"]["q"], w["attn"]["k"], w["attn"]["v"])):
            with jax.named_scope(f"head{i}"):
                ctx.append(attention_head(h, wq, wk, wv, mask, rope))
        with jax.named_scope("o_proj"):
            attn = jnp.concatenate(ctx, axis=-1) @ w["attn"]["o"]
    x = x + attn
    with jax.named_scope("post_norm"):
        h = rms_norm(x, w["post_norm"])
    with jax.named_scope("mlp"):
        y = mixture(h, w["mlp"]) if "experts" in w["mlp"] else swiglu(h, w["mlp"])
    return x + y


def tables(tokens: int, head_width: int, dtype):
    """The causal mask and the rotary tables, computed from the positions (nodes of the graph, each
    read by every layer, as in an exported model)."""
    import jax
    import jax.numpy as jnp

    pos = jnp.arange(tokens, dtype=jnp.float32)
    with jax.named_scope("mask"):
        mask = jnp.where(pos[:, None] >= pos[None, :], 0.0, -1e9).astype(jnp.float32)
    with jax.named_scope("rope"):
        inv = 1.0 / (10000.0 ** (jnp.arange(0, head_width // 2, dtype=jnp.float32) / (head_width // 2)))
        angle = pos[:, None] * inv[None, :]
        rope = (jnp.cos(angle).astype(dtype), jnp.sin(angle).astype(dtype))
    return mask, rope


def decoder(w, x, computed_tables: bool = False):
    """The decoder on embedded tokens ``x`` of shape ``(1, tokens, width)``; ``computed_tables``: the
    mask and rotary tables of :func:`tables`, else a constant mask (no node) and no rotation."""
    import jax

    tokens = x.shape[1]
    if computed_tables:
        mask, rope = tables(tokens, x.shape[2] // len(w["layers"][0]["attn"]["q"]), x.dtype)
    else:
        mask, rope = np.where(np.tri(tokens, dtype=bool), 0.0, -1e9).astype(np.float32), None
    h = x.reshape(tokens, x.shape[2])
    for i, layer in enumerate(w["layers"]):
        with jax.named_scope(f"layers.{i}"):
            h = block(h, layer, mask, rope)
    with jax.named_scope("norm"):
        h = rms_norm(h, w["norm"])
    return h.reshape(x.shape)


def module_scopes(ids) -> dict:
    """``{id: module path}`` from :func:`pjpart.from_jax` ids (``"7:dot_general@layers.0/attn/head1"``)."""
    scopes = {}
    for nid in ids:
        parts = nid.split("@", 1)[1].split("/") if "@" in nid else []
        scopes[nid] = [".".join(parts[: i + 1]) for i in range(len(parts))]
    return scopes


def decoder_graph(layers: int, heads: int, width: int, ffn: int, tokens: int, experts: int = 0,
                  hardware="h100", computed_tables: bool = False):
    """The op graph of the decoder described in the module docstring, traced on abstract values.

    Parameters
    ----------
    layers, heads, width, ffn, tokens
        Decoder layers, attention heads (``width`` must divide by it), model width, SwiGLU
        hidden width, sequence length (batch 1).
    experts
        0 for a dense SwiGLU MLP, else the number of (densely computed) experts per layer.
    hardware
        The :func:`pjpart.from_jax` profile ``work`` is costed on.
    computed_tables
        Compute the causal mask and rotary tables in the graph, each read by every layer (as an
        exported model does: no clean cut between the layers), and rotate q and k by them.

    Returns
    -------
    pjpart.Graph
        ``params`` are the bfloat16 weight bytes; ``meta["scopes"]`` the module paths.
    """
    from pjpart import GraphError, from_jax

    if min(layers, heads, width, ffn, tokens) < 1 or experts < 0 or width % heads:
        raise GraphError(f"decoder_graph: need sizes >= 1, experts >= 0 and width ({width}) divisible by "
                         f"heads ({heads})")
    w = decoder_weights(layers, heads, width, ffn, experts)
    g = from_jax(functools.partial(decoder, computed_tables=computed_tables), w, _shape(1, tokens, width),
                 params_argnums=(0,), hardware=hardware, name=f"decoder-{layers}l")
    g.meta["scopes"] = module_scopes(g.ids)
    return g


def main(argv: list[str] | None = None) -> int:
    from pjpart.data.make_zoo import ZOO_DIR, write
    from pjpart.zoo import build_index

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="models to build (default: all)")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.names) - set(MODELS))
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    for name, sizes in MODELS.items():
        if args.names and name not in args.names:
            continue
        t0 = time.perf_counter()
        g = decoder_graph(**sizes)
        source = (f"decoder-only transformer, Llama-7B blocks ({sizes['layers']} layers, {sizes['heads']} heads "
                  f"one by one, {sizes['width']} wide, SwiGLU {sizes['ffn']}, RMSNorm, {sizes['tokens']} tokens, "
                  f"bfloat16, no embedding or head) in jax.numpy -> pjpart.from_jax (op granularity)")
        write(g, name, {"source": source, "family": "transformer", "batch_size": 1,
                        "input_shape": [[1, sizes["tokens"], sizes["width"]]], "hardware": g.meta["hardware"],
                        "granularity": "op", "n": g.n, "m": g.m, "dtype": DTYPE})
        print(f"{name:<18} n={g.n:>6} m={g.m:>6} GFLOP={g.meta['flops'] / 1e9:8.2f} "
              f"params={g.params.sum() / 1e6:8.1f} MB  {time.perf_counter() - t0:5.1f} s", flush=True)
    print(f"index: {len(build_index(ZOO_DIR))} graphs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
