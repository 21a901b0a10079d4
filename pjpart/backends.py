"""Where the cells of a :func:`pjpart.sweep` run: in this process, in local processes, on Dask or on Ray.

=================  ==========================================================================
backend            engine
=================  ==========================================================================
``sequential``     this process, one cell after another (the default)
``processes``      ``n_jobs`` local processes of joblib's loky executor
``dask``           a ``dask.distributed`` cluster: a loopback-only ``LocalCluster`` of
                   ``n_jobs`` one-thread worker processes started and shut down by the sweep,
                   or the scheduler at ``address`` (``tcp://scheduler:8786``)
``ray``            Ray (``pip install 'pjpart[ray]'``): ``ray.init(address=address)``, a local
                   Ray of ``n_jobs`` CPUs when no address is given
=================  ==========================================================================

Every backend runs the same function on each cell (:func:`pjpart.sweep.execute`) and
hands back its outcome; the sweep puts the records in grid order, so the backend never
changes a record but for its machine fields (``hostname``, ``cpus``) and ``seconds``.

Faults.  A cell whose worker process dies (killed, out of memory) is run once more; when
it dies again it comes back as ``(index, False, reason)`` and the sweep records it as
failed.  Each engine's own mechanism does it: Dask's ``allowed-failures`` (1 on the
local cluster, whose workers hold one cell at a time, ``worker-saturation`` 1, so that a
death blames only the cell that ran; with ``address`` the scheduler's own settings apply), Ray's task
``max_retries=1``; the loky executor (``processes``) breaks as a whole when one of its
workers dies, so the cells that were running then are run again one at a time, alone,
and a cell that dies alone is the one at fault.

Threads.  On one machine ``n_jobs`` workers share the cores: each worker process (and
the bounds process each search starts, which inherits its environment) runs its BLAS and
OpenMP libraries on ``max(1, cores // n_jobs)`` threads (:func:`worker_env`), and the
bounds process runs at the preset's ``bound_niceness`` (19) while the search runs.
Workers of a cluster given by ``address`` keep the environment their operator gave them.

Example
-------
>>> from pjpart.backends import run_cells
>>> list(run_cells([(0, 2), (1, 3)], abs, "sequential"))
[(0, True, 2), (1, True, 3)]
>>> sorted(worker_env(2, cores=8).items())[0]
('MKL_NUM_THREADS', '4')
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any, Callable, Iterable, Iterator

from .errors import ConfigError

BACKENDS = ("sequential", "processes", "dask", "ray")

#: how many times a cell whose worker died is run again
RETRIES = 1

#: the thread-count variables set in each worker (numpy's BLAS, OpenMP solvers, the evaluator's
#: host threads: ``PJPART_THREADS``)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PJPART_THREADS")


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def worker_env(n_jobs: int, cores: int | None = None) -> dict[str, str]:
    """Environment variables of each of ``n_jobs`` workers on one machine: every thread count
    of :data:`THREAD_VARIABLES` is the worker's share of the cores, ``max(1, cores // n_jobs)``."""
    share = max(1, (cores or usable_cores()) // max(1, n_jobs))
    return {name: str(share) for name in THREAD_VARIABLES}


def check(backend: str, n_jobs: Any, address: str | None) -> int:
    """Validate the backend arguments; returns ``n_jobs`` resolved (``None``: 1 when
    sequential, else the usable cores)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if n_jobs is None:
        n_jobs = 1 if backend == "sequential" else usable_cores()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ConfigError(f"n_jobs must be an integer >= 1, got {n_jobs!r}")
    if address is not None and backend not in ("dask", "ray"):
        raise ConfigError(f"address is for the dask and ray backends, not {backend!r}")
    if backend == "sequential" and n_jobs != 1:
        raise ConfigError("the sequential backend runs one cell at a time (n_jobs=1); choose backend "
                          "'processes', 'dask' or 'ray' for more")
    return n_jobs


def run_cells(items: Iterable[tuple[int, Any]], fn: Callable[[Any], Any], backend: str = "sequential",
              n_jobs: int = 1, address: str | None = None) -> Iterator[tuple[int, bool, Any]]:
    """Run ``fn(task)`` for every ``(index, task)``; yields ``(index, True, fn(task))`` as cells
    finish (in any order), or ``(index, False, reason)`` for a cell whose worker died twice.

    ``fn`` and the tasks must pickle (cloudpickle) for every backend but ``sequential``;
    an exception ``fn`` raises is raised here (``fn`` catches what it wants recorded)."""
    items = list(items)
    if backend == "sequential":
        return ((index, True, fn(task)) for index, task in items)
    runner = {"processes": _processes, "dask": _dask, "ray": _ray}[backend]
    return runner(items, fn, n_jobs, address)


def spread(todo: list[int], cells: list, n_jobs: int) -> list[int]:
    """The order the cells ``todo`` (indices into ``cells``, which have ``content`` and ``k``) go
    out to ``n_jobs`` workers: the (graph, k) groups of the grid, ``n_jobs``
    groups at a time, their cells taken in turn, so that the cells running at once belong to
    different groups and a worker tends to get the next cell of the group it compiled for.

    >>> from types import SimpleNamespace as C
    >>> cells = [C(content=g, k=2) for g in "aaabbc"]
    >>> spread(list(range(6)), cells, 2)
    [0, 3, 1, 4, 2, 5]
    """
    groups: dict = {}
    for i in todo:
        groups.setdefault((cells[i].content, cells[i].k), []).append(i)
    lists, order = list(groups.values()), []
    for start in range(0, len(lists), n_jobs):
        block = lists[start:start + n_jobs]
        for turn in range(max(len(g) for g in block)):
            order += [g[turn] for g in block if turn < len(g)]
    return order


def _processes(items: list, fn: Callable, n_jobs: int, address: None) -> Iterator:
    """joblib's loky executor, at most ``n_jobs`` cells in flight (so that the cells running when
    a worker dies are known), cells in flight at a death run again alone."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from joblib.externals.loky import ProcessPoolExecutor
    from joblib.externals.loky.process_executor import BrokenProcessPool

    env = worker_env(n_jobs)
    pending = list(reversed(items))  # popped from the end: grid order
    suspects: list = []  # (index, task) in flight when a worker died: run again, alone
    deaths: dict[int, int] = {}
    running: dict = {}
    executor = ProcessPoolExecutor(max_workers=n_jobs, env=env)
    try:
        while pending or suspects or running:
            if suspects:
                if not running:
                    index, task = suspects.pop(0)
                    running[executor.submit(fn, task)] = (index, task)
            else:
                while pending and len(running) < n_jobs:
                    index, task = pending.pop()
                    running[executor.submit(fn, task)] = (index, task)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            broken = None
            for fut in done:
                index, task = running.pop(fut)
                try:
                    value = fut.result()
                except BrokenProcessPool as exc:
                    broken = exc
                    running[fut] = (index, task)  # collected below with the others in flight
                else:
                    yield index, True, value
            if broken is None:
                continue
            wait(list(running))  # the broken pool ends every call in flight
            died = []
            for fut, (index, task) in list(running.items()):
                try:
                    value = fut.result()
                except BrokenProcessPool:
                    died.append((index, task))
                else:
                    yield index, True, value
            running.clear()
            executor.shutdown(wait=True, kill_workers=True)
            executor = ProcessPoolExecutor(max_workers=n_jobs, env=env)
            alone = len(died) == 1
            for index, task in died:
                deaths[index] = deaths.get(index, 0) + 1
                if deaths[index] > RETRIES:
                    yield index, False, _reason(broken, deaths[index], alone)
                else:
                    suspects.append((index, task))
    finally:
        executor.shutdown(wait=True, kill_workers=True)


def _reason(exc: BaseException, deaths: int, alone: bool) -> str:
    text = " ".join(str(exc).split())
    return f"worker died {deaths} times{' (running this cell alone)' if alone else ''}: {type(exc).__name__}: {text}"


def _dask(items: list, fn: Callable, n_jobs: int, address: str | None) -> Iterator:
    """``dask.distributed``: a loopback-only LocalCluster of ``n_jobs`` one-thread processes
    (shut down at the end), or the scheduler at ``address``."""
    from distributed import Client, LocalCluster, as_completed
    from distributed.scheduler import KilledWorker

    import dask

    cluster = None
    if address is None:
        # one task on a worker at a time (saturation 1): a worker's death then blames only the cell it ran
        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            cluster = LocalCluster(host="127.0.0.1", n_workers=n_jobs, threads_per_worker=1, processes=True,
                                   dashboard_address=None, scheduler_kwargs={"allowed_failures": RETRIES},
                                   env=worker_env(n_jobs), silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        client = Client(address)
    tag = uuid.uuid4().hex[:8]
    try:
        futures = {client.submit(fn, task, key=f"pjpart-cell-{tag}-{index}", pure=False,
                                 priority=-position): index  # in the order given
                   for position, (index, task) in enumerate(items)}
        for fut in as_completed(futures):
            index = futures[fut]
            try:
                value = fut.result()
            except KilledWorker as exc:
                yield index, False, f"worker died: KilledWorker: {' '.join(str(exc).split())}"
            else:
                yield index, True, value
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _ray(items: list, fn: Callable, n_jobs: int, address: str | None) -> Iterator:
    """Ray tasks (one CPU each, ``max_retries=1``): on the cluster at ``address`` (``auto``: the
    one this machine belongs to), else a local Ray of ``n_jobs`` CPUs; disconnects at the end."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray backend needs Ray: pip install 'pjpart[ray]'") from None
    started = not ray.is_initialized()
    if started:
        kw: dict = {"address": address} if address else {"num_cpus": n_jobs,
                                                         "runtime_env": {"env_vars": worker_env(n_jobs)}}
        ray.init(include_dashboard=False, log_to_driver=False, **kw)
    crashes = tuple(getattr(ray.exceptions, name) for name in
                    ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "LocalRayletDiedError")
                    if hasattr(ray.exceptions, name))
    try:
        remote = ray.remote(num_cpus=1, max_retries=RETRIES)(fn)
        refs = {remote.remote(task): index for index, task in items}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                index = refs.pop(ref)
                try:
                    value = ray.get(ref)
                except crashes as exc:
                    yield index, False, f"worker died: {type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
                else:
                    yield index, True, value
    finally:
        if started:
            ray.shutdown()


__all__ = ["BACKENDS", "RETRIES", "THREAD_VARIABLES", "check", "run_cells", "spread", "usable_cores", "worker_env"]
