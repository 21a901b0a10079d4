"""The command line's cost-model flags: the scalar fields of SPEC section 1, the per-stage
lists of section 5 (comma-separated) and ``--devices`` (hardware profiles in pipeline order).

Every value is checked before any work, with a message naming the flag; what a flag does
not give comes from the graph file's ``cost_model``, else the defaults.

>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_cost_flags(p)
>>> args = p.parse_args(["--stage-speed", "1,1,0.5", "--link-bandwidth", "4e9,inf"])
>>> check_cost_flags(args)
>>> args.stage_speed, args.link_bandwidth
([1.0, 1.0, 0.5], [4000000000.0, inf])
>>> check_cost_flags(p.parse_args(["--stage-speed", "1,0"]))
Traceback (most recent call last):
...
pjpart.errors.ConfigError: --stage-speed value 2 must be a finite number > 0 (relative speed), got '0'
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from .cost import STAGE_FIELDS, CostModel, cost_model_for
from .errors import ConfigError, PjpartError

#: cost-model flag -> (CostModel field, must be > 0, may be inf, unit, meaning)
COST_FLAGS = {"--bandwidth": ("bandwidth", True, False, "bytes/s", "bytes/s between stages"),
              "--memory": ("memory", False, True, "bytes", "fast memory per stage (bytes)"),
              "--overflow-bandwidth": ("overflow_bandwidth", True, False, "bytes/s",
                                       "bytes/s for weights beyond --memory"),
              "--memory-limit": ("memory_limit", False, True, "bytes", "hard cap on a stage's params (bytes)")}

#: per-stage list flag (SPEC section 5) -> (CostModel field, must be > 0, may be inf, unit, meaning)
STAGE_FLAGS = {"--stage-speed": ("stage_speed", True, False, "relative speed",
                                 "K speeds, stage b computing work / speed[b]"),
               "--stage-memory": ("stage_memory", False, True, "bytes", "K fast memories (bytes), replacing --memory"),
               "--stage-memory-limit": ("stage_memory_limit", False, True, "bytes",
                                        "K hard weight caps (bytes), replacing --memory-limit"),
               "--link-bandwidth": ("link_bandwidth", True, True, "bytes/s",
                                    "K-1 link speeds (bytes/s), from stage b to b+1, replacing --bandwidth")}


def number(flag: str, text: str | None, *, positive: bool, allow_inf: bool, unit: str) -> float | None:
    """The value of a numeric flag; one message per flag naming it and its accepted range."""
    if text is None:
        return None
    rule = ("a number > 0" if positive else "a number >= 0") + (" or inf" if allow_inf else "")
    rule = rule if allow_inf else "a finite " + rule[2:]
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    ok = not math.isnan(x) and (x > 0 if positive else x >= 0) and (allow_inf or math.isfinite(x))
    if not ok:
        raise ConfigError(f"{flag} must be {rule} ({unit}), got {text!r}")
    return x


def add_cost_flags(p: argparse.ArgumentParser) -> None:
    """The scalar flags, the per-stage lists and ``--devices``."""
    for flag, (name, positive, inf, _, meaning) in COST_FLAGS.items():
        rule = "> 0" if positive else ">= 0 or inf"
        p.add_argument(flag, metavar="B" if "bandwidth" in name else "M", default=None,
                       help=f"{meaning} ({rule}; default: the graph file's cost_model, else "
                            f"{getattr(CostModel(), name):g})")
    for flag, (name, _, _, _, meaning) in STAGE_FLAGS.items():
        p.add_argument(flag, metavar="LIST", default=None, help=f"{meaning}; comma-separated (SPEC section 5)")
    p.add_argument("--devices", metavar="LIST", default=None,
                   help="hardware profiles in pipeline order, e.g. h100,h100,l4,l4: per-stage speeds (peak "
                        "FLOP/s over the graph's hardware), memories and links; the flags above override them")


def check_cost_flags(args: argparse.Namespace) -> None:
    """Convert and check every cost flag in place; ConfigError naming the flag and the value."""
    for flag, (name, positive, inf, unit, _) in COST_FLAGS.items():
        setattr(args, name, number(flag, getattr(args, name), positive=positive, allow_inf=inf, unit=unit))
    for flag, (name, positive, inf, unit, _) in STAGE_FLAGS.items():
        text = getattr(args, name)
        if text is None:
            continue
        parts = [part.strip() for part in str(text).split(",")]
        setattr(args, name, [number(f"{flag} value {i + 1}", part, positive=positive, allow_inf=inf, unit=unit)
                             for i, part in enumerate(parts)])
    if args.devices is not None:
        args.devices = [d.strip() for d in str(args.devices).split(",")]
        if not all(args.devices):
            raise ConfigError(f"--devices must be profile names separated by commas, got {','.join(args.devices)!r}")


def add_bound_cache_flags(p: argparse.ArgumentParser) -> None:
    """``--bound-cache DIR`` / ``--no-bound-cache``: bounds kept on disk by problem."""
    from .bounds.cache import default_bound_dir

    p.add_argument("--bound-cache", metavar="DIR", default=None,
                   help=f"keep proven bounds by problem in DIR and start from them (default: {default_bound_dir()}, "
                        "or $PJPART_BOUND_CACHE_DIR)")
    p.add_argument("--no-bound-cache", action="store_true", help="neither read nor write cached bounds")


def bound_cache_of(args: argparse.Namespace) -> str | None:
    """The bound cache folder of a run (``None``: off)."""
    from .bounds.cache import default_bound_dir

    if args.no_bound_cache:
        if args.bound_cache is not None:
            raise ConfigError("--bound-cache and --no-bound-cache exclude each other")
        return None
    return args.bound_cache or default_bound_dir()


def _flag_of(field: str) -> str | None:
    return next((f for f, spec in {**COST_FLAGS, **STAGE_FLAGS}.items() if spec[0] == field), None)


def cost_model_of(graph, args: argparse.Namespace) -> tuple[CostModel, str]:
    """The cost model of a run and where each field came from (flags, ``--devices``, the graph
    file, defaults); a per-stage list that does not fit ``-k`` is an error naming its flag."""
    try:
        cm = cost_model_for(graph)
    except PjpartError as exc:
        raise type(exc)(f"{args.graph}: the graph file's cost_model: {exc}") from None
    from_devices: list[str] = []
    if args.devices is not None:
        from .hardware import pipeline_cost_model

        fleet = pipeline_cost_model(args.devices, graph.meta.get("hardware"), graph.meta.get("dtype", "float32"))
        from_devices = [f for f in ("overflow_bandwidth", "stage_device", *STAGE_FIELDS) if getattr(fleet, f)]
        cm = cm.replace(**{f: getattr(fleet, f) for f in from_devices})
    scalar = {name: getattr(args, name) for name, *_ in COST_FLAGS.values()}
    lists = {name: getattr(args, name) for name, *_ in STAGE_FLAGS.values() if getattr(args, name) is not None}
    try:
        cm = cm.replace(**scalar, **lists)
        if cm.heterogeneous:
            cm.check_stages(args.k)
    except PjpartError as exc:
        field = next((f for f in (*STAGE_FIELDS, "stage_device") if f"'{f}'" in str(exc)), None)
        flag = _flag_of(field) if field else None
        where = f" (from {flag})" if flag and field in lists else " (from --devices)" if field in from_devices \
            else " (from the graph file's cost_model)" if field else ""
        raise type(exc)(f"{exc}{where}") from None
    hint = graph.meta.get("cost_model") or {}
    flags = [flag for flag, (name, *_) in {**COST_FLAGS, **STAGE_FLAGS}.items() if getattr(args, name) is not None]
    given = {({**COST_FLAGS, **STAGE_FLAGS})[f][0] for f in flags} | set(from_devices)
    names = [f.name for f in dataclasses.fields(cm) if getattr(cm, f.name) is not None]
    from_file = [n for n in names if n in hint and n not in given]
    default = [n for n in names if n not in hint and n not in given]
    if not from_file and not flags and not from_devices:
        return cm, "the defaults"
    parts = ([f"the graph file's cost_model: {', '.join(from_file)}"] if from_file else []) \
        + ([f"--devices {','.join(args.devices)}"] if from_devices else []) \
        + ([", ".join(flags)] if flags else []) + ([f"defaults: {', '.join(default)}"] if default else [])
    return cm, "from " + "; ".join(parts)


__all__ = ["COST_FLAGS", "STAGE_FLAGS", "add_bound_cache_flags", "add_cost_flags", "bound_cache_of",
           "check_cost_flags", "cost_model_of", "number"]
