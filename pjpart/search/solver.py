"""``partition``: a graph in, a validated, certified partition out, as named stages.

1. **validate** the problem and build the configuration and the run's :class:`~pjpart.budget.Budget`;
2. **exact**: a graph with few downsets is solved by the lattice DP (certified optimal);
3. **seed**: the seed orders sliced exactly, the first answer and the upper bound;
4. **bounds**: lower bounds before the search (budgeted runs) or alongside it
   (time-limited runs, :class:`~pjpart.search.certify.BoundSource`);
5. **search**: BRKGA islands on an engine (``host`` or ``jit``) until a stop rule;
6. **finish**: exact float64 slicing, local search, near-ties (:mod:`~pjpart.search.finish`);
7. **certify**: re-validate in float64 and attach the best bound.

Examples
--------
>>> import pjpart
>>> g = pjpart.load_graph(pjpart.example_path("tiny"))
>>> r = pjpart.partition(g, k=2, seed=0)
>>> r.bottleneck, r.gap
(14.0, 0.0)
"""

from __future__ import annotations

import functools
import math
import sys
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from ..budget import BackgroundCalls, Budget
from ..coarsen import Coarsening, contract_in_trees, contract_intervals, interval_cuts
from ..cost import CostModel, stages_needed
from ..errors import ConfigError, InfeasibleError
from ..evaluator import Evaluator
from ..graph import Graph
from ..lattice import DENSE_MAX_DOWNSETS, exact_partition
from ..problem import Problem
from ..reference import order_to_keys
from ..result import PartitionResult
from . import host, jit
from .certify import BoundSource, certify
from .config import NOT_GIVEN, SearchConfig, load_preset, run_time_limit
from .finish import Candidate, finish, lift, refine, seed_candidate
from .local import stage_major_order
from .progress import Progress
from .seeds import seed_orders
from .tracker import Tracker

#: search engines by name; ``"auto"`` is the host loop (on CPUs the compiled loop pays two
#: more compilations and evaluates no faster; ``jit`` is for accelerators)
ENGINES = {"host": host.search, "jit": jit.search}


class Solver:
    """Runs partitions one after another and owns what outlives a run.

    What outlives a run: kernel calls that a time-limited run stopped waiting for (still
    compiling in the background), which the next run waits for instead of compiling the
    same kernel beside them.  ``Solver()`` takes no parameters.

    Attributes
    ----------
    calls : pjpart.budget.BackgroundCalls
        The kernel calls left running by earlier runs.

    Methods
    -------
    partition(graph, k, cost_model=None, **options)
        One run, as :func:`pjpart.partition` (which makes a new solver when not given one).
    settle(timeout=None)
        Wait up to ``timeout`` seconds for the calls left running; True when none is left.

    Examples
    --------
    >>> import pjpart
    >>> solver = pjpart.Solver()
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
    >>> solver.partition(g, 2).bottleneck, solver.settle(0.0)
    (6.0, True)
    """

    def __init__(self) -> None:
        self.calls = BackgroundCalls()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (``None``: no limit) for the calls left running;
        True when none is left.  Benchmarks call it so that no run pays for another's."""
        return self.calls.settle(timeout)

    def partition(self, graph: Graph, k: int, cost_model: CostModel | None = None, *, preset: str = "default",
                  seed: int = 0, time_limit: Any = NOT_GIVEN, max_evaluations: Any = NOT_GIVEN,
                  generations: Any = NOT_GIVEN, target_gap: Any = NOT_GIVEN, quiet: bool = True,
                  json_progress: bool = False, callback: Callable[[dict], None] | None = None,
                  **overrides: Any) -> PartitionResult:
        """See :func:`partition`."""
        budget = Budget(None)  # the clock starts before validation, which counts too
        problem = Problem.validated(graph, k, cost_model)
        cfg = load_preset(preset, time_limit=run_time_limit(time_limit, max_evaluations, generations),
                          max_evaluations=max_evaluations, generations=generations, target_gap=target_gap, **overrides)
        if cfg.stop.time_limit is None and not cfg.stop.budgeted:
            raise ConfigError("the search needs a stop: time_limit, max_evaluations or generations")
        multilevel = bool(cfg.coarsen_min_nodes) and problem.graph.n >= cfg.coarsen_min_nodes
        budget = Budget(cfg.stop.time_limit, finish_share=cfg.finish.coarse_share if multilevel else
                        cfg.finish.share, calls=self.calls, start=budget.start)
        progress = Progress(not quiet, json_progress, cfg.stop)
        bounds = BoundSource(problem, cfg.bounds, budget)  # the graph's: a coarse optimum bounds nothing
        try:  # the bounds process (started beside a packing, or the search) ends with the run, however it ends
            best, bound, run = self._solve(problem, cfg, budget, progress, callback, seed, multilevel, bounds)
        finally:
            bounds.stop()
        if not np.isfinite(best.value):
            raise _infeasible(problem, best, run)
        result = certify(problem, best.assignment, bound[0], bound[1], method=best.method, seed=seed,
                         evaluations=0 if run is None else run.evaluations, seconds=budget.elapsed(),
                         stopped_by="optimal" if run is None else run.stopped_by,
                         history=[] if run is None else run.history)
        if run is not None:
            progress({"generation": run.generation, "evaluations": run.evaluations,
                      "evals_per_s": run.evaluations / max(result.seconds, 1e-9), "best": result.bottleneck,
                      "bound": result.lower_bound, "gap": result.gap, "seconds": result.seconds}, final=True)
        return result

    def _solve(self, problem: Problem, cfg: SearchConfig, budget: Budget, progress: Progress,
               callback: Callable[[dict], None] | None, seed: int,
               multilevel: bool, bounds: BoundSource) -> tuple[Candidate, tuple, Tracker | None]:
        """The stages between validation and certification: ``(best, (bound, bound method), run)``,
        ``run`` being ``None`` when no search ran (exact, or a seed order proven optimal)."""
        graph_orders = functools.cache(lambda: seed_orders(problem.graph))
        first = functools.cache(lambda: seed_candidate(problem, graph_orders()))
        exact = _exact(problem, cfg, budget, first)
        if exact is not None:
            return exact, (exact.value, "exact-dp"), None
        packs = _packs(problem, budget, first)
        alongside = budget.limited and not cfg.stop.budgeted and cfg.bounds.methods != "combinatorial"
        # a packing run compiles after the packing (a compilation beside it holds the interpreter the
        # packing needs, and a guess cut short finds nothing) and starts the bounds beside it (its
        # MIPs run in a child process; a guess may run on to the search's end)
        build_later = multilevel or packs
        building = None if build_later else _building(problem, cfg, budget)  # while the seeds are sliced
        if packs and alongside:
            bounds.refuse_above(first().value)
            bounds.start(first().value)
        # the graph's best seed partition, or the packing's: the first answer (and a coarse graph's borders)
        packed = _packed(problem, budget, first(), overrun=alongside) if packs else None
        floor, lead = (first(), []) if packed is None else (packed, [packed.order])
        found = _coarse_start(problem, cfg, floor) if multilevel else None
        if found is None:
            coarse, searched, orders, start = None, problem, lead + list(graph_orders()), floor
        else:
            coarse, searched, orders, start = found
        # the graph's own partition (seed or packed) stays a candidate: a floor for the coarse search
        floor = start if coarse is None else min((lift(problem, coarse, start), floor), key=lambda c: c.value)
        bounds.refuse_above(floor.value)  # a cached bound above a real partition's cost certifies nothing
        bounds.offer_upper(floor.value)
        if not alongside:
            bounds.compute(floor.value)
            floor = _bounds_partition(problem, bounds, floor)
        bounds.collect()  # what the bounds beside the packing published so far
        if bounds.proves(floor.value):
            if building is not None and not building.done():
                budget.leave(building)
            return floor, bounds.for_result(floor.value), None
        if build_later:  # not proven: the search's kernels are wanted
            building = _building(searched, cfg, budget)
        run = Tracker(cfg, budget, bounds, progress, callback,
                      stall_share=None if coarse is None else cfg.finish.coarse_stall_share)
        if coarse is None:
            run.adopt = lambda stages: order_to_keys(_stage_order(problem.graph, stages))
        evaluator = _search(searched, cfg, run, orders, start, seed, alongside, building, floor.value)
        if coarse is None:
            best = finish(problem, cfg.finish, run, start, evaluator)
        else:  # the local search runs on the graph itself, after projection
            best = refine(problem, coarse, finish(searched, replace(cfg.finish, local_search=False), run, start,
                                                  evaluator), cfg.finish, run, floor)
        # its window ends well within the time limit; a proof of the answer ends it at once
        bounds.collect(wait=run.stopped_by != "interrupted", found=best.value)
        bounds.stop()
        best = _bounds_partition(problem, bounds, best)
        return best, bounds.for_result(best.value), run


def _building(problem: Problem, cfg: SearchConfig, budget: Budget) -> Future | None:
    """A time-limited run's evaluator, built in the background (JAX starts: up to a second cold)."""
    return budget.start_call(lambda: _evaluator(problem, cfg)) if budget.limited and _jax_fits(budget) else None


def _coarse_start(problem: Problem, cfg: SearchConfig,
                  floor: Candidate) -> tuple[Coarsening, Problem, list[np.ndarray], Candidate] | None:
    """A multilevel search's coarse graph (:func:`_coarsening`: in-trees, and ``floor``'s stage borders
    where it cuts further), its problem, seed orders (``floor``'s order first) and best seed;
    ``None`` when that seed costs more than :data:`COARSE_SEED_SLACK` above ``floor`` (the cuts good
    partitions need were contracted: a tight memory limit, or a packing's cuts inside in-trees)."""
    coarse = _coarsening(problem, floor, cfg.coarse_nodes)
    searched = Problem(coarse.graph, problem.k, problem.cost_model)
    # a coarse graph's own order first: the floor's order, coarse node by coarse node
    orders = [coarse.coarse_order(floor.order)] + seed_orders(coarse.graph)
    start = seed_candidate(searched, orders)  # coarse: at least its cost on the graph
    if start.value > floor.value * (1 + COARSE_SEED_SLACK):
        return None
    return coarse, searched, orders, start


def _stage_order(graph: Graph, stages: np.ndarray) -> np.ndarray:
    """A topological order holding a partition's stages as contiguous runs, stage by stage (its
    keys decode to it, and its exact slicing costs no more than the partition)."""
    return stage_major_order(np.asarray(stages, dtype=np.int64), graph.topological_order())


#: the search starts from a stage-by-stage packing (:mod:`.packing`) on graphs of this many nodes or
#: more and this many stages or more that :mod:`pjpart.bounds.chain` cannot cut into groups (a wide
#: multi-branch net), packed within this share of the time limit (and at most this many seconds:
#: ``spine``'s MIP caps want the cores after it) when it holds this many guesses of
#: ``k - 1`` stage MIPs at :data:`.packing.STAGE_TYPICAL_SECONDS` each (the first guess, from the best
#: seed's cheap stages, is often the packing's answer; runs without a time limit are not packed)
PACK_MIN_NODES, PACK_MIN_STAGES, PACK_SHARE, PACK_MAX_SECONDS, PACK_MIN_GUESSES = 200, 4, 0.4, 10.0, 1
#: a guess started within that time may run on to this many times it, the search's end at most (cut short
#: it finds nothing; on a slow machine one outlasts the time meant for several), the bounds beside it
PACK_OVERRUN = 2.0


def _packs(problem: Problem, budget: Budget, first: Callable[[], Candidate]) -> bool:
    """Whether the run packs (:func:`_packed`): the gates above admit it, and no groups in series
    (``first()``, the best seed, sliced only when the graph's size, k and the time admit it)."""
    from ..bounds.chain import groups_in_series
    from ..bounds.combinatorial import combinatorial_bound
    from .packing import MAX_NODES, STAGE_TYPICAL_SECONDS

    g, k, cm = problem.graph, problem.k, problem.cost_model
    # without a time limit the run is reproducible (a MIP stopped by its clock is not): no packing
    if not PACK_MIN_NODES <= g.n <= MAX_NODES or k < PACK_MIN_STAGES or not budget.limited:
        return False
    if _pack_seconds(budget) < PACK_MIN_GUESSES * (k - 1) * STAGE_TYPICAL_SECONDS:
        return False  # no guess would fit: the search keeps its time
    if not math.isfinite((start := first()).value):
        return False
    # groups in series: the search and chain's bound do well there
    return len(groups_in_series(g, cm, k, combinatorial_bound(g, k, cm), start.value)[0]) <= 1


def _pack_seconds(budget: Budget) -> float:
    return min(PACK_SHARE * budget.time_limit, PACK_MAX_SECONDS)


def _packed(problem: Problem, budget: Budget, start: Candidate, overrun: bool = True) -> Candidate | None:
    """The packing's partition (:func:`.packing.packed_partition`, from the combinatorial and min-cut
    bounds to ``start``'s cost) when cheaper than ``start``; with ``overrun``, as :data:`PACK_OVERRUN` says."""
    from ..bounds.combinatorial import combinatorial_bound
    from ..bounds.mincut import node_closure_bound
    from .packing import packed_partition

    g, k, cm = problem.graph, problem.k, problem.cost_model
    seconds = _pack_seconds(budget)
    within = budget.within(seconds)
    longer = budget.within(min(PACK_OVERRUN * seconds, budget.remaining())) if overrun else None
    # the guesses start above a lower bound: at many stages the cuts' is the tighter
    low = max(combinatorial_bound(g, k, cm), node_closure_bound(g, cm, within.stopper()))
    found = packed_partition(g, k, cm, low, start.value, within, seed=start.assignment, overrun=longer)
    if found is None or not found[0] < start.value:
        return None
    return Candidate(found[1], found[0], _stage_order(g, found[1]), "packing")


#: what a result's ``method`` says of a partition a bound method found
FOUND_BY = {"guess": "guess-mip", "mincut": "mincut-block"}


def _bounds_partition(problem: Problem, bounds: BoundSource, best: Candidate) -> Candidate:
    """``best``, or the partition a bound method found when it is cheaper (re-costed in float64
    by the bounds, and again at certification)."""
    found = bounds.partition
    if found is None or not found[0] < best.value:
        return best
    return Candidate(found[1], found[0], _stage_order(problem.graph, found[1]), FOUND_BY.get(found[2], found[2]))


#: a run shorter than this does not start the column DP (loading its compiled loop takes a
#: third of a second from numba's cache, two seconds without)
LARGE_EXACT_MIN_SECONDS = 3.0


def _exact(problem: Problem, cfg: SearchConfig, budget: Budget,
           first: Callable[[], Candidate]) -> Candidate | None:
    """The optimum by the lattice DP when the (reduced) graph has at most ``exact_max_downsets``
    downsets: small lattices at once (the dense DP), larger ones by the column DP pruned by the
    best seed partition's cost (``first()``, computed only then), within half the time limit
    (else the search gets the time back)."""
    if not cfg.exact_max_downsets:
        return None
    g, k, cm = problem.graph, problem.k, problem.cost_model
    most = cfg.exact_max_downsets if not (budget.limited and budget.time_limit < LARGE_EXACT_MIN_SECONDS) \
        else min(cfg.exact_max_downsets, DENSE_MAX_DOWNSETS)
    within = budget.within(0.5 * budget.time_limit) if budget.limited else budget
    found = exact_partition(g, k, cm, most, within.stopper(), upper=lambda: first().value,
                            seconds=within.remaining())
    if found is None:
        return None
    return Candidate(found[1], found[0], g.topological_order(), "exact")


#: a coarse node holds at most this share of a stage's work (the total over k): coarser
#: nodes leave the search too few ways to balance the stages
COARSE_NODE_STAGE_SHARE = 1 / 32


#: a multilevel search falls back to the graph itself when the coarse graph's best seed partition costs
#: more than this share above the graph's own (a tight memory limit: the cuts it needs were contracted)
COARSE_SEED_SLACK = 0.05


def _coarsening(problem: Problem, best: Candidate, nodes: int) -> Coarsening:
    """The graph's in-trees contracted, in pieces of at most :data:`COARSE_NODE_STAGE_SHARE`
    of a stage's work and of the least stage memory limit (:func:`pjpart.coarsen.contract_in_trees`:
    every partition of it costs the same on the graph); when that leaves more than ``nodes``
    nodes, ``best``'s order on it cut into about ``nodes`` intervals too, at its stage
    borders and, between them, where little traffic crosses
    (:func:`pjpart.coarsen.interval_cuts`): the coarse graph holds ``best`` itself."""
    g = problem.graph
    trees = contract_in_trees(g, COARSE_NODE_STAGE_SHARE * float(g.work.sum()) / problem.k,
                              COARSE_NODE_STAGE_SHARE * float(problem.cost_model.stage_terms().memory_limit.min()))
    if trees.graph.n <= nodes:
        return trees
    order = trees.coarse_order(best.order)
    stages = np.zeros(trees.graph.n, dtype=np.int64)
    np.maximum.at(stages, trees.members, best.assignment)  # each in-tree in its root's stage
    borders = np.flatnonzero(np.diff(stages[order])) + 1
    return trees.then(contract_intervals(trees.graph, order, interval_cuts(trees.graph, order, nodes, keep=borders)))


def _infeasible(problem: Problem, best: Candidate, run: Tracker | None) -> InfeasibleError:
    """The error for a run that found no feasible partition: proven by the exact DP, else
    only not found (the packing bound of :func:`pjpart.cost.check_feasible` let it through)."""
    cm = problem.cost_model
    if best.method == "exact":
        return InfeasibleError(f"no feasible partition: the exact DP over all downsets finds none with "
                               f"k = {problem.k} stages of memory_limit {cm.memory_limit:g}")
    return InfeasibleError(f"no feasible partition found: no order tried fits the weights "
                           f"({problem.graph.params.sum():g} in all) into k = {problem.k} stages of memory_limit "
                           f"{cm.memory_limit:g} (not proven impossible: the packing bound asks for "
                           f"{stages_needed(problem.graph.params, cm.memory_limit)} stages only)")


#: seconds of interpreter time that importing JAX and starting its backend take on 2 cores (about a
#: second): a time-limited run in a process without JAX finishes from its seed orders when its search
#: has less than this left, rather than give the finishing steps' time to an import that cannot pay off
JAX_START_SECONDS = 1.5


def _jax_fits(budget: Budget) -> bool:
    """Whether the search can start JAX within its time (or JAX has started already)."""
    return "jax" in sys.modules or budget.remaining() > JAX_START_SECONDS


def _evaluator(problem: Problem, cfg: SearchConfig, start: Candidate | None = None) -> Evaluator:
    """The search's evaluator, exact up to the best seed's cost (narrower bands than the
    evaluator's own guess, and worse candidates still rank above it; without ``start``,
    :meth:`~pjpart.Evaluator.set_upper_bound` sets it later); a generation's offspring
    (elites are not re-evaluated) go in equal chunks, one per thread at least."""
    bcfg = cfg.brkga
    evaluator = Evaluator(problem.graph, problem.k, problem.cost_model,
                          upper_bound=math.inf if start is None else start.value)
    evaluator.chunk_size = host.chunk_size((bcfg.population - bcfg.n_elite) * cfg.islands, evaluator.threads,
                                           cap=32 if cfg.fits_to_time else 256)
    return evaluator


def _search(problem: Problem, cfg: SearchConfig, run: Tracker, orders: list[np.ndarray], start: Candidate,
            seed: int, alongside: bool, building: Future | None, upper: float) -> Evaluator | None:
    """The search stage: bounds started alongside if asked, the evaluator built (or its
    ``building`` waited for; JAX's start-up counts against the search's time), and the engine
    run until a stop rule, Ctrl-C or an error.  ``None`` when the evaluator was not ready by
    the search's end."""
    seeds = np.stack([order_to_keys(o) for o in orders])
    if alongside:
        run.bounds.start(upper)  # at niceness 0 while the search compiles
    if building is None and run.budget.limited and not _jax_fits(run.budget):
        return None
    engine = ENGINES["host" if cfg.engine == "auto" else cfg.engine]
    evaluator = None
    try:
        if building is None:
            done, evaluator = run.budget.call(lambda: _evaluator(problem, cfg, start))
        else:
            done, evaluator = run.budget.wait(building)
            if done:
                evaluator.set_upper_bound(start.value)
        if not done:
            return None
        engine(run, problem.graph, evaluator, cfg, seeds, seed)
    except KeyboardInterrupt:
        run.stopped_by = "interrupted"
    except BaseException:
        run.bounds.stop()
        raise
    finally:
        run.budget.close()
    run.bounds.collect()  # what has arrived (the rest is waited for after finishing)
    return evaluator


def partition(graph: Graph, k: int, cost_model: CostModel | None = None, *, preset: str = "default",
              seed: int = 0, time_limit: Any = NOT_GIVEN, max_evaluations: Any = NOT_GIVEN,
              generations: Any = NOT_GIVEN, target_gap: Any = NOT_GIVEN, quiet: bool = True,
              json_progress: bool = False, callback: Callable[[dict], None] | None = None,
              solver: Solver | None = None, **overrides: Any) -> PartitionResult:
    """Partition ``graph`` into at most ``k`` pipeline stages minimising the bottleneck.

    Parameters
    ----------
    graph, k, cost_model
        The problem; ``cost_model`` defaults to the graph file's recommendation
        (:func:`pjpart.cost_model_for`).
    preset
        Search settings from ``configs/NAME.toml`` (:data:`pjpart.PRESETS`).
    seed
        The random seed: the same seed and settings with a generation or evaluation
        budget give the same result.
    time_limit, max_evaluations, generations, target_gap
        Stop rules (seconds with compilation included, evaluations, generations, gap
        against the best bound).  Not given: the preset's; ``time_limit=None``: none.
    quiet, json_progress, callback
        Progress: a live bar on stderr unless ``quiet``, JSON lines with
        ``json_progress``; ``callback(info)`` once per generation.
    solver
        The :class:`Solver` whose background calls this run waits for (a new one when not given).
    **overrides
        Other settings of the preset (:data:`pjpart.search.config.SETTINGS`).

    Returns
    -------
    PartitionResult
        The best partition found (re-validated in float64) with its bound and gap; Ctrl-C
        stops the search and keeps the best so far.

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
    >>> r = pjpart.partition(g, k=2)
    >>> r.bottleneck, r.assignment.tolist(), r.method
    (6.0, [0, 0, 0, 1], 'exact')
    """
    return (solver or Solver()).partition(graph, k, cost_model, preset=preset, seed=seed, time_limit=time_limit,
                                          max_evaluations=max_evaluations, generations=generations,
                                          target_gap=target_gap, quiet=quiet, json_progress=json_progress,
                                          callback=callback, **overrides)


__all__ = ["ENGINES", "Solver", "partition"]
