"""The pjpart command: table, JSON output re-checked independently, exit codes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pjpart
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


def test_report_html_and_markdown_have_every_part(tmp_path):
    from pjpart.report import SECTIONS

    out = tmp_path / "r.html"
    assert main(["partition", "tiny", "-k", "3", "--report", str(out), "--quiet"]) == 0
    text = out.read_text()
    for part in SECTIONS:
        assert f"<h2>{part}</h2>" in text
    assert text.count('src="data:image/png;base64,') == 2 and "gap 0.000%" in text
    md = tmp_path / "new" / "folder" / "r.md"  # folders that do not exist yet are made
    assert main(["partition", "tiny", "-k", "2", "--report", str(md), "--quiet"]) == 0
    text = md.read_text()
    for part in SECTIONS:
        assert f"## {part}" in text
    assert (md.parent / "r_stages.png").stat().st_size > 1000 and (md.parent / "r_convergence.png").exists()


CACHE_SCRIPT = """
import json, sys
import jax
import pjpart
from pjpart.generators import dnn_like

hits = []
jax.monitoring.register_event_listener(
    lambda event, **kw: hits.append(event) if event == "/jax/compilation_cache/cache_hits" else None)
folder = pjpart.enable_compilation_cache(sys.argv[1])
r = pjpart.partition(dnn_like(60, seed=1), 3, seed=0, max_evaluations=300, exact_max_downsets=0,
                     bound_methods="combinatorial", local_search=False)
print(json.dumps({"hits": len(hits), "bottleneck": r.bottleneck, "folder": folder}))
"""


def test_compile_cache_is_written_then_loaded_by_a_later_process(tmp_path):
    # JAX decides at a process's first compilation whether a cache is in use: two processes
    folder = tmp_path / "cache"
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", CACHE_SCRIPT, str(folder)], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert runs[0]["hits"] == 0 and runs[0]["folder"] == str(folder)
    assert len(list(folder.glob("*-cache"))) >= 2  # the decoder and the fitness kernel at least
    assert runs[1]["hits"] >= 2  # loaded, not compiled again
    assert runs[1]["bottleneck"] == runs[0]["bottleneck"]  # the same executables, the same answer


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
