"""The child side of :class:`pjpart.bounds.background.BackgroundBounds` (the protocol is
described there)::

    python -m pjpart.bounds.worker < request.pickle

It reads one pickled request from stdin (less ``sent_at``, the parent's ``time.time()`` when it
sent it: the time since then is taken from ``time_limit``), sets the niceness the request names
(``niceness``, default 0; the solvers' threads inherit it), runs
:func:`pjpart.lower_bound` and writes one JSON line per method as it ends (with the
partition it found, if any: ``partition`` and its float64 ``cost``), and one with ``"partial":
true`` each time a long method's bound rises before it ends (``guess``: a run of minutes would
otherwise show the bound it had before that method until the method's time is up).  When the
parent has stopped reading (it died first), the next write ends the child quietly with
status 0: nobody is left to report to.  The lines that follow the request on stdin are the costs
of cheaper partitions the parent's search found: a thread reads them, and
:func:`pjpart.lower_bound` reads the latest as its ``latest_upper``.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import sys
import threading
import time


def _send(message: dict) -> None:
    """Write one message; when the parent is gone, end quietly (status 0)."""
    try:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # point stdout at /dev/null, so the flush at interpreter exit does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise SystemExit(0) from None


def _message(res) -> dict:
    """One method's line: its value and name, and a partition it found (stages, float64 cost)."""
    msg = {"value": float(res.value), "method": res.method}
    if res.partition is not None:
        msg.update(partition=[int(s) for s in res.partition], cost=float(res.detail["partition_cost"]))
    return msg


class _LatestUpper:
    """The cheapest partition cost the parent sent (a line each), read by a thread."""

    def __init__(self, stream) -> None:
        self.cost = math.inf
        threading.Thread(target=self._follow, args=(stream,), name="pjpart-uppers", daemon=True).start()

    def _follow(self, stream) -> None:
        for line in stream:
            self.cost = min(self.cost, float(line))

    def __call__(self) -> float:
        return self.cost


def main() -> int:
    """Serve one request from stdin (see the module docstring).

    Returns
    -------
    int
        The exit status: 0 when the bound was sent (or the parent is gone), 1 when
        :func:`pjpart.lower_bound` raised (the error was sent).
    """
    # a reader of its own, not sys.stdin: a daemon thread blocked in sys.stdin's would hold its lock
    # when the interpreter shuts down; the same reader for both, so nothing read ahead is lost
    stdin = open(sys.stdin.fileno(), "rb", closefd=False)
    request = pickle.load(stdin)
    latest_upper = _LatestUpper(stdin)
    sent_at = request.pop("sent_at", None)
    try:
        os.nice(int(request.pop("niceness", 0)))  # a lower priority, inherited by the solvers' threads
    except (AttributeError, OSError):  # pragma: no cover - not POSIX, or not permitted
        pass
    from .api import lower_bound

    if sent_at is not None and request.get("time_limit") is not None:  # the start-up counts too
        request["time_limit"] = max(0.0, float(request["time_limit"]) - max(0.0, time.time() - sent_at))
    try:
        graph, k, cost_model = request.pop("graph"), request.pop("k"), request.pop("cost_model")
        bound = lower_bound(graph, k, cost_model, **request, on_method=lambda res: _send(_message(res)),
                            on_progress=lambda method, value, seconds, note: _send(
                                {"value": float(value), "method": method, "partial": True}),
                            latest_upper=latest_upper)
    except Exception as exc:  # reported to the parent, which raises it
        _send({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _send({"done": True, "value": float(bound.value), "method": bound.method,
           "nice": os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else None})
    return 0


if __name__ == "__main__":
    sys.exit(main())
