"""Command line: argument parsing and printing only; every decision lives in the library.

``pjpart partition GRAPH -k K`` partitions a graph file (or a bundled example or a zoo
model by name; ``example:NAME`` / ``zoo:NAME`` choose) and prints the stage table;
``--json OUT`` writes the result (``--json -``: to stdout, the table then goes to
stderr).  ``pjpart bound GRAPH -k K`` prints certified lower bounds per method.
``pjpart export RESULT --format F`` turns a result into a runtime's plan (:mod:`pjpart.cli_export`).
``python -m pjpart`` is the same command.

Exit codes: 0 success, 2 bad input (``pjpart: error: <message>`` on stderr, no
traceback; every flag is checked before any work starts), 130 interrupted before any
result.  A closed stdout (``pjpart zoo list | head``) ends the output quietly: no
message, exit 0, and files asked for (``--json FILE``, ``--report``) are still written.

``partition`` and ``zoo run`` keep compiled kernels on disk (``--compile-cache DIR``,
default ``~/.cache/pjpart/jax``; ``--no-compile-cache`` turns it off): a later run
with the same graph shape and ``k`` does not compile them again
(:mod:`pjpart.compile_cache`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import warnings
from typing import Any, TextIO

from . import __version__
from .backends import BACKENDS
from .compile_cache import default_cache_dir, enable_compilation_cache
from .bounds import METHODS, lower_bound
from .bounds.cache import BoundCache
from .cli_cost import (add_bound_cache_flags, add_cost_flags, bound_cache_of, check_cost_flags, cost_model_of,
                       number as _number)
from .examples import describe_graph, locate_graph
from .errors import ConfigError, PjpartError
from .cli_help import DEFAULT_BOUND_TIME, bound_epilog, partition_epilog, wrap, zoo_run_epilog
from .cli_export import add_coarsen_flag, add_export_parser, apply_coarsen, check_coarsen, run_export
from .search import NOT_GIVEN, PRESETS, Solver
from .tables import bound_best, bound_header, bound_progress_row, bound_row, format_cost_model, format_table

# ----------------------------------------------------------------------------- output


def _drop(stream: TextIO) -> None:
    """Point a closed pipe's file descriptor at /dev/null, so that later writes and the
    interpreter's flush at exit raise nothing."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests capture it)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _emit(text: str, stream: TextIO | None = None) -> None:
    """Print ``text``; a reader that closed the pipe ends the output quietly."""
    stream = sys.stdout if stream is None else stream
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        _drop(stream)


# ----------------------------------------------------------------------------- parsing


class _UsageError(Exception):
    """argparse's complaint (unknown flag, bad choice, missing argument), reported as exit 2."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors return to :func:`main` instead of exiting, and whose
    epilog may be a function (computed only when the help is shown)."""

    def __init__(self, *args: Any, epilog: Any = None, **kw: Any) -> None:
        self._epilog_fn = epilog if callable(epilog) else None
        super().__init__(*args, epilog=None if callable(epilog) else epilog, **kw)

    def format_help(self) -> str:
        if self._epilog_fn is not None:
            self.epilog = self._epilog_fn()
        return super().format_help()

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise _UsageError(message, self.format_usage())


def _integer(flag: str, text: str | None, low: int, *, scientific: bool = False) -> int | None:
    """The value of an integer flag (``scientific``: ``1e6`` is accepted too)."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
        if scientific:
            try:
                x = float(text)
            except ValueError:
                x = math.nan
            if math.isfinite(x) and x.is_integer():
                value = int(x)
    if value is None or value < low:
        raise ConfigError(f"{flag} must be an integer >= {low}, got {text!r}")
    return value


def _check_output(flag: str, path: str | None) -> None:
    """Refuse, before any work, an output file that cannot be written (``-``: stdout)."""
    if path is None or path == "-":
        return
    if os.path.isdir(path):
        raise ConfigError(f"{flag} {path!r} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigError(f"{flag} {path!r}: the folder {os.path.dirname(path) or folder!r} does not exist")


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    p = _Parser(prog="pjpart", description="Max-throughput pipeline partitioning of DNN graphs, with certified "
                                           "lower bounds.",
                epilog="Examples:\n  pjpart partition tiny -k 2\n  pjpart zoo list\n  pjpart partition --help",
                formatter_class=raw)
    p.add_argument("--version", action="version", version=f"pjpart {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{partition,bound,zoo,export}")
    part = sub.add_parser("partition", help="split a graph into k pipeline stages", formatter_class=raw,
                          description=wrap("Split GRAPH into at most K pipeline stages minimising the slowest "
                                            "stage's cost, and certify it with a lower bound."),
                          epilog=partition_epilog)
    part.add_argument("graph", metavar="GRAPH", help="a graph file, a bundled example or a zoo model (see below)")
    part.add_argument("-k", metavar="K", required=True, help="number of stages (an integer >= 1; required)")
    part.add_argument("--seed", metavar="N", default=None, help="random seed of the search (integer >= 0; "
                                                                "default 0)")
    part.add_argument("--time-limit", metavar="S", default=None,
                      help="seconds, compilation included (> 0; default: the preset's, see below)")
    part.add_argument("--max-evaluations", metavar="N", default=None,
                      help="evaluation budget: stop after N evaluated candidates (integer >= 1; alone: "
                           "no time limit; default: none)")
    part.add_argument("--preset", default="default", choices=PRESETS,
                      help="search settings and default stop rule (default: default; see below)")
    part.add_argument("--engine", default=None, choices=("auto", "host", "jit"),
                      help="search loop: host (NumPy state) or jit (compiled on the device); default: the "
                           "preset's (auto = host)")
    part.add_argument("--json", metavar="OUT", default=None, help="write the result as JSON (`-`: stdout)")
    part.add_argument("--report", metavar="OUT", default=None,
                      help="write a one-file report (.html, or .md with PNGs beside it)")
    part.add_argument("--quiet", action="store_true", help="no progress line")
    part.add_argument("--json-progress", action="store_true", help="progress as JSON lines on stderr")
    part.add_argument("--strict", action="store_true", help="an unknown node field in the graph file is an error")
    _cache_flags(part)
    add_cost_flags(part)
    add_bound_cache_flags(part)
    add_coarsen_flag(part)
    bnd = sub.add_parser("bound", help="certified lower bounds on the optimal bottleneck", formatter_class=raw,
                         description="Certified lower bounds on the optimal bottleneck of GRAPH in K stages, "
                                     "per method.", epilog=bound_epilog)
    bnd.add_argument("graph", metavar="GRAPH", help="a graph file, a bundled example or a zoo model")
    bnd.add_argument("-k", metavar="K", required=True, help="number of stages (an integer >= 1; required)")
    bnd.add_argument("--method", action="append", choices=("auto",) + METHODS, default=None,
                     help="bound method (repeatable); default auto")
    bnd.add_argument("--time-limit", metavar="S", default=None,
                     help=f"seconds for all methods (> 0; default {DEFAULT_BOUND_TIME:g})")
    bnd.add_argument("--json", metavar="OUT", default=None, help="write the bounds as JSON (`-`: stdout)")
    bnd.add_argument("--strict", action="store_true", help="an unknown node field in the graph file is an error")
    add_cost_flags(bnd)
    add_bound_cache_flags(bnd)
    add_coarsen_flag(bnd)
    zp = sub.add_parser("zoo", help="the bundled model zoo", formatter_class=raw,
                        description="The bundled model zoo: real architectures with H100 roofline costs.",
                        epilog="Examples:\n  pjpart zoo list --all\n  pjpart zoo run --models 'bert-*' -k 4,16")
    zsub = zp.add_subparsers(dest="zoo_command", required=True, metavar="{list,run}")
    zl = zsub.add_parser("list", help="list the bundled models", formatter_class=raw,
                         epilog="Examples:\n  pjpart zoo list\n  pjpart zoo list --all | grep -- -op")
    zl.add_argument("--all", action="store_true", help="include op-granularity graphs")
    zr = zsub.add_parser("run", help="partition every (model, k); resumes from --out", formatter_class=raw,
                         epilog=zoo_run_epilog)
    zr.add_argument("--models", default=None, help="shell pattern(s) or names, comma-separated (default: all, "
                                                   "layer level; a name runs at any granularity)")
    zr.add_argument("-k", default="2,4,8,16,32,64", help="comma-separated stage counts (default 2,4,8,16,32,64)")
    zr.add_argument("--preset", default="default", choices=PRESETS, help="search preset (default: default)")
    zr.add_argument("--time-limit", metavar="S", default=None,
                    help="seconds per (model, k) (> 0; default: the preset's)")
    zr.add_argument("--out", default="zoo-results", help="output folder (default zoo-results)")
    zr.add_argument("--seed", metavar="N", default=None, help="random seed (integer >= 0; default 0)")
    zr.add_argument("--quiet", action="store_true", help="no progress bar")
    zr.add_argument("--jobs", metavar="N", default=None,
                    help="cells run at once (integer >= 1; default 1, or the usable cores with --backend)")
    zr.add_argument("--backend", default=None, choices=BACKENDS,
                    help="where cells run (default: sequential, or processes with --jobs > 1; see below)")
    zr.add_argument("--address", metavar="A", default=None,
                    help="an existing Dask scheduler (tcp://host:8786) or Ray cluster (auto) to run on")
    _cache_flags(zr)
    add_export_parser(sub, raw)
    return p


def _cache_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--compile-cache", metavar="DIR", default=None,
                   help=f"keep compiled kernels here for later runs (default {default_cache_dir()})")
    p.add_argument("--no-compile-cache", action="store_true", help="compile afresh, keep nothing on disk")


def _use_compile_cache(args: argparse.Namespace) -> None:
    """Enable the on-disk kernel cache unless told not to; a folder that cannot be made only
    costs the cache (a warning), not the run."""
    if getattr(args, "no_compile_cache", True):
        return
    try:
        enable_compilation_cache(args.compile_cache)
    except OSError as exc:
        print(f"pjpart: warning: no compile cache ({exc})", file=sys.stderr)


def _check_flags(args: argparse.Namespace) -> None:
    """Every numeric flag, checked (and converted) before any work; ConfigError naming the flag."""
    check_coarsen(args)
    if args.command in ("partition", "bound"):
        args.k = _integer("-k", args.k, 1)
        check_cost_flags(args)
        _check_output("--json", args.json)
    if args.command in ("partition", "bound") or getattr(args, "zoo_command", None) == "run":
        args.time_limit = _number("--time-limit", args.time_limit, positive=True, allow_inf=False, unit="seconds")
    if args.command == "partition" or getattr(args, "zoo_command", None) == "run":
        args.seed = _integer("--seed", args.seed, 0)
    if getattr(args, "zoo_command", None) == "run":
        args.jobs = _integer("--jobs", args.jobs, 1)
        if args.backend is None:
            args.backend = "processes" if (args.jobs or 1) > 1 else "sequential"
        if args.backend == "sequential" and (args.jobs or 1) > 1:
            raise ConfigError("--backend sequential runs one cell at a time; drop --jobs or choose another "
                              "--backend")
        if args.address is not None and args.backend not in ("dask", "ray"):
            raise ConfigError("--address is for --backend dask or ray")
    if args.command == "partition":
        args.max_evaluations = _integer("--max-evaluations", args.max_evaluations, 1, scientific=True)
        if args.report is not None and os.path.isdir(args.report):
            raise ConfigError(f"--report {args.report!r} is a folder; give a file name (.html or .md)")


def _given(value):
    """An unset flag leaves the preset's value."""
    return NOT_GIVEN if value is None else value


def _load(args: argparse.Namespace, stream: TextIO):
    """The graph argument, loaded; warnings as ``pjpart: warning:`` lines, then which graph it is."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph, source = locate_graph(args.graph, strict=args.strict)
    for w in caught:
        _emit(f"pjpart: warning: {w.message}", sys.stderr)
    _emit(describe_graph(graph, source, args.graph), stream)
    return apply_coarsen(graph, args, lambda text: _emit(text, stream))


def _write_json(data: dict, path: str) -> None:
    if path == "-":
        _emit(json.dumps(data, indent=1))
        return
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1)


def _cmd_partition(args: argparse.Namespace) -> int:
    table = sys.stderr if args.json == "-" else sys.stdout
    graph = _load(args, table)
    cm, source = cost_model_of(graph, args)
    solver = Solver()
    result = solver.partition(graph, args.k, cm, preset=args.preset, seed=0 if args.seed is None else args.seed,
                       time_limit=_given(args.time_limit), max_evaluations=_given(args.max_evaluations),
                       engine=_given(args.engine), quiet=args.quiet or not (sys.stderr.isatty() or args.json_progress),
                       json_progress=args.json_progress, bound_cache=bound_cache_of(args))
    _emit(format_table(result, graph.units, source), table)
    if args.report:
        from .report import write_report

        write_report(result, args.report)
    if args.json:
        _write_json(result.to_json(), args.json)
    return 0


def _cmd_bound(args: argparse.Namespace) -> int:
    table = sys.stderr if args.json == "-" else sys.stdout
    graph = _load(args, table)
    cm, source = cost_model_of(graph, args)
    methods = args.method or ["auto"]
    folder = bound_cache_of(args)
    _emit(bound_header(graph.name, args.k), table)  # then a line per method as it ends, guess's as it rises
    bound = lower_bound(graph, args.k, cm, methods="auto" if methods == ["auto"] else
                        [m for m in methods if m != "auto"],
                        time_limit=DEFAULT_BOUND_TIME if args.time_limit is None else args.time_limit,
                        on_method=lambda r: _emit(bound_row(r), table),
                        on_progress=lambda *line: _emit(bound_progress_row(*line), table),
                        cache=None if folder is None else BoundCache(folder))
    _emit(bound_best(bound) + "\n" + format_cost_model(cm, graph.units, source), table)
    if args.json:
        _write_json({"graph": graph.name, "cost_model": cm.to_json(), **bound.to_json()}, args.json)
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    from . import zoo

    if args.zoo_command == "list":
        idx = zoo.index()
        lines = [f"{'model':<22} {'family':<12} {'gran':<6} {'n':>6} {'m':>6} {'GFLOP':>9} {'params MB':>10}  source"]
        for name in zoo.names(None, None if args.all else "layer"):
            i = idx[name]
            lines.append(f"{name:<22} {i['family']:<12} {i['granularity']:<6} {i['n']:>6} {i['m']:>6} "
                         f"{i['flops'] / 1e9:>9.2f} {i['param_bytes'] / 1e6:>10.1f}  {i['source']}")
        _emit("\n".join(lines))
        return 0
    from .zoorun import run_zoo, summary_table

    parts = [x.strip() for x in args.k.split(",")]
    try:
        ks = [int(x) for x in parts if x]
    except ValueError:
        ks = []
    if not ks or any(k < 1 for k in ks):
        raise ConfigError(f"-k must be comma-separated integers >= 1, got {args.k!r}")
    records = run_zoo(args.models, ks, args.preset, _given(args.time_limit), args.out,
                      0 if args.seed is None else args.seed, progress=not args.quiet, backend=args.backend,
                      n_jobs=args.jobs, address=args.address)
    _emit(summary_table(records))
    _emit(f"results in {args.out}/ (results.csv, results.json, summary.md, plots)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (``--help`` and ``--version`` exit 0)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        _check_flags(args)
    except _UsageError as exc:
        _emit(exc.usage.rstrip(), sys.stderr)
        _emit(f"pjpart: error: {exc}", sys.stderr)
        return 2
    except PjpartError as exc:
        _emit(f"pjpart: error: {exc}", sys.stderr)
        return 2
    _use_compile_cache(args)
    try:
        if args.command == "partition":
            return _cmd_partition(args)
        if args.command == "bound":
            return _cmd_bound(args)
        if args.command == "zoo":
            return _cmd_zoo(args)
        if args.command == "export":
            return run_export(args, _emit)
    except BrokenPipeError:  # the reader closed stdout: nothing more to say
        _drop(sys.stdout)
        return 0
    except PjpartError as exc:
        _emit(f"pjpart: error: {exc}", sys.stderr)
        return 2
    except OSError as exc:
        _emit(f"pjpart: error: {exc}", sys.stderr)
        return 2
    except KeyboardInterrupt:
        _emit("pjpart: interrupted", sys.stderr)
        return 130
    return 1


def entry_point() -> None:
    """The ``pjpart`` command: :func:`main`, then exit.  A time-limited run may leave a kernel
    compiling in a worker thread (the limit came first); the process exits without waiting
    for it, so the command ends within its time limit (the kernel is then not in the disk
    cache)."""
    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry_point()
