"""Stage-assignment MIPs: the exact MIP, its LP relaxation and the superblock relaxations.

One formulation covers them all.  A *coarsening* ``caps = (c_1, ..., c_r)`` of
the ``k`` stages into ``r`` consecutive superblocks (``c_j >= 0``, ``sum c_j = k``)
gives the problem::

    min T  over  x[v, j] in {0, 1},  sum_j x[v, j] = 1                (one superblock per node)
      X[w, j] <= X[u, j]          for every edge (u, w), j < r-1     (X = cumulative sum of x over j)
      out[u, j] >= x[u, j] - x[w, j],  in[u, j] >= x[w, j] - x[u, j]  for every consumer w of u
      o[j] >= (params(X_j) - c_j * memory) / overflow_bandwidth,  o >= 0
      params(X_j) <= c_j * memory_limit
      work(X_j) + (sizeout . (in[:, j] + out[:, j])) / bandwidth + o[j] <= c_j * T
      T >= combinatorial bound, T >= floor                            (valid: both are <= T*)

``caps = (1,) * k`` is the **exact MIP** (SPEC 2.5): its optimum is the optimal
bottleneck, because ``in``/``out`` are minimised at ``max`` over consumers,
which counts each producer once per block, exactly like the SPEC.

Validity of a coarsening (superblock relaxation).  Take an optimal partition
``S_0..S_{k-1}`` with bottleneck ``T*`` and let superblock ``X_j`` be the union of
its ``c_j`` consecutive stages (empty when ``c_j = 0``).  The labelling respects
precedence because the stages do.  For ``X = X_j``:

* ``work(X) = sum work(S_b)`` over the stages in ``X``;
* a producer ``u`` counted in ``out(X)`` (``u`` in ``X``, a consumer outside ``X``)
  has that consumer outside its own stage, so ``u`` is counted in ``out`` of its
  stage; a producer counted in ``in(X)`` (``u`` outside ``X``, a consumer ``w`` in
  ``X``) is outside ``w``'s stage, so it is counted in ``in`` of ``w``'s stage.
  Hence ``in(X) + out(X) <= sum (in + out)(S_b)``;
* overflow is convex, so ``sum_b max(0, p_b - M) >= max(0, params(X) - c_j M)``;
* ``params(S_b) <= memory_limit`` for each stage sums to ``params(X) <= c_j limit``.

So ``g(X_j) <= sum f(S_b) <= c_j T*``: the optimal partition is feasible with
``T = T*`` and the optimum of the coarsened problem is ``<= T*``.  Every
relaxation of it (the LP, a MIP dual bound under a time limit) is lower still.
``r = 2`` and ``r = 3`` (``(b, 1, k-1-b)``: the stages before, at and after
stage ``b``) are cheap: ``r * n`` binaries instead of ``k * n``.

Heterogeneous pipelines (SPEC section 5): stage ``b`` of speed ``s_b``, links ``l_{b-1}`` in and
``l_b`` out, memory ``M_b``, cap ``L_b``.  For superblock ``X_j`` of stages ``B_j``, multiply
``f_b(S_b) <= T*`` by ``s_b`` and sum over ``B_j``::

    work(X_j) + a_j in(X_j) + b_j out(X_j) + m_j max(0, params(X_j) - sum M_b) / ob <= (sum s_b) T*

with ``a_j = min s_b / l_{b-1}`` over the stages of ``B_j`` after stage 0 (stage 0 receives
nothing), ``b_j = min s_b / l_b`` over those before stage ``k - 1``, ``m_j = min s_b``: valid
because ``in(X_j) <= sum in(S_b)`` and ``out(X_j) <= sum out(S_b)`` separately (the argument
above counts them apart), and overflow is convex; caps sum to ``params(X_j) <= sum L_b``.  With
one stage per superblock these rows are ``f_b(S_b) <= T`` exactly, so the MIP stays exact; with
every ``s_b = 1`` and equal links and memories they are the scalar rows.

Numerics.  Costs are divided by ``scale`` (the combinatorial bound) so the
solver sees values near 1; the bound is mapped back and made safe by
:func:`safe_bound`.

Example
-------
>>> import pjpart
>>> from pjpart.bounds.stages import stage_problem, solve_stage_problem
>>> g = pjpart.load_graph(pjpart.example_path("tiny"))
>>> sol = solve_stage_problem(stage_problem(g, (1, 1), pjpart.CostModel()))
>>> sol.status, round(sol.bound, 4)  # 14 less the safety slack (see safe_bound)
('optimal', 14.0)
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..cost import CostModel
from ..graph import Graph
from .combinatorial import combinatorial_bound

#: safety rule for solver values, in units of the scaled problem (costs near 1):
#: ``safe = value * (1 - REL_SLACK) - ABS_SLACK`` (see :func:`safe_bound`).
REL_SLACK = 1e-6
ABS_SLACK = 1e-7


def safe_bound(value: float, scale: float) -> float:
    """A solver's (scaled) bound made safe against tolerances, mapped back to cost units.

    Interior-point LP solvers stop within ~1e-8 of the optimum and HiGHS's MIP
    dual bound comes from LPs solved to 1e-7 feasibility, on a problem scaled so
    costs are about 1; subtracting ``1e-6`` relative plus ``1e-7`` absolute keeps
    the reported value below the true optimum of the formulation.

    Parameters
    ----------
    value
        The solver's bound on the scaled problem (NaN or inf: none).
    scale
        The problem's cost scale (costs were divided by it).

    Returns
    -------
    float
        ``max(0, (value * (1 - REL_SLACK) - ABS_SLACK) * scale)``; 0 for a non-finite value.

    Examples
    --------
    >>> safe_bound(1.0, 10.0) < 10.0, safe_bound(float("nan"), 10.0)
    (True, 0.0)
    """
    if not math.isfinite(value):
        return 0.0
    return max(0.0, (value * (1 - REL_SLACK) - ABS_SLACK) * scale)


@dataclass(frozen=True)
class StageSolution:
    """The bound from one stage-assignment problem, in the graph's cost units (already safe)."""

    bound: float          # safe lower bound (0 when the solver gave none)
    status: str           # 'optimal', 'time_limit', 'infeasible', 'error: ...'
    seconds: float
    raw: float            # the solver's value before the safety rule, in cost units
    assignment: np.ndarray | None = None  # superblock per node from the solver (exact MIP: a partition)


@dataclass(frozen=True)
class StageProblem:
    """A CVXPY problem for one coarsening, plus what is needed to map its answer back."""

    problem: object       # cvxpy.Problem
    x: object             # cvxpy.Variable (n, r)
    T: object             # cvxpy.Variable ()
    caps: tuple
    scale: float
    integer: bool


def _selector(rows: np.ndarray, n: int) -> sp.csr_matrix:
    """Sparse matrix picking ``rows`` out of an (n, ...) array."""
    return sp.csr_matrix((np.ones(len(rows)), (np.arange(len(rows)), rows)), shape=(len(rows), n))


def stage_problem(graph: Graph, caps: tuple, cost_model: CostModel, *, integer: bool = True,
                  floor: float = 0.0) -> StageProblem:
    """Build the coarsened problem for ``caps`` (see the module docstring) as a CVXPY problem.

    Parameters
    ----------
    graph
        The graph.
    caps
        Stages per superblock, summing to ``k``; ``(1,) * k`` is the exact MIP.
    cost_model
        The block cost's parameters.
    integer
        Binary assignment variables (a MIP); False for the LP relaxation.
    floor
        A bound already proven (``<= T*``), added as the valid row ``T >= floor``.

    Returns
    -------
    StageProblem
        The CVXPY problem and what :func:`solve_stage_problem` needs to map its answer back.

    Examples
    --------
    See the module docstring.
    """
    import cvxpy as cp  # lazy: importing pjpart must not need cvxpy

    caps = tuple(int(c) for c in caps)
    k = sum(caps)
    if not caps or min(caps) < 0 or k < 1:
        raise ValueError(f"caps must be non-negative stage counts summing to k >= 1, got {caps}")
    n, r = graph.n, len(caps)
    cm = cost_model
    comb = combinatorial_bound(graph, k, cm)
    scale = comb if comb > 0 else 1.0
    c = np.asarray(caps, dtype=np.float64)

    x = cp.Variable((n, r), boolean=integer, name="x")
    T = cp.Variable(name="T")
    cons = [cp.sum(x, axis=1) == 1]
    if not integer:
        cons += [x >= 0, x <= 1]
    src, dst = graph.edges[:, 0], graph.edges[:, 1]
    work = graph.work / scale
    stage = work @ x
    if len(src):
        S, D = _selector(src, n), _selector(dst, n)
        if r > 1:
            cum = x @ np.triu(np.ones((r, r)))[:, : r - 1]  # X[:, j] = sum_{j' <= j} x[:, j']
            cons.append(D @ cum <= S @ cum)
        producers, pidx = np.unique(src, return_inverse=True)
        E = sp.csr_matrix((np.ones(len(src)), (np.arange(len(src)), pidx)), shape=(len(src), len(producers)))
        out = cp.Variable((len(producers), r), nonneg=True, name="out")
        inn = cp.Variable((len(producers), r), nonneg=True, name="in")
        diff = S @ x - D @ x
        cons += [E @ out >= diff, E @ inn >= -diff]
        if cm.heterogeneous:
            w = _superblock_weights(cm, caps)
            size = graph.sizeout[producers] / scale
            stage = stage + size @ (cp.multiply(out, w["out"][None, :]) + cp.multiply(inn, w["in"][None, :]))
        else:
            size = graph.sizeout[producers] / (cm.bandwidth * scale)
            stage = stage + size @ (out + inn)
    if cm.heterogeneous:
        stage, c = _superblock_memory(cp, cm, caps, graph.params @ x, stage, cons, scale)
    else:
        if math.isfinite(cm.memory):
            o = cp.Variable(r, nonneg=True, name="overflow")
            cons.append(o >= (graph.params @ x - c * cm.memory) / (cm.overflow_bandwidth * scale))
            stage = stage + o
        if math.isfinite(cm.memory_limit):
            cons.append(graph.params @ x <= c * cm.memory_limit)
    cons += [stage <= c * T, T >= max(comb, floor) / scale]
    # nodes may not sit in an empty superblock: c_j = 0 forces work there to 0 only, so pin them
    for j in np.flatnonzero(c == 0):
        cons.append(x[:, int(j)] == 0)
    problem = cp.Problem(cp.Minimize(T), cons)
    return StageProblem(problem=problem, x=x, T=T, caps=caps, scale=scale, integer=integer)


def _superblock_weights(cm: CostModel, caps: tuple) -> dict:
    """Per superblock ``j`` of a heterogeneous pipeline (stages ``B_j``): ``sigma`` = the sum of
    their speeds, ``min`` = the slowest, ``in`` / ``out`` = the least ``speed_b / link`` over
    the stages that can receive / send (stage 0 receives nothing, stage ``k - 1`` sends
    nothing; 0 when none can), ``memory`` and ``limit`` the sums (see the module docstring)."""
    t = cm.stage_terms()
    k = len(t.speed)
    w = {name: np.zeros(len(caps)) for name in ("sigma", "min", "in", "out", "memory", "limit")}
    start = 0
    for j, cj in enumerate(caps):
        B = np.arange(start, start + cj)
        start += cj
        if not cj:
            continue
        recv, send = B[B >= 1], B[B <= k - 2]
        w["sigma"][j], w["min"][j] = t.speed[B].sum(), t.speed[B].min()
        w["in"][j] = (t.speed[recv] / t.bandwidth_in[recv]).min() if len(recv) else 0.0
        w["out"][j] = (t.speed[send] / t.bandwidth_out[send]).min() if len(send) else 0.0
        w["memory"][j], w["limit"][j] = t.memory[B].sum(), t.memory_limit[B].sum()
    return w


def _superblock_memory(cp, cm: CostModel, caps: tuple, params, stage, cons: list, scale: float):
    """The overflow and cap rows of a heterogeneous pipeline's superblocks; returns the row
    expressions and the right-hand side factor ``sigma`` (``stage <= sigma T``)."""
    w = _superblock_weights(cm, caps)
    soft = np.flatnonzero(np.isfinite(w["memory"]) & (np.asarray(caps) > 0))
    if len(soft):
        o = cp.Variable(len(caps), nonneg=True, name="overflow")
        cons.append(o[soft] >= (params[soft] - w["memory"][soft]) / (cm.overflow_bandwidth * scale))
        stage = stage + cp.multiply(w["min"], o)
    hard = np.flatnonzero(np.isfinite(w["limit"]) & (np.asarray(caps) > 0))
    if len(hard):
        cons.append(params[hard] <= w["limit"][hard])
    return stage, w["sigma"]


def solve_stage_problem(sp_: StageProblem, *, time_limit: float | None = None, solver: str | None = None,
                        threads: int | None = None) -> StageSolution:
    """Solve and map back: the LP optimum, the MIP optimum, or the MIP dual bound at a time limit.

    Parameters
    ----------
    sp_
        A problem from :func:`stage_problem`.
    time_limit
        Seconds for the solver; ``None`` for no limit.
    solver
        A CVXPY solver name; by default HiGHS for a MIP and Clarabel for an LP (HiGHS when
        Clarabel does not certify its answer).
    threads
        Solver threads for a MIP (HiGHS's default when not given).

    Returns
    -------
    StageSolution
        The safe bound (0 when the solver proved none), the status and the time.

    Examples
    --------
    See the module docstring.
    """
    import cvxpy as cp

    t0 = time.perf_counter()
    opts: dict = {}
    if sp_.integer:
        solver = solver or "HIGHS"
        if time_limit is not None:
            opts["time_limit"] = float(max(time_limit, 0.01))
        opts["mip_rel_gap"] = 1e-9
        if threads:
            opts["threads"] = int(threads)
    else:
        # Clarabel: certifies the LP optimum fast where ECOS can stall on large graphs
        solver = solver or "CLARABEL"
        if time_limit is not None:
            opts["time_limit"] = float(max(time_limit, 0.01))
    try:
        with _quiet_stdout(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "solution may be inaccurate": the status says so
            sp_.problem.solve(solver=solver, **opts)
    except cp.error.SolverError as exc:
        return _from_stats(sp_, time.perf_counter() - t0, f"error: {exc}")
    status = sp_.problem.status
    left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
    if not sp_.integer and status != cp.OPTIMAL and solver != "HIGHS" and (left is None or left > 0.1):
        # an interior-point answer that is not certified optimal: re-solve with HiGHS
        return solve_stage_problem(sp_, solver="HIGHS", time_limit=left)
    return _from_stats(sp_, time.perf_counter() - t0, status)


@contextlib.contextmanager
def _quiet_stdout():
    """Silence solver banners written straight to file descriptor 1 (HiGHS prints one)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (e.g. some notebooks): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _from_stats(sp_: StageProblem, seconds: float, status: str) -> StageSolution:
    """Read the proven bound: MIP dual bound from HiGHS, else the LP optimum (never an incumbent)."""
    import cvxpy as cp

    stats = sp_.problem.solver_stats
    info = getattr(stats, "extra_stats", None) if stats is not None else None
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        # no labelling fits: the formulation proves nothing beyond "infeasible" (memory_limit)
        return StageSolution(bound=0.0, status="infeasible", seconds=seconds, raw=math.nan)
    value = math.nan
    if sp_.integer:
        dual = getattr(info, "mip_dual_bound", None)
        if dual is not None and math.isfinite(dual):
            value = float(dual)
        elif status == cp.OPTIMAL and sp_.problem.value is not None:
            value = float(sp_.problem.value)
        hit_limit = status != cp.OPTIMAL
        name = "optimal" if not hit_limit else ("time_limit" if math.isfinite(value) else f"no bound ({status})")
    else:
        if status == cp.OPTIMAL and sp_.problem.value is not None:
            value = float(sp_.problem.value)
            name = "optimal"
        else:
            name = f"no bound ({status})"
    assignment = None
    if sp_.x.value is not None:
        assignment = np.argmax(np.asarray(sp_.x.value), axis=1)
    return StageSolution(bound=safe_bound(value, sp_.scale), status=name, seconds=seconds,
                         raw=value * sp_.scale if math.isfinite(value) else math.nan, assignment=assignment)
