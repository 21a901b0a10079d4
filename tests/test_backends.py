"""Sweep backends: the same records on every engine, workers that die, failed cells and resuming them.

The methods that kill their worker are module-level functions of this module (so they
pickle by reference for loky and Dask workers); a marker file decides whether they die.
"""

import functools
import os
import signal

import pytest

import pjpart
from pjpart.backends import BACKENDS, worker_env
from pjpart.generators import dnn_like
from pjpart.sweep import MACHINE_FIELDS, graph_hash, resume_key

#: an evaluation-budgeted grid: no time limit, so the records do not depend on the machine's speed
BUDGETED = {"exact_max_downsets": 0, "bound_methods": "combinatorial", "generations": 3, "population": 32,
            "islands": 1}


def _greedy(graph, k, seed, cost_model):
    return pjpart.baseline(graph, k, "greedy", cost_model, seed=seed)


def die_once(graph, k, seed, cost_model, marker):
    """Kills its own process the first time (no ``marker`` file yet), then runs greedy."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return _greedy(graph, k, seed, cost_model)


def die_unless(graph, k, seed, cost_model, marker):
    """Kills its own process while there is no ``marker`` file."""
    if not os.path.exists(marker):
        os.kill(os.getpid(), signal.SIGKILL)
    return _greedy(graph, k, seed, cost_model)


def fail_unless(graph, k, seed, cost_model, marker):
    """Raises an unexpected error while there is no ``marker`` file."""
    if not os.path.exists(marker):
        raise RuntimeError("solver crashed")
    return _greedy(graph, k, seed, cost_model)


def bad_input(graph, k, seed, cost_model):
    raise pjpart.ConfigError("setting 'x' must be positive")


def _comparable(records):
    return [{key: val for key, val in r.items() if key not in MACHINE_FIELDS} for r in records]


@pytest.fixture(scope="module")
def grid():
    return dict(graphs=[dnn_like(24, seed=1), dnn_like(30, seed=2)], ks=[2, 3], methods=["fast", "greedy"],
                overrides=BUDGETED, progress=False)


@pytest.fixture(scope="module")
def sequential_records(grid):
    return pjpart.sweep(**grid)


def test_backend_arguments_are_checked():
    g = dnn_like(10, seed=0)
    for kw, match in [({"backend": "spark"}, "unknown backend"), ({"backend": "processes", "n_jobs": 0}, "n_jobs"),
                      ({"backend": "processes", "address": "tcp://x:1"}, "address is for"),
                      ({"n_jobs": 2}, "sequential backend runs one cell"),
                      ({"cost_model": pjpart.CostModel(), "cost_models": [None]}, "not both")]:
        with pytest.raises(pjpart.ConfigError, match=match):
            pjpart.sweep([g], ks=[2], methods=["greedy"], progress=False, **kw)
    assert set(BACKENDS) == {"sequential", "processes", "dask", "ray"}
    assert worker_env(2, cores=2) == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                                      "PJPART_THREADS": "1"}
    assert worker_env(3, cores=2)["OMP_NUM_THREADS"] == "1"


@pytest.mark.slow  # searches compile (about 6 s)
def test_records_are_honest_and_gaps_share_the_best_bound(sequential_records):
    recs = sequential_records
    assert len(recs) == 8 and all(r["status"] == "ok" for r in recs)
    names = [g.name for g in (dnn_like(24, seed=1), dnn_like(30, seed=2))]
    assert [(r["graph"], r["k"], r["method"]) for r in recs] == [(g, k, m) for g in names for k in (2, 3)
                                                                 for m in ("fast", "greedy")]
    for r in recs:
        assert r["time_limit"] is None and r["pjpart_version"] == pjpart.__version__
        assert r["hostname"] and r["cpus"] >= 1 and len(r["graph_hash"]) == 16
        assert r["own_bound"] <= r["bound"] <= r["bottleneck"]
        assert r["gap"] == pjpart.result.relative_gap(r["bottleneck"], r["bound"])
    for a, b in zip(recs[::2], recs[1::2]):  # fast and greedy of one (graph, k) share a bound
        assert a["bound"] == b["bound"] == max(a["own_bound"], b["own_bound"])
        assert a["bound_method"] == (a if a["own_bound"] >= b["own_bound"] else b)["own_bound_method"]
    # the graph's content, not its name, is in the resume key
    data = dnn_like(24, seed=1).to_json()
    assert graph_hash(pjpart.Graph.from_json({**data, "name": "renamed"})) == recs[0]["graph_hash"]
    data["nodes"][0]["work"] += 1.0
    assert graph_hash(pjpart.Graph.from_json(data)) != recs[0]["graph_hash"]


@pytest.mark.slow  # starts a two-process Dask cluster (about 15 s on 2 cores)
def test_dask_local_cluster_gives_the_sequential_records(grid, sequential_records):
    recs = pjpart.sweep(**grid, backend="dask", n_jobs=2)
    assert _comparable(recs) == _comparable(sequential_records)


@pytest.mark.slow  # two loky worker processes (about 10 s on 2 cores)
def test_processes_give_the_sequential_records(grid, sequential_records):
    recs = pjpart.sweep(**grid, backend="processes", n_jobs=2)
    assert _comparable(recs) == _comparable(sequential_records)


def test_cost_models_are_a_dimension_of_the_grid():
    g = dnn_like(16, seed=3)
    fast_link, slow_link = pjpart.CostModel(bandwidth=1e12), pjpart.CostModel(bandwidth=1.0)
    recs = pjpart.sweep([g], ks=[2], methods=["greedy", "chain-balanced"], cost_models=[fast_link, slow_link],
                        progress=False)
    assert [(r["bandwidth"], r["method"]) for r in recs] == [(1e12, "greedy"), (1e12, "chain-balanced"),
                                                             (1.0, "greedy"), (1.0, "chain-balanced")]
    assert len({resume_key(r) for r in recs}) == 4
    assert recs[0]["bound"] == recs[1]["bound"] and recs[2]["bound"] == recs[3]["bound"]


def test_sequential_errors_become_failed_records_and_resume_reruns_only_them(tmp_path):
    g = dnn_like(12, seed=4)
    marker = str(tmp_path / "fixed")
    flaky = functools.partial(fail_unless, marker=marker)
    recs = pjpart.sweep([g], ks=[2, 3], methods=["greedy", flaky], progress=False)
    assert [r["status"] for r in recs] == ["ok", "failed", "ok", "failed"]
    failed = recs[1]
    assert failed["error"] == "RuntimeError: solver crashed" and failed["bottleneck"] is None
    assert failed["method"] == f"{__name__}.fail_unless" and resume_key(failed) is not None
    # a failed record does not count as done: resuming reruns those cells only
    open(marker, "w").close()
    ran = []
    again = pjpart.sweep([g], ks=[2, 3], methods=["greedy", flaky], resume=recs, progress=False,
                         on_result=lambda rec, res: ran.append((rec["k"], rec["method"])))
    assert ran == [(2, failed["method"]), (3, failed["method"])]
    assert [r["status"] for r in again] == ["ok"] * 4
    # bad input is the user's mistake: it raises
    with pytest.raises(pjpart.ConfigError, match="must be positive"):
        pjpart.sweep([g], ks=[2], methods=[bad_input], progress=False)


@pytest.mark.slow  # kills loky workers (about 5 s)
def test_processes_a_dead_worker_costs_only_its_cell(tmp_path):
    _killed_worker_sweep(tmp_path, "processes")


@pytest.mark.slow  # kills Dask workers, which their nannies restart (about 15 s)
def test_dask_a_dead_worker_costs_only_its_cell(tmp_path):
    _killed_worker_sweep(tmp_path, "dask")


def _killed_worker_sweep(tmp_path, backend):
    graphs = [dnn_like(12, seed=5), dnn_like(14, seed=6)]
    once = functools.partial(die_once, marker=str(tmp_path / "died"))
    never = functools.partial(die_unless, marker=str(tmp_path / "never"))
    recs = pjpart.sweep(graphs, ks=[2], methods=["greedy", once, never], progress=False, backend=backend,
                        n_jobs=2)
    status = [(r["graph"], r["method"].rsplit(".", 1)[-1], r["status"]) for r in recs]
    assert status == [(g.name, m, s) for g in graphs for m, s in
                      [("greedy", "ok"), ("die_once", "ok"), ("die_unless", "failed")]]
    for r in recs:
        if r["status"] == "failed":
            assert "worker died" in r["error"] and r["bottleneck"] is None and r["gap"] is None
        else:
            assert r["bottleneck"] > 0 and r["bound"] <= r["bottleneck"]
    # resuming reruns only the failed cells (now fixed)
    open(tmp_path / "never", "w").close()
    ran = []
    again = pjpart.sweep(graphs, ks=[2], methods=["greedy", once, never], progress=False, resume=recs,
                         backend=backend, n_jobs=2, on_result=lambda rec, res: ran.append(rec["method"]))
    assert sorted(ran) == [never.func.__module__ + ".die_unless"] * 2
    assert [r["status"] for r in again] == ["ok"] * 6
    # bad input in a worker raises here, as it does in this process
    with pytest.raises(pjpart.ConfigError, match="must be positive"):
        pjpart.sweep(graphs, ks=[2], methods=[bad_input], progress=False, backend=backend, n_jobs=2)
