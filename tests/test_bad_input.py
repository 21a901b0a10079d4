"""Every class of bad input, replayed through the command line in this process: exit code 2 and
``pjpart: error: <message>`` naming the culprit (a warning, exit 0, for an unknown node field).

The same cases generate ``docs/bad_input.md``: ``PJPART_WRITE_DOCS=1 python -m pytest -q
tests/test_bad_input.py`` rewrites it; otherwise the test fails when the file is out of date,
so the table never drifts from what pjpart does.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pjpart.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_input.md"


def _graph(**node_b) -> dict:
    """A three-node chain a -> b -> c; ``node_b`` changes node b."""
    return {"name": "g", "nodes": [{"id": "a", "work": 1, "params": 2, "sizeout": 3},
                                   {"id": "b", "work": 2, "params": 2, "sizeout": 1, **node_b},
                                   {"id": "c", "work": 1, "params": 1, "sizeout": 0}],
            "edges": [["a", "b"], ["b", "c"]]}


def _json(data) -> bytes:
    return json.dumps(data).encode()


def _with(change) -> bytes:
    data = _graph()
    change(data)
    return _json(data)


GOOD_GZ = gzip.compress(_json(_graph()), mtime=0)


@dataclass
class Case:
    """One bad input: a class, the input in words, the command, the files it needs, what the
    message must name, and the exit code (2 unless a warning)."""

    group: str
    what: str
    argv: list
    needles: list
    files: dict = field(default_factory=dict)
    code: int = 2
    #: not the job of the command line: behaviour owned by the search/cost changes, shown as it is
    pending: str | None = None


G = ["partition", "g.json", "-k", "2", "--quiet"]
T = ["partition", "tiny", "-k", "2", "--quiet"]
GOOD = {"g.json": _json(_graph())}

CASES = [
    # ------------------------------------------------------------------ the graph file
    Case("graph file", "missing file", ["partition", "missing.json", "-k", "2"], ["missing.json", "no such"]),
    Case("graph file", "a folder given as the graph", ["partition", "folder.json", "-k", "2"],
         ["folder.json", "is a folder"], {"folder.json/": b""}),
    Case("graph file", "empty file", G, ["g.json", "empty file"], {"g.json": b""}),
    Case("graph file", "not JSON", G, ["g.json", "malformed JSON at line 1 column 1"], {"g.json": b"hello"}),
    Case("graph file", "JSON cut short", G, ["g.json", "malformed JSON"], {"g.json": _json(_graph())[:40]}),
    Case("graph file", "not UTF-8 (Latin-1 text)", G, ["g.json", "not UTF-8", "0xe9"],
         {"g.json": '{"name": "caf\xe9"}'.encode("latin-1")}),
    Case("graph file", "truncated .json.gz", ["partition", "g.json.gz", "-k", "2"], ["g.json.gz", "truncated gzip"],
         {"g.json.gz": GOOD_GZ[: len(GOOD_GZ) // 2]}),
    Case("graph file", ".json.gz that is not gzip", ["partition", "g.json.gz", "-k", "2"],
         ["g.json.gz", "not a gzip file"], {"g.json.gz": _json(_graph())}),
    Case("graph file", "corrupt .json.gz (bad CRC)", ["partition", "g.json.gz", "-k", "2"],
         ["g.json.gz", "corrupt gzip file"],
         {"g.json.gz": GOOD_GZ[:-8] + bytes(b ^ 0xFF for b in GOOD_GZ[-8:-4]) + GOOD_GZ[-4:]}),
    Case("graph file", "missing `.onnx` file", ["partition", "m.onnx", "-k", "2"], ["m.onnx", "no such graph file"]),
    Case("graph file", "`.onnx` that is not an ONNX model", ["partition", "m.onnx", "-k", "2", "--quiet"],
         ["m.onnx", "not an ONNX model"], {"m.onnx": b"garbage"}),
    Case("graph file", "malformed `.pbtxt` (REGAL)", ["partition", "m.pbtxt", "-k", "2", "--quiet"],
         ["m.pbtxt", "pbtxt line 1"], {"m.pbtxt": b"node { name: \n"}),
    Case("graph file", "top level not an object", G, ["g.json", "must be an object"], {"g.json": b"[1, 2]"}),
    Case("graph file", "missing `nodes`", G, ["missing the field 'nodes'"],
         {"g.json": _with(lambda d: d.pop("nodes"))}),
    Case("graph file", "missing `edges`", G, ["missing the field 'edges'"],
         {"g.json": _with(lambda d: d.pop("edges"))}),
    Case("graph file", "`nodes` not a list", G, ["'nodes' must be a list"],
         {"g.json": _with(lambda d: d.update(nodes={"a": {}}))}),
    Case("graph file", "`units` not an object", G, ["'units' must be an object"],
         {"g.json": _with(lambda d: d.update(units="s"))}),
    Case("graph file", "empty graph", G, ["no nodes"], {"g.json": _json({"nodes": [], "edges": []})}),
    Case("nodes", "node without an id", G, ["node #3", "'id'"],
         {"g.json": _with(lambda d: d["nodes"].append({"work": 1}))}),
    Case("nodes", "id neither string nor integer (1.5)", G, ["node #3", "1.5"],
         {"g.json": _with(lambda d: d["nodes"].append({"id": 1.5}))}),
    Case("nodes", "duplicate id", G, ["duplicate node id 'a'", "#0", "#3"],
         {"g.json": _with(lambda d: d["nodes"].append({"id": "a"}))}),
    Case("nodes", "ids `1` and `\"1\"` (equal as strings)", G, ["duplicate node id", "(id 1)", "(id '1')"],
         {"g.json": _with(lambda d: d["nodes"].extend([{"id": 1}, {"id": "1"}]))}),
    Case("nodes", "negative value", G, ["'work' of node 'b'", "negative"], {"g.json": _json(_graph(work=-1))}),
    Case("nodes", "NaN value", G, ["'params' of node 'b'", "NaN"],
         {"g.json": _json(_graph(params=float("nan")))}),
    Case("nodes", "infinite value (`1e999`)", G, ["'sizeout' of node 'b'", "infinite"],
         {"g.json": _json(_graph()).replace(b'"sizeout": 1}', b'"sizeout": 1e999}')}),
    Case("nodes", "integer beyond float64 (10^400)", G, ["'work' of node 'b'", "too large for float64"],
         {"g.json": _json(_graph(work=10 ** 400))}),
    Case("nodes", "non-numeric value", G, ["'work' of node 'b'", "must be a number", "'fast'"],
         {"g.json": _json(_graph(work="fast"))}),
    Case("nodes", "boolean value", G, ["'work' of node 'b'", "must be a number", "True"],
         {"g.json": _json(_graph(work=True))}),
    Case("nodes", "finite values whose total overflows (2 x 1e308)", G,
         ["field 'work' sums to infinity"],
         {"g.json": _with(lambda d: [node.update(work=1e308) for node in d["nodes"][:2]])}),
    Case("nodes", "unknown node field (typo `wrk`): a warning, the field is ignored", G,
         ["warning", "unknown node field 'wrk'", "node 'b'"], {"g.json": _json(_graph(wrk=5))}, code=0),
    Case("nodes", "unknown node field with `--strict`", G + ["--strict"], ["unknown node field 'wrk'", "node 'b'"],
         {"g.json": _json(_graph(wrk=5))}),
    Case("edges", "cycle", G, ["cycle through node"], {"g.json": _with(lambda d: d["edges"].append(["c", "a"]))}),
    Case("edges", "self-loop", G, ["self-loop on node 'b'"], {"g.json": _with(lambda d: d["edges"].append(["b", "b"]))}),
    Case("edges", "unknown node in an edge", G, ["edge #2", "unknown node 'zz'"],
         {"g.json": _with(lambda d: d["edges"].append(["a", "zz"]))}),
    Case("edges", "edge not a pair", G, ["edge #2", "pair"], {"g.json": _with(lambda d: d["edges"].append(["a"]))}),
    Case("edges", "edge endpoint `true` (a boolean, not node 1)", G, ["edge #0", "unknown node True"],
         {"g.json": _json({"nodes": [{"id": 0}, {"id": 1}], "edges": [[0, True]]})}),
    Case("cost model", "graph file's cost_model with an unknown field", G,
         ["g.json: the graph file's cost_model", "bandwith"],
         {"g.json": _with(lambda d: d.update(cost_model={"bandwith": 1e9}))}),
    Case("cost model", "graph file's cost_model with a negative bandwidth", G,
         ["g.json: the graph file's cost_model", "'bandwidth'", "-1"],
         {"g.json": _with(lambda d: d.update(cost_model={"bandwidth": -1}))}),
    Case("cost model", "stage costs overflow float64 (sizeout 1e300, `--bandwidth 1e-10`)",
         G + ["--bandwidth", "1e-10"], ["'bandwidth'", "overflow"],
         {"g.json": _json(_graph(sizeout=1e300))}),
    # ------------------------------------------------------------------ heterogeneous pipelines (SPEC 5)
    Case("pipeline", "`--stage-speed` of the wrong length", G + ["--stage-speed", "1,2,3"],
         ["'stage_speed' has 3 values", "2 stages needs 2", "--stage-speed"], GOOD),
    Case("pipeline", "`--link-bandwidth` of the wrong length", G + ["--link-bandwidth", "1e9,1e9"],
         ["'link_bandwidth' has 2 values", "has 1 link", "--link-bandwidth"], GOOD),
    Case("pipeline", "a zero speed", G + ["--stage-speed", "1,0"], ["--stage-speed value 2", "> 0", "'0'"], GOOD),
    Case("pipeline", "a negative link", G + ["--link-bandwidth", "-5"], ["--link-bandwidth value 1", "'-5'"], GOOD),
    Case("pipeline", "a list entry that is not a number", G + ["--stage-memory", "8e9,lots"],
         ["--stage-memory value 2", "'lots'"], GOOD),
    Case("pipeline", "unknown device in `--devices`", G + ["--devices", "h100,a100"],
         ["unknown hardware profile 'a100'", "h100"], GOOD),
    Case("pipeline", "`--devices` for another number of stages", G + ["--devices", "h100,l4,l4"],
         ["'stage_speed' has 3 values", "--devices"], GOOD),
    Case("pipeline", "graph file's cost_model with a list of the wrong length", G,
         ["'stage_memory' has 3 values", "graph file's cost_model"],
         {"g.json": _with(lambda d: d.update(cost_model={"stage_memory": [1, 2, 3]}))}),
    Case("pipeline", "stage caps too small for the weights", G + ["--stage-memory-limit", "2,2"],
         ["no feasible partition", "stage_memory_limit"], GOOD),
    # ------------------------------------------------------------------ graph names
    Case("graph name", "unknown name (suggests close matches)", ["partition", "resnt50", "-k", "2"],
         ["unknown graph 'resnt50'", "pjpart zoo list", "did you mean 'resnet50'"]),
    Case("graph name", "unknown `zoo:` model", ["partition", "zoo:bert-bse", "-k", "2"],
         ["unknown zoo model 'bert-bse'", "did you mean 'bert-base'"]),
    Case("graph name", "unknown `example:`", ["partition", "example:tinny", "-k", "2"],
         ["unknown example 'tinny'", "did you mean 'tiny'"]),
    # ------------------------------------------------------------------ k
    Case("k", "k = 0", ["partition", "tiny", "-k", "0"], ["-k must be an integer >= 1", "'0'"]),
    Case("k", "k = -1", ["partition", "tiny", "-k", "-1"], ["-k must be an integer >= 1", "'-1'"]),
    Case("k", "k = 1.5", ["partition", "tiny", "-k", "1.5"], ["-k must be an integer >= 1", "'1.5'"]),
    Case("k", "k not a number", ["bound", "tiny", "-k", "x"], ["-k must be an integer >= 1", "'x'"]),
    Case("k", "-k missing", ["partition", "tiny"], ["the following arguments are required: -k"]),
    # ------------------------------------------------------------------ flags
    Case("flags", "bandwidth -1", T + ["--bandwidth", "-1"], ["--bandwidth must be a finite number > 0", "'-1'"]),
    Case("flags", "bandwidth 0", T + ["--bandwidth", "0"], ["--bandwidth must be a finite number > 0", "'0'"]),
    Case("flags", "bandwidth inf", T + ["--bandwidth", "inf"], ["--bandwidth must be a finite number > 0"]),
    Case("flags", "overflow bandwidth 0", T + ["--overflow-bandwidth", "0"],
         ["--overflow-bandwidth must be a finite number > 0", "'0'"]),
    Case("flags", "memory -1", T + ["--memory", "-1"], ["--memory must be a number >= 0 or inf", "'-1'"]),
    Case("flags", "memory limit nan", T + ["--memory-limit", "nan"],
         ["--memory-limit must be a number >= 0 or inf", "'nan'"]),
    Case("flags", "time limit -1", T + ["--time-limit", "-1"], ["--time-limit must be a finite number > 0", "'-1'"]),
    Case("flags", "time limit 0", T + ["--time-limit", "0"], ["--time-limit must be a finite number > 0", "'0'"]),
    Case("flags", "time limit nan", T + ["--time-limit", "nan"], ["--time-limit must be a finite number > 0"]),
    Case("flags", "max evaluations 0", T + ["--max-evaluations", "0"], ["--max-evaluations must be an integer >= 1"]),
    Case("flags", "max evaluations -5", T + ["--max-evaluations", "-5"],
         ["--max-evaluations must be an integer >= 1", "'-5'"]),
    Case("flags", "seed -1", T + ["--seed", "-1"], ["--seed must be an integer >= 0", "'-1'"]),
    Case("flags", "unknown preset", T + ["--preset", "fastest"], ["--preset", "invalid choice: 'fastest'"]),
    Case("flags", "unknown engine", T + ["--engine", "gpu"], ["--engine", "invalid choice: 'gpu'"]),
    Case("flags", "unknown bound method", ["bound", "tiny", "-k", "2", "--method", "lpp"],
         ["--method", "invalid choice: 'lpp'"]),
    Case("flags", "bound time limit 0", ["bound", "tiny", "-k", "2", "--time-limit", "0"],
         ["--time-limit must be a finite number > 0"]),
    Case("flags", "misspelt flag", T + ["--bandwith", "1e9"], ["unrecognized arguments: --bandwith"]),
    # ------------------------------------------------------------------ infeasible
    Case("infeasible", "a node's params above --memory-limit", T + ["--memory-limit", "3.5"],
         ["no feasible partition: ", "node 'dense'", "memory_limit 3.5"]),
    Case("infeasible", "the whole graph's params above k x --memory-limit", T + ["--memory-limit", "4"],
         ["no feasible partition: ", "stages", "memory_limit 4"]),
    Case("infeasible", "`bound` with a node's params above --memory-limit",
         ["bound", "tiny", "-k", "2", "--memory-limit", "3.5"], ["no feasible partition: ", "node 'dense'"]),
    Case("infeasible", "`bound` with the whole graph above k x --memory-limit",
         ["bound", "tiny", "-k", "2", "--memory-limit", "4"], ["no feasible partition: ", "stages", "memory_limit 4"]),
    # ------------------------------------------------------------------ outputs
    Case("outputs", "`--json` into a missing folder", T + ["--json", "nofolder/r.json"],
         ["--json 'nofolder/r.json'", "folder 'nofolder' does not exist"]),
    Case("outputs", "`bound --json` into a missing folder", ["bound", "tiny", "-k", "2", "--json", "nofolder/b.json"],
         ["--json 'nofolder/b.json'", "does not exist"]),
    Case("outputs", "`--json` naming a folder", T + ["--json", "out"], ["--json 'out' is a folder"], {"out/": b""}),
    Case("outputs", "`--report` naming a folder", T + ["--report", "out"], ["--report 'out' is a folder"],
         {"out/": b""}),
    # ------------------------------------------------------------------ zoo run
    Case("zoo run", "no model matches `--models`", ["zoo", "run", "--models", "nothing*", "--out", "z", "--quiet"],
         ["no zoo model matches 'nothing*'"]),
    Case("zoo run", "bad `-k` list", ["zoo", "run", "--models", "vgg16", "-k", "2,x", "--out", "z"],
         ["-k must be comma-separated integers >= 1", "'2,x'"]),
    Case("zoo run", "`--time-limit 0`", ["zoo", "run", "--models", "vgg16", "--time-limit", "0"],
         ["--time-limit must be a finite number > 0"]),
    Case("zoo run", "`--out` is a file", ["zoo", "run", "--models", "vgg16", "-k", "2", "--out", "z"],
         ["--out 'z' is a file"], {"z": b"x"}),
    Case("zoo run", "`--out` holds a results.json that is not one",
         ["zoo", "run", "--models", "vgg16", "-k", "2", "--out", "z", "--quiet"],
         ["z/results.json: not a results file"], {"z/results.json": b"{oops"}),
]


def _write(files: dict) -> None:
    for name, content in files.items():
        if name.endswith("/"):
            os.makedirs(name, exist_ok=True)
            continue
        if os.path.dirname(name):
            os.makedirs(os.path.dirname(name), exist_ok=True)
        Path(name).write_bytes(content)


def _message(code: int, out: str, err: str) -> str:
    """The line a user reads: ``pjpart: error:``/``warning:`` on stderr, else the result line."""
    for line in err.splitlines():
        if line.startswith(("pjpart: error:", "pjpart: warning:")):
            return line
    lines = [line for line in (out + err).splitlines() if line.startswith(("bottleneck", "best:"))]
    return f"(no error) {re.sub(r' in [0-9.]+ s', '', lines[0])}" if lines else "(no output)"


def replay(case: Case, tmp_path, monkeypatch, capsys) -> tuple[int, str]:
    workdir = tmp_path / "w"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    _write(case.files)
    capsys.readouterr()
    code = main(list(case.argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, _message(code, out, err)


def test_there_are_enough_cases():
    assert len(CASES) >= 30 and len({(c.group, c.what) for c in CASES}) == len(CASES)


def test_every_bad_input_exits_2_naming_the_culprit(tmp_path, monkeypatch, capsys):
    rows = []
    failures = []
    for i, case in enumerate(CASES):
        sub = tmp_path / f"case{i}"
        sub.mkdir()
        code, message = replay(case, sub, monkeypatch, capsys)
        rows.append((case, code, message))
        if case.pending:
            continue
        prefix = "pjpart: warning:" if case.code == 0 else "pjpart: error:"
        if code != case.code or not message.startswith(prefix) or not all(n in message for n in case.needles):
            failures.append(f"{case.group} / {case.what}: exit {code}, {message!r}; expected exit {case.code} "
                            f"naming {case.needles}")
    assert not failures, "\n".join(failures)
    text = render(rows)
    if os.environ.get("PJPART_WRITE_DOCS") == "1":
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text)
    else:
        assert DOC.exists() and DOC.read_text() == text, (
            "docs/bad_input.md is out of date: PJPART_WRITE_DOCS=1 python -m pytest -q tests/test_bad_input.py")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("\n", " ")


def _command(argv: list) -> str:
    return "pjpart " + " ".join(a if a and " " not in a and "*" not in a else f"'{a}'" for a in argv)


def render(rows) -> str:
    lines = [
        "# Bad input: what pjpart does with it",
        "",
        "Generated by `tests/test_bad_input.py` (`PJPART_WRITE_DOCS=1 python -m pytest -q tests/test_bad_input.py`),",
        "which replays every row through the command line and fails when this file is out of date.",
        "",
        "Every bad input raises a `pjpart.PjpartError` (a `ValueError`): `GraphError` for the graph,",
        "`ConfigError` for settings and flags, `InfeasibleError` (message starting `no feasible partition: `)",
        "when no partition exists. The message names the file, node, edge, field or flag at fault;",
        "nothing is repaired or dropped (parallel edges are merged: the one documented exception).",
        "The command line prints `pjpart: error: <message>` on stderr (after the usage line for",
        "argparse's own complaints), no traceback, and exits 2; every flag is checked before any work",
        "starts. An unknown node field is the one warning (`pjpart: warning: ...`, exit 0; `--strict`",
        "makes it an error). A closed stdout (`pjpart zoo list | head`) ends the output quietly with",
        "exit 0, and files asked for with `--json FILE` or `--report` are still written.",
        "",
    ] + (["Rows marked *pending* show pjpart's behaviour today where it is not yet the documented one.", ""]
         if any(case.pending for case, _, _ in rows) else []) + [
        "| # | class | bad input | command | exit | message |",
        "|---:|---|---|---|---:|---|",
    ]
    for i, (case, code, message) in enumerate(rows, 1):
        what = case.what + (f" (*pending*: {case.pending})" if case.pending else "")
        files = ", ".join(f"`{name}`" for name in case.files if not name.endswith("/"))
        what += f"; file {files}" if files else ""
        lines.append(f"| {i} | {case.group} | {_cell(what)} | `{_command(case.argv)}` | {code} | {_cell(message)} |")
    lines.append("")
    return "\n".join(lines)
