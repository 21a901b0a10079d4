"""The JAX decoder of the zoo (``pjpart.data.make_zoo_jax``) against hand counts, and its bundled graph."""

import networkx as nx
import numpy as np
import pytest

import pjpart
from pjpart import zoo
from pjpart.scopes import layer_structure

L, H, D, F, T = 2, 2, 16, 32, 8  # layers, heads, width, ffn, tokens
BF16 = 2  # bytes


def expected_nodes(layers, heads, experts):
    # per layer: 2 RMSNorms of 11 ops, 17 per head, concat + o_proj, 2 residual adds, and the MLP:
    # SwiGLU 6, or router 10 + 9 per expert (SwiGLU 6, column slice, weighting, sum) - the first's sum
    mlp = 6 if not experts else 10 + 9 * experts - 1
    return layers * (2 * 11 + 17 * heads + 2 + 2 + mlp) + 11 + 2  # final norm, reshapes in and out


def expected_param_bytes(layers, heads, width, ffn, experts):
    attn = 3 * heads * width * (width // heads) + width * width
    mlp = 3 * width * ffn if not experts else width * experts + experts * 3 * width * ffn
    return BF16 * (layers * (attn + 2 * width + mlp) + width)


def expected_dot_flops(layers, heads, width, ffn, tokens, experts):
    """2 * M * N * K of every matrix product, in trace order."""
    mm = lambda m, n, k: 2 * m * n * k  # noqa: E731
    hd = width // heads
    head = [mm(tokens, hd, width)] * 3 + [mm(tokens, tokens, hd), mm(tokens, hd, tokens)]
    swiglu = [mm(tokens, ffn, width), mm(tokens, ffn, width), mm(tokens, width, ffn)]
    mlp = swiglu if not experts else [mm(tokens, experts, width)] + swiglu * experts
    return (head * heads + [mm(tokens, width, width)] + mlp) * layers


def dot_flops(layers, heads, width, ffn, tokens, experts):
    import jax

    from pjpart.data import make_zoo_jax as mz
    from pjpart.importers.jaxpr import eqn_flops

    w = mz.decoder_weights(layers, heads, width, ffn, experts)
    closed = jax.make_jaxpr(mz.decoder)(w, mz._shape(1, tokens, width))
    return [eqn_flops(e) for e in closed.jaxpr.eqns if e.primitive.name == "dot_general"]


def no_path(g, u, v):
    nxg = g.to_networkx()
    return not nx.has_path(nxg, u, v) and not nx.has_path(nxg, v, u)


@pytest.mark.parametrize("experts", [0, 3])
def test_decoder_graph_matches_hand_counts(experts):
    pytest.importorskip("jax")
    from pjpart.data.make_zoo_jax import decoder_graph

    g = decoder_graph(L, H, D, F, T, experts=experts)
    assert g.n == expected_nodes(L, H, experts)
    assert g.params.sum() == expected_param_bytes(L, H, D, F, experts) == g.meta["param_bytes"]
    dots = dot_flops(L, H, D, F, T, experts)
    assert dots == expected_dot_flops(L, H, D, F, T, experts)
    assert sum(1 for v in g.ids if ":dot_general@" in v) == len(dots)
    assert g.meta["flops"] > sum(dots)  # plus the elementwise ops and reductions
    assert nx.is_directed_acyclic_graph(g.to_networkx())
    # the heads' (and experts') branches are parallel: no path between them
    for layer in range(L):
        scores = [[v for v in g.ids if v.endswith(f"dot_general@layers.{layer}/attn/head{h}")][3] for h in range(H)]
        assert no_path(g, *scores)
        if experts:
            downs = [[v for v in g.ids if v.endswith(f"dot_general@layers.{layer}/mlp/expert{e}")][2]
                     for e in range(experts)]
            assert all(no_path(g, a, b) for a in downs for b in downs if a < b)
    # module paths: layers, then the units inside them
    assert g.meta["scopes"][scores[0]] == [f"layers.{L - 1}", f"layers.{L - 1}.attn", f"layers.{L - 1}.attn.head0"]
    assert layer_structure(g).count == L
    assert pjpart.coarsen(g, "layer").graph.ids == tuple(f"layers.{i}" for i in range(L)) + ("norm",)


def test_computed_tables_are_read_by_every_layer_and_cut_past():
    """With computed_tables the mask and the rotary tables are nodes read by every layer (so no clean
    cut is left between the layers), and the chain bound's cuts past broadcast nodes find the layers
    again, the tables pinned before the later attention groups; without them nothing is pinned."""
    pytest.importorskip("jax")
    from pjpart.bounds.chain import chain_links
    from pjpart.data.make_zoo_jax import decoder_graph

    layers, sizes = 4, (2, 256, 512, 256)  # large enough that the norms' weights are light strays
    plain = decoder_graph(layers, *sizes)
    g = decoder_graph(layers, *sizes, computed_tables=True)
    tables = [v for v, name in enumerate(g.ids) if "@mask" in name or "@rope" in name]
    readers = {g.ids[w].split("@")[1].split("/")[0] for v in tables for w in g.successors(v).tolist()}
    assert {f"layers.{i}" for i in range(layers)} <= readers
    cm = pjpart.cost_model_for(g)
    light = 0.01 * float(g.work.sum()) / 16  # as chain_bound drops strays at k = 16
    links, _ = chain_links(g, cm, light)
    pinned = [len(link.pinned) for link in links]
    assert len(links) >= 3 * layers and sum(p > 0 for p in pinned) >= layers - 1
    assert all(len(link.pinned) == 0 for link in chain_links(plain, cm, light)[0])


def test_decoder_graph_rejects_bad_sizes():
    pytest.importorskip("jax")
    from pjpart.data.make_zoo_jax import decoder_graph

    with pytest.raises(pjpart.GraphError, match="divisible by heads"):
        decoder_graph(1, 3, 16, 32, 8)


def test_the_bundled_llama_op_graph():
    g, info = zoo.load("llama-32l-op", strict=True), zoo.info("llama-32l-op")
    assert g.n >= 10_000 and (g.n, g.m) == (info["n"], info["m"]) == (expected_nodes(32, 32, 0), 23725)
    assert g.params.sum() == info["param_bytes"] == expected_param_bytes(32, 32, 4096, 11008, 0)
    assert (info["granularity"], info["dtype"], info["batch_size"]) == ("op", "bfloat16", 1)
    assert "llama-32l-op" not in zoo.names() and "llama-32l-op" in zoo.names(granularity="op")
    assert bool(np.all(g.edges[:, 0] < g.edges[:, 1]))  # trace order is topological
    assert pjpart.coarsen(g, "layer").graph.n == 33


@pytest.mark.slow  # traces the full model (about 2 s)
def test_the_bundled_llama_op_graph_is_what_the_generator_builds():
    pytest.importorskip("jax")
    from pjpart.data.make_zoo_jax import MODELS, decoder_graph

    g, bundled = decoder_graph(**MODELS["llama-32l-op"]), zoo.load("llama-32l-op")
    assert g.ids == bundled.ids and np.array_equal(g.edges, bundled.edges)
    assert np.allclose(g.work, bundled.work, rtol=1e-12) and np.array_equal(g.params, bundled.params)
    assert np.array_equal(g.sizeout, bundled.sizeout) and g.meta["scopes"] == bundled.meta["scopes"]
