"""The one clock of a run: :class:`Budget` owns the start, the deadlines and the waiting.

A run's time limit ``T`` splits into the search, which ends at ``T x (1 - finish_share)``,
and finishing (local search, float64 re-slicing), which ends at ``T``.  Everything that
may run long asks the budget whether to stop (``budget.stopper()`` gives a callable for
code that should not know about budgets: the evaluator, the local search, the min cuts);
nothing else holds a raw deadline.

Kernel calls are waited for through :meth:`Budget.call`: a call that meets new shapes
compiles first (seconds on a real model) and compiling can be neither interrupted nor
foreseen, so a time-limited run waits for it in a worker thread until the search's end
only.  A call left running goes on in the background; :class:`BackgroundCalls`, owned by
the caller (a :class:`pjpart.Solver`), remembers it, and the next run of that caller
waits for it before its first call instead of compiling the same kernel again beside it.

Examples
--------
>>> b = Budget(10.0, finish_share=0.1)
>>> b.expired(), 8.9 < b.remaining() <= 9.0, 9.9 < b.remaining("finish") <= 10.0
(False, True, True)
>>> Budget(None).remaining()
inf
>>> b.within(2.0).remaining() <= 2.0
True
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_futures
from typing import Any, Callable

PHASES = ("search", "finish")


class BackgroundCalls:
    """Kernel calls that time-limited runs stopped waiting for, still running in their threads.

    One per caller that runs searches one after another (a :class:`pjpart.Solver`, a
    sweep): like the kernels they compile, they outlive the run that started them.

    >>> BackgroundCalls().settle(0.0)
    True
    """

    def __init__(self) -> None:
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def add(self, future: Future) -> None:
        with self._lock:
            self._pending.add(future)

        def forget(f: Future) -> None:
            with self._lock:
                self._pending.discard(f)

        future.add_done_callback(forget)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (``None``: no limit) for the calls left running;
        True when none is left."""
        with self._lock:
            pending = list(self._pending)
        return not wait_futures(pending, timeout=timeout).not_done


class Budget:
    """Start, deadlines and kernel-call waiting of one run (``time_limit=None``: no clock).

    Parameters
    ----------
    time_limit
        Seconds for the whole run, counted from ``start``; ``None`` for no limit.
    finish_share
        Share of the time limit kept for finishing: the search phase ends before it.
    calls
        Where calls left running are remembered (see the module docstring); a private
        one when not given.
    start
        The run's start (a ``time.perf_counter()`` value); now when not given.
    """

    def __init__(self, time_limit: float | None, *, finish_share: float = 0.0,
                 calls: BackgroundCalls | None = None, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else float(start)
        self.time_limit = time_limit
        self._ends = {"finish": math.inf if time_limit is None else self.start + time_limit,
                      "search": math.inf if time_limit is None else self.start + time_limit * (1 - finish_share)}
        self.calls = BackgroundCalls() if calls is None else calls
        self.abandoned = False  # a call outlasted the search's end and still runs in the background
        self._worker: ThreadPoolExecutor | None = None
        self._settled = False  # the calls earlier runs left running waited for, once per run

    @property
    def limited(self) -> bool:
        """Whether there is a clock at all."""
        return self.time_limit is not None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self, phase: str = "search") -> float:
        """Seconds left in ``phase`` (``inf`` without a time limit; negative once past)."""
        return self._ends[phase] - time.perf_counter()

    def expired(self, phase: str = "search", margin: float = 0.0) -> bool:
        """Whether ``phase`` ends within ``margin`` seconds from now."""
        return self.remaining(phase) <= margin

    def stopper(self, phase: str = "search") -> Callable[[], bool] | None:
        """A should-stop callable for ``phase`` (``None`` without a time limit: never stop)."""
        return None if not self.limited else (lambda: self.expired(phase))

    def within(self, seconds: float | None) -> "Budget":
        """A budget of at most ``seconds`` from now that ends no later than this one's finish."""
        limit = self.remaining("finish") if seconds is None else min(float(seconds), self.remaining("finish"))
        return Budget(None if math.isinf(limit) else max(0.0, limit), calls=self.calls)

    def call(self, fn: Callable[[], Any]) -> tuple[bool, Any]:
        """``(True, fn())``, or ``(False, None)`` when the search's end comes first.

        Without a time limit ``fn`` runs here.  With one, it runs in a worker thread
        and is waited for until the search's end; past it the call goes on in the
        background (remembered by :attr:`calls`).  The first call of a run first waits
        for the calls earlier runs left running, within the same limit.
        """
        return self.wait(self.start_call(fn))

    def start_call(self, fn: Callable[[], Any]) -> Future | None:
        """Start ``fn`` as :meth:`call` would, without waiting: a future for :meth:`wait`
        (``None`` when the calls earlier runs left running outlasted the search)."""
        if not self._settled:
            self._settled = self.calls.settle(None if not self.limited else max(0.0, self.remaining()))
            if not self._settled:
                return None
        if not self.limited:
            future: Future = Future()
            try:
                future.set_result(fn())
            except BaseException as exc:  # raised again by wait(), as from a thread
                future.set_exception(exc)
            return future
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="pjpart-search")
        return self._worker.submit(fn)

    def wait(self, future: Future | None) -> tuple[bool, Any]:
        """``(True, result)`` of a started call, or ``(False, None)`` when the search's end
        comes first (the call goes on in the background)."""
        if future is None:
            return False, None
        try:
            return True, future.result(timeout=None if not self.limited else max(0.0, self.remaining()))
        except FutureTimeout:
            self.leave(future)
            return False, None
        except BaseException:  # Ctrl-C while waiting: the call goes on in the background
            if not future.done():
                self.leave(future)
            raise

    def leave(self, future: Future) -> None:
        """Stop waiting for a started call: it ends in the background, remembered by :attr:`calls`."""
        self.abandoned = True
        self.calls.add(future)

    def close(self) -> None:
        """Release the worker thread (a call it still runs ends on its own)."""
        if self._worker is not None:
            self._worker.shutdown(wait=False)
            self._worker = None


__all__ = ["BackgroundCalls", "Budget", "PHASES"]
