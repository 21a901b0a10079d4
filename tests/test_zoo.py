"""The bundled model zoo: real models listed, loaded and round-tripped."""

import json

import networkx as nx
import numpy as np
import pytest

import pjpart
from pjpart import zoo


def test_zoo_lists_real_models_and_they_load_and_round_trip():
    names = zoo.names()
    assert len(names) >= 30
    for family in ("bert-base", "bert-large", "gpt2-small", "gpt2-medium", "llama-1b-gqa", "vit-b16", "t5-base"):
        assert family in names
    assert any(n.startswith("mixtral") for n in names)
    assert any(zoo.info(n)["n"] >= 700 for n in zoo.names(granularity="op"))
    for name in zoo.names(granularity=None):
        zoo.load(name, strict=True)  # the bundled files carry no unknown node field
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


def test_unknown_zoo_model_suggests_close_names():
    with pytest.raises(pjpart.GraphError, match="unknown zoo model 'resnet5'.*pjpart zoo list.*did you mean 'resnet50'"):
        zoo.load("resnet5")


def test_graph_names_examples_first_and_prefixes_choose():
    from pjpart.examples import describe_graph, locate_graph

    g, source = locate_graph("resnet50")
    assert (g.n, source) == (175, "example")
    assert "bundled example, 175 nodes; the zoo model is `zoo:resnet50`" in describe_graph(g, source)
    g, source = locate_graph("zoo:resnet50")
    assert (g.n, source) == (176, "zoo") and "zoo model, 176 nodes" in describe_graph(g, source)
    assert locate_graph("example:tiny")[1] == "example" and pjpart.resolve_graph("bert-base").name == "bert-base"
    with pytest.raises(pjpart.GraphError, match="unknown graph 'bert-bse'.*`pjpart zoo list`.*'bert-base'"):
        pjpart.resolve_graph("bert-bse")
    with pytest.raises(pjpart.GraphError, match="unknown example 'tin'.*did you mean 'tiny'"):
        pjpart.resolve_graph("example:tin")
    with pytest.raises(pjpart.GraphError, match="nope.json: no such graph file"):
        pjpart.resolve_graph("nope.json")
