"""The on-disk bound cache: keyed by the problem's numbers, resumable, refused when it would
certify too much, and read by ``partition``."""

import dataclasses
import json
import os
import warnings

import numpy as np
import pytest

import pjpart
from pjpart.bounds import lower_bound
from pjpart.bounds.cache import BoundCache, problem_key

from cases import fixed_shape_dag


def wide(seed=0):
    # sparse: far more than 4096 downsets, so neither the exact solver nor exact-dp ends the run
    return fixed_shape_dag(np.random.default_rng(seed), 30, 34)


def test_the_key_is_the_problem_not_its_names():
    g = wide()
    cm = pjpart.CostModel(bandwidth=0.5)
    key = problem_key(g, 3, cm)
    renamed = dataclasses.replace(g, ids=tuple(f"op{i}" for i in range(g.n)), name="other")
    assert problem_key(renamed, 3, cm) == key
    assert problem_key(g, 4, cm) != key
    assert problem_key(g, 3, cm.replace(bandwidth=0.6)) != key
    assert problem_key(g, 3, cm.replace(stage_speed=[1, 1, 2])) != key
    work = g.work.copy()
    work[5] += 1e-9
    assert problem_key(dataclasses.replace(g, work=work), 3, cm) != key


def test_a_second_run_reuses_final_methods_and_resumes_the_rest(tmp_path):
    g, k = wide(), 3
    cache = BoundCache(tmp_path)
    first = lower_bound(g, k, methods=["combinatorial", "mincut", "superblock2"], time_limit=1e-9, cache=cache)
    statuses = {r.method: r.status for r in first.results}
    assert statuses["superblock2"] == "no time"  # no time for the solver: not final, not stored as such
    second = lower_bound(g, k, methods=["combinatorial", "mincut", "superblock2"], time_limit=60, cache=cache)
    by = {r.method: r for r in second.results}
    assert by["combinatorial"].status == "proven (cached)" and by["combinatorial"].seconds == 0
    assert by["superblock2"].status == "optimal"  # it ran now
    fresh = lower_bound(g, k, methods=["combinatorial", "mincut", "superblock2"], time_limit=60)
    assert second.value == pytest.approx(fresh.value, rel=1e-12)
    third = lower_bound(g, k, methods=["combinatorial", "mincut", "superblock2"], time_limit=60, cache=cache)
    assert all(r.status.endswith("(cached)") for r in third.results) and third.value == second.value


def test_a_corrupt_entry_is_ignored_and_a_value_above_a_partition_refused(tmp_path):
    g, k = wide(1), 3
    cache = BoundCache(tmp_path)
    lower_bound(g, k, methods=["combinatorial"], cache=cache)
    path = cache.path(g, k, pjpart.cost_model_for(g))
    with open(path, "w") as f:
        f.write("{not json")
    assert cache.load(g, k, pjpart.cost_model_for(g)) == {}
    found = pjpart.baseline(g, k, "greedy").bottleneck
    with open(path, "w") as f:
        json.dump({"methods": {"mip": {"method": "mip", "value": 10 * found, "status": "optimal"}}}, f)
    with pytest.warns(RuntimeWarning, match="cached bound 'mip'"):
        b = lower_bound(g, k, methods=["combinatorial"], upper_bound=found, cache=cache)
    assert b.value <= found
    with pytest.warns(RuntimeWarning, match="cached bound"):
        r = pjpart.partition(g, k, max_evaluations=300, bound_cache=str(tmp_path), bound_methods="combinatorial")
    assert r.lower_bound <= r.bottleneck and r.bound_method == "combinatorial"


def test_partition_starts_from_the_cached_bounds(tmp_path):
    g, k = wide(2), 3
    proven = lower_bound(g, k, methods=["combinatorial", "mip"], time_limit=60, cache=BoundCache(tmp_path))
    assert proven.method == "mip"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = pjpart.partition(g, k, max_evaluations=300, bound_cache=str(tmp_path), bound_methods="combinatorial")
    assert r.bound_method == "mip (cached)" and r.lower_bound == proven.value
    plain = pjpart.partition(g, k, max_evaluations=300, bound_methods="combinatorial")
    assert plain.bound_method == "combinatorial" and plain.lower_bound < r.lower_bound
    assert os.listdir(tmp_path)


def test_the_bound_command_prints_each_method_and_partition_reads_its_cache(tmp_path, capsys):
    from pjpart.cli import main

    g = wide(3)
    path = tmp_path / "g.json"
    pjpart.save_graph(g, path)
    folder = tmp_path / "bounds"
    args = ["bound", str(path), "-k", "3", "--method", "combinatorial", "--method", "superblock2",
            "--time-limit", "60", "--bound-cache", str(folder)]
    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()
    rows = [line.split()[0] for line in first if line.startswith(("combinatorial", "superblock2"))]
    assert rows == ["combinatorial", "superblock2"] and "optimal" in first[4]
    assert main(args) == 0
    assert "optimal (cached)" in capsys.readouterr().out
    out = tmp_path / "r.json"
    assert main(["partition", str(path), "-k", "3", "--max-evaluations", "300", "--quiet", "--bound-cache",
                 str(folder), "--json", str(out)]) == 0
    cached = BoundCache(folder).load(g, 3, pjpart.cost_model_for(g))
    assert json.loads(out.read_text())["lower_bound"] >= cached["superblock2"]["value"]  # started from it
    assert set(cached) > {"combinatorial", "superblock2"}  # and the partition's own bounds were stored
    assert main(["partition", str(path), "-k", "3", "--max-evaluations", "300", "--quiet", "--no-bound-cache",
                 "--bound-cache", str(folder)]) == 2


def test_skipped_is_not_final_and_refused_values_are_not_kept(tmp_path):
    g, k = wide(4), 3
    cache = BoundCache(tmp_path)
    first = lower_bound(g, k, methods=["combinatorial", "exact-dp"], max_downsets=50, cache=cache)
    assert first.results[1].status.startswith("skipped")
    # a larger limit: it runs again (a limit that still skips: the whole lattice takes a minute)
    second = lower_bound(g, k, methods=["combinatorial", "exact-dp"], max_downsets=1000, cache=cache, time_limit=60)
    assert not second.results[1].status.endswith("(cached)")
    with pytest.warns(RuntimeWarning, match="refused"):
        lower_bound(g, k, methods=["combinatorial", "mincut"], upper_bound=1e-9, cache=BoundCache(tmp_path / "x"))
    assert "mincut" not in BoundCache(tmp_path / "x").load(g, k, pjpart.cost_model_for(g))
