"""The jit engine: BRKGA islands on the device, many generations per compiled call
(:mod:`pjpart.search.brkga_jax`), for accelerators, where a host round trip per island
and generation costs more than the compiled loop's extra compilations.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ConfigError
from ..evaluator import Evaluator
from ..graph import Graph
from .config import SearchConfig
from .tracker import Tracker


def search(run: Tracker, graph: Graph, evaluator: Evaluator, cfg: SearchConfig, seeds: np.ndarray,
           seed: int) -> None:
    """BRKGA islands on the device: many generations per compiled call (``search/brkga_jax.py``).

    Calls are sized from the measured seconds per generation to end near the time
    limit and to report progress about once a second; the first call (one
    generation) pays the compilation.  It ranks by the bottleneck alone (``cfg.tiebreak``
    is a host-engine setting: the compiled loop's fitness is one value per candidate).
    """
    import jax

    from . import brkga_jax

    bcfg = cfg.brkga
    n_off = bcfg.population - bcfg.n_elite
    if cfg.stop.max_evaluations is not None and cfg.stop.max_evaluations < cfg.islands * bcfg.population:
        raise ConfigError(f"setting 'max_evaluations' ({cfg.stop.max_evaluations}) is below the jit engine's first "
                          f"generation: it evaluates whole populations, islands x population = "
                          f"{cfg.islands * bcfg.population}")
    # the band probe decodes on the device (it may compile): waited for like the kernel calls
    done, made = run.budget.call(lambda: _fitness_functions(evaluator, cfg, n_off, seeds))
    if not done:
        return
    (fit_off, params), fit_all = made
    max_block = 256
    loop = brkga_jax.make_loop(bcfg, fit_off, max_block=max_block, migrate_every=cfg.migrate_every,
                               migrate_count=cfg.migrate_count, restart_after=cfg.restart_after)
    t = time.perf_counter()
    initial = brkga_jax.make_initial(fit_all)
    done, state = run.budget.call(
        lambda: jax.block_until_ready(initial(brkga_jax.init(bcfg, graph.n, cfg.islands, seed, seeds), params)))
    if not done:  # compiling outlasted the search's time
        return
    run.evaluations += cfg.islands * bcfg.population
    run.step_seconds = time.perf_counter() - t
    per_gen, calls = None, 0
    while True:
        i = int(np.argmin(np.asarray(state.best_fitness)))
        run.offer(np.asarray(state.best_keys[i]), float(state.best_fitness[i]))
        run.report()
        if run.should_stop():  # also right after the initial population: compiling the loop may not fit
            break
        count = _generations_per_call(run, cfg, per_gen, max_block, cfg.islands * n_off)
        if count < 1:  # the evaluation budget has no room for another whole generation
            run.stopped_by = "evaluations"
            break
        t = time.perf_counter()
        done, out = run.budget.call(lambda state=state, count=count: jax.block_until_ready(loop(state, count,
                                                                                                   params)))
        if not done:
            break
        state, _ = out
        took = time.perf_counter() - t
        calls += 1
        if calls >= 2:  # the first call compiles
            per_gen = took / count
        run.step_seconds = took if per_gen is None else per_gen
        run.generation += count
        run.evaluations += count * cfg.islands * n_off


def _fitness_functions(evaluator: Evaluator, cfg: SearchConfig, n_off: int, seeds: np.ndarray) -> tuple:
    """The offspring fitness with its params, and the whole-population fitness on the same band and windows."""
    fit_off, params = evaluator.fitness_function(cfg.islands * n_off, sample=seeds)
    fit_all, _ = evaluator.fitness_function(cfg.islands * cfg.brkga.population, band=fit_off.band,
                                            width=fit_off.width)
    return (fit_off, params), fit_all


def _generations_per_call(run: Tracker, cfg: SearchConfig, per_gen: float | None, max_block: int,
                          per_generation: int) -> int:
    """Generations for the next compiled call: about a second of them (one while the rate is
    unknown), never past the time limit, the generation budget or the evaluation budget
    (whole generations only: 0 when the next would exceed it)."""
    count = 1 if per_gen is None else int(max(1, min(max_block, min(1.0, 0.9 * run.budget.remaining()) / per_gen)))
    if cfg.stop.generations is not None:
        count = min(count, cfg.stop.generations - run.generation)
    if cfg.stop.max_evaluations is not None:
        count = min(count, (cfg.stop.max_evaluations - run.evaluations) // per_generation)
    return count


__all__ = ["search"]
