"""The REGAL ``.pbtxt`` importer: ports, control inputs and errors naming the node."""

import pytest

from pjpart import GraphError, load_regal


PBTXT = """
# a hand-written CostGraphDef: node 1 has two output ports, read by nodes 2 (port 0) and 3 (port 1)
node {
  name: "input" id: 0 compute_cost: 3
  output_info { size: 100 alias_input_port: -1 }
}
node {
  name: "split" id: 1 compute_cost: 10 persistent_memory_size: 64
  input_info { preceding_node: 0 preceding_port: 0 }
  output_info { size: 40 alias_input_port: -1 }
  output_info { size: 60 alias_input_port: -1 }
  output_info { size: 999 alias_input_port: -1 }
}
node {
  name: "left" id: 2 compute_cost: 7
  input_info { preceding_node: 1 preceding_port: 0 }
  output_info { size: 8 }
}
node {
  name: "right" id: 3 compute_cost: 5
  input_info { preceding_node: 1 preceding_port: 1 }
  output_info { size: 8 }
  control_input: 2
}
node {
  name: "sink" id: 4 compute_cost: 1
  input_info { preceding_node: 2 preceding_port: 0 }
  input_info { preceding_node: 3 preceding_port: 0 }
  control_input: 0
}
"""


def test_regal_pbtxt_multi_output_and_control_inputs(tmp_path):
    path = tmp_path / "g.pbtxt"
    path.write_text(PBTXT)
    g = load_regal(str(path))
    assert g.ids == ("input", "split", "left", "right", "sink")
    assert g.work.tolist() == [3, 10, 7, 5, 1] and g.params.tolist() == [0, 64, 0, 0, 0]
    # split: ports 0 and 1 are read (40 + 60); port 2 (999) is never read
    assert g.sizeout.tolist() == [100, 100, 8, 8, 0]
    assert {tuple(e) for e in g.edges.tolist()} == {(0, 1), (1, 2), (1, 3), (2, 4), (3, 4), (2, 3), (0, 4)}
    dropped = load_regal(str(path), control="drop")
    assert {tuple(e) for e in dropped.edges.tolist()} == {(0, 1), (1, 2), (1, 3), (2, 4), (3, 4)}
    assert g.units["work"] == "us"
    bad = tmp_path / "bad.pbtxt"
    bad.write_text('node { name: "a" id: 0 input_info { preceding_node: 7 } }')
    with pytest.raises(GraphError, match="node 'a': input_info names unknown preceding_node 7"):
        load_regal(str(bad))
    bad.write_text('node { name: "a" id: 0 compute_cost: 1 ')
    with pytest.raises(GraphError, match="end of file"):
        load_regal(str(bad))
