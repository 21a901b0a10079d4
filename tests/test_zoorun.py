"""``pjpart zoo``: listing the zoo and a resumable zoo run with its tables and plots."""

import csv
import json

import pytest

from pjpart.cli import main


@pytest.mark.slow  # writes plots (about 2 s)
def test_cli_zoo_list_and_run(tmp_path, capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "bert-base" in out
    outdir = tmp_path / "z"
    assert main(["zoo", "run", "-k", "4", "--models", "resnet50", "--time-limit", "10", "--out", str(outdir),
                 "--quiet"]) == 0
    records = json.loads((outdir / "results.json").read_text())
    assert len(records) == 1 and records[0]["graph"] == "resnet50" and records[0]["k"] == 4
    assert (outdir / "results.csv").exists() and "geo-mean gap" in (outdir / "summary.md").read_text()
    assert (outdir / "gaps.png").exists()
    # resumes: a second run (the default preset's time limit is 10 s too) does no new work
    assert main(["zoo", "run", "-k", "4", "--models", "resnet50", "--out", str(outdir), "--quiet"]) == 0
    assert json.loads((outdir / "results.json").read_text()) == records
    assert main(["zoo", "run", "--models", "nothing*", "--out", str(outdir), "--quiet"]) == 2


@pytest.mark.slow  # five zoo runs with plots (about 2 s)
def test_zoo_run_resumes_only_on_equal_settings_and_merges_rows(tmp_path, capsys):
    out = tmp_path / "z"
    out.mkdir()
    old = {"graph": "densenet121", "k": 4, "method": "default", "seed": 0, "bottleneck": 1.0, "gap": 0.0,
           "seconds": 1.0}  # a row of an older pjpart: kept, never resumed from
    (out / "results.json").write_text(json.dumps([old]))
    run = ["zoo", "run", "-k", "4", "--out", str(out), "--quiet"]
    assert main(run + ["--models", "resnet50", "--time-limit", "2"]) == 0
    assert main(run + ["--models", "resnet50", "--time-limit", "30"]) == 0  # not the 2 s result
    rows = json.loads((out / "results.json").read_text())
    assert rows[0] == old and sorted(r.get("time_limit", -1) for r in rows) == [-1, 2.0, 30.0]
    summary = (out / "summary.md").read_text()
    assert "| default | 2 s |" in summary and "| default | 30 s |" in summary and "| default | ? |" in summary
    assert "3 rows of results.json" in summary
    assert main(run + ["--models", "vgg16", "--time-limit", "2"]) == 0  # another selection: merged, not truncated
    rows = json.loads((out / "results.json").read_text())
    assert {(r["graph"], r.get("time_limit")) for r in rows} == {("densenet121", None), ("resnet50", 2.0),
                                                                  ("resnet50", 30.0), ("vgg16", 2.0)}
    assert len(list(csv.DictReader(open(out / "results.csv")))) == 4
    assert main(run + ["--models", "vgg16", "--time-limit", "2"]) == 0  # resumed: nothing added
    assert len(json.loads((out / "results.json").read_text())) == 4
    capsys.readouterr()
    (out / "results.json").write_text("{not json")
    assert main(run + ["--models", "vgg16"]) == 2
    assert "results.json: not a results file" in capsys.readouterr().err


def test_zoo_run_backend_flags_are_checked(tmp_path, capsys):
    run = ["zoo", "run", "--models", "resnet50", "--out", str(tmp_path / "z"), "--quiet"]
    for flags, message in [(["--jobs", "0"], "--jobs must be an integer >= 1"),
                           (["--address", "tcp://127.0.0.1:8786"], "--address is for --backend dask or ray"),
                           (["--backend", "sequential", "--jobs", "2"], "runs one cell at a time")]:
        assert main(run + flags) == 2
        assert message in capsys.readouterr().err
    assert main(run + ["--backend", "spark"]) == 2
    assert not (tmp_path / "z").exists()


def test_summary_counts_failed_rows_apart():
    from pjpart.zoorun import summary_table

    ok = {"graph": "a", "k": 2, "method": "fast", "time_limit": 1.0, "max_evaluations": None, "status": "ok",
          "gap": 0.1, "seconds": 2.0}
    failed = {**ok, "graph": "b", "status": "failed", "gap": None, "seconds": None, "error": "worker died"}
    table = summary_table([ok, failed, {**failed, "k": 4}])
    assert "| fast | 1 s | none | 2 | 1 | 10.00% | 10.00% | 2.00 | 1 |" in table
    assert "| fast | 1 s | none | 4 | 0 | - | - | - | 1 |" in table


def test_zoo_run_reruns_only_failed_rows_and_keeps_the_others(tmp_path, capsys):
    from pjpart import zoo
    from pjpart.sweep import failed_record, settings

    out = tmp_path / "z"
    out.mkdir()
    failed = failed_record(settings(zoo.load("resnet50"), 4, "fast", 0, None, 1.0, {}), "worker died 2 times: x")
    other = {**settings(zoo.load("vgg16"), 4, "fast", 0, None, 1.0, {}), "status": "ok", "bottleneck": 2.0,
             "bound": 1.0, "bound_method": "combinatorial", "gap": 1.0, "seconds": 1.0}
    (out / "results.json").write_text(json.dumps([other, failed]))
    assert main(["zoo", "run", "-k", "4", "--models", "resnet50", "--preset", "fast", "--time-limit", "1",
                 "--out", str(out), "--quiet"]) == 0
    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == 2 and rows[0] == {**other, "own_bound": 1.0, "own_bound_method": "combinatorial"}
    assert rows[1]["graph"] == "resnet50" and rows[1]["status"] == "ok" and rows[1]["bottleneck"] > 0
    assert "error" not in rows[1] and rows[1]["hostname"]


@pytest.mark.slow  # starts a two-process Dask cluster (1-10 s, by the machine's load)
def test_zoo_run_on_a_local_dask_cluster(tmp_path, capsys):
    out = tmp_path / "z"
    assert main(["zoo", "run", "-k", "2", "--models", "resnet50,vgg16", "--preset", "fast", "--time-limit", "2",
                 "--backend", "dask", "--jobs", "2", "--out", str(out), "--quiet"]) == 0
    rows = json.loads((out / "results.json").read_text())
    assert sorted(r["graph"] for r in rows) == ["resnet50", "vgg16"]
    assert all(r["status"] == "ok" and r["bound"] <= r["bottleneck"] for r in rows)
    assert "| fast | 2 s | none | 2 | 2 |" in (out / "summary.md").read_text()
