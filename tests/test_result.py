"""PartitionResult: the JSON shape of a result."""

import json
import math

import pjpart
from pjpart import partition


def test_result_json_shape():
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    r = partition(g, 3)
    d = json.loads(json.dumps(r.to_json()))
    assert d["graph"] == "tiny" and d["k"] == 3 and set(d["assignment"]) == set(g.ids)
    assert d["bottleneck"] == max(d["stage_costs"]) and d["gap"] == 0.0
    assert d["lower_bound"] <= d["bottleneck"] and len(d["stages"]) == 3
    assert math.isclose(d["throughput"], 1 / d["bottleneck"]) and math.isclose(d["latency"], 3 * d["bottleneck"])
