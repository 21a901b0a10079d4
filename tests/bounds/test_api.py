"""Lower bounds: never above the exhaustive optimum, exact where they claim to be, safe, refused when wrong."""

import importlib.util
import inspect
import math
import typing
import warnings

import numpy as np
import pytest

import pjpart
from pjpart import BoundError, ConfigError, CostModel, lower_bound
from pjpart.bounds import (AUTO, METHODS, REGISTRY, SOLVER_FREE, BoundRequest, MethodBound, available_methods)
from pjpart.bounds import api as bounds_api
from pjpart.bounds.stages import ABS_SLACK, REL_SLACK, safe_bound
from pjpart.budget import Budget
from pjpart.generators import dnn_like, random_dag
from pjpart.reference import exhaustive_partition
from pjpart.result import PROOF_TOLERANCE
from cases import cost_setting


SOLVER_METHODS = ["mincut", "lp", "mip", "superblock2", "superblock3", "exact-dp"]





@pytest.mark.slow  # fuzzing: 500 DAGs, every method (about 35 s)
def test_every_method_is_below_the_exhaustive_optimum_on_500_dags(rng):
    checked = 0
    for trial in range(500):
        g = random_dag(int(rng.integers(1, 10)), rng, density=float(rng.uniform(0.1, 0.6)))
        k = int(rng.integers(1, 5))
        cm = cost_setting(rng, trial)
        if math.isfinite(cm.memory_limit) and g.params.max() > cm.memory_limit:
            cm = cm.replace(memory_limit=float(g.params.max()) * 1.5)
        opt, _ = exhaustive_partition(g, k, cm)
        if not math.isfinite(opt):
            continue
        # without mincut, so that every method runs; and with it first, as auto runs it: its partition
        # ends the run when the bound proves it, and the methods left run on its bound as their floor
        b = lower_bound(g, k, cm, methods=[m for m in SOLVER_METHODS if m != "mincut"], time_limit=None)
        cut = lower_bound(g, k, cm, methods=SOLVER_METHODS, time_limit=None)
        for r in cut.results:
            assert r.value <= opt * (1 + 1e-12), (trial, r.method, r.value, opt)
        ran = [r.method for r in cut.results]
        assert ran == ["combinatorial"] + SOLVER_METHODS or cut.value >= cut.partition_cost * (1 - PROOF_TOLERANCE)
        values = {r.method: r for r in list(b.results) + [r for r in cut.results if r.method == "mincut"]}
        comb = values["combinatorial"].value
        for name, r in values.items():
            assert r.value <= opt * (1 + 1e-12), (trial, name, r.value, opt)
        # the exact MIP and the downset DP are exact (the MIP up to the documented safety slack)
        mip = values["mip"]
        assert mip.status == "optimal"
        assert opt - mip.value <= (REL_SLACK * 2) * opt + ABS_SLACK * 10 * opt + 1e-12, (trial, mip.value, opt)
        assert values["exact-dp"].value == pytest.approx(opt, rel=1e-12, abs=1e-12)
        if k > 1:
            for name in ("superblock2", "superblock3"):
                assert values[name].value >= comb * (1 - 2 * REL_SLACK) - 1e-9, (trial, name)
        assert b.value == max(r.value for r in b.results)
        checked += 1
    assert checked >= 480


@pytest.mark.slow  # wall-clock budgets: 8 s of bounds, a 5 s search
def test_auto_respects_the_time_limit_and_beats_combinatorial():
    g = dnn_like(300, seed=1)
    cm = CostModel(bandwidth=0.2)
    b = lower_bound(g, 8, cm, methods="auto", time_limit=8.0, max_downsets=16)
    assert b.seconds < 8.0 * 1.5 + 3
    statuses = {r.method: r.status for r in b.results}
    assert statuses["exact-dp"].startswith("skipped")
    assert b.value > b.by_method()["combinatorial"]
    found = pjpart.partition(g, 8, cm, exact_max_downsets=0, bound_methods="combinatorial", time_limit=5)
    assert b.value <= found.bottleneck


def test_safety_rule_and_refusal():
    assert safe_bound(1.0, 10.0) == pytest.approx((1 - REL_SLACK - ABS_SLACK) * 10.0)
    assert safe_bound(math.nan, 1.0) == 0.0 and safe_bound(-1.0, 1.0) == 0.0
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    with pytest.raises(BoundError, match="above a feasible partition"):
        lower_bound(g, 2, methods=["exact-dp"], upper_bound=10.0, strict=True)  # the optimum is 14
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        b = lower_bound(g, 2, methods=["exact-dp"], upper_bound=10.0)
    assert any("refused" in str(w.message) for w in caught)
    assert b.method == "combinatorial" and b.value == 9.0
    assert {r.method: r.status for r in b.results}["exact-dp"] == "refused"


def test_bad_method_and_k_are_reported():
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    with pytest.raises(ConfigError, match="unknown bound method 'magic'"):
        lower_bound(g, 2, methods=["magic"])
    with pytest.raises(pjpart.GraphError, match="k must be"):
        lower_bound(g, 0)


def test_lower_bound_reports_each_method_as_it_ends():
    g = dnn_like(30, seed=1)
    seen = []
    b = pjpart.lower_bound(g, 3, methods=["combinatorial", "mincut", "exact-dp"], time_limit=20,
                           on_method=seen.append)
    assert tuple(seen) == b.results and [r.method for r in seen] == ["combinatorial", "mincut", "exact-dp"]


def test_the_registry_is_the_one_list_of_methods_and_each_has_the_common_signature():
    assert METHODS == tuple(REGISTRY) and len(set(METHODS)) == len(METHODS)
    assert set(AUTO) <= set(METHODS) and set(SOLVER_FREE) <= set(METHODS)
    assert list(AUTO) == [m for m in METHODS if m in AUTO]  # auto keeps the registry's order
    for name, fn in REGISTRY.items():
        assert list(inspect.signature(fn).parameters) == ["request", "budget"], name
        assert typing.get_type_hints(fn) == {"request": BoundRequest, "budget": Budget, "return": MethodBound}, name
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    runnable = available_methods(list(METHODS))
    for name in runnable:  # each one, called through the registry, names itself in its result
        res = REGISTRY[name](BoundRequest(g, 2, CostModel(), 4096, 0.0), Budget(30.0))
        assert isinstance(res, MethodBound) and res.method == name and 0 <= res.value <= 14.0, name
    assert set(SOLVER_FREE) <= set(runnable)


def test_available_methods_without_cvxpy(monkeypatch):
    real = importlib.util.find_spec
    asked = []

    def no_cvxpy(name, *args, **kwargs):
        asked.append(name)
        return None if name == "cvxpy" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", no_cvxpy)
    assert available_methods("auto") == SOLVER_FREE == ("combinatorial", "averaging", "mincut", "exact-dp", "relaxed-dp",
                                                        "chain", "configuration", "spine", "guess")
    assert available_methods(list(METHODS)) == SOLVER_FREE
    assert available_methods(["mip", "mincut"]) == ("mincut",)
    assert available_methods("superblock2") == ("combinatorial",)  # the combinatorial bound always runs
    assert "cvxpy" in asked
    with pytest.raises(ConfigError, match="unknown bound method 'magic'"):
        available_methods(["mincut", "magic"])
    monkeypatch.setattr(importlib.util, "find_spec", real)
    if real("cvxpy") is not None:
        assert available_methods("auto") == AUTO and available_methods(["mip"]) == ("mip",)


def test_methods_stop_by_the_budget():
    g = dnn_like(40, seed=2)
    cm = CostModel(bandwidth=0.3)
    spent = Budget(0.0)
    for name in ("mincut", "superblock2", "superblock3", "lp", "mip"):
        if name != "mincut" and importlib.util.find_spec("cvxpy") is None:
            continue
        res = REGISTRY[name](BoundRequest(g, 4, cm), spent)
        assert res.value == 0.0 and res.status in ("no time", "partial (0/40 nodes)"), (name, res)
    from pjpart.bounds.mincut import node_closure_bound, node_closure_values

    calls = []
    vals, done = node_closure_values(g, cm, should_stop=lambda: len(calls) > 2 or calls.append(1))
    assert done == 3 and np.count_nonzero(vals) <= 3
    full, _ = node_closure_values(g, cm)
    assert vals.max() <= full.max() == node_closure_bound(g, cm, Budget(None).stopper())
    assert node_closure_bound(g, cm, lambda: True) == 0.0


def test_bounds_do_not_import_the_search():
    import pathlib
    import re

    root = pathlib.Path(bounds_api.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(pjpart\.search|\.\.search)", text, re.M), path


def test_a_solver_proof_within_its_tolerance_ends_the_other_methods():
    # a MIP that proves the optimum reports it minus its safety margin (about 1e-6): that is a
    # proof, and the methods after it have nothing left to gain (before, all of them ran)
    import pjpart
    from pjpart.generators import random_dag
    from pjpart.reference import exhaustive_partition
    from pjpart.result import PROOF_TOLERANCE

    g = random_dag(8, np.random.default_rng(3), density=0.3)
    cm = pjpart.CostModel(bandwidth=0.7)
    opt, _ = exhaustive_partition(g, 3, cm)
    b = pjpart.lower_bound(g, 3, cm, methods=["combinatorial", "mip", "superblock2"], upper_bound=opt)
    assert b.method == "mip" and opt * (1 - PROOF_TOLERANCE) <= b.value <= opt
    assert [r.method for r in b.results] == ["combinatorial", "mip"]


def test_the_downset_limit_follows_the_time_left():
    """A lattice too big to list in a quarter of the time left is given up (at the dense DP's
    size at the least); without a clock, max_downsets itself."""
    from pjpart.bounds.methods import DOWNSETS_PER_SECOND, downset_limit
    from pjpart.lattice import DENSE_MAX_DOWNSETS

    g = random_dag(6, np.random.default_rng(0))
    request = BoundRequest(g, 2, CostModel(), max_downsets=10 ** 6)
    assert downset_limit(request, Budget(None)) == 10 ** 6
    assert downset_limit(request, Budget(1000.0)) == 10 ** 6
    assert abs(downset_limit(request, Budget(8.0)) - 2 * DOWNSETS_PER_SECOND) <= DOWNSETS_PER_SECOND / 100
    assert downset_limit(request, Budget(1e-6)) == DENSE_MAX_DOWNSETS
    assert downset_limit(BoundRequest(g, 2, CostModel(), max_downsets=100), Budget(8.0)) == 100


def test_chain_keeps_to_its_idle_share_only_where_configuration_follows_and_counts_the_groups(rng, monkeypatch):
    """Small groups in series with configuration after chain: chain gets the idle share of
    ``IDLE_SHARES`` (as a share of its own budget); 200 branches side by side (one group of more
    than ``MAX_PART_NODES``), or no configuration after it: none."""
    from pjpart.bounds.methods import IDLE_SHARES, SHARES
    from cases import series_graph

    seen = []
    monkeypatch.setitem(REGISTRY, "chain", lambda request, budget: (
        seen.append(request.idle_share) or MethodBound("chain", 0.0, "fake", 0.0)))
    monkeypatch.setitem(REGISTRY, "configuration", lambda request, budget: MethodBound("configuration", 0.0, "fake", 0.0))
    monkeypatch.setitem(REGISTRY, "guess", lambda request, budget: MethodBound("guess", 0.0, "fake", 0.0))
    small = series_graph(rng, 4)
    wide = pjpart.Graph.from_arrays(work=[1.0] * 202, sizeout=[1.0] * 202,
                                    edges=[(0, v) for v in range(1, 201)] + [(v, 201) for v in range(1, 201)])
    for g, methods in ((small, ("chain", "configuration")), (wide, ("chain", "configuration")),
                       (small, ("chain", "guess"))):
        upper = float(pjpart.evaluate(g, np.zeros(g.n, dtype=np.int64), 2).max())
        lower_bound(g, 2, methods=methods, time_limit=30.0, upper_bound=upper)
    assert seen == pytest.approx([IDLE_SHARES["chain"] / SHARES["chain"], 1.0, 1.0]), seen
