"""Biased random-key genetic algorithm as ``init / ask / tell`` over an explicit state.

The state is plain data (a frozen dataclass of NumPy arrays and a NumPy random
generator state), the steps are functions of it: ``ask`` returns the keys to
evaluate next, ``tell`` takes their fitness (bottleneck, lower is better) and
returns the next state.  The best chromosome and its fitness always travel
together, so ``decode(best_keys)`` reproduces ``best_fitness``.

Example
-------
>>> import numpy as np
>>> from pjpart.search.brkga import BRKGAConfig, init, ask, tell
>>> cfg = BRKGAConfig(population=8)
>>> state = init(cfg, n=5, seed=0)
>>> keys, state = ask(cfg, state)
>>> state = tell(cfg, state, keys, keys.sum(axis=1))   # toy fitness
>>> bool(state.best_fitness == (keys.sum(axis=1)).min())
True
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class BRKGAConfig:
    """BRKGA parameters (Goncalves & Resende's names)."""

    population: int = 100
    elite_fraction: float = 0.2
    mutant_fraction: float = 0.15
    rho_elite: float = 0.7  # probability a child takes the elite parent's key
    tie_tolerance: float = 1e-6  # relative: fitness values closer than this rank by their tie-break
                                 # (float32 kernels round sums of hundreds of nodes to about 1e-6)

    def __post_init__(self) -> None:
        if isinstance(self.population, bool) or not isinstance(self.population, (int, np.integer)) \
                or self.population < 2:
            raise ConfigError(f"setting 'population' must be an integer >= 2, got {self.population!r}")
        for name in ("elite_fraction", "mutant_fraction", "rho_elite", "tie_tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or value != value:
                raise ConfigError(f"setting {name!r} must be a number, got {value!r}")
        if not 0 < self.elite_fraction < 1:
            raise ConfigError(f"setting 'elite_fraction' must be in (0, 1), got {self.elite_fraction!r}")
        if not (0 <= self.mutant_fraction < 1 and self.elite_fraction + self.mutant_fraction <= 1):
            raise ConfigError(f"setting 'mutant_fraction' must be in [0, 1) with elite_fraction + "
                              f"mutant_fraction <= 1, got {self.mutant_fraction!r}")
        if not 0.5 <= self.rho_elite <= 1:
            raise ConfigError(f"setting 'rho_elite' must be in [0.5, 1], got {self.rho_elite!r}")
        if not 0 <= self.tie_tolerance < 1:
            raise ConfigError(f"setting 'tie_tolerance' must be in [0, 1), got {self.tie_tolerance!r}")

    @property
    def n_elite(self) -> int:
        return max(1, int(round(self.elite_fraction * self.population)))

    @property
    def n_mutant(self) -> int:
        return min(self.population - self.n_elite, int(round(self.mutant_fraction * self.population)))


@dataclass(frozen=True)
class BRKGAState:
    """Population ranked after each ``tell`` (by fitness; near-ties by tie-break, see :func:`rank`);
    ``rng`` is a generator state dict."""

    keys: np.ndarray          # (P, n) current population
    fitness: np.ndarray       # (P,) fitness of ``keys`` (inf before the first tell)
    tiebreak: np.ndarray      # (P,) second criterion, lower is better (zeros when none is given)
    best_keys: np.ndarray     # (n,)
    best_fitness: float
    generation: int
    stall: int                # generations without improvement of best_fitness
    rng: dict


def _rng(state: BRKGAState) -> np.random.Generator:
    g = np.random.default_rng()
    g.bit_generator.state = state.rng
    return g


def init(cfg: BRKGAConfig, n: int, seed: int, seeds: np.ndarray | None = None) -> BRKGAState:
    """Random population, with the rows of ``seeds`` (good chromosomes) placed first."""
    rng = np.random.default_rng(seed)
    keys = rng.random((cfg.population, n))
    if seeds is not None and len(seeds):
        s = np.asarray(seeds, dtype=np.float64)[: cfg.population]
        keys[: len(s)] = s
    return BRKGAState(keys=keys, fitness=np.full(cfg.population, np.inf), tiebreak=np.zeros(cfg.population),
                      best_keys=keys[0].copy(), best_fitness=np.inf, generation=0, stall=0,
                      rng=rng.bit_generator.state)


def ask(cfg: BRKGAConfig, state: BRKGAState) -> tuple[np.ndarray, BRKGAState]:
    """Keys to evaluate (and the state with its generator advanced): the whole
    initial population, then each generation's offspring.

    Elites (the first ``n_elite`` rows of the sorted population) are kept with their
    known fitness and not re-evaluated; ``ask`` returns only the mutants and children.
    """
    if state.generation == 0:
        return state.keys, state
    rng = _rng(state)
    P, n = state.keys.shape
    ne, nm = cfg.n_elite, cfg.n_mutant
    nc = P - ne - nm
    mutants = rng.random((nm, n))
    elite_parent = state.keys[rng.integers(0, ne, nc)]
    other_parent = state.keys[rng.integers(ne, P, nc)] if P > ne else state.keys[rng.integers(0, ne, nc)]
    take = rng.random((nc, n)) < cfg.rho_elite
    children = np.where(take, elite_parent, other_parent)
    return np.concatenate([mutants, children]), replace(state, rng=rng.bit_generator.state)


def rank(cfg: BRKGAConfig, fitness: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Indices that rank candidates: by fitness, and among fitness values within
    ``tie_tolerance`` (relative; buckets of log-fitness) by ``tiebreak``; stable otherwise.

    Why: a min-max objective has plateaus (many orders share the same slowest
    stage), and without a second criterion the elites cannot improve along them.

    >>> rank(BRKGAConfig(), np.array([2.0, 1.0, 1.0 + 1e-9]), np.array([0.0, 5.0, 3.0])).tolist()
    [2, 1, 0]
    """
    fitness = np.asarray(fitness, dtype=np.float64)
    if cfg.tie_tolerance == 0 or not np.any(tiebreak):
        return np.argsort(fitness, kind="stable")
    with np.errstate(divide="ignore", invalid="ignore"):
        bucket = np.where(fitness > 0, np.floor(np.log(fitness) / cfg.tie_tolerance), -np.inf)
    bucket = np.where(np.isnan(fitness), np.inf, bucket)
    return np.lexsort((np.asarray(tiebreak, dtype=np.float64), bucket))


def tell(cfg: BRKGAConfig, state: BRKGAState, keys: np.ndarray, fitness: np.ndarray,
         tiebreak: np.ndarray | None = None) -> BRKGAState:
    """Merge the evaluated ``keys`` with the elites and rank them (:func:`rank`); update the best.

    ``tiebreak`` (optional, lower is better) orders candidates whose fitness is a
    near-tie; the best is always the lowest fitness, with its own keys.
    """
    fitness = np.asarray(fitness, dtype=np.float64)
    tiebreak = np.zeros(len(fitness)) if tiebreak is None else np.asarray(tiebreak, dtype=np.float64)
    if state.generation == 0:
        pool_keys, pool_fit, pool_tie = keys, fitness, tiebreak
    else:
        ne = cfg.n_elite
        pool_keys = np.concatenate([state.keys[:ne], keys])
        pool_fit = np.concatenate([state.fitness[:ne], fitness])
        pool_tie = np.concatenate([state.tiebreak[:ne], tiebreak])
    order = rank(cfg, pool_fit, pool_tie)
    pool_keys, pool_fit, pool_tie = pool_keys[order], pool_fit[order], pool_tie[order]
    top = int(np.argmin(pool_fit))  # the first row unless a near-tie with a better tie-break ranks first
    improved = pool_fit[top] < state.best_fitness
    return BRKGAState(
        keys=pool_keys, fitness=pool_fit, tiebreak=pool_tie,
        best_keys=pool_keys[top].copy() if improved else state.best_keys,
        best_fitness=float(pool_fit[top]) if improved else state.best_fitness,
        generation=state.generation + 1, stall=0 if improved else state.stall + 1, rng=state.rng)


def restart(cfg: BRKGAConfig, state: BRKGAState, keep: int = 1) -> BRKGAState:
    """Fresh random population keeping the ``keep`` best chromosomes (used when a population stalls)."""
    rng = _rng(state)
    P, n = state.keys.shape
    keys = rng.random((P, n))
    keys[:keep] = state.keys[:keep]
    fitness = np.full(P, np.inf)
    fitness[:keep] = state.fitness[:keep]
    tiebreak = np.zeros(P)
    tiebreak[:keep] = state.tiebreak[:keep]
    return replace(state, keys=keys, fitness=fitness, tiebreak=tiebreak, generation=0, stall=0,
                   rng=rng.bit_generator.state)


def inject(cfg: BRKGAConfig | None, state: BRKGAState, keys: np.ndarray, fitness: np.ndarray,
           tiebreak: np.ndarray | None = None) -> BRKGAState:
    """The population with its worst ``len(keys)`` rows replaced by ``keys`` (fitness and
    tie-break known), ranked again (:func:`rank` with ``cfg``'s tolerance; by fitness alone
    without ``cfg``), the best updated (:func:`migrate` brings migrants this way)."""
    cfg = cfg if cfg is not None else BRKGAConfig(tie_tolerance=0.0)
    count = len(keys)
    tiebreak = np.zeros(count) if tiebreak is None else tiebreak
    pool_keys, fit, tie = state.keys.copy(), state.fitness.copy(), state.tiebreak.copy()
    pool_keys[-count:], fit[-count:], tie[-count:] = keys, fitness, tiebreak
    order = rank(cfg, fit, tie)
    pool_keys, fit, tie = pool_keys[order], fit[order], tie[order]
    top = int(np.argmin(fit))
    improved = fit[top] < state.best_fitness
    return replace(state, keys=pool_keys, fitness=fit, tiebreak=tie,
                   best_keys=pool_keys[top].copy() if improved else state.best_keys,
                   best_fitness=float(fit[top]) if improved else state.best_fitness)


def migrate(states: list[BRKGAState], count: int, cfg: BRKGAConfig | None = None) -> list[BRKGAState]:
    """Ring exchange between islands: island ``i`` receives island ``i-1``'s ``count`` best,
    replacing its own worst ones (:func:`inject`: fitness and tie-break travel with the keys)."""
    if len(states) < 2 or count < 1:
        return states
    return [inject(cfg, st, states[i - 1].keys[:count], states[i - 1].fitness[:count],
                   states[i - 1].tiebreak[:count]) for i, st in enumerate(states)]
