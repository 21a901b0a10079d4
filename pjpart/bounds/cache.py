"""Lower bounds kept on disk, by problem: a long certification run is resumable, and a later
``partition`` of the same problem starts from the bounds it proved.

Key.  A bound depends on the graph's numbers and edges, the cost model and ``k``, nothing
else: the key is a SHA-256 of the node arrays (``work``, ``params``, ``sizeout`` as float64
bytes), the edge array, the cost model's JSON, ``k`` and the cache format with pjpart's
version (a bound computed by another version is not trusted).  Node ids and the graph's
name are not in it: renaming a file keeps its bounds.

Entry.  One JSON file per key: each method's best :class:`~pjpart.bounds.MethodBound`
(value, status, seconds, progress).  A method whose status is final (``proven``,
``optimal``: running it again proves no more) is not run again; the others
run again with the best cached value as their floor and resume where they stopped
(``mincut`` after the nodes it did, the superblock families after the coarsenings solved to
optimality; a MIP starts over with the floor), and the new result replaces the cached one.
Writes go through a lock and an atomic rename, so parallel sweeps and a killed run leave a
readable file.

Safety.  Cached values are ones :func:`pjpart.lower_bound` returned: already made safe
against solver tolerance.  Callers that know a partition's cost still refuse a value above
it (``upper_bound``), as for any method.

>>> import pjpart, tempfile
>>> g = pjpart.load_graph(pjpart.example_path("tiny"))
>>> cache = BoundCache(tempfile.mkdtemp())
>>> pjpart.lower_bound(g, 2, methods=["combinatorial", "exact-dp"], cache=cache).value
14.0
>>> sorted(cache.load(g, 2, pjpart.cost_model_for(g)))
['combinatorial', 'exact-dp']
>>> again = pjpart.lower_bound(g, 2, methods=["combinatorial", "exact-dp"], cache=cache)
>>> [r.status for r in again.results]            # nothing run again
['proven (cached)', 'optimal (cached)']
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

import numpy as np

from ..cost import CostModel
from ..graph import Graph

CACHE_FORMAT = 2
#: statuses after which running the method again cannot prove more ("skipped" is not: a larger
#: lattice limit or more time may let it run)
FINAL = ("proven", "optimal")


def default_bound_dir() -> str:
    """``$PJPART_BOUND_CACHE_DIR``, else ``$XDG_CACHE_HOME/pjpart/bounds``, else ``~/.cache/pjpart/bounds``
    (beside the kernel cache, not in it: JAX evicts what its folder holds)."""
    if os.environ.get("PJPART_BOUND_CACHE_DIR"):
        return os.environ["PJPART_BOUND_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pjpart", "bounds")


def problem_key(graph: Graph, k: int, cost_model: CostModel) -> str:
    """The SHA-256 naming a problem's bounds (see the module docstring)."""
    from .. import __version__

    h = hashlib.sha256(f"pjpart-bounds {CACHE_FORMAT} {__version__} k={int(k)} n={graph.n} m={graph.m}\n".encode())
    for arr in (graph.work, graph.params, graph.sizeout):
        h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(graph.edges, dtype=np.int64).tobytes())
    h.update(json.dumps(cost_model.to_json(), sort_keys=True).encode())
    return h.hexdigest()


def is_final(status: str) -> bool:
    """Whether a method that ended with ``status`` would prove nothing more if run again."""
    return status.startswith(FINAL)


class BoundCache:
    """Bounds on disk under ``directory`` (default :func:`default_bound_dir`), one file per problem.

    Parameters
    ----------
    directory
        Where the entries live; created when first written.
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = os.fspath(directory) if directory is not None else default_bound_dir()

    def path(self, graph: Graph, k: int, cost_model: CostModel) -> str:
        return os.path.join(self.directory, problem_key(graph, k, cost_model) + ".json")

    def load(self, graph: Graph, k: int, cost_model: CostModel) -> dict:
        """``{method: {"value", "status", "seconds", ...}}`` cached for the problem (``{}``: none,
        or an unreadable entry, which is ignored rather than trusted)."""
        try:
            with open(self.path(graph, k, cost_model)) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        methods = data.get("methods") if isinstance(data, dict) else None
        if not isinstance(methods, dict):
            return {}
        return {name: rec for name, rec in methods.items()
                if isinstance(rec, dict) and isinstance(rec.get("value"), (int, float))
                and isinstance(rec.get("status"), str)}

    def best(self, graph: Graph, k: int, cost_model: CostModel) -> tuple[float, str] | None:
        """The largest cached value and its method, or ``None``."""
        cached = self.load(graph, k, cost_model)
        if not cached:
            return None
        name = max(cached, key=lambda m: float(cached[m]["value"]))
        return float(cached[name]["value"]), name

    def store(self, graph: Graph, k: int, cost_model: CostModel, result: Any) -> None:
        """Merge one :class:`~pjpart.bounds.MethodBound` into the problem's entry: it replaces the
        cached one for its method unless that one is better (a larger value, or the same value
        with a final status); a run resumed from the cached one carries its progress on."""
        from filelock import FileLock

        os.makedirs(self.directory, exist_ok=True)
        path = self.path(graph, k, cost_model)
        with FileLock(path + ".lock"):
            methods = self.load(graph, k, cost_model)
            old = methods.get(result.method)
            new = result.to_json()
            if old is not None and (float(old["value"]), is_final(old["status"])) > \
                    (float(new["value"]), is_final(new["status"])):
                return
            methods[result.method] = new
            entry = {"graph": graph.name, "n": graph.n, "m": graph.m, "k": int(k),
                     "cost_model": cost_model.to_json(), "methods": methods}
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(entry, f, indent=1)
            os.replace(tmp, path)


__all__ = ["BoundCache", "CACHE_FORMAT", "default_bound_dir", "is_final", "problem_key"]
