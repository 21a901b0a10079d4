"""Lower bounds in a child process, for a search running alongside (the parent side).

Why a process: the bound formulations are built in Python (CVXPY), and a thread
building CVXPY problems holds the GIL against the search loop whatever its CPU
priority.  :class:`BackgroundBounds` starts ``python -m pjpart.bounds.worker`` (the
child side, :mod:`pjpart.bounds.worker`), sends it the :func:`pjpart.lower_bound`
request and reads each method's result in a thread as soon as it is known.  The
child starts at the niceness the request names; the search raises it later, every
thread of the child, when it needs the cores (:meth:`BackgroundBounds.renice`).

Protocol: the parent writes one pickle ``dict(graph=, k=, cost_model=, niceness=, sent_at=,
**kwargs)`` of :func:`pjpart.lower_bound` arguments to the child's stdin, then a line
``repr(cost)`` each time the search finds a cheaper partition (:meth:`BackgroundBounds.offer_upper`:
the child's ``latest_upper``), and closes it when it stops; the child writes one JSON line per
method as soon as it is known (``{"value", "method"}``, plus ``"partition"`` (every node's stage)
and its ``"cost"`` when the method found one cheaper than any before), a line ``{"value", "method",
"partial": true}`` each time a long method's bound rises before it ends (proven, like the others),
then ``{"done": true, "value", "method", "nice"}``, or ``{"error": "..."}``.  A parent that stops reading (it ended, or
killed the child) ends the child quietly.

Examples
--------
>>> import pjpart
>>> g = pjpart.load_graph(pjpart.example_path("tiny"))
>>> bg = BackgroundBounds(dict(graph=g, k=2, cost_model=pjpart.CostModel(),
...                            methods=["combinatorial", "exact-dp"], time_limit=30))
>>> bg.done.wait(60), bg.best, bg.error
(True, (14.0, 'exact-dp'), None)
>>> bg.stop()
"""

from __future__ import annotations

import json
import math
import os
import pickle
import queue
import subprocess
import sys
import threading
import time

import numpy as np


class BackgroundBounds:
    """:func:`pjpart.lower_bound` in a child process, read by a thread as each method ends.

    Parameters
    ----------
    request
        Keyword arguments of :func:`pjpart.lower_bound` (``graph``, ``k`` and
        ``cost_model`` included), plus ``niceness`` (default 0) for the child.

    Attributes
    ----------
    best : tuple of (float, str) or None
        The best ``(value, method)`` reported so far (written by the reader thread only).
    partition : tuple of (float, numpy.ndarray, str) or None
        The cheapest ``(cost, stages, method)`` partition a method reported (written by the reader
        thread only).
    error : str or None
        The child's error (``"TypeName: message"``), or how it exited when not killed.
    nice : int or None
        The child's niceness as it reported it at the end.
    done : threading.Event
        Set once the child has ended and everything it wrote has been read.
    killed : bool
        Whether :meth:`stop` ended the child (a killed child is not an error).
    proc : subprocess.Popen
        The child.
    """

    def __init__(self, request: dict) -> None:
        self.best: tuple[float, str] | None = None
        self.partition: tuple[float, np.ndarray, str] | None = None
        self.seen: list[str] = []  # the methods that have reported, in order
        self.error: str | None = None
        self.nice: int | None = None
        self.done = threading.Event()
        self.killed = False
        self._uppers: queue.SimpleQueue = queue.SimpleQueue()  # costs to send after the request; None ends
        self._sent_upper = math.inf
        # the child imports this very package, installed or not
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, "-m", "pjpart.bounds.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.reader = threading.Thread(target=self._read, name="pjpart-bounds", daemon=True)
        self.reader.start()
        # written from a thread: a request larger than the pipe's buffer would block the caller
        # until the child has started Python and imported pjpart
        # sent_at: the child's clock starts when it is asked, not once it has imported pjpart
        data = pickle.dumps({**request, "sent_at": time.time()})
        threading.Thread(target=self._write, args=(data,), name="pjpart-bounds-request",
                         daemon=True).start()

    def _write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            while (cost := self._uppers.get()) is not None:
                self.proc.stdin.write(f"{cost!r}\n".encode())
                self.proc.stdin.flush()
            self.proc.stdin.close()
        except (OSError, ValueError):  # the child died at start (the reader reports it), or was stopped
            pass

    def offer_upper(self, cost: float) -> None:
        """Tell the child a partition of ``cost`` is known (sent only when below the last one sent)."""
        if cost < self._sent_upper * (1 - 1e-9):
            self._sent_upper = float(cost)
            self._uppers.put(float(cost))

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            if "error" in msg:
                self.error = msg["error"]
            else:
                if not msg.get("partial"):  # a method still running has not reported
                    self.seen.append(msg["method"])
                if self.best is None or msg["value"] > self.best[0]:
                    self.best = (float(msg["value"]), msg["method"])
                if "partition" in msg and (self.partition is None or msg["cost"] < self.partition[0]):
                    self.partition = (float(msg["cost"]), np.asarray(msg["partition"], dtype=np.int64),
                                      msg["method"])
            if msg.get("done"):
                self.nice = msg.get("nice")
        if self.error is None and self.proc.wait() != 0 and not self.killed:
            self.error = f"the bounds process exited with status {self.proc.returncode}"
        self.done.set()

    def renice(self, niceness: int) -> None:
        """Set the child's niceness, every thread of it; ignored where not permitted.

        Linux keeps a niceness per thread: the solvers' threads already started would keep
        the old one if only the process's were set.

        Parameters
        ----------
        niceness
            The new niceness (raising it is always permitted; lowering it may not be).
        """
        if self.proc.poll() is not None or not hasattr(os, "setpriority"):
            return
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{self.proc.pid}/task")]
        except OSError:  # not Linux: the process's priority
            tids = [self.proc.pid]
        for tid in tids:
            try:
                os.setpriority(os.PRIO_PROCESS, tid, niceness)
            except OSError:  # the thread ended, or lowering the niceness is not permitted
                pass

    def stop(self) -> None:
        """End the child if it still runs (its own time limit normally ends it first), and
        wait for the reader."""
        self._uppers.put(None)
        if self.proc.poll() is None:
            self.killed = True  # the run ended first
            self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=5)


__all__ = ["BackgroundBounds"]
