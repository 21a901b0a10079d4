"""Search configuration: presets, flat settings that round-trip, bad values named, NOT_GIVEN and None, a Solver reused."""

import math

import numpy as np
import pytest

import pjpart
from pjpart import NOT_GIVEN, PRESETS, ConfigError, SearchConfig, load_preset
from pjpart.generators import random_dag
from pjpart.search.config import SETTINGS

#: a valid value other than the default preset's, for every flat setting
CHANGED = {
    "population": 48, "elite_fraction": 0.25, "mutant_fraction": 0.1, "rho_elite": 0.6,
    "time_limit": 3.5, "generations": 7, "max_evaluations": 1234, "target_gap": 0.01,
    "bound_methods": "combinatorial,mincut", "bound_share": 0.25, "bound_time_limit": 4.0, "bound_niceness": 5,
    "bound_cache": "/tmp/pjpart-bounds",
    "local_search": False, "finish_share": 0.2, "coarse_finish_share": 0.5, "coarse_stall_share": 0.5,
    "islands": 3, "migrate_every": 4, "migrate_count": 1, "restart_after": 9, "tiebreak": False,
    "target_generations": 20, "engine": "jit", "exact_max_downsets": 17, "coarsen_min_nodes": 3000, "coarse_nodes": 500,
    "description": "changed",
}


def searched_graph():
    """A graph whose seed orders the combinatorial bound does not prove optimal: the search runs."""
    return random_dag(40, np.random.default_rng(1), density=0.1)


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_builds_and_round_trips(name):
    cfg = load_preset(name)
    assert isinstance(cfg, SearchConfig) and cfg.description
    assert set(cfg.settings()) == set(SETTINGS)
    assert SearchConfig.from_settings(cfg.settings()) == cfg
    assert cfg.with_settings() == cfg


def test_every_flat_setting_round_trips():
    assert set(CHANGED) == set(SETTINGS), "give every setting of SETTINGS a changed value here"
    base = load_preset("default")
    for name, value in CHANGED.items():
        assert base.settings()[name] != value, name
        cfg = base.with_settings(**{name: value})
        assert cfg.settings()[name] == value, name
        assert SearchConfig.from_settings(cfg.settings()) == cfg, name
        assert load_preset("default", **{name: value}) == cfg, name
        assert {k: v for k, v in cfg.settings().items() if k != name} == \
            {k: v for k, v in base.settings().items() if k != name}, name  # nothing else changed
        part, attr = SETTINGS[name]
        assert getattr(getattr(cfg, part) if part else cfg, attr) == value, name
    everything = SearchConfig.from_settings(CHANGED)
    assert everything.settings() == CHANGED


@pytest.mark.parametrize("setting, value", [
    ("population", 1.5),
    ("time_limit", -1),
    ("time_limit", float("nan")),
    ("max_evaluations", 0),
    ("max_evaluations", -5),
    ("engine", "gpu"),
    ("bound_methods", "magic"),
    ("finish_share", 2),
    ("wrk", 1),
])
def test_bad_values_raise_a_config_error_naming_the_setting(setting, value):
    with pytest.raises(ConfigError, match=f"'{setting}'"):
        load_preset("default", **{setting: value})
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    with pytest.raises(ConfigError, match=f"'{setting}'"):  # before anything runs
        pjpart.partition(g, 2, **{setting: value})
    assert issubclass(ConfigError, pjpart.PjpartError)


def test_unknown_preset_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        load_preset("nope")


def test_not_given_keeps_the_presets_value_and_none_means_none():
    default = load_preset("default")
    assert default.stop.time_limit == 10.0
    assert load_preset("default", time_limit=NOT_GIVEN) == default
    assert load_preset("default", time_limit=None).stop.time_limit is None
    assert load_preset("paper").stop.time_limit is None  # a preset without a time limit has none
    assert load_preset("paper", generations=NOT_GIVEN).stop.generations == 100
    assert load_preset("paper", generations=None).stop.generations is None
    assert repr(NOT_GIVEN) == "NOT_GIVEN"
    assert load_preset("default", **{name: NOT_GIVEN for name in SETTINGS}) == default


def test_a_search_without_a_stop_is_a_config_error():
    g = searched_graph()
    with pytest.raises(ConfigError, match="needs a stop"):
        pjpart.partition(g, 2, time_limit=None, exact_max_downsets=0, bound_methods="combinatorial")


def test_a_run_without_a_stop_is_a_config_error_whatever_the_graph():
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    with pytest.raises(ConfigError, match="needs a stop"):
        pjpart.partition(g, 2, time_limit=None, exact_max_downsets=0)


def test_unknown_engine_is_an_error():
    with pytest.raises(pjpart.ConfigError, match="engine"):
        pjpart.partition(random_dag(5, np.random.default_rng(0)), 2, engine="gpu-magic")


@pytest.mark.slow  # compiles a search, six runs (about 3.5 s)
def test_a_reused_solver_gives_what_fresh_ones_give():
    g = searched_graph()
    kw = dict(max_evaluations=300, exact_max_downsets=0, bound_methods="combinatorial", population=16, islands=1)
    solver = pjpart.Solver()
    reused = [solver.partition(g, 3, seed=s, **kw) for s in (0, 1)]
    fresh = [pjpart.partition(g, 3, seed=s, **kw) for s in (0, 1)]
    via_arg = [pjpart.partition(g, 3, seed=s, solver=solver, **kw) for s in (0, 1)]
    for a, b, c in zip(reused, fresh, via_arg):
        assert a.method.startswith("brkga") and a.evaluations > 0
        assert np.array_equal(a.assignment, b.assignment) and np.array_equal(a.assignment, c.assignment)
        assert a.bottleneck == b.bottleneck == c.bottleneck and math.isfinite(a.bottleneck)
        assert a.evaluations == b.evaluations == c.evaluations and a.stopped_by == b.stopped_by
    assert solver.settle(0.0)
