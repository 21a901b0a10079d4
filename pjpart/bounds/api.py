"""``lower_bound``: run bound formulations under a time limit and return the best, made safe.

Methods (each a proven lower bound on the optimal bottleneck; proofs in the
modules named):

=================  ==========================================================  =======================
name               what                                                        proof
=================  ==========================================================  =======================
``combinatorial``  ``max(work(V)/k, max_v work(v))`` + overflow terms           ``combinatorial.py``
``mincut``         max over nodes of the cheapest block holding it (min cuts)   ``mincut.py``
``exact-dp``       min-max DP over the downset lattice (exact; small lattices)  ``search/exact.py``
``superblock2``    MIPs over 2 superblocks ``(c, k-c)``, max over ``c``           ``stages.py``
``superblock3``    MIPs over ``(b, 1, k-1-b)``: before / at / after stage b     ``stages.py``
``lp``             LP relaxation of the exact MIP (weak; Clarabel, HiGHS fallback) ``stages.py``
``mip``            the exact MIP on HiGHS; its dual bound at the time limit     ``stages.py``
=================  ==========================================================  =======================

``auto`` runs them in the order of bound per second measured by
``bench/bounds.py``: combinatorial (instant), mincut (well under a second on
the zoo, and what decides communication-bound models at large k), exact-dp
(when the lattice is small it IS the optimum), superblock2, superblock3, then
the exact MIP with the time that is left.  Each solver formulation also carries
the best bound found before it as a row ``T >= bound`` (valid: the bound is
``<= T*``), so a later method never reports less than an earlier one proved.

Safety.  Solver values go through :func:`pjpart.bounds.stages.safe_bound`
(relative 1e-6 plus absolute 1e-7 on costs scaled to about 1).  A method whose
value is above a known partition's cost (``upper_bound``) is refused: with
``strict=True`` that raises :class:`BoundError` (the tests use this), otherwise
it is dropped with a warning and status ``refused``.

Example
-------
>>> import pjpart
>>> g = pjpart.load_graph(pjpart.example_path("tiny"))
>>> b = pjpart.lower_bound(g, 2, methods=["combinatorial", "mip"])
>>> b.method, round(b.value, 5)
('mip', 13.99999)
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

from ..cost import CostModel, cost_model_for
from ..graph import Graph, GraphError, check_k
from .combinatorial import check_feasible, combinatorial_bound

METHODS = ("combinatorial", "mincut", "exact-dp", "superblock2", "superblock3", "lp", "mip")
AUTO = ("combinatorial", "mincut", "exact-dp", "superblock2", "superblock3", "mip")


class BoundError(AssertionError):
    """A bound above a feasible partition's cost: always a bug."""


@dataclass(frozen=True)
class MethodBound:
    """One method's outcome: its safe value (0 when it proved nothing), status and time."""

    method: str
    value: float
    status: str
    seconds: float
    detail: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"method": self.method, "value": self.value, "status": self.status,
                "seconds": round(self.seconds, 4), **self.detail}


@dataclass(frozen=True)
class Bound:
    """The best bound over the methods run, with every method's result."""

    value: float
    method: str
    k: int
    results: tuple
    seconds: float

    def by_method(self) -> dict:
        return {r.method: r.value for r in self.results}

    def to_json(self) -> dict:
        return {"k": self.k, "lower_bound": self.value, "method": self.method, "seconds": round(self.seconds, 4),
                "methods": [r.to_json() for r in self.results]}


def _spread(lo: int, hi: int) -> list[int]:
    """``lo..hi`` in coverage order: middle first, then quarters, eighths, ... (each value once)."""
    out: list[int] = []
    seen = set()
    spans = [(lo, hi)]
    while spans:
        nxt = []
        for a, b in spans:
            if a > b:
                continue
            mid = (a + b) // 2
            if mid not in seen:
                seen.add(mid)
                out.append(mid)
            nxt += [(a, mid - 1), (mid + 1, b)]
        spans = nxt
    return out


def _family(graph: Graph, cm: CostModel, caps_list: list[tuple], deadline: float, name: str,
            per_problem: float | None, floor: float) -> MethodBound:
    """Max over coarsenings, each solved until the deadline; the dual bound of the last one counts too."""
    from .stages import solve_stage_problem, stage_problem

    t0 = time.perf_counter()
    best, best_caps, solved, statuses = 0.0, None, 0, set()
    for caps in caps_list:
        left = deadline - time.perf_counter()
        if left <= 0.05:
            break
        limit = left if per_problem is None else min(left, per_problem)
        sol = solve_stage_problem(stage_problem(graph, caps, cm, floor=floor), time_limit=limit)
        solved += 1
        statuses.add(sol.status)
        if sol.bound > best:
            best, best_caps = sol.bound, caps
    status = "optimal" if statuses == {"optimal"} and solved == len(caps_list) else (
        f"partial ({solved}/{len(caps_list)} coarsenings)" if solved else "no time")
    return MethodBound(name, best, status, time.perf_counter() - t0,
                       {"caps": list(best_caps) if best_caps else None, "solved": solved})


def _run(method: str, graph: Graph, k: int, cm: CostModel, deadline: float, max_downsets: int,
         floor: float = 0.0) -> MethodBound:
    t0 = time.perf_counter()
    if method == "combinatorial":
        return MethodBound(method, combinatorial_bound(graph, k, cm), "proven", time.perf_counter() - t0)
    if method == "mincut":
        from .mincut import node_closure_values

        vals, done = node_closure_values(graph, cm, deadline)
        status = "proven" if done == graph.n else f"partial ({done}/{graph.n} nodes)"
        return MethodBound(method, float(vals.max(initial=0.0)), status, time.perf_counter() - t0)
    if method == "exact-dp":
        from ..search.exact import exact_partition

        exact = exact_partition(graph, k, cm, max_downsets)
        if exact is None:
            return MethodBound(method, 0.0, f"skipped (more than {max_downsets} downsets)", time.perf_counter() - t0)
        return MethodBound(method, exact[0], "optimal", time.perf_counter() - t0)
    if method in ("superblock2", "superblock3", "lp", "mip"):
        import cvxpy  # noqa: F401  (first import: about a second, counted before a problem starts)

        if deadline - time.perf_counter() <= 0.05:
            return MethodBound(method, 0.0, "no time", time.perf_counter() - t0)
    if method in ("superblock2", "superblock3"):
        if k == 1:
            return MethodBound(method, 0.0, "skipped (k = 1)", 0.0)
        if method == "superblock2":
            caps = [(c, k - c) for c in _spread(1, k - 1)]
        else:
            caps = [(b, 1, k - 1 - b) for b in _spread(0, k - 1)]
        # one coarsening may not eat the whole budget: a later, better one would never run
        per = max(1.0, (deadline - t0) / 4)
        return _family(graph, cm, caps, deadline, method, per, floor)
    if method in ("lp", "mip"):
        from .stages import solve_stage_problem, stage_problem

        left = deadline - time.perf_counter()
        if left <= 0.05:
            return MethodBound(method, 0.0, "no time", 0.0)
        prob = stage_problem(graph, (1,) * k, cm, integer=method == "mip", floor=floor)
        sol = solve_stage_problem(prob, time_limit=left)
        return MethodBound(method, sol.bound, sol.status, time.perf_counter() - t0)
    raise GraphError(f"unknown bound method {method!r}; known: {', '.join(METHODS)} or 'auto'")


def lower_bound(graph: Graph, k: int, cost_model: CostModel | None = None, *, methods="auto",
                time_limit: float | None = 30.0, upper_bound: float | None = None, strict: bool = False,
                max_downsets: int = 4096, on_method: Callable[[MethodBound], None] | None = None) -> Bound:
    """A lower bound on the optimal bottleneck of ``graph`` into ``k`` stages.

    ``methods`` is ``"auto"`` or a list of names from :data:`METHODS`; they run
    in that order until ``time_limit`` seconds are spent (the combinatorial
    bound always runs).  ``upper_bound`` (a known partition's cost) stops the
    run when reached and refuses any value above it (see the module docstring).
    ``on_method`` is called with each method's checked result as soon as it is
    known (a search running alongside can use a bound before the slower ones end).
    """
    t0 = time.perf_counter()
    k = check_k(k)
    cm = cost_model or cost_model_for(graph)
    check_feasible(graph, cm)
    names = list(AUTO if methods == "auto" else ([methods] if isinstance(methods, str) else methods))
    for name in names:
        if name not in METHODS:
            raise GraphError(f"unknown bound method {name!r}; known: {', '.join(METHODS)} or 'auto'")
    if "combinatorial" not in names:
        names.insert(0, "combinatorial")
    deadline = t0 + (math.inf if time_limit is None else float(time_limit))
    results: list[MethodBound] = []
    best = MethodBound("combinatorial", 0.0, "", 0.0)
    for name in names:
        if results and time.perf_counter() >= deadline:
            results.append(MethodBound(name, 0.0, "no time", 0.0))
            continue
        res = _run(name, graph, k, cm, deadline, max_downsets, best.value)
        if upper_bound is not None and res.value > upper_bound * (1 + 1e-9):
            msg = (f"bound method {name!r} gave {res.value!r} above a feasible partition's cost "
                   f"{upper_bound!r}: a bound bug")
            if strict:
                raise BoundError(msg)
            warnings.warn(msg + "; value refused", RuntimeWarning, stacklevel=2)
            res = MethodBound(name, 0.0, "refused", res.seconds, {"refused_value": res.value})
        results.append(res)
        if on_method is not None:
            on_method(res)
        if res.value > best.value:
            best = res
        if upper_bound is not None and best.value >= upper_bound * (1 - 1e-9):
            break  # proven optimal: nothing left to gain
        if name == "exact-dp" and res.status == "optimal":
            break  # the optimum itself
    return Bound(value=float(best.value), method=best.method, k=k, results=tuple(results),
                 seconds=time.perf_counter() - t0)


__all__ = ["AUTO", "METHODS", "Bound", "BoundError", "MethodBound", "lower_bound"]
