"""Live progress: the bar's fields, JSON lines that parse, and silence when quiet."""

import json
import math

from pjpart import partition
from pjpart.generators import dnn_like


def test_progress_bar_and_json_lines(capsys):
    """Live progress shows generation, evaluations, rate, best, bound and gap; --json-progress logs parse."""
    g = dnn_like(40, seed=2)
    kw = dict(seed=0, generations=4, exact_max_downsets=0, bound_methods="combinatorial", population=16, islands=1)
    r = partition(g, 4, quiet=False, **kw)
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "/4.0 gen" in last or "gen 4" in last
    for field in ("gen 4", f"evals {r.evaluations}", "/s)", "best", "bound", "gap"):
        assert field in err, field
    r2 = partition(g, 4, quiet=False, json_progress=True, **kw)
    lines = [json.loads(x) for x in capsys.readouterr().err.strip().splitlines()]
    assert [x["generation"] for x in lines][-1] == 4 and lines[-1]["evaluations"] == r2.evaluations
    assert set(lines[-1]) >= {"generation", "evaluations", "evals_per_s", "best", "bound", "gap", "seconds"}
    assert math.isclose(lines[-1]["best"], r2.bottleneck) and r2.bottleneck == r.bottleneck
    partition(g, 4, quiet=True, **kw)
    assert capsys.readouterr().err == ""
