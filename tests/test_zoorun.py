"""``pjpart zoo``: listing the zoo and a resumable zoo run with its tables and plots."""

import json

from pjpart.cli import main


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
    # resumes: a second run does no new work
    assert main(["zoo", "run", "-k", "4", "--models", "resnet50", "--out", str(outdir), "--quiet"]) == 0
    assert json.loads((outdir / "results.json").read_text()) == records
    assert main(["zoo", "run", "--models", "nothing*", "--out", str(outdir), "--quiet"]) == 2
