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


def _gz_bytes(tmp_path):
    p = tmp_path / "ok.json.gz"
    pjpart.save_graph(Graph.from_json(sample()), p)
    return p.read_bytes()


@pytest.mark.parametrize("name, content, needle", [
    ("trunc.json.gz", lambda raw: raw[: len(raw) // 2], "truncated gzip file"),
    ("notgz.json.gz", lambda raw: b'{"nodes": [], "edges": []}', "not a gzip file"),
    ("crc.json.gz", lambda raw: raw[:-8] + bytes(b ^ 0xFF for b in raw[-8:-4]) + raw[-4:], "corrupt gzip file"),
    ("data.json.gz", lambda raw: raw[:12] + bytes(b ^ 0x5A for b in raw[12:40]) + raw[40:], "gzip file"),
    ("latin1.json", lambda raw: '{"name": "caf\xe9", "nodes": [], "edges": []}'.encode("latin-1"),
     "not UTF-8 text (byte 0xe9 at offset 13)"),
    ("empty.json", lambda raw: b"", "empty file"),
    ("blank.json", lambda raw: b"  \n ", "empty file"),
    ("empty.json.gz", lambda raw: gzip.compress(b""), "empty file"),
    ("bad.json", lambda raw: b'{"nodes": [', "malformed JSON at line 1"),
])
def test_unreadable_files_raise_graph_error_naming_the_file(tmp_path, name, content, needle):
    p = tmp_path / name
    p.write_bytes(content(_gz_bytes(tmp_path)))
    with pytest.raises(GraphError) as err:
        load_graph(p)
    assert str(p) in str(err.value) and needle in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(GraphError, match="no such graph file"):
        load_graph(tmp_path / "nope.json")
    with pytest.raises(GraphError, match="is a folder"):
        load_graph(tmp_path)


def test_graph_errors_from_a_file_name_the_file(tmp_path):
    d = sample()
    d["edges"].append(["a", "zz"])
    p = tmp_path / "g.json"
    p.write_text(json.dumps(d))
    with pytest.raises(GraphError, match=r"g\.json: edge #3 .* unknown node 'zz'"):
        load_graph(p)


def test_ids_equal_as_strings_are_duplicates():
    d = sample()
    d["nodes"].append({"id": "7"})  # node 7 (an integer) is already there
    with pytest.raises(GraphError) as err:
        Graph.from_json(d)
    assert "duplicate node id" in str(err.value) and "(id 7)" in str(err.value) and "(id '7')" in str(err.value)
    with pytest.raises(GraphError, match="equal as strings"):
        Graph.from_arrays(work=[1, 1], ids=[1, "1"])
    with pytest.raises(GraphError, match="equal as strings"):
        Graph.from_arrays(work=[1, 1], ids=[np.int64(3), "3"])


def test_sums_that_overflow_are_rejected_naming_the_field():
    d = {"nodes": [{"id": "a", "work": 1e308}, {"id": "b", "work": 1e308}], "edges": [["a", "b"]]}
    with pytest.raises(GraphError, match="field 'work' sums to infinity over the graph's nodes"):
        Graph.from_json(d)
    with pytest.raises(GraphError, match="field 'sizeout' sums to infinity"):
        Graph.from_arrays(work=[1, 1], sizeout=[1.7e308, 1.7e308])
    assert Graph.from_arrays(work=[1e308, 7e307]).work.sum() < np.inf  # finite totals are fine


def test_values_beyond_float64_and_odd_endpoints():
    d = sample()
    d["nodes"][1]["work"] = 10 ** 400
    with pytest.raises(GraphError, match="'work' of node 'b' is too large for float64"):
        Graph.from_json(d)
    for end in (True, 1.0, None):
        d = {"nodes": [{"id": 1}, {"id": 2}], "edges": [[end, 2]]}
        with pytest.raises(GraphError, match="unknown node"):
            Graph.from_json(d)
    with pytest.raises(GraphError, match="'units' must be an object"):
        Graph.from_json({**sample(), "units": "s"})


def test_unknown_node_fields_warn_once_per_field_or_raise_when_strict(tmp_path):
    d = sample()
    d["nodes"][1]["wrk"] = 4
    d["nodes"][2]["wrk"] = 1
    d["nodes"][2]["op"] = "add"
    with pytest.warns(UserWarning) as caught:
        g = Graph.from_json(d)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "unknown node field 'wrk' (first on node 'b')" in messages[0] and "'op'" in messages[1]
    assert g.work.tolist() == [1, 4, 0.5]  # ignored, nothing else changed
    with pytest.raises(GraphError, match="unknown node field 'wrk' \\(first on node 'b'\\)"):
        Graph.from_json(d, strict=True)
    p = tmp_path / "typo.json"
    p.write_text(json.dumps(d))
    with pytest.warns(UserWarning) as caught:
        load_graph(p)
    assert [str(w.message).split("; ")[0] for w in caught] == [f"{p}: unknown node field 'wrk' (first on node 'b')",
                                                               f"{p}: unknown node field 'op' (first on node 7)"]
    with pytest.raises(GraphError, match="typo.json: unknown node field 'wrk'"):
        load_graph(p, strict=True)


def test_known_node_fields_cover_what_pjpart_writes(recwarn):
    from pjpart.graph import NODE_FIELDS

    g = Graph.from_json(sample())
    assert set(k for node in g.to_json()["nodes"] for k in node) <= set(NODE_FIELDS)
    for name in ("tiny", "resnet50"):
        load_graph(pjpart.example_path(name), strict=True)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
