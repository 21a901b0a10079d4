"""The proof side of a run: the lower bound it reports and stops against, and the
certified result.

:class:`BoundSource` starts from the combinatorial bound and takes better ones from
:func:`pjpart.lower_bound`: computed before the search (runs with a generation or
evaluation budget, so that their stop and result stay reproducible) or in a child
process alongside it (time-limited runs: the solvers and XLA's compilation overlap
instead of taking turns; :mod:`pjpart.bounds.background`).  A partition a bound method finds
on the way (the ``guess`` MIP's) is kept too (:attr:`BoundSource.partition`): the search
takes it when it is cheaper than its own best.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..bounds import AUTO, SOLVER_FREE, available_methods, combinatorial_bound, lower_bound
from ..bounds.background import BackgroundBounds
from ..bounds.cache import BoundCache
from ..budget import Budget
from ..errors import InfeasibleError
from ..problem import Problem
from ..result import PROOF_TOLERANCE, PartitionResult, make_result, relative_gap
from .config import BoundPolicy

#: the bounds end this many seconds before the run does, to send what they found in time
REPLY_SECONDS = 0.25


class BoundSource:
    """The best lower bound known to a run (``value``, ``method``), with where better ones come from.

    Examples
    --------
    >>> import pjpart
    >>> from pjpart.problem import Problem
    >>> p = Problem.validated(pjpart.load_graph(pjpart.example_path("tiny")), 2)
    >>> bounds = BoundSource(p, BoundPolicy(methods="combinatorial,mincut"), Budget(None))
    >>> bounds.compute(upper=14.0); bounds.method, bounds.proves(14.0)
    ('mincut', False)
    """

    def __init__(self, problem: Problem, policy: BoundPolicy, budget: Budget) -> None:
        self.problem, self.policy, self.budget = problem, policy, budget
        self.value = combinatorial_bound(problem.graph, problem.k, problem.cost_model)
        self.method = "combinatorial"
        self._pending: BackgroundBounds | None = None
        self._started = self._lower_later = False
        #: the cheapest ``(cost, stages, method)`` partition a bound method found (``guess``'s MIP,
        #: ``mincut``'s block), or None
        self.partition: tuple[float, np.ndarray, str] | None = None
        self.cache = BoundCache(policy.cache) if policy.cache is not None else None
        cached = self.cache.best(problem.graph, problem.k, problem.cost_model) if self.cache else None
        if cached is not None:  # a later run of the same problem starts from what was proven
            self._offer(cached[0], f"{cached[1]} (cached)")

    def request(self, upper: float) -> dict | None:
        """Arguments of :func:`pjpart.lower_bound` within the policy's time (``None`` when only
        the combinatorial bound is asked for); ``upper`` is a known partition's cost."""
        names = self.policy.names()
        if names == ["combinatorial"]:
            return None
        p = self.problem
        seconds = self.policy.seconds(self.budget.time_limit)
        if self.budget.limited:  # started late in a short run, the bounds still end before it does
            seconds = max(0.0, min(seconds, self.budget.remaining("finish") - REPLY_SECONDS))
        return dict(graph=p.graph, k=p.k, cost_model=p.cost_model, methods=available_methods(names),
                    time_limit=seconds, upper_bound=upper, cache=self.cache)

    def compute(self, upper: float) -> None:
        """Compute the bound here and now."""
        request = self.request(upper)
        if request is not None:
            b = lower_bound(request.pop("graph"), request.pop("k"), request.pop("cost_model"), **request)
            self._offer(b.value, b.method)
            if b.partition is not None:
                self._offer_partition(b.partition_cost, b.partition, b.partition_method)

    def start(self, upper: float, niceness: int = 0) -> None:
        """Compute the bound in a child process at ``niceness``; each method's bound is taken
        once known (:meth:`collect`); once started (beside a packing), it aims below ``upper`` from
        now on, and once done it is not started again."""
        if self._started:
            self.offer_upper(upper)
            return
        self._started = True
        request = self.request(upper)
        if request is None:
            return
        try:
            self._pending = BackgroundBounds({**request, "niceness": niceness})
        except OSError as exc:  # no child processes here: keep the bound the run has
            warnings.warn(f"lower bounds not computed alongside the search: {exc}", RuntimeWarning, stacklevel=2)

    def deprioritise(self) -> None:
        """The bounds process runs at the policy's niceness from now on (it started at 0, to
        use the core XLA's compilation leaves idle), once its solver-free methods have
        reported: the lattice DPs prove most answers in seconds at full priority, and the
        bottleneck guessing's MIPs certify (and find) what the search cannot; starved behind the
        search they would not finish in time.  The CVXPY formulations then yield to the search."""
        self._lower_later = True
        self._maybe_lower()

    def _maybe_lower(self) -> None:
        pending = self._pending
        if pending is None or not self._lower_later or not self.policy.niceness:
            return
        names = self.policy.names()
        free = [m for m in (AUTO if names == "auto" else names) if m in SOLVER_FREE]
        if set(free) <= set(pending.seen) | {"combinatorial"} or pending.done.is_set():
            pending.renice(self.policy.niceness)
            self._lower_later = False

    def collect(self, wait: bool = False, found: float | None = None) -> None:
        """Take the bounds published so far; with ``wait``, wait for the rest until the run's
        time limit (their budget ends well before), then end the bounds process.  A bound
        that already proves ``found`` (a partition's cost) optimal ends the waiting at once:
        the other methods cannot gain anything."""
        pending = self._pending
        if pending is None:
            return
        self._maybe_lower()
        self._take(pending)
        if wait and not (found is not None and self.proves(found)):
            left = self.budget.remaining("finish")
            pending.done.wait(None if not self.budget.limited else max(0.0, left))
        finished = wait or pending.done.is_set()
        self._take(pending)  # after the done flag: nothing the child sent before it is lost
        if finished:
            pending.stop()
            self._pending = None
            if pending.error is not None and pending.error.startswith("InfeasibleError: "):
                raise InfeasibleError(pending.error.split(": ", 1)[1])  # the exact DP proved it
            if pending.error is not None:
                raise RuntimeError(f"lower bounds failed: {pending.error}")

    def offer_upper(self, cost: float) -> None:
        """A partition of ``cost`` was found: the bounds process aims below it from now on."""
        if self._pending is not None:
            self._pending.offer_upper(cost)

    def stop(self) -> None:
        """End the bounds process if it still runs (after Ctrl-C, or an error)."""
        if self._pending is not None:
            self._pending.stop()
            self._pending = None

    def proves(self, value: float) -> bool:
        """Whether the bound proves ``value`` optimal, up to :data:`pjpart.result.PROOF_TOLERANCE`."""
        return self.value >= value * (1 - PROOF_TOLERANCE)

    def gap(self, value: float) -> float:
        return relative_gap(value, self.value)

    def refuse_above(self, found: float) -> None:
        """Drop a cached bound above a partition's cost (``found``) before anything relies on it."""
        self.for_result(found)

    def for_result(self, found: float) -> tuple[float, str]:
        """``(bound, method)`` to certify a partition of cost ``found`` with: a cached bound above
        it is dropped with a warning (a cache written by a buggy run certifies nothing)."""
        if self.method.endswith("(cached)") and self.value > found * (1 + 1e-9):
            warnings.warn(f"cached bound {self.value!r} ({self.method}) is above a found partition's cost "
                          f"{found!r}; ignored", RuntimeWarning, stacklevel=2)
            self.value = combinatorial_bound(self.problem.graph, self.problem.k, self.problem.cost_model)
            self.method = "combinatorial"
        return self.value, self.method

    def _offer(self, value: float, method: str) -> None:
        if value > self.value:
            self.value, self.method = float(value), method

    def _take(self, pending: BackgroundBounds) -> None:
        """The best bound and partition the bounds process has sent so far."""
        if pending.best is not None:
            self._offer(*pending.best)
        if pending.partition is not None:
            self._offer_partition(*pending.partition)

    def _offer_partition(self, cost: float, stages: np.ndarray, method: str) -> None:
        if self.partition is None or cost < self.partition[0]:
            self.partition = (float(cost), np.asarray(stages, dtype=np.int64), method)


def certify(problem: Problem, assignment, lower: float, bound_method: str, **info) -> PartitionResult:
    """The result: ``assignment`` re-validated and re-costed in float64, with its bound
    (raises if the bound is above the partition's cost: a bound bug)."""
    return make_result(problem.graph, assignment, problem.k, problem.cost_model, lower_bound=lower,
                       bound_method=bound_method, **info)


__all__ = ["BoundSource", "certify"]
