"""Sweeps: records and files, resuming, and compiled kernels released after each graph."""

import csv
import json

import pytest

import pjpart
from pjpart import ConfigError
from pjpart.sweep import FIELDS


def test_sweep_records_and_files(tmp_path):
    g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)], name="chain")
    recs = pjpart.sweep([g, "tiny"], ks=[1, 2], methods=["greedy", "fast"], seeds=[0], progress=False)
    assert len(recs) == 8
    for r in recs:
        assert set(FIELDS) <= set(r)
        assert r["bound"] <= r["bottleneck"]
    assert {(r["graph"], r["k"], r["method"]) for r in recs} >= {("chain", 2, "greedy"), ("tiny", 1, "fast")}
    pjpart.write_records(recs, str(tmp_path / "r.csv"))
    pjpart.write_records(recs, str(tmp_path / "r.json"))
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert len(rows) == 8 and float(rows[0]["bottleneck"]) == recs[0]["bottleneck"]
    assert json.loads((tmp_path / "r.json").read_text()) == recs
    again = pjpart.sweep([g, "tiny"], ks=[1, 2], methods=["greedy", "fast"], resume=recs, progress=False)
    assert again == recs
    with pytest.raises(ConfigError, match="unknown method"):
        pjpart.sweep([g], ks=[2], methods=["bogus"], progress=False)


@pytest.mark.slow  # compiles searches twice (about 4 s)
def test_sweep_releases_compiled_kernels_after_each_graph():
    from pjpart.kernel_inputs import compiled_kernels as _jitted
    from pjpart.generators import dnn_like

    graphs = [dnn_like(30, seed=1), dnn_like(30, seed=2)]
    kw = dict(ks=[2], methods=["fast"], progress=False,
              overrides={"exact_max_downsets": 0, "bound_methods": "combinatorial", "generations": 2})
    compiled = lambda: sum(fn._cache_size() for fn in _jitted().values())
    pjpart.sweep(graphs, release_compiled=False, **kw)
    assert _jitted()["pairs"]._cache_size() > 0  # the presets' search ranks with the k + 1 tie-break
    pjpart.sweep(graphs, **kw)
    assert compiled() == 0


def test_records_carry_what_determines_them_and_resume_only_on_all_of_it():
    from pjpart.sweep import OPTIONAL_FIELDS, SETTINGS, resume_key

    g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)], name="chain")
    recs = pjpart.sweep([g], ks=[2], methods=["fast", "greedy"], progress=False)
    fast, greedy = recs
    assert set(SETTINGS) - set(OPTIONAL_FIELDS) <= set(fast)  # the per-stage lists: heterogeneous only
    assert fast["time_limit"] == pjpart.load_preset("fast").stop.time_limit and greedy["time_limit"] is None
    assert fast["max_evaluations"] is None and fast["overrides"] == "{}"
    assert (fast["bandwidth"], fast["memory"], fast["memory_limit"]) == (1.0, None, None)  # inf as None
    # the same settings resume ...
    assert pjpart.sweep([g], ks=[2], methods=["fast", "greedy"], resume=recs, progress=False) == recs
    # ... but another time limit, cost model, evaluation budget or override runs again
    for kw in ({"time_limit": 3.0}, {"cost_model": pjpart.CostModel(bandwidth=2.0)},
               {"overrides": {"max_evaluations": 500}}, {"overrides": {"population": 32}}):
        again = pjpart.sweep([g], ks=[2], methods=["fast"], resume=recs, progress=False, **kw)
        assert resume_key(again[0]) != resume_key(fast) and again[0] is not fast
    assert pjpart.sweep([g], ks=[2], methods=["fast"], time_limit=3.0, progress=False)[0]["time_limit"] == 3.0
    # records of an older pjpart (no time limit field) match nothing
    old = {key: val for key, val in fast.items() if key != "time_limit"}
    assert resume_key(old) is None
    assert pjpart.sweep([g], ks=[2], methods=["fast"], resume=[old], progress=False)[0] is not old
    # a resumed record's numbers may come from JSON or CSV: 10 and 10.0 are one setting
    assert resume_key({**fast, "time_limit": int(fast["time_limit"])}) == resume_key(fast)
