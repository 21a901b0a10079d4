"""Lower bounds in a child process, for a search running alongside (``pjpart.partition``).

Why a process: the bound formulations are built in Python (CVXPY), and a thread
building them holds the GIL against the search loop whatever its CPU priority
(measured: nasnetmobile k=16, 7.8 s on 2 cores, 1002 evaluations/s with bounds
off, 804/s with them on a nice-19 thread).  The child sets the niceness it is
given (``niceness``, default 0), and its solver threads inherit it; the search
raises it later, every thread, when it needs the cores (``_BoundProcess.renice``
in ``pjpart.search.driver``).

Protocol: the parent writes one pickle ``dict(graph=, k=, cost_model=, niceness=,
**kwargs)`` of :func:`pjpart.lower_bound` arguments to stdin; the child writes one JSON
line per method as soon as it is known (``{"value", "method"}``), then
``{"done": true, "value", "method", "nice"}``, or ``{"error": "..."}``.

    python -m pjpart.bounds.worker < request.pickle
"""

from __future__ import annotations

import json
import os
import pickle
import sys


def _send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    request = pickle.load(sys.stdin.buffer)
    try:
        os.nice(int(request.pop("niceness", 0)))  # a lower priority, inherited by the solvers' threads
    except (AttributeError, OSError):  # pragma: no cover - not POSIX, or not permitted
        pass
    from .api import lower_bound

    try:
        graph, k, cost_model = request.pop("graph"), request.pop("k"), request.pop("cost_model")
        bound = lower_bound(graph, k, cost_model, **request,
                            on_method=lambda res: _send({"value": float(res.value), "method": res.method}))
    except Exception as exc:  # reported to the parent, which raises it
        _send({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _send({"done": True, "value": float(bound.value), "method": bound.method,
           "nice": os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else None})
    return 0


if __name__ == "__main__":
    sys.exit(main())
