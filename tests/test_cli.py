"""The pjpart command: table, JSON output re-checked independently, exit codes, flags."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pjpart
from pjpart import CostModel
from pjpart.cli import main
from pjpart.generators import random_dag
from pjpart.reference import exhaustive_partition


def recount(graph_json, result, cm):
    """Recompute the bottleneck from the JSON files alone (set definitions, no pjpart code)."""
    nodes = {n["id"]: n for n in graph_json["nodes"]}
    stage = result["assignment"]
    succ = {v: [] for v in nodes}
    for u, v in graph_json["edges"]:
        assert stage[str(u) if isinstance(u, int) else u] <= stage[str(v) if isinstance(v, int) else v]
        succ[u].append(v)
    key = lambda v: str(v) if isinstance(v, int) else v  # JSON object keys are strings
    costs = []
    for b in range(result["k"]):
        S = {v for v in nodes if stage[key(v)] == b}
        work = sum(nodes[v].get("work", 0) for v in S)
        params = sum(nodes[v].get("params", 0) for v in S)
        ins = sum(nodes[u].get("sizeout", 0) for u in nodes if u not in S and any(w in S for w in succ[u]))
        outs = sum(nodes[u].get("sizeout", 0) for u in S if any(w not in S for w in succ[u]))
        costs.append(work + (ins + outs) / cm["bandwidth"] + max(0, params - cm["memory"]) / cm["overflow_bandwidth"])
    return max(costs)


def test_cli_json_on_unseen_graphs_is_optimal(tmp_path, rng, capsys):
    for t in range(8):
        g = random_dag(int(rng.integers(2, 10)), rng)
        gj = g.to_json()
        path = tmp_path / f"g{t}.json"
        path.write_text(json.dumps(gj))
        out = tmp_path / f"r{t}.json"
        k = int(rng.integers(1, 5))
        assert main(["partition", str(path), "-k", str(k), "--bandwidth", "0.5", "--memory", "1.0",
                     "--overflow-bandwidth", "2", "--json", str(out), "--quiet"]) == 0
        res = json.loads(out.read_text())
        cm = {"bandwidth": 0.5, "memory": 1.0, "overflow_bandwidth": 2.0}
        assert np.isclose(recount(gj, res, cm), res["bottleneck"], rtol=1e-9)
        opt, _ = exhaustive_partition(g, k, pjpart.CostModel(bandwidth=0.5, memory=1.0, overflow_bandwidth=2))
        assert np.isclose(res["bottleneck"], opt, rtol=1e-9)
    table = capsys.readouterr().out
    assert "bottleneck" in table and "<- bottleneck" in table and "gap" in table


@pytest.mark.parametrize("argv, needle", [
    (["partition", "tiny", "-k", "0"], "k must be >= 1"),
    (["partition", "missing.json", "-k", "2"], "missing.json"),
    (["partition", "tiny", "-k", "2", "--memory-limit", "1"], "no feasible partition: node"),
])
def test_cli_bad_input_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_cli_cycle_file_exit_2(tmp_path, capsys):
    p = tmp_path / "cyc.json"
    p.write_text(json.dumps({"nodes": [{"id": "x"}, {"id": "y"}], "edges": [["x", "y"], ["y", "x"]]}))
    assert main(["partition", str(p), "-k", "2"]) == 2
    assert "cycle" in capsys.readouterr().err


@pytest.mark.slow  # CLI subprocesses
def test_installed_entry_point(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "pjpart")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "pjpart.cli"]
    out = tmp_path / "r.json"
    proc = subprocess.run(cmd + ["partition", "resnet50", "-k", "4", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert res["k"] == 4 and len(res["assignment"]) == pjpart.load_graph(pjpart.example_path("resnet50")).n
    bad = subprocess.run(cmd + ["partition", "resnet50", "-k", "x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.slow  # three CLI subprocesses (about 18 s)
def test_cli_compile_cache_flags(tmp_path):
    graph = tmp_path / "g.json"  # over 2048 downsets: searched, not solved by the exact DP
    pjpart.save_graph(random_dag(40, np.random.default_rng(1), density=0.1), str(graph))
    exe = [sys.executable, "-m", "pjpart.cli", "partition", str(graph), "-k", "3", "--quiet",
           "--max-evaluations", "200"]
    env = {**os.environ, "PJPART_CACHE_DIR": str(tmp_path / "from-env")}
    proc = subprocess.run(exe + ["--compile-cache", str(tmp_path / "given")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert any((tmp_path / "given").glob("*-cache")) and not (tmp_path / "from-env").exists()
    proc = subprocess.run(exe + ["--no-compile-cache"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "from-env").exists()
    proc = subprocess.run(exe, capture_output=True, text=True, env=env, timeout=300)  # the default: from the env
    assert proc.returncode == 0, proc.stderr
    assert any((tmp_path / "from-env").glob("*-cache"))


def test_cli_bound_mip_equals_the_optimum_of_unseen_graphs(tmp_path, rng, capsys):
    for trial in range(6):
        g = random_dag(int(rng.integers(4, 9)), rng, density=0.35)
        k = int(rng.integers(2, 5))
        path = tmp_path / f"g{trial}.json"
        pjpart.save_graph(g, str(path))
        out = tmp_path / f"b{trial}.json"
        assert main(["bound", str(path), "-k", str(k), "--method", "mip", "--json", str(out)]) == 0
        data = json.loads(out.read_text())
        opt, _ = exhaustive_partition(pjpart.load_graph(str(path)), k, CostModel())
        assert data["method"] == "mip" and data["lower_bound"] <= opt
        assert data["lower_bound"] == pytest.approx(opt, rel=1e-5)
        assert all(m["value"] <= opt for m in data["methods"])
    assert "mip" in capsys.readouterr().out


def test_cli_bound_bad_input_exits_2(tmp_path, capsys):
    assert main(["bound", str(tmp_path / "missing.json"), "-k", "2"]) == 2
    assert "error" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["bound", "tiny", "-k", "2", "--method", "nope"])
    assert exc.value.code == 2
