"""Graph model: constructors, round trips, CSR, and every bad-input class named in the error."""

import gzip
import json

import networkx as nx
import numpy as np
import pytest

import pjpart
from pjpart import Graph, GraphError, load_graph


def sample():
    return {"name": "s", "nodes": [{"id": "a", "work": 1, "params": 2, "sizeout": 3},
                                   {"id": "b", "work": 4}, {"id": 7, "work": 0.5, "sizeout": 1}],
            "edges": [["a", "b"], ["b", 7], ["a", 7]]}


def test_from_json_fields_defaults_and_csr():
    g = Graph.from_json(sample())
    assert g.ids == ("a", "b", 7)
    assert g.work.tolist() == [1, 4, 0.5] and g.params.tolist() == [2, 0, 0] and g.sizeout.tolist() == [3, 0, 1]
    assert g.work.dtype == np.float64 and g.edges.shape == (3, 2)
    assert sorted(g.successors(0).tolist()) == [1, 2] and g.predecessors(2).tolist() == [0, 1]
    assert g.topological_order().tolist() == [0, 1, 2]


def test_parallel_edges_merged():
    d = sample()
    d["edges"].append(["a", "b"])
    assert Graph.from_json(d).m == 3


def test_json_file_and_gz_round_trip(tmp_path):
    g = Graph.from_json(sample())
    for name in ("g.json", "g.json.gz"):
        path = tmp_path / name
        pjpart.save_graph(g, path)
        h = load_graph(path)
        assert h.ids == g.ids and np.array_equal(h.edges, g.edges)
        for f in ("work", "params", "sizeout"):
            assert np.array_equal(getattr(h, f), getattr(g, f))


def test_networkx_round_trip():
    g = Graph.from_json(sample())
    nxg = g.to_networkx()
    assert isinstance(nxg, nx.DiGraph) and nxg.nodes["a"]["params"] == 2
    h = Graph.from_networkx(nxg)
    assert h.ids == g.ids and np.array_equal(h.edges, g.edges) and np.array_equal(h.work, g.work)


def test_from_arrays():
    g = Graph.from_arrays(work=[1, 2], edges=[(1, 0)], ids=["x", "y"])
    assert g.topological_order().tolist() == [1, 0] and g.params.tolist() == [0, 0]


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["edges"].append([7, "a"]), "cycle"),
    (lambda d: d["edges"].append(["b", "b"]), "self-loop on node 'b'"),
    (lambda d: d["edges"].append(["a", "zz"]), "unknown node 'zz'"),
    (lambda d: d["nodes"].append({"id": "a"}), "duplicate node id 'a'"),
    (lambda d: d["nodes"][1].update(work=-1), "'work' of node 'b' is negative"),
    (lambda d: d["nodes"][1].update(params=float("nan")), "'params' of node 'b' is NaN"),
    (lambda d: d["nodes"][1].update(sizeout=float("inf")), "'sizeout' of node 'b' is infinite"),
    (lambda d: d["nodes"][1].update(work="fast"), "'work' of node 'b' must be a number"),
    (lambda d: d["nodes"][1].update(work=True), "'work' of node 'b' must be a number"),
    (lambda d: d.pop("nodes"), "missing the field 'nodes'"),
    (lambda d: d.pop("edges"), "missing the field 'edges'"),
    (lambda d: d["edges"].append(["a"]), "edge #3"),
    (lambda d: d["nodes"].append({"work": 1}), "node #3"),
])
def test_bad_input_names_the_fault(mutate, needle):
    d = sample()
    mutate(d)
    with pytest.raises(GraphError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        Graph.from_json(d)


def test_cycle_error_names_a_node_on_the_cycle():
    d = {"nodes": [{"id": x} for x in "abcde"],
         "edges": [["a", "b"], ["b", "c"], ["c", "d"], ["d", "b"], ["d", "e"]]}
    with pytest.raises(GraphError) as err:
        Graph.from_json(d)
    msg = str(err.value)
    assert "cycle" in msg and any(f"node '{x}'" in msg for x in "bcd")
    assert "'a'" not in msg and "'e'" not in msg


def test_empty_graph_and_bad_k():
    with pytest.raises(GraphError, match="no nodes"):
        Graph.from_json({"nodes": [], "edges": []})
    g = Graph.from_json(sample())
    for k in (0, -3, 1.5, "2"):
        with pytest.raises(GraphError, match="k must be"):
            pjpart.partition(g, k)


def test_malformed_json_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"nodes": [')
    with pytest.raises(GraphError, match="malformed JSON"):
        load_graph(p)
    p.write_text("[1, 2]")
    with pytest.raises(GraphError, match="object"):
        load_graph(p)


def test_gz_file_loads(tmp_path):
    p = tmp_path / "x.json.gz"
    with gzip.open(p, "wt") as fh:
        json.dump(sample(), fh)
    assert load_graph(p).n == 3


def test_bundled_examples_load():
    for name in ("tiny", "resnet50"):
        g = load_graph(pjpart.example_path(name))
        assert g.n > 5 and g.m > 5
