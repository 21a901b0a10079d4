"""The host engine: BRKGA islands with NumPy state (:mod:`pjpart.search.brkga`), one
evaluator call per generation for every island's offspring.

A time-limited run whose preset's populations would leave fewer than
``target_generations`` generations first prices an evaluation and shrinks the islands
and populations to fit (:func:`fit_populations`): at a fixed time a BRKGA that cannot
iterate is a random search.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import numpy as np

from ..evaluator import Evaluator
from ..graph import Graph
from . import brkga
from .config import SearchConfig
from .tracker import Tracker


def search(run: Tracker, graph: Graph, evaluator: Evaluator, cfg: SearchConfig, seeds: np.ndarray,
           seed: int) -> None:
    """BRKGA islands with NumPy state; one evaluator call per generation holds every island's
    offspring (so the evaluator's threads have chunks to share)."""
    bcfg = cfg.brkga
    rng = np.random.default_rng(seed)
    count = cfg.islands
    if cfg.fits_to_time:
        wanted = bcfg.population * count
        bcfg, count = fit_to_time(run, evaluator, bcfg, graph.n, rng)
        if 4 * bcfg.population * count < wanted:
            # the time affords under a quarter of the preset's populations: every core is worth
            # more to the search than to so short a bound window
            run.bounds.deprioritise()
    islands = [brkga.init(bcfg, graph.n, int(rng.integers(2**31)), seeds if i == 0 else None)
               for i in range(count)]
    evaluate = evaluate_fn(cfg, evaluator)
    while not run.out_of_time():
        t_step = time.perf_counter()
        asked = [brkga.ask(bcfg, st) for st in islands]
        keys = np.concatenate([k for k, _ in asked])
        done, fit, tie = evaluate_within(run, evaluate, keys, cfg.stop.max_evaluations)
        if not done:
            break
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


def evaluate_within(run: Tracker, evaluate: Callable[..., np.ndarray], keys: np.ndarray,
                    max_evaluations: int | None) -> tuple[bool, np.ndarray | None, np.ndarray | None]:
    """``(done, fitness, tie-break)`` of ``keys``, counted in ``run.evaluations``: at most the
    evaluations the budget has left (the rest, and chunks the time limit skipped, get ``inf``:
    they rank last), and waited for only until the search's end (a new band compiles: the
    first step's, or a wider one later)."""
    take = len(keys) if max_evaluations is None else max(0, min(len(keys), max_evaluations - run.evaluations))
    done, pairs = run.budget.call(lambda: evaluate(keys[:take], should_stop=run.budget.stopper()))
    if not done:
        return False, None, None
    evaluated = ~np.isnan(pairs[:, 0])
    run.evaluations += int(evaluated.sum())
    values = np.full((len(keys), 2), np.inf)
    values[:take] = np.where(evaluated[:, None], pairs, np.inf)
    return True, values[:, 0], values[:, 1]


def fit_to_time(run: Tracker, evaluator: Evaluator, bcfg: brkga.BRKGAConfig, n: int,
                 rng: np.random.Generator) -> tuple[brkga.BRKGAConfig, int]:
    """Population and island count that leave ``target_generations`` generations in the time left.

    Probes the evaluator on random keys: a first call compiles, a second one (one
    chunk per thread) prices an evaluation.  The probed keys count as evaluations
    and their best is kept like any candidate's.
    """
    cfg = run.cfg
    evaluate = evaluate_fn(cfg, evaluator)  # the kernel the search will use: compiled once
    probe = rng.random((evaluator.chunk_size * evaluator.threads, n))
    first = probe[: evaluator.chunk_size]
    done, pairs = run.budget.call(lambda: evaluate(first))
    if not done:  # compiling outlasted the search's time: no search will run
        return bcfg, cfg.islands
    fit = pairs[:, 0]
    run.evaluations += len(first)
    run.offer(first[int(np.argmin(fit))], float(fit.min()))
    if run.out_of_time():
        return bcfg, cfg.islands
    t = time.perf_counter()
    done, pairs = run.budget.call(lambda: evaluate(probe))
    if not done:
        return bcfg, cfg.islands
    fit = pairs[:, 0]
    rate = len(probe) / max(time.perf_counter() - t, 1e-9)
    run.evaluations += len(probe)
    run.offer(probe[int(np.argmin(fit))], float(fit.min()))
    size, count = fit_populations(bcfg.population, cfg.islands, rate * max(0.0, run.budget.remaining()),
                                  cfg.target_generations, bcfg.elite_fraction)
    if size < bcfg.population:
        # whole chunks for every thread: a padded or idle one costs as much as a full one
        unit = evaluator.chunk_size * evaluator.threads
        offspring = max(unit, round(size * (1 - bcfg.elite_fraction) * count / unit) * unit)
        size = min(bcfg.population, round(offspring / count / (1 - bcfg.elite_fraction)))
    return replace(bcfg, population=size), count


def evaluate_fn(cfg: SearchConfig, evaluator: Evaluator) -> Callable[..., np.ndarray]:
    """``keys, should_stop -> (P, 2)`` fitness and tie-break (the bottleneck with ``k + 1`` stages,
    or zeros without ``cfg.tiebreak``): the one kernel a search compiles and calls."""
    if cfg.tiebreak:
        return evaluator.evaluate_pairs

    def bottleneck_only(keys, should_stop=None):
        values = evaluator.evaluate(keys, should_stop=should_stop)
        return np.stack([values, np.zeros_like(values)], axis=1)

    return bottleneck_only


def fit_populations(population: int, islands: int, total_evaluations: float, target_generations: int,
                    elite_fraction: float, min_population: int = 32, min_island: int = 64) -> tuple[int, int]:
    """``(population, islands)`` so that ``target_generations`` generations cost about
    ``total_evaluations`` (offspring only: elites are not re-evaluated), never larger than given.

    Why: at a fixed time, a slow evaluator (big graphs on CPU) gives a preset's large
    populations only a handful of generations, and a BRKGA that cannot iterate is a
    random search.  Islands go first (each keeps at least
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


def chunk_size(offspring: int, threads: int, cap: int = 256) -> int:
    """Candidates per compiled call: a generation's offspring split over the evaluator's threads,
    at most ``cap`` (a run that may shrink its populations uses small chunks, so shrinking
    needs no new compilation: one costs seconds on big graphs)."""
    return min(cap, -(-offspring // (8 * threads)) * 8)


__all__ = ["chunk_size", "evaluate_fn", "evaluate_within", "fit_populations", "fit_to_time", "search"]
