"""Search configuration: :class:`SearchConfig`, composed of the BRKGA settings, the stop
rules, a bound policy and a finish policy; presets in ``configs/NAME.toml``.

Presets and overrides use flat setting names (``population``, ``time_limit``,
``bound_methods``, ``finish_share``, ...: :data:`SETTINGS`), each routed to its part.
Every value is checked when the configuration is built; a bad one raises
:class:`~pjpart.ConfigError` naming the setting.  ``NOT_GIVEN`` marks an argument the
caller did not give (the preset's value holds), so ``time_limit=None`` means *no* time
limit.

Examples
--------
>>> cfg = load_preset("default", population=64, time_limit=None)
>>> cfg.brkga.population, cfg.stop.time_limit, cfg.bounds.methods
(64, None, 'auto')
>>> load_preset("default", population=1.5)
Traceback (most recent call last):
...
pjpart.errors.ConfigError: setting 'population' must be an integer >= 2, got 1.5
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

from ..errors import ConfigError
from .brkga import BRKGAConfig

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PRESETS = ("paper", "fast", "default", "large")
ENGINES = ("auto", "host", "jit")


class _NotGiven:
    """The type of :data:`NOT_GIVEN`."""

    _instance = None

    def __new__(cls):  # one instance, so ``is NOT_GIVEN`` holds across copies
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self):
        return (_NotGiven, ())


NOT_GIVEN: Any = _NotGiven()


def _int(name: str, value: Any, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"setting {name!r} must be an integer >= {low}{' or None' if optional else ''}, "
                          f"got {value!r}")


def _number(name: str, value: Any, low: float = 0.0, high: float = math.inf, optional: bool = False,
            open_low: bool = False) -> None:
    if optional and value is None:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and not math.isnan(value)
    if not ok or value < low or value > high or (open_low and value == low) or math.isinf(value):
        span = f"{'(' if open_low else '['}{low:g}, {high:g}]" if math.isfinite(high) else \
            f"{'> ' if open_low else '>= '}{low:g}"
        raise ConfigError(f"setting {name!r} must be a finite number {span}{' or None' if optional else ''}, "
                          f"got {value!r}")


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"setting {name!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class StopRules:
    """When the search stops: a time limit (seconds, compilation included; ``None``: none),
    a generation or evaluation budget, a target gap against the best bound known."""

    time_limit: float | None = 10.0
    generations: int | None = None
    max_evaluations: int | None = None
    target_gap: float | None = None

    def __post_init__(self) -> None:
        _number("time_limit", self.time_limit, 0.0, optional=True, open_low=True)
        _int("generations", self.generations, 1, optional=True)
        _int("max_evaluations", self.max_evaluations, 1, optional=True)
        _number("target_gap", self.target_gap, 0.0, optional=True)

    @property
    def budgeted(self) -> bool:
        """A generation or evaluation budget is set: the run must be reproducible."""
        return self.generations is not None or self.max_evaluations is not None


@dataclass(frozen=True)
class BoundPolicy:
    """Which lower bounds a run computes, and with how much time.

    ``methods``: ``"auto"`` or comma-separated names of :data:`pjpart.bounds.METHODS`;
    ``share`` of the time limit (the bounds run alongside the search, and the methods that
    rise slowly, ``configuration`` and ``guess``, use all of it), or ``time_limit`` seconds in a
    run without a time limit (before its search); ``niceness`` of the bounds process once the search
    needs every core; ``cache``: a folder of bounds kept by problem
    (:class:`pjpart.bounds.cache.BoundCache`; ``None``: none), read at the start, written as
    methods end.
    """

    methods: str = "auto"
    share: float = 0.9
    time_limit: float = 30.0
    niceness: int = 19
    cache: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.methods, str) or not self.methods.strip():
            raise ConfigError(f"setting 'bound_methods' must be 'auto' or comma-separated method names, "
                              f"got {self.methods!r}")
        if self.methods != "auto":
            from ..bounds import METHODS

            unknown = [m for m in self.names() if m not in METHODS]
            if unknown:
                raise ConfigError(f"setting 'bound_methods' names unknown method {unknown[0]!r}; known: "
                                  f"{', '.join(METHODS)} or 'auto'")
        _number("bound_share", self.share, 0.0, 1.0)
        _number("bound_time_limit", self.time_limit, 0.0)
        _int("bound_niceness", self.niceness, 0)
        if self.cache is not None and not isinstance(self.cache, (str, os.PathLike)):
            raise ConfigError(f"setting 'bound_cache' must be a folder path or None, got {self.cache!r}")

    def names(self) -> list[str] | str:
        """``"auto"`` or the list of method names."""
        return "auto" if self.methods == "auto" else [m.strip() for m in self.methods.split(",")]

    def seconds(self, time_limit: float | None) -> float:
        """The bound time of a run with ``time_limit``."""
        return self.time_limit if time_limit is None else self.share * time_limit


@dataclass(frozen=True)
class FinishPolicy:
    """Finishing the best partition: local search on or off, and the share of the time
    limit kept for it (the search stops before); ``coarse_share`` replaces ``share`` when the
    search ran on a coarsened graph (the exact re-slicing and local search at the graph's own
    granularity take seconds on a large graph); a coarse search that has not improved for
    ``coarse_stall_share`` of its time window ends then, and finishing takes the rest (at
    10^4-10^5 nodes the local search on the graph gains more than a stalled coarse search)."""

    local_search: bool = True
    share: float = 0.1
    coarse_share: float = 0.15
    coarse_stall_share: float = 1 / 3

    def __post_init__(self) -> None:
        _bool("local_search", self.local_search)
        _number("finish_share", self.share, 0.0, 1.0)
        _number("coarse_finish_share", self.coarse_share, 0.0, 1.0)
        _number("coarse_stall_share", self.coarse_stall_share, 0.0, 1.0)


@dataclass(frozen=True)
class SearchConfig:
    """Everything a search run is set by; build it with :func:`load_preset`.

    ``islands`` populations of ``brkga`` settings exchange ``migrate_count`` elites every
    ``migrate_every`` generations and restart after ``restart_after`` generations without
    gain; ``tiebreak`` ranks near-ties of the bottleneck by the bottleneck with ``k + 1``
    stages; ``target_generations`` (time-limited runs) shrinks the populations so that
    about that many generations fit; ``engine`` is ``"host"``, ``"jit"`` or ``"auto"``;
    graphs with at most ``exact_max_downsets`` downsets are solved exactly.

    Attributes
    ----------
    brkga : BRKGAConfig
        The BRKGA parameters of each island: population, elite and mutant fractions,
        ``rho_elite`` (the chance a child takes the elite parent's key), tie tolerance.
    stop : StopRules
        Time limit, generation or evaluation budget, target gap.
    bounds : BoundPolicy
        Which lower bounds a run computes, and with how much time.
    finish : FinishPolicy
        Local search on or off, and its share of the time limit.
    islands : int
        Populations searched side by side (>= 1; default 4).
    migrate_every, migrate_count : int
        Every ``migrate_every`` generations the islands exchange ``migrate_count`` elites.
    restart_after : int
        Restart after this many generations without gain (>= 1).
    tiebreak : bool
        Rank near-ties of the bottleneck by the bottleneck with ``k + 1`` stages.
    target_generations : int or None
        Time-limited runs shrink the populations so that about this many generations fit.
    engine : str
        ``"host"``, ``"jit"`` or ``"auto"`` (the default).
    exact_max_downsets : int
        Graphs with at most this many downsets are solved exactly (0: never).
    coarsen_min_nodes : int
        Graphs with at least this many nodes (default 2,000: there a search over every node's
        key converges slower than one over contracted in-trees) are searched multilevel: in-trees contracted
        (:func:`pjpart.coarsen.contract_in_trees`, exact costs), then, above
        ``coarse_nodes``, the best seed order cut into intervals
        (:func:`pjpart.coarsen.interval_cuts`); searched coarse, then refined on the
        graph (0: never).
    coarse_nodes : int
        The most nodes the coarse graph of a multilevel search keeps.
    description : str
        A line describing the preset.

    Each value is checked when the configuration is built; flat setting names
    (:data:`SETTINGS`) reach every part through :meth:`from_settings`,
    :meth:`with_settings` and :func:`load_preset`.

    Raises
    ------
    ConfigError
        On a bad value, naming the setting.

    Examples
    --------
    >>> cfg = load_preset("fast")
    >>> cfg.islands, cfg.brkga.population, cfg.stop.time_limit, cfg.engine
    (2, 64, 2.0, 'auto')
    >>> cfg.with_settings(population=32, islands=1).brkga.population
    32
    >>> SearchConfig(engine="gpu")
    Traceback (most recent call last):
    ...
    pjpart.errors.ConfigError: setting 'engine' must be 'auto', 'host' or 'jit', got 'gpu'
    """

    brkga: BRKGAConfig = field(default_factory=lambda: BRKGAConfig(population=256, elite_fraction=0.15))
    stop: StopRules = field(default_factory=StopRules)
    bounds: BoundPolicy = field(default_factory=BoundPolicy)
    finish: FinishPolicy = field(default_factory=FinishPolicy)
    islands: int = 4
    migrate_every: int = 10
    migrate_count: int = 4
    restart_after: int = 60
    tiebreak: bool = True
    target_generations: int | None = None
    engine: str = "auto"
    exact_max_downsets: int = 10_000
    coarsen_min_nodes: int = 2000
    coarse_nodes: int = 5000
    description: str = ""

    def __post_init__(self) -> None:
        _int("islands", self.islands, 1)
        _int("migrate_every", self.migrate_every, 0)
        _int("migrate_count", self.migrate_count, 0)
        _int("restart_after", self.restart_after, 1)
        _bool("tiebreak", self.tiebreak)
        _int("target_generations", self.target_generations, 1, optional=True)
        _int("exact_max_downsets", self.exact_max_downsets, 0)
        _int("coarsen_min_nodes", self.coarsen_min_nodes, 0)
        _int("coarse_nodes", self.coarse_nodes, 2)
        if self.engine not in ENGINES:
            raise ConfigError(f"setting 'engine' must be 'auto', 'host' or 'jit', got {self.engine!r}")

    @property
    def fits_to_time(self) -> bool:
        """Whether populations are fitted to the time limit (a time limit is the only stop)."""
        return bool(self.target_generations) and self.stop.time_limit is not None and not self.stop.budgeted

    @classmethod
    def from_settings(cls, settings: dict) -> "SearchConfig":
        """A configuration from flat setting names (:data:`SETTINGS`)."""
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ConfigError(f"unknown search setting(s) {unknown}; known: {', '.join(SETTINGS)}")
        parts: dict[str, dict] = {"brkga": {}, "stop": {}, "bounds": {}, "finish": {}, "": {}}
        for name, value in settings.items():
            part, attr = SETTINGS[name]
            parts[part][attr] = value
        base = cls()
        try:
            brkga = BRKGAConfig(**{**_as_dict(base.brkga), **parts["brkga"]})
        except TypeError as exc:
            raise ConfigError(f"bad BRKGA setting: {exc}") from None
        return cls(brkga=brkga, stop=StopRules(**parts["stop"]), bounds=BoundPolicy(**parts["bounds"]),
                   finish=FinishPolicy(**parts["finish"]), **parts[""])

    def settings(self) -> dict:
        """The flat settings (inverse of :meth:`from_settings`)."""
        return {name: getattr(getattr(self, part) if part else self, attr)
                for name, (part, attr) in SETTINGS.items()}

    def with_settings(self, **changes: Any) -> "SearchConfig":
        """A copy with flat settings changed."""
        return SearchConfig.from_settings({**self.settings(), **changes})


def _as_dict(obj: Any) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


#: flat setting name -> (part of :class:`SearchConfig`, attribute); ``""``: SearchConfig itself
SETTINGS: dict[str, tuple[str, str]] = {
    "population": ("brkga", "population"), "elite_fraction": ("brkga", "elite_fraction"),
    "mutant_fraction": ("brkga", "mutant_fraction"), "rho_elite": ("brkga", "rho_elite"),
    "time_limit": ("stop", "time_limit"), "generations": ("stop", "generations"),
    "max_evaluations": ("stop", "max_evaluations"), "target_gap": ("stop", "target_gap"),
    "bound_methods": ("bounds", "methods"), "bound_share": ("bounds", "share"),
    "bound_time_limit": ("bounds", "time_limit"), "bound_niceness": ("bounds", "niceness"),
    "bound_cache": ("bounds", "cache"),
    "local_search": ("finish", "local_search"), "finish_share": ("finish", "share"),
    "coarse_finish_share": ("finish", "coarse_share"), "coarse_stall_share": ("finish", "coarse_stall_share"),
    **{name: ("", name) for name in ("islands", "migrate_every", "migrate_count", "restart_after", "tiebreak",
                                     "target_generations", "engine", "exact_max_downsets", "coarsen_min_nodes",
                                     "coarse_nodes", "description")},
}


def run_time_limit(time_limit: Any, max_evaluations: Any = NOT_GIVEN, generations: Any = NOT_GIVEN) -> Any:
    """The time limit a run uses: a budget (``max_evaluations`` or ``generations``) given
    without a time limit bounds the run alone (no time limit: its result then does not
    depend on the machine's speed); else ``time_limit`` as given (``NOT_GIVEN``: the preset's).

    >>> run_time_limit(NOT_GIVEN, max_evaluations=1000), run_time_limit(NOT_GIVEN), run_time_limit(5.0, 1000)
    (None, NOT_GIVEN, 5.0)
    """
    if time_limit is NOT_GIVEN and any(b not in (NOT_GIVEN, None) for b in (max_evaluations, generations)):
        return None
    return time_limit


def load_preset(name: str = "default", **overrides: Any) -> SearchConfig:
    """The named preset with ``overrides`` (flat setting names) applied.

    Parameters
    ----------
    name
        One of :data:`PRESETS` (``configs/NAME.toml``).
    **overrides
        Settings to change; a value of :data:`NOT_GIVEN` is ignored, ``None`` is a value
        (``time_limit=None``: no time limit).

    Returns
    -------
    SearchConfig

    Examples
    --------
    >>> load_preset("paper").stop.generations
    100
    >>> load_preset("paper", generations=NOT_GIVEN).stop.generations
    100
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    data = tomllib.loads(resources.files("pjpart.configs").joinpath(f"{name}.toml").read_text())
    # a preset without a time limit has none (the dataclass default is for code building one)
    settings = {"time_limit": None, **data, **{k: v for k, v in overrides.items() if v is not NOT_GIVEN}}
    return SearchConfig.from_settings(settings)


__all__ = ["BoundPolicy", "ENGINES", "FinishPolicy", "NOT_GIVEN", "PRESETS", "SETTINGS", "SearchConfig",
           "StopRules", "load_preset", "run_time_limit"]
