"""pjpart.bounds.stages: a time-limited MIP returns its dual bound, never its incumbent."""

import pytest

import pjpart
from pjpart import CostModel, lower_bound
from pjpart.bounds.stages import solve_stage_problem, stage_problem
from pjpart.generators import dnn_like
from pjpart.lattice import exact_partition


@pytest.mark.slow  # wall-clock budget: a 1.5 s MIP, twice
def test_time_limited_mip_returns_its_dual_bound_and_status():
    # a MIP HiGHS does not finish in 1.5 s on 2 cores (about 5 s to optimality), but whose root it does
    g = dnn_like(60, seed=3)
    cm = CostModel(bandwidth=0.02)
    opt, _ = exact_partition(g, 6, cm, 100_000)
    sol = solve_stage_problem(stage_problem(g, (1,) * 6, cm), time_limit=1.5)
    assert sol.status in ("time_limit", "optimal"), sol.status
    assert sol.seconds < 10
    assert pjpart.combinatorial_bound(g, 6, cm) < sol.bound <= opt
    if sol.status == "time_limit":
        # the dual bound, never the incumbent: below the optimum
        assert sol.raw < opt * (1 - 1e-4)
    b = lower_bound(g, 6, cm, methods=["mip"], time_limit=1.5, upper_bound=opt, strict=True)
    mip = b.results[-1]
    assert mip.method == "mip" and mip.status in ("time_limit", "optimal") and 0 < mip.value <= opt
