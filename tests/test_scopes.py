"""``pjpart.coarsen`` by key and the module paths and layers behind it, against independent references."""

import networkx as nx
import numpy as np
import pytest

import pjpart
from pjpart import CostModel, GraphError, coarsen, evaluate
from pjpart.generators import random_dag
from pjpart.reference import decode_keys
from pjpart.scopes import layer_structure, module_paths


def random_keys(g, rng, groups):
    return [None if rng.random() < 0.1 else f"k{int(rng.integers(groups))}" for _ in range(g.n)]


def test_runs_are_acyclic_and_a_coarse_partition_costs_at_least_its_projection(rng):
    for trial in range(60):
        g = random_dag(int(rng.integers(2, 25)), rng, density=float(rng.uniform(0.05, 0.4)))
        keys = random_keys(g, rng, int(rng.integers(1, 5)))
        c = coarsen(g, keys)
        assert nx.is_directed_acyclic_graph(c.graph.to_networkx())
        assert np.isclose(c.graph.work.sum(), g.work.sum()) and np.isclose(c.graph.params.sum(), g.params.sum())
        # a group is one key (None: a node alone) and consecutive in the graph's order
        for grp in range(c.graph.n):
            members = np.flatnonzero(c.members == grp)
            assert len({keys[v] for v in members}) == 1 and (keys[members[0]] is not None or len(members) == 1)
        # each fine edge stays inside a group or goes forward between groups
        assert all(c.members[u] <= c.members[v] for u, v in g.edges.tolist())
        k = int(rng.integers(1, 5))
        cm = CostModel(bandwidth=float(rng.uniform(0.3, 3)))
        for _ in range(5):
            order = decode_keys(c.graph, rng.random(c.graph.n))
            stages = np.empty(c.graph.n, dtype=np.int64)
            stages[order] = np.sort(rng.integers(0, k, size=c.graph.n))
            fine = evaluate(g, c.project(stages), k, cm)
            assert np.all(fine <= evaluate(c.graph, stages, k, cm) + 1e-9)


def test_a_group_sending_one_tensor_costs_exactly_its_projection():
    # a chain a -> b -> c -> d grouped {a, b}, {c, d}: each group sends at most one tensor
    g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], sizeout=[5, 6, 7, 8], edges=[(0, 1), (1, 2), (2, 3)])
    c = coarsen(g, ["x", "x", "y", "y"])
    assert c.graph.ids == ("x", "y") and c.graph.sizeout.tolist() == [6, 8]
    for stages in ([0, 1], [0, 0]):
        assert evaluate(g, c.project(stages), 2).tolist() == evaluate(c.graph, stages, 2).tolist()


def test_merging_every_node_of_a_key_is_checked_against_the_quotient_graph(rng):
    cyclic = 0
    for trial in range(80):
        g = random_dag(int(rng.integers(3, 14)), rng, density=0.35)
        keys = [f"k{int(rng.integers(3))}" for _ in range(g.n)]
        blocks = [set(np.flatnonzero(np.array(keys) == k).tolist()) for k in sorted(set(keys))]
        acyclic = nx.is_directed_acyclic_graph(nx.quotient_graph(g.to_networkx(),
                                                                  [{g.ids[v] for v in b} for b in blocks]))
        if acyclic:
            c = coarsen(g, keys, runs=False)
            assert sorted(c.graph.ids) == sorted(set(keys))
        else:
            cyclic += 1
            with pytest.raises(GraphError, match="makes a cycle.*runs=True"):
                coarsen(g, keys, runs=False)
    assert 0 < cyclic < 80  # both cases were met


def test_depth_layer_dict_and_function_keys():
    ids = ["embed", "layers.0.attn", "layers.0.mlp", "layers.1.attn", "layers.1.mlp", "norm", "head"]
    g = pjpart.Graph.from_arrays(work=[1] * 7, sizeout=[2] * 7, edges=[(i, i + 1) for i in range(6)], ids=ids)
    assert coarsen(g, 1).graph.ids == ("embed", "layers", "norm", "head")
    assert coarsen(g, 2).graph.ids == ("embed", "layers.0", "layers.1", "norm", "head")
    assert coarsen(g, 3).graph.ids == g.ids
    assert coarsen(g, "layer").graph.ids == ("embed", "layers.0", "layers.1", "norm", "head")
    by_dict = coarsen(g, {"norm": "out", "head": "out"})
    assert by_dict.graph.ids == tuple(ids[:5]) + ("out",) and by_dict.graph.meta["coarsened"]["key"] == "dict"
    assert coarsen(g, lambda v: v.split(".")[0]).graph.ids == ("embed", "layers", "norm", "head")
    # the coarse graph keeps module paths: coarsening it again by depth 1 is coarsening the graph by depth 1
    assert coarsen(coarsen(g, 2).graph, 1).graph.ids == coarsen(g, 1).graph.ids
    for bad, message in [(0, "depth must be >= 1"), ("layers", "key must be a module depth"),
                         (["a"], "1 keys given for 7 nodes")]:
        with pytest.raises(GraphError, match=message):
            coarsen(g, bad)


def test_a_label_never_collides_with_a_node_left_alone():
    g = pjpart.Graph.from_arrays(work=[1, 1, 1], edges=[(0, 1), (1, 2)], ids=["m", "x", "y"])
    assert coarsen(g, [None, "m", "m"]).graph.ids == ("m", "m#2")


def test_layer_structure_pre_post_glue_and_container():
    scopes = {"tok": ["model", "model.embed"], "glue0": [], "l0": ["model", "model.layers.0"],
              "glue1": [], "l1": ["model", "model.layers.1", "model.layers.1.mlp"], "n": ["model", "model.norm"],
              "head": ["lm_head"], "x.0": ["other.0"]}
    ids = list(scopes)
    g = pjpart.Graph.from_arrays(work=[1] * 8, edges=[(i, i + 1) for i in range(7)], ids=ids,
                                 meta={"scopes": scopes})
    assert module_paths(g)[4] == ("model", "model.layers.1", "model.layers.1.mlp")
    s = layer_structure(g)
    assert (s.container, s.count, s.depth) == ("model.layers", 2, 2)
    # glue between the layers belongs to the layer before it; a module-less node joins the unit before it
    assert s.layer.tolist() == [-1, -1, 0, 0, 1, -2, -2, -2]
    assert s.units == ["model.embed", "model.embed", "model.layers.0", "model.layers.0", "model.layers.1",
                       "model.norm", "lm_head", "other.0"]
    assert layer_structure(g, "other").count == 1
    with pytest.raises(GraphError, match="no module 'blocks' with numbered children.*model.layers, other"):
        layer_structure(g, "blocks")
    with pytest.raises(GraphError, match="no layer structure"):
        layer_structure(pjpart.Graph.from_arrays(work=[1, 1], edges=[(0, 1)], ids=["a", "b"]))
