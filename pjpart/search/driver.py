"""``partition``: the search driver that turns a graph into a validated, certified partition.

Steps: validate; if the graph has few downsets, solve it exactly (downset DP,
certified optimal); otherwise slice the seed orders, compute lower bounds
(:func:`pjpart.lower_bound`, within ``bound_share`` of the time limit: in a
child process alongside the search for time-limited runs, else first,
stopping early if a seed partition is proven optimal), run BRKGA islands over
the batched :class:`~pjpart.Evaluator` until a stop (time limit less
``finish_share``, evaluation or generation budget, target gap, Ctrl-C; a
time-limited run waits for a kernel call, which may be compiling, only until
then), then slice the best order exactly in float64, improve the partition by local
search (:mod:`pjpart.search.local`: closure moves and border re-cuts), re-slice
the float32 near-ties in float64 while time remains, and re-validate.

Example
-------
>>> import pjpart
>>> g = pjpart.load_graph(pjpart.example_path("tiny"))
>>> r = pjpart.partition(g, k=2, seed=0)
>>> r.bottleneck, r.gap
(14.0, 0.0)
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import importlib.util
import json
import pickle
import subprocess
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, fields, replace
from importlib import resources
from typing import Any, Callable

import numpy as np

from ..bounds import check_feasible, combinatorial_bound, lower_bound
from ..cost import CostModel, cost_model_for, evaluate
from ..evaluator import Evaluator
from ..graph import Graph, GraphError, check_k
from ..reference import decode_keys, order_to_keys, segment_cost_table, slice_order
from ..result import PartitionResult, make_result
from . import brkga
from .exact import exact_partition
from .local import improve_and_reslice

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class SearchConfig:
    """A search budget and BRKGA settings; presets live in ``configs/*.toml``."""

    population: int = 256
    islands: int = 4
    elite_fraction: float = 0.15
    mutant_fraction: float = 0.15
    rho_elite: float = 0.7
    generations: int | None = None
    max_evaluations: int | None = None
    time_limit: float | None = 10.0
    target_gap: float | None = None
    migrate_every: int = 10
    migrate_count: int = 4
    restart_after: int = 60
    exact_max_downsets: int = 2048
    bound_methods: str = "auto"         # "auto", or comma-separated names from pjpart.bounds.METHODS
    bound_share: float = 0.5            # share of time_limit for lower bounds: alongside the search in a
                                        # child process (time-limited runs), else before the search
    bound_time_limit: float = 30.0      # cap on that time (and the bound time when there is no time limit)
    local_search: bool = True           # closure moves, border re-cuts and re-slicing on the final partition
                                        # (search/local.py)
    tiebreak: bool = True               # rank near-ties of the bottleneck by the bottleneck with k + 1 stages
                                        # (host engine; the slowest stage is often shared by many orders).
                                        # nasnetmobile k=16, 6 seeds: 2.1% lower geometric mean at P=100, G=100
                                        # in one comparison, not in a second at 8 s (7.679e-5 vs 7.661e-5)
    bound_niceness: int = 19            # CPU niceness of the bounds process alongside the search once the
                                        # search has compiled, if the time affords under a quarter of the
                                        # preset's populations (else it keeps 0: at 19 from the start, 10 s
                                        # on 2 cores lost the superblock2 bound on gpt2-small k=4, bert-base k=8)
    finish_share: float = 0.1           # share of time_limit kept for finishing: the local search and float64
                                        # re-slicing of the near-ties (the search stops before it); nasnetmobile
                                        # k=8, 6 s, 5 seeds: 1.2407e-4 at 0.1, 1.2491e-4 at 0.05 (k=16: 7.6456e-5,
                                        # 7.6497e-5; gpt2-small k=16, inceptionresnetv2 k=8 at 4 s: the same)
    target_generations: int | None = None  # time-limited runs only: shrink populations (and islands)
                                        # so that about this many generations fit in the time left,
                                        # priced after compiling (None: fixed sizes; fit_populations)
    engine: str = "auto"                # "host": NumPy BRKGA state, one evaluator call per island and
                                        # generation; "jit": state on the device, many generations per
                                        # compiled call (search/brkga_jax.py); "auto": host (see partition)
    description: str = ""

    def __post_init__(self) -> None:
        if self.engine not in ("auto", "host", "jit"):
            raise GraphError(f"engine must be 'auto', 'host' or 'jit', got {self.engine!r}")

    @property
    def fits_to_time(self) -> bool:
        """Whether populations are fitted to the time limit (a time limit is the only stop)."""
        return bool(self.target_generations) and self.time_limit is not None and self.generations is None \
            and self.max_evaluations is None

    def brkga(self) -> brkga.BRKGAConfig:
        return brkga.BRKGAConfig(population=self.population, elite_fraction=self.elite_fraction,
                                 mutant_fraction=self.mutant_fraction, rho_elite=self.rho_elite)


PRESETS = ("paper", "fast", "default", "large")

# kernel calls that time-limited runs stopped waiting for (see _Run.until_deadline), still
# compiling or running in their threads: process-wide, like the compiled kernels they will
# add to JAX's caches.  A later search waits for them before its first call: calling the same
# kernel meanwhile compiles it a second time on the same cores (nasnetmobile k=16, 2 cores:
# 235 and 299 evaluations in 4 s, instead of 2,731-3,371, right after a 3 s run had left
# its compilation running)
_LEFT_RUNNING: set[Future] = set()
_LEFT_LOCK = threading.Lock()


def settle(timeout: float | None = None) -> bool:
    """Wait up to ``timeout`` seconds (``None``: no limit) for the kernel calls earlier
    time-limited runs left running; True when none is left.  Every search does this
    before its first kernel call; benchmarks call it so that no search pays for another's.

    >>> settle(0.0)
    True
    """
    with _LEFT_LOCK:
        pending = list(_LEFT_RUNNING)
    return not wait_futures(pending, timeout=timeout).not_done


def _leave_running(future: Future) -> None:
    with _LEFT_LOCK:
        _LEFT_RUNNING.add(future)

    def forget(f: Future) -> None:
        with _LEFT_LOCK:
            _LEFT_RUNNING.discard(f)

    future.add_done_callback(forget)


def load_preset(name: str = "default", **overrides: Any) -> SearchConfig:
    """The named preset from ``configs/NAME.toml`` with ``overrides`` applied (``None`` ignored)."""
    try:
        text = resources.files("pjpart.configs").joinpath(f"{name}.toml").read_text()
    except FileNotFoundError:
        raise GraphError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
    data = tomllib.loads(text)
    known = {f.name for f in fields(SearchConfig)}
    unknown = (set(data) | set(overrides)) - known
    if unknown:
        raise GraphError(f"unknown search setting(s) {sorted(unknown)}")
    cfg = SearchConfig(**{**{f.name: None for f in fields(SearchConfig) if f.name in ("time_limit",)}, **data})
    return replace(cfg, **{key: val for key, val in overrides.items() if val is not None})


def seed_orders(graph: Graph) -> list[np.ndarray]:
    """Good starting orders: the graph's own order, breadth-first by depth, and critical path first."""
    n = graph.n
    topo = graph.topological_order()
    depth = np.zeros(n)
    for v in topo.tolist():
        preds = graph.predecessors(v)
        if len(preds):
            depth[v] = depth[preds].max() + 1
    tail = graph.work.copy()  # longest work path from v to a sink
    for v in topo[::-1].tolist():
        succ = graph.successors(v)
        if len(succ):
            tail[v] = graph.work[v] + tail[succ].max()
    by_depth = decode_keys(graph, (depth + np.arange(n) / (n + 1)) / (depth.max() + 2))
    critical = decode_keys(graph, 1.0 - tail / (tail.max() + 1e-300) * 0.999)
    return [topo, by_depth, critical]


def best_slicing(graph: Graph, order: np.ndarray, k: int, cost_model: CostModel,
                 evaluator: Evaluator | None) -> tuple[np.ndarray, float]:
    """Exact float64 slicing of one order (NumPy reference up to n = 1500, else the kernels)."""
    if graph.n <= 1500 or evaluator is None:
        _, assignment = slice_order(segment_cost_table(graph, order, cost_model), k, order)
        return assignment, float(evaluate(graph, assignment, k, cost_model).max())
    assignments, values = evaluator.slice_orders(order[None])
    return assignments[0], float(values[0])


class _Progress:
    """Live progress on stderr: a tqdm bar over the time limit (or the generation or evaluation
    budget) whose postfix shows generation, evaluations, evaluations/s, best, bound and gap;
    or one JSON object per update with ``json_lines=True`` (machine-readable logs)."""

    def __init__(self, enabled: bool, json_lines: bool = False, cfg: SearchConfig | None = None,
                 every: float = 0.5) -> None:
        self.enabled, self.json_lines, self.every = enabled, json_lines, every
        self.last = 0.0
        self.bar = None
        self.total, self.unit = None, "s"
        if cfg is not None and cfg.time_limit is not None:
            self.total = float(cfg.time_limit)
        elif cfg is not None and cfg.generations is not None:
            self.total, self.unit = float(cfg.generations), "gen"
        elif cfg is not None and cfg.max_evaluations is not None:
            self.total, self.unit = float(cfg.max_evaluations), "eval"

    def _open(self):
        from tqdm import tqdm

        # opened at the first update, so runs answered before the search (exact, seed) print nothing
        return tqdm(total=self.total, unit=self.unit, file=sys.stderr, dynamic_ncols=True, leave=True,
                    bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} {unit}{postfix}" if self.total
                    else "{n:.1f} {unit}{postfix}")

    def __call__(self, info: dict, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not final and now - self.last < self.every:
            return
        self.last = now
        if self.json_lines:
            import json

            print(json.dumps(info), file=sys.stderr, flush=True)
            return
        if self.bar is None:
            self.bar = self._open()
        done = {"s": info["seconds"], "gen": info["generation"], "eval": info["evaluations"]}[self.unit]
        self.bar.n = min(done, self.total) if self.total else done
        self.bar.set_postfix_str(f"gen {info['generation']}  evals {info['evaluations']} "
                                 f"({info['evals_per_s']:.0f}/s)  best {info['best']:.6g}  "
                                 f"bound {info['bound']:.6g}  gap {100 * info['gap']:.2f}%", refresh=True)
        if final:
            self.bar.close()


def _bound_request(graph: Graph, k: int, cm: CostModel, cfg: SearchConfig, upper: float) -> dict | None:
    """Arguments of :func:`pjpart.lower_bound` for the bound the search reports and stops
    against, within the config's bound budget; ``None`` when only the combinatorial bound
    is asked for."""
    methods = [m.strip() for m in cfg.bound_methods.split(",")] if cfg.bound_methods != "auto" else "auto"
    if methods == ["combinatorial"]:
        return None
    budget = cfg.bound_time_limit
    if cfg.time_limit is not None:
        budget = min(budget, cfg.bound_share * cfg.time_limit)
    if importlib.util.find_spec("cvxpy") is None:  # the solver-based bounds need it; the GPU image lacks it
        methods = ["combinatorial", "mincut", "exact-dp"]  # (not imported here: a second or more)
    return dict(graph=graph, k=k, cost_model=cm, methods=methods, time_limit=budget, upper_bound=upper)


def _bounds(graph: Graph, k: int, cm: CostModel, cfg: SearchConfig, upper: float) -> tuple[float, str]:
    """The bound of :func:`_bound_request`, computed here."""
    request = _bound_request(graph, k, cm, cfg, upper)
    if request is None:
        return combinatorial_bound(graph, k, cm), "combinatorial"
    b = lower_bound(request.pop("graph"), request.pop("k"), request.pop("cost_model"), **request)
    return b.value, b.method


class _BoundProcess:
    """:func:`pjpart.lower_bound` in a child process (``pjpart.bounds.worker``: why a
    process), read by a thread as each method ends."""

    def __init__(self, request: dict) -> None:
        self.best: tuple[float, str] | None = None  # written by the reader thread only
        self.error: str | None = None
        self.nice: int | None = None
        self.done = threading.Event()
        self.killed = False  # set by stop(): a killed child is not an error
        # the child imports this very package, installed or not
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, "-m", "pjpart.bounds.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.reader = threading.Thread(target=self._read, name="pjpart-bounds", daemon=True)
        self.reader.start()
        try:
            self.proc.stdin.write(pickle.dumps(request))
            self.proc.stdin.close()
        except OSError:  # the child died at start; the reader reports it
            pass

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            if "error" in msg:
                self.error = msg["error"]
            elif self.best is None or msg["value"] > self.best[0]:
                self.best = (float(msg["value"]), msg["method"])
            if msg.get("done"):
                self.nice = msg.get("nice")
        if self.error is None and self.proc.wait() != 0 and not self.killed:
            self.error = f"the bounds process exited with status {self.proc.returncode}"
        self.done.set()

    def renice(self, niceness: int) -> None:
        """Set the child's niceness, every thread of it (Linux keeps one per thread: the
        solvers' threads already started would keep the old one); ignored where not permitted."""
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
        """End the child if it still runs (its own time limit normally ends it first)."""
        if self.proc.poll() is None:
            self.killed = True  # the run ended first
            self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=5)


class _Run:
    """What both search engines share: the best so far, counters, history, and the stop rules."""

    def __init__(self, cfg: SearchConfig, t0: float, bound: float, progress: _Progress,
                 callback: Callable[[dict], None] | None, bound_method: str = "combinatorial") -> None:
        self.cfg, self.t0, self.bound, self.progress, self.callback = cfg, t0, bound, progress, callback
        self.bound_method = bound_method
        self.pending_bound: _BoundProcess | None = None  # lower bounds computed alongside the search
        # the search stops at ``deadline``; finishing (re-slicing, local search) ends by ``end``
        self.end = None if cfg.time_limit is None else t0 + cfg.time_limit
        self.deadline = None if cfg.time_limit is None else t0 + cfg.time_limit * (1 - cfg.finish_share)
        self.best_keys, self.best_value = None, math.inf
        self.evaluations, self.generation, self.stopped_by = 0, 0, "time_limit"
        self.history: list = []
        self.finalists: list[np.ndarray] = []  # keys whose float32 fitness ties the best's
        self._finalist_fitness = np.zeros(0)
        self.step_seconds = 0.0  # length of the last step, so a step is not started that would overshoot
        self.abandoned = False  # a call outlasted the deadline and still runs in the background
        self._worker: ThreadPoolExecutor | None = None
        self._settled = False  # earlier runs' calls waited for (settle), once per run

    def until_deadline(self, fn: Callable[[], Any]) -> tuple[bool, Any]:
        """``(True, fn())``, or ``(False, None)`` when the search's deadline comes first.

        For the search's kernel calls: a call that meets new shapes compiles first,
        seconds on a real model (bert-base k=32 on 2 cores: 2.5-4 s), and compiling can
        be neither interrupted nor foreseen.  So a time-limited run waits for a call
        in a worker thread until its deadline only; past it the run finishes without
        it (the call ends in the background, and what it compiled serves the
        process's later calls).
        """
        if not self._settled:  # the run's first call: an earlier run's may still compile
            self._settled = settle(None if self.deadline is None else max(0.0, self.deadline - time.perf_counter()))
            if not self._settled:
                return False, None
        if self.deadline is None:
            return True, fn()
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="pjpart-search")
        future = self._worker.submit(fn)
        try:
            return True, future.result(timeout=max(0.0, self.deadline - time.perf_counter()))
        except FutureTimeout:
            self.abandoned = True
            _leave_running(future)
            return False, None
        except BaseException:  # Ctrl-C while waiting: the call goes on in the background
            if not future.done():
                self.abandoned = True
                _leave_running(future)
            raise

    def close(self) -> None:
        """Release the worker thread (a call it still runs ends on its own)."""
        if self._worker is not None:
            self._worker.shutdown(wait=False)
            self._worker = None

    def start_bounds(self, request: dict, niceness: int = 0) -> None:
        """Compute ``lower_bound(**request)`` in a child process at ``niceness`` alongside the
        search; each method's bound is used once known (:meth:`collect_bound`)."""
        try:
            self.pending_bound = _BoundProcess({**request, "niceness": niceness})
        except OSError as exc:  # no child processes here: keep the bound the run has
            warnings.warn(f"lower bounds not computed alongside the search: {exc}", RuntimeWarning, stacklevel=2)

    def deprioritise_bounds(self) -> None:
        """The bounds process (at niceness 0 so far: it used the core left idle while XLA
        compiled) runs at ``cfg.bound_niceness`` from now on."""
        if self.pending_bound is not None and self.cfg.bound_niceness:
            self.pending_bound.renice(self.cfg.bound_niceness)

    def collect_bound(self, wait: bool = False) -> None:
        """Take the bounds published so far; with ``wait``, wait for the rest until the time
        limit (their budget ends well before; past the limit the run keeps what it has), then
        end the bounds process."""
        pending = self.pending_bound
        if pending is None:
            return
        if wait:
            pending.done.wait(None if self.end is None else max(0.0, self.end - time.perf_counter()))
        if pending.best is not None and pending.best[0] > self.bound:
            self.bound, self.bound_method = pending.best
        if wait or pending.done.is_set():
            pending.stop()
            self.pending_bound = None
            if pending.error is not None:
                raise RuntimeError(f"lower bounds failed: {pending.error}")

    def stop_bounds(self) -> None:
        if self.pending_bound is not None:
            self.pending_bound.stop()
            self.pending_bound = None

    def gap(self, value: float) -> float:
        b = self.bound
        return max(0.0, value / b - 1) if b > 0 else (0.0 if value == 0 else math.inf)

    def offer(self, keys: np.ndarray, value: float) -> None:
        if value < self.best_value:
            self.best_value, self.best_keys = float(value), np.asarray(keys, np.float64)

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
        # stop when the next step would overshoot the search's deadline by more than half its length
        return self.deadline is not None and time.perf_counter() + 0.5 * self.step_seconds >= self.deadline

    def seconds_left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.perf_counter()

    def report(self, elapsed: float | None = None) -> None:
        """Once per step, before ``should_stop``: take the bounds that arrived, log, call back."""
        self.collect_bound()
        elapsed = time.perf_counter() - self.t0 if elapsed is None else elapsed
        info = {"generation": self.generation, "evaluations": self.evaluations,
                "evals_per_s": self.evaluations / max(elapsed, 1e-9), "best": self.best_value,
                "bound": self.bound, "gap": self.gap(self.best_value), "seconds": elapsed}
        self.history.append((elapsed, self.evaluations, self.best_value))
        self.progress(info)
        if self.callback is not None:
            self.callback(info)

    def should_stop(self) -> bool:
        """Set ``stopped_by`` and return True when a stop rule holds (checked after each generation)."""
        cfg, gap = self.cfg, self.gap(self.best_value)
        rules = [("optimal", gap <= 1e-6),  # float32 fitness: proven optimal up to its rounding
                 ("target_gap", cfg.target_gap is not None and gap <= cfg.target_gap),
                 ("generations", cfg.generations is not None and self.generation >= cfg.generations),
                 ("evaluations", cfg.max_evaluations is not None and self.evaluations >= cfg.max_evaluations),
                 ("time_limit", self.out_of_time())]
        for name, hit in rules:
            if hit:
                self.stopped_by = name
                return True
        if cfg.generations is None and cfg.max_evaluations is None and cfg.time_limit is None:
            raise GraphError("the search needs a stop: time_limit, max_evaluations or generations")
        return False


def fit_populations(population: int, islands: int, total_evaluations: float, target_generations: int,
                    elite_fraction: float, min_population: int = 32, min_island: int = 64) -> tuple[int, int]:
    """``(population, islands)`` so that ``target_generations`` generations cost about
    ``total_evaluations`` (offspring only: elites are not re-evaluated), never larger than given.

    Why: at a fixed time, a slow evaluator (big graphs on CPU) gives a preset's large
    populations only a handful of generations, and a BRKGA that cannot iterate is a
    random search (paper experiment, nasnetmobile k=16, 5 s: P=256 x 4 islands ended
    12.6% above a P=100 run of 100 generations).  Islands go first (each keeps at least
    ``min_island`` chromosomes), then the population (at least ``min_population``).

    >>> fit_populations(256, 4, total_evaluations=1e6, target_generations=100, elite_fraction=0.15)
    (256, 4)
    >>> fit_populations(256, 4, total_evaluations=20_000, target_generations=100, elite_fraction=0.15)
    (78, 3)
    """
    per_generation = total_evaluations / max(1, target_generations) / (1 - elite_fraction)
    if per_generation >= population * islands:
        return population, islands
    islands = int(min(islands, max(1, per_generation // min_island)))
    population = int(min(population, max(min_population, round(per_generation / islands))))
    return population, islands


def _evaluate_fn(cfg: SearchConfig, evaluator: Evaluator) -> Callable[..., np.ndarray]:
    """``keys, deadline -> (P, 2)`` fitness and tie-break (the bottleneck with ``k + 1`` stages,
    or zeros without ``cfg.tiebreak``): the one kernel a search compiles and calls."""
    if cfg.tiebreak:
        return evaluator.evaluate_pairs

    def bottleneck_only(keys, deadline=None):
        values = evaluator.evaluate(keys, deadline=deadline)
        return np.stack([values, np.zeros_like(values)], axis=1)

    return bottleneck_only


def _fit_to_time(run: _Run, evaluator: Evaluator, bcfg: brkga.BRKGAConfig, n: int,
                 rng: np.random.Generator) -> tuple[brkga.BRKGAConfig, int]:
    """Population and island count that leave ``target_generations`` generations in the time left.

    Probes the evaluator on random keys: a first call compiles, a second one (one
    chunk per thread) prices an evaluation.  The probed keys count as evaluations
    and their best is kept like any candidate's.
    """
    cfg = run.cfg
    evaluate = _evaluate_fn(cfg, evaluator)  # the kernel the search will use: compiled once
    probe = rng.random((evaluator.chunk_size * evaluator.threads, n))
    first = probe[: evaluator.chunk_size]
    done, pairs = run.until_deadline(lambda: evaluate(first))
    if not done:  # compiling outlasted the search's time: no search will run
        return bcfg, cfg.islands
    fit = pairs[:, 0]
    run.evaluations += len(first)
    run.offer(first[int(np.argmin(fit))], float(fit.min()))
    if run.out_of_time():
        return bcfg, cfg.islands
    t = time.perf_counter()
    done, pairs = run.until_deadline(lambda: evaluate(probe))
    if not done:
        return bcfg, cfg.islands
    fit = pairs[:, 0]
    rate = len(probe) / max(time.perf_counter() - t, 1e-9)
    run.evaluations += len(probe)
    run.offer(probe[int(np.argmin(fit))], float(fit.min()))
    size, count = fit_populations(bcfg.population, cfg.islands, rate * max(0.0, run.seconds_left()),
                                  cfg.target_generations, bcfg.elite_fraction)
    if size < bcfg.population:
        # whole chunks for every thread: a padded or idle one costs as much as a full one
        unit = evaluator.chunk_size * evaluator.threads
        offspring = max(unit, round(size * (1 - bcfg.elite_fraction) * count / unit) * unit)
        size = min(bcfg.population, round(offspring / count / (1 - bcfg.elite_fraction)))
    return replace(bcfg, population=size), count


def _search_host(run: _Run, graph: Graph, evaluator: Evaluator, bcfg: brkga.BRKGAConfig, seeds: np.ndarray,
                 seed: int) -> None:
    """BRKGA islands with NumPy state; one evaluator call per generation holds every island's
    offspring (so the evaluator's threads have chunks to share)."""
    cfg = run.cfg
    rng = np.random.default_rng(seed)
    count = cfg.islands
    if cfg.fits_to_time:
        wanted = bcfg.population * count
        bcfg, count = _fit_to_time(run, evaluator, bcfg, graph.n, rng)
        if 4 * bcfg.population * count < wanted:
            # the time affords under a quarter of the preset's populations: every core is worth more
            # to the search than to the bounds (nasnetmobile k=16, 10 s on 2 cores: 8,491-9,387 evaluations
            # instead of 7,403-7,979 at niceness 0; its bound window proves no more than mincut either way)
            run.deprioritise_bounds()
    islands = [brkga.init(bcfg, graph.n, int(rng.integers(2**31)), seeds if i == 0 else None)
               for i in range(count)]
    evaluate = _evaluate_fn(cfg, evaluator)
    while not run.out_of_time():
        t_step = time.perf_counter()
        asked = [brkga.ask(bcfg, st) for st in islands]
        keys = np.concatenate([k for k, _ in asked])
        # a new band compiles (the first step's, or a wider one later): wait only until the deadline
        done, pairs = run.until_deadline(lambda: evaluate(keys, deadline=run.deadline))
        if not done:
            break
        fit, tie = pairs[:, 0], pairs[:, 1]
        run.evaluations += int(np.isfinite(fit).sum())
        run.offer(keys[int(np.argmin(fit))], float(fit.min()))  # elites were offered when evaluated
        run.keep_finalists(keys, fit)
        start = 0
        for i, (island_keys, st) in enumerate(asked):
            span = slice(start, start + len(island_keys))
            start += len(island_keys)
            st = brkga.tell(bcfg, st, island_keys, fit[span], tie[span])
            if st.stall >= cfg.restart_after:
                st = brkga.restart(bcfg, st, keep=bcfg.n_elite)
            islands[i] = st
        # the first step compiles (seconds on big graphs): it does not predict the next ones
        run.step_seconds = time.perf_counter() - t_step if run.generation else 0.0
        run.generation += 1
        if len(islands) > 1 and cfg.migrate_every and run.generation % cfg.migrate_every == 0:
            islands = brkga.migrate(islands, cfg.migrate_count, bcfg)
        run.report()
        if run.should_stop():
            break


def _search_jit(run: _Run, graph: Graph, evaluator: Evaluator, bcfg: brkga.BRKGAConfig, seeds: np.ndarray,
                seed: int) -> None:
    """BRKGA islands on the device: many generations per compiled call (``search/brkga_jax.py``).

    Calls are sized from the measured seconds per generation to end near the time
    limit and to report progress about once a second; the first call (one
    generation) pays the compilation.  It ranks by the bottleneck alone (``cfg.tiebreak``
    is a host-engine setting: the compiled loop's fitness is one value per candidate).
    """
    import jax

    from . import brkga_jax

    cfg = run.cfg
    n_off = bcfg.population - bcfg.n_elite
    fit_off, params = evaluator.fitness_function(cfg.islands * n_off, sample=seeds)
    fit_all, _ = evaluator.fitness_function(cfg.islands * bcfg.population, band=fit_off.band)
    max_block = 256
    loop = brkga_jax.make_loop(bcfg, fit_off, max_block=max_block, migrate_every=cfg.migrate_every,
                               migrate_count=cfg.migrate_count, restart_after=cfg.restart_after)
    t = time.perf_counter()
    initial = brkga_jax.make_initial(fit_all)
    done, state = run.until_deadline(
        lambda: jax.block_until_ready(initial(brkga_jax.init(bcfg, graph.n, cfg.islands, seed, seeds), params)))
    if not done:  # compiling outlasted the search's time
        return
    run.evaluations += int(np.isfinite(np.asarray(state.fitness)).sum())
    run.step_seconds = time.perf_counter() - t
    per_gen, calls = None, 0
    while True:
        i = int(np.argmin(np.asarray(state.best_fitness)))
        run.offer(np.asarray(state.best_keys[i]), float(state.best_fitness[i]))
        run.report()
        if run.should_stop():  # also right after the initial population: compiling the loop may not fit
            break
        count = 1 if per_gen is None else int(max(1, min(max_block, min(1.0, 0.9 * run.seconds_left()) / per_gen)))
        if cfg.generations is not None:
            count = min(count, cfg.generations - run.generation)
        if cfg.max_evaluations is not None:
            count = min(count, -(-(cfg.max_evaluations - run.evaluations) // (cfg.islands * n_off)))
        count = max(1, count)
        t = time.perf_counter()
        done, out = run.until_deadline(lambda state=state, count=count: jax.block_until_ready(loop(state, count,
                                                                                                   params)))
        if not done:
            break
        state, bests = out
        took = time.perf_counter() - t
        calls += 1
        if calls >= 2:  # the first call compiles
            per_gen = took / count
        run.step_seconds = took if per_gen is None else per_gen
        run.generation += count
        run.evaluations += count * cfg.islands * n_off


def _chunk_size(offspring: int, threads: int, cap: int = 256) -> int:
    """Candidates per compiled call: a generation's offspring split over the evaluator's threads,
    at most ``cap`` (a run that may shrink its populations uses small chunks, so shrinking
    needs no new compilation: one costs seconds on big graphs)."""
    return min(cap, -(-offspring // (8 * threads)) * 8)


def partition(graph: Graph, k: int, cost_model: CostModel | None = None, *, preset: str = "default",
              seed: int = 0, time_limit: float | None = None, max_evaluations: int | None = None,
              generations: int | None = None, target_gap: float | None = None, quiet: bool = True,
              json_progress: bool = False, callback: Callable[[dict], None] | None = None,
              **overrides: Any) -> PartitionResult:
    """Partition ``graph`` into at most ``k`` pipeline stages minimising the bottleneck.

    ``cost_model`` defaults to the graph file's recommendation (:func:`pjpart.cost_model_for`).
    The search stops at ``time_limit`` seconds (compile included), ``max_evaluations``,
    ``generations``, when ``gap <= target_gap``, or on Ctrl-C, and returns the best
    partition found, re-validated in float64.  ``overrides`` change preset fields.
    """
    t0 = time.perf_counter()
    k = check_k(k)
    cm = cost_model or cost_model_for(graph)
    cfg = load_preset(preset, time_limit=time_limit, max_evaluations=max_evaluations, generations=generations,
                      target_gap=target_gap, **overrides)
    check_feasible(graph, cm)
    progress = _Progress(not quiet, json_progress, cfg)

    exact = exact_partition(graph, k, cm, cfg.exact_max_downsets) if cfg.exact_max_downsets else None
    if exact is not None:
        value, assignment = exact
        return make_result(graph, assignment, k, cm, lower_bound=value, bound_method="exact-dp",
                           method="exact", seed=seed, evaluations=0, seconds=time.perf_counter() - t0,
                           stopped_by="optimal")

    # the seed orders sliced exactly: a first partition, and the upper bound the bounds are checked against
    orders = seed_orders(graph)
    seed_assignment, upper, seed_order = min((best_slicing(graph, order, k, cm, None) + (order,)
                                              for order in orders), key=lambda avo: avo[1])
    bcfg = cfg.brkga()
    # a time-limited run computes its bounds in a child process alongside the search (the solvers and
    # XLA's compilation overlap instead of taking turns); runs with a generation or evaluation
    # budget compute them first, so their stop (and result) stays reproducible
    background = cfg.time_limit is not None and cfg.generations is None and cfg.max_evaluations is None \
        and cfg.bound_methods != "combinatorial"
    if background:
        bound, bound_method = combinatorial_bound(graph, k, cm), "combinatorial"
    else:
        bound, bound_method = _bounds(graph, k, cm, cfg, upper)
    if bound >= upper * (1 - 1e-12):
        return make_result(graph, seed_assignment, k, cm, lower_bound=bound, bound_method=bound_method,
                           method="seed-order", seed=seed, evaluations=0, seconds=time.perf_counter() - t0,
                           stopped_by="optimal")
    # exact up to the best seed's cost: narrower bands than the evaluator's own guess (faster,
    # and no extra compilation to find that guess); worse candidates still rank above it.
    # A generation's offspring of all islands (elites are not re-evaluated) go in equal chunks,
    # one per evaluator thread at least: a small population (the paper's P=100) does not pay
    # for a padded 256-candidate chunk, and both CPU cores get work
    evaluator = Evaluator(graph, k, cm, upper_bound=upper)
    evaluator.chunk_size = _chunk_size((bcfg.population - bcfg.n_elite) * cfg.islands, evaluator.threads,
                                       cap=32 if cfg.fits_to_time else 256)
    seeds = np.stack([order_to_keys(o) for o in orders])
    run = _Run(cfg, t0, bound, progress, callback, bound_method)
    if background:
        run.start_bounds(_bound_request(graph, k, cm, cfg, upper))  # at 0 while the search compiles
    engine = cfg.engine
    if engine == "auto":
        # measured on 2 CPU cores: the compiled loop pays two more compilations (seconds each on
        # real models) and evaluates no faster, so "auto" is the host loop; "jit" is for
        # accelerators, where a host round trip per island and generation costs more (not yet
        # measured there: bench/gpu.sh times both)
        engine = "host"
    engine = _search_jit if engine == "jit" else _search_host
    try:
        engine(run, graph, evaluator, bcfg, seeds, seed)
    except KeyboardInterrupt:
        run.stopped_by = "interrupted"
    except BaseException:
        run.stop_bounds()
        raise
    finally:
        run.close()
    run.collect_bound()  # what has arrived (the rest is waited for after finishing)
    best_keys, history, evaluations, generation, stopped_by = (run.best_keys, run.history, run.evaluations,
                                                               run.generation, run.stopped_by)
    # a kernel call that outlasted the deadline may still be compiling: finish on the host
    # (the float64 reference slicing), not with kernels that could compile too
    slicing_kernels = None if run.abandoned else evaluator
    assignment, value, order, method = seed_assignment, upper, seed_order, "seed-order"
    if best_keys is not None:  # else compiling took the whole search time: the seed partition
        method = "brkga"  # (its first population holds the seed orders)
        found = decode_keys(graph, best_keys)
        found_assignment, found_value = best_slicing(graph, found, k, cm, slicing_kernels)
        # float32 ranking can misorder near-ties: never return worse than a seed
        if found_value <= upper:
            assignment, value, order = found_assignment, found_value, found
    if cfg.local_search and stopped_by != "interrupted" and run.gap(value) > 1e-9:
        # closure moves and border re-cuts, alternating with exact re-slicing, until a local
        # optimum or the time limit; a run with a generation or evaluation budget runs it to
        # its end (no clock: the same seed gives the same result).  It comes before the
        # near-ties below: on nasnetmobile k=16 at 6 s their float64 slicing took the whole
        # finishing time (0.36-0.39 s) and left none to the moves, which gain more
        improved, _ = improve_and_reslice(graph, assignment, order, k, cm, deadline=run.end,
                                          slicer=lambda o: best_slicing(graph, o, k, cm, slicing_kernels)[0])
        improved_value = float(evaluate(graph, improved, k, cm).max())
        if improved_value < value:
            assignment, value, method = improved, improved_value, method + "+local"
    seen = {order.tobytes()}
    # float32 fitness cannot rank candidates within its rounding (prefix sums over hundreds of
    # nodes: about 1e-6 relative): re-slice the near-ties in float64, within the time limit
    for keys in run.finalists:
        if run.end is not None and time.perf_counter() >= run.end:
            break
        other = decode_keys(graph, keys)
        if other.tobytes() in seen:
            continue
        seen.add(other.tobytes())
        other_assignment, other_value = best_slicing(graph, other, k, cm, slicing_kernels)
        if other_value < value:
            assignment, value, method = other_assignment, other_value, "brkga"
    run.collect_bound(wait=stopped_by != "interrupted")  # its window ends well within the time limit
    run.stop_bounds()  # after Ctrl-C it may still run
    bound, bound_method = run.bound, run.bound_method
    result = make_result(graph, assignment, k, cm, lower_bound=bound, bound_method=bound_method, method=method,
                         seed=seed, evaluations=evaluations, seconds=time.perf_counter() - t0,
                         stopped_by=stopped_by, history=history)
    progress({"generation": generation, "evaluations": evaluations,
              "evals_per_s": evaluations / max(result.seconds, 1e-9), "best": result.bottleneck,
              "bound": bound, "gap": result.gap, "seconds": result.seconds}, final=True)
    return result
