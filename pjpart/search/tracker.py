"""What both search engines share: the best so far, the float32 near-ties, counters,
history, and the stop rules.

Examples
--------
>>> import numpy as np
>>> from pjpart.budget import Budget
>>> from pjpart.search.config import load_preset
>>> from pjpart.search.progress import Progress
>>> cfg = load_preset("default", generations=2)
>>> t = Tracker(cfg, Budget(None), bounds=None, progress=Progress(False))
>>> t.offer(np.zeros(3), 5.0); t.generation = 2
>>> t.best_value, t.should_stop(), t.stopped_by
(5.0, True, 'generations')
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..budget import Budget
from ..result import PROOF_TOLERANCE, relative_gap
from .config import SearchConfig
from .progress import Progress


class Tracker:
    """Best keys and value, evaluations, generations, history and finalists of one run.

    Parameters
    ----------
    cfg
        The run's configuration (its stop rules).
    budget
        The run's clock.
    bounds
        The run's :class:`~pjpart.search.certify.BoundSource` (``None``: a bound of 0).
    progress, callback
        Told the state once per step (:meth:`report`).
    stall_share
        Stop (``"stalled"``) once the best has not improved for this share of the search's
        time window (``None``: never; a multilevel run's coarse search, see
        :class:`~pjpart.search.config.FinishPolicy`).
    """

    def __init__(self, cfg: SearchConfig, budget: Budget, bounds, progress: Progress,
                 callback: Callable[[dict], None] | None = None, stall_share: float | None = None) -> None:
        self.cfg, self.budget, self.bounds, self.progress, self.callback = cfg, budget, bounds, progress, callback
        self.stall_share = stall_share
        self._window = (budget.elapsed(), budget.elapsed() + budget.remaining())  # the search phase's
        self._improved_at = budget.elapsed()
        self.best_keys: np.ndarray | None = None
        self.best_value = math.inf
        self.evaluations, self.generation, self.stopped_by = 0, 0, "time_limit"
        self.history: list = []
        self.finalists: list[np.ndarray] = []  # keys whose float32 fitness ties the best's
        self._finalist_fitness = np.zeros(0)
        self.step_seconds = 0.0  # length of the last step, so a step is not started that would overshoot
        #: turns a partition the bounds found (stages of the searched graph) into keys, so the search
        #: takes it as its best when cheaper (``None``: not taken, e.g. a coarse search's keys)
        self.adopt: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def bound(self) -> float:
        return 0.0 if self.bounds is None else self.bounds.value

    def gap(self, value: float) -> float:
        return relative_gap(value, self.bound)

    def offer(self, keys: np.ndarray, value: float) -> None:
        if value < self.best_value:
            if value < self.best_value * (1 - 1e-9):  # not a float32 re-ranking of the same
                self._improved_at = self.budget.elapsed()
            self.best_value, self.best_keys = float(value), np.asarray(keys, np.float64)

    def stalled(self) -> bool:
        """Whether the best has not improved for ``stall_share`` of the search's window."""
        start, end = self._window
        return self.stall_share is not None and math.isfinite(end) and \
            self.budget.elapsed() - self._improved_at >= self.stall_share * (end - start)

    def keep_finalists(self, keys: np.ndarray, fitness: np.ndarray, count: int = 8,
                       tolerance: float = 1e-5) -> None:
        """Merge ``keys`` into the finalists: the ``count`` best seen whose fitness is within
        ``tolerance`` (relative) of the best.  float32 rounding may rank them wrongly, so the
        final answer re-slices them in float64."""
        keys = np.concatenate([np.reshape(self.finalists, (-1, keys.shape[1])), keys])
        fitness = np.concatenate([self._finalist_fitness, fitness])
        near = np.flatnonzero(fitness <= self.best_value * (1 + tolerance))
        keep = near[np.argsort(fitness[near], kind="stable")][:count]
        self.finalists, self._finalist_fitness = list(keys[keep]), fitness[keep]

    def out_of_time(self) -> bool:
        """Whether the next step would overshoot the search's end by more than half its length."""
        return self.budget.expired("search", margin=0.5 * self.step_seconds)

    def report(self) -> None:
        """Once per step, before :meth:`should_stop`: take the bounds that arrived, log, call back."""
        if self.bounds is not None:
            self.bounds.collect()
            found = self.bounds.partition
            if self.adopt is not None and found is not None and found[0] < self.best_value:
                self.offer(self.adopt(found[1]), found[0])
            self.bounds.offer_upper(self.best_value)
        elapsed = self.budget.elapsed()
        info = {"generation": self.generation, "evaluations": self.evaluations,
                "evals_per_s": self.evaluations / max(elapsed, 1e-9), "best": self.best_value,
                "bound": self.bound, "gap": self.gap(self.best_value), "seconds": elapsed}
        self.history.append((elapsed, self.evaluations, self.best_value))
        self.progress(info)
        if self.callback is not None:
            self.callback(info)

    def should_stop(self) -> bool:
        """Set ``stopped_by`` and return True when a stop rule holds (checked after each step)."""
        stop, gap = self.cfg.stop, self.gap(self.best_value)
        rules = [("optimal", gap <= PROOF_TOLERANCE),  # proven, up to the solvers' and float32's rounding
                 ("target_gap", stop.target_gap is not None and gap <= stop.target_gap),
                 ("generations", stop.generations is not None and self.generation >= stop.generations),
                 ("evaluations", stop.max_evaluations is not None and self.evaluations >= stop.max_evaluations),
                 ("time_limit", self.out_of_time()), ("stalled", self.stalled())]
        for name, hit in rules:
            if hit:
                self.stopped_by = name
                return True
        return False


__all__ = ["Tracker"]
