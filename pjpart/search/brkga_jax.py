"""BRKGA islands as pure JAX ``init / ask / tell`` steps, and a compiled generation loop.

The host engine (:mod:`pjpart.search.brkga`) keeps the population in NumPy and
calls the evaluator once per island and generation.  This engine keeps every
island's population on the device and runs many generations in one compiled
call (``lax.fori_loop`` over ask -> decode -> slice -> tell, islands batched with
``vmap``), so an accelerator never waits for the host between generations.
The number of generations per call is a traced argument and the fitness
function's data (graph arrays, cost model) is an argument ``params``, so one
compilation serves every call and every graph of the same shape
(:func:`make_loop` is cached on its static settings).

The steps mirror the host engine: elites kept unchanged (and not
re-evaluated), mutants, biased uniform crossover elite x non-elite with
probability ``rho_elite`` of the elite's key, ring migration of the ``count``
best into the next island's worst slots, and restart of a stalled island (its
non-elite rows replaced by random keys, which then serve as non-elite parents).
The best keys and fitness of each island always travel together.

Example
-------
>>> import jax, jax.numpy as jnp
>>> from pjpart.search.brkga import BRKGAConfig
>>> from pjpart.search import brkga_jax as bj
>>> cfg = BRKGAConfig(population=8)
>>> def fitness(keys, params):                                  # toy fitness, lower is better
...     return (keys * params).sum(axis=1)
>>> params = jnp.arange(5.0)
>>> state = bj.tell_initial(bj.init(cfg, n=5, islands=2, seed=0), fitness, params)
>>> loop = bj.make_loop(cfg, fitness, max_block=16)
>>> state, bests = loop(state, 10, params)
>>> int(state.generation), bool(jnp.allclose(fitness(state.best_keys, params), state.best_fitness))
(10, True)
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .brkga import BRKGAConfig


class IslandsState(NamedTuple):
    """All islands' populations, each sorted by fitness after a ``tell``."""

    keys: jax.Array          # (I, P, n)
    fitness: jax.Array       # (I, P); inf for rows not evaluated (restarted non-elites)
    best_keys: jax.Array     # (I, n)
    best_fitness: jax.Array  # (I,)
    stall: jax.Array         # (I,) generations without improvement
    generation: jax.Array    # () generations done since the initial evaluation
    rng: jax.Array           # PRNG key


def init(cfg: BRKGAConfig, n: int, islands: int, seed: int, seeds=None) -> IslandsState:
    """Random islands, with the rows of ``seeds`` (good chromosomes) first in island 0."""
    rng, sub = jax.random.split(jax.random.PRNGKey(seed))
    keys = jax.random.uniform(sub, (islands, cfg.population, n))
    if seeds is not None and len(seeds):
        s = jnp.asarray(seeds, keys.dtype)[: cfg.population]
        keys = keys.at[0, : s.shape[0]].set(s)
    inf = jnp.full((islands, cfg.population), jnp.inf, keys.dtype)
    return IslandsState(keys, inf, keys[:, 0], inf[:, 0], jnp.zeros(islands, jnp.int32),
                        jnp.asarray(0, jnp.int32), rng)


def _sorted(keys, fitness):
    order = jnp.argsort(fitness, axis=1, stable=True)
    return jnp.take_along_axis(keys, order[..., None], axis=1), jnp.take_along_axis(fitness, order, axis=1)


def _with_best(state: IslandsState, keys, fitness) -> IslandsState:
    """State with the (sorted) population and the best updated from its first row."""
    improved = fitness[:, 0] < state.best_fitness
    return state._replace(keys=keys, fitness=fitness,
                          best_keys=jnp.where(improved[:, None], keys[:, 0], state.best_keys),
                          best_fitness=jnp.where(improved, fitness[:, 0], state.best_fitness),
                          stall=jnp.where(improved, 0, state.stall + 1))


def tell_initial(state: IslandsState, fitness_fn: Callable, params=None) -> IslandsState:
    """Evaluate every island's whole population once (``fitness_fn(keys (B, n), params) -> (B,)``)."""
    I, P, n = state.keys.shape
    fit = fitness_fn(state.keys.reshape(I * P, n), params).reshape(I, P).astype(state.fitness.dtype)
    keys, fit = _sorted(state.keys, fit)
    return _with_best(state, keys, fit)._replace(stall=jnp.zeros(I, jnp.int32))


def ask(cfg: BRKGAConfig, state: IslandsState) -> tuple[jax.Array, IslandsState]:
    """Offspring ``(I, P - n_elite, n)``: mutants, then children of an elite and a non-elite parent."""
    I, P, n = state.keys.shape
    ne, nm = cfg.n_elite, cfg.n_mutant
    nc = P - ne - nm
    rng, k1, k2, k3, k4 = jax.random.split(state.rng, 5)
    mutants = jax.random.uniform(k1, (I, nm, n), state.keys.dtype)
    ie = jax.random.randint(k2, (I, nc), 0, ne)
    io = jax.random.randint(k3, (I, nc), ne if P > ne else 0, P)
    elite = jnp.take_along_axis(state.keys, ie[..., None], axis=1)
    other = jnp.take_along_axis(state.keys, io[..., None], axis=1)
    children = jnp.where(jax.random.uniform(k4, (I, nc, n)) < cfg.rho_elite, elite, other)
    return jnp.concatenate([mutants, children], axis=1), state._replace(rng=rng)


def tell(cfg: BRKGAConfig, state: IslandsState, offspring: jax.Array, fitness: jax.Array) -> IslandsState:
    """Merge the offspring (with their fitness) with the elites; sort; update best and stall."""
    ne = cfg.n_elite
    keys = jnp.concatenate([state.keys[:, :ne], offspring], axis=1)
    fit = jnp.concatenate([state.fitness[:, :ne], fitness.astype(state.fitness.dtype)], axis=1)
    keys, fit = _sorted(keys, fit)
    return _with_best(state, keys, fit)._replace(generation=state.generation + 1)


def migrate(state: IslandsState, count: int) -> IslandsState:
    """Ring exchange: island ``i`` receives island ``i - 1``'s ``count`` best in place of its worst."""
    keys = state.keys.at[:, -count:].set(jnp.roll(state.keys[:, :count], 1, axis=0))
    fit = state.fitness.at[:, -count:].set(jnp.roll(state.fitness[:, :count], 1, axis=0))
    keys, fit = _sorted(keys, fit)
    improved = fit[:, 0] < state.best_fitness
    return state._replace(keys=keys, fitness=fit,
                          best_keys=jnp.where(improved[:, None], keys[:, 0], state.best_keys),
                          best_fitness=jnp.where(improved, fit[:, 0], state.best_fitness))


def restart_stalled(cfg: BRKGAConfig, state: IslandsState, after: int) -> IslandsState:
    """Islands without improvement for ``after`` generations get random non-elite rows."""
    I, P, n = state.keys.shape
    rng, sub = jax.random.split(state.rng)
    stalled = state.stall >= after
    fresh = jax.random.uniform(sub, (I, P, n), state.keys.dtype)
    row = jnp.arange(P)[None, :] >= cfg.n_elite
    redo = stalled[:, None] & row
    return state._replace(keys=jnp.where(redo[..., None], fresh, state.keys),
                          fitness=jnp.where(redo, jnp.inf, state.fitness),
                          stall=jnp.where(stalled, 0, state.stall), rng=rng)


@functools.lru_cache(maxsize=64)
def make_loop(cfg: BRKGAConfig, fitness_fn: Callable, *, max_block: int = 256, migrate_every: int = 0,
              migrate_count: int = 0, restart_after: int = 0) -> Callable:
    """A compiled ``loop(state, generations, params) -> (state, bests)`` running up to
    ``max_block`` generations per call; ``bests[g]`` is the best fitness over islands after
    generation ``g`` of the call (``inf`` beyond ``generations``).  ``fitness_fn(keys (B, n),
    params) -> (B,)`` is pure JAX.  Cached: the same settings return the same compiled loop."""

    def one(state: IslandsState, params) -> IslandsState:
        offspring, state = ask(cfg, state)
        I, B, n = offspring.shape
        fit = fitness_fn(offspring.reshape(I * B, n), params).reshape(I, B)
        state = tell(cfg, state, offspring, fit)
        if migrate_every and migrate_count and I > 1:
            state = lax.cond(state.generation % migrate_every == 0,
                             lambda s: migrate(s, migrate_count), lambda s: s, state)
        if restart_after:
            state = restart_stalled(cfg, state, restart_after)
        return state

    def loop(state: IslandsState, generations, params=None):
        bests = jnp.full((max_block,), jnp.inf, state.fitness.dtype)

        def body(g, carry):
            st, bs = carry
            st = one(st, params)
            return st, bs.at[g].set(st.best_fitness.min())

        return lax.fori_loop(0, jnp.minimum(generations, max_block), body, (state, bests))

    return jax.jit(loop)


@functools.lru_cache(maxsize=64)
def make_initial(fitness_fn: Callable) -> Callable:
    """Compiled :func:`tell_initial` for ``fitness_fn`` (cached like :func:`make_loop`)."""
    return jax.jit(lambda state, params: tell_initial(state, fitness_fn, params))
