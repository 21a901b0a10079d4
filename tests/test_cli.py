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
    (["partition", "tiny", "-k", "0"], "-k must be an integer >= 1, got '0'"),
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
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "pjpart"]
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
    # the paper preset computes no bound first (bottleneck guessing would prove the optimum unsearched)
    exe = [sys.executable, "-m", "pjpart.cli", "partition", str(graph), "-k", "3", "--quiet",
           "--max-evaluations", "200", "--preset", "paper"]
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
    assert main(["bound", "tiny", "-k", "2", "--method", "nope"]) == 2
    err = capsys.readouterr().err
    assert "pjpart: error: argument --method: invalid choice: 'nope'" in err and "usage:" in err


def test_json_dash_is_stdout_and_the_table_goes_to_stderr(capsys):
    assert main(["partition", "tiny", "-k", "2", "--quiet", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["bottleneck"] == 14 and "<- bottleneck" in err and "graph tiny" in err
    assert not os.path.exists("-")
    assert main(["bound", "tiny", "-k", "2", "--method", "combinatorial", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["method"] == "combinatorial" and "lower bounds" in err


def test_table_has_units_params_and_the_cost_model_with_its_source(tmp_path, capsys):
    g = pjpart.Graph.from_arrays(work=[1, 2, 3], params=[5, 6, 7], sizeout=[1, 1, 1], edges=[(0, 1), (1, 2)],
                                 name="three", meta={"cost_model": {"bandwidth": 2.0}})
    data = {**g.to_json(), "units": {"work": "ms", "params": "MB", "sizeout": "kB"}}
    path = tmp_path / "three.json"
    path.write_text(json.dumps(data))
    assert main(["partition", str(path), "-k", "2", "--quiet", "--memory", "100"]) == 0
    out = capsys.readouterr().out
    assert f"graph three (file {path}, 3 nodes, 2 edges)" in out
    head = next(line for line in out.splitlines() if line.lstrip().startswith("stage"))
    assert head.split() == ["stage", "nodes", "work", "[ms]", "in", "[kB]", "out", "[kB]", "params", "[MB]",
                            "overflow", "[ms]", "cost", "[ms]"]
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["0"], ["1"])]
    assert sum(float(r[5]) for r in rows) == 18  # the params column
    assert ("cost model: bandwidth 2 kB/ms, memory 100 MB, overflow bandwidth 1 MB/ms, memory limit inf MB "
            "(from the graph file's cost_model: bandwidth; --memory; defaults: overflow_bandwidth, memory_limit)"
            in out)
    assert main(["partition", "tiny", "-k", "2", "--quiet"]) == 0
    assert "(the defaults)" in capsys.readouterr().out


def test_the_graph_line_says_which_resnet50_was_loaded(capsys):
    for spec, line in [("resnet50", "graph resnet50 (bundled example, 175 nodes; the zoo model is `zoo:resnet50`)"),
                       ("example:resnet50", "graph resnet50 (bundled example, 175 nodes"),
                       ("zoo:resnet50", "graph resnet50 (zoo model, 176 nodes; the bundled example is "
                                        "`example:resnet50`)")]:
        assert main(["bound", spec, "-k", "2", "--method", "combinatorial"]) == 0
        assert capsys.readouterr().out.splitlines()[0].startswith(line)
    assert main(["bound", "resnet05", "-k", "2"]) == 2
    err = capsys.readouterr().err
    assert "unknown graph 'resnet05'" in err and "`pjpart zoo list`" in err and "did you mean 'resnet50'" in err


def test_help_texts_state_defaults_and_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["partition", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "pjpart zoo list" in text and "zoo:NAME" in text and "example:NAME" in text and "Examples:" in text
    for name in pjpart.PRESETS:
        stop = pjpart.load_preset(name).stop
        rule = f"time limit {stop.time_limit:g} s" if stop.time_limit else f"no time limit, {stop.generations} generations"
        assert any(line.split()[:1] == [name] and rule in line for line in text.splitlines()), name
    for needle in ("--seed N (default 0)", "evaluation budget", "given alone it bounds the run with no",
                   "--preset, default `default`", "175 nodes", "176"):
        assert needle in " ".join(text.split()), needle
    for argv in (["bound", "--help"], ["zoo", "run", "--help"], ["--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "Examples:" in capsys.readouterr().out


@pytest.mark.parametrize("flag, values, message", [
    ("--bandwidth", ["-1", "0", "nan", "inf", "x"], "--bandwidth must be a finite number > 0 (bytes/s), got"),
    ("--overflow-bandwidth", ["-1", "0", "inf"], "--overflow-bandwidth must be a finite number > 0 (bytes/s), got"),
    ("--memory", ["-1", "nan", "x"], "--memory must be a number >= 0 or inf (bytes), got"),
    ("--memory-limit", ["-1", "nan"], "--memory-limit must be a number >= 0 or inf (bytes), got"),
    ("--time-limit", ["-1", "0", "nan", "inf"], "--time-limit must be a finite number > 0 (seconds), got"),
    ("--max-evaluations", ["0", "-5", "1.5", "x"], "--max-evaluations must be an integer >= 1, got"),
    ("--seed", ["-1", "1.5"], "--seed must be an integer >= 0, got"),
    ("-k", ["0", "-1", "1.5", "x"], "-k must be an integer >= 1, got"),
])
def test_each_flag_has_one_message_naming_its_range(flag, values, message, capsys):
    for value in values:
        argv = ["partition", "tiny", "-k", "2", flag, value] if flag != "-k" else ["partition", "tiny", "-k", value]
        assert main(argv) == 2
        assert capsys.readouterr().err == f"pjpart: error: {message} {value!r}\n"
    ok = {"--bandwidth": "1e9", "--overflow-bandwidth": "5", "--memory": "inf", "--memory-limit": "inf",
          "--time-limit": "5", "--max-evaluations": "1e4", "--seed": "3", "-k": "3"}[flag]
    argv = ["partition", "tiny", "-k", "2", flag, ok] if flag != "-k" else ["partition", "tiny", "-k", ok]
    assert main(argv + ["--quiet"]) == 0


def test_a_closed_stdout_ends_quietly(monkeypatch, capsys):
    class Closed:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["zoo", "list"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.slow  # CLI subprocesses
def test_python_m_pjpart_and_a_closed_pipe():
    proc = subprocess.run([sys.executable, "-m", "pjpart", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("pjpart ")
    proc = subprocess.Popen([sys.executable, "-m", "pjpart", "zoo", "list", "--all"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written (like `| head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == "", err
