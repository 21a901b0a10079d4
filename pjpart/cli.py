"""Command line: argument parsing and printing only; every decision lives in the library.

``pjpart partition GRAPH -k K`` partitions a graph file (or a bundled example by
name: ``tiny``, ``resnet50``) and prints the stage table; ``--json OUT`` writes
the result.  ``pjpart bound GRAPH -k K`` prints certified lower bounds per method.  Exit codes: 0 success, 2 bad input (message on stderr, no
traceback), 130 interrupted before any result.

``partition`` and ``zoo run`` keep compiled kernels on disk (``--compile-cache DIR``,
default ``~/.cache/pjpart/jax``; ``--no-compile-cache`` turns it off): a later run
with the same graph shape and ``k`` does not compile them again
(:mod:`pjpart.compile_cache`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from . import __version__
from .compile_cache import default_cache_dir, enable_compilation_cache
from .bounds import METHODS, Bound, lower_bound
from .cost import cost_model_for
from .examples import EXAMPLES, resolve_graph
from .errors import ConfigError, PjpartError
from .result import PartitionResult
from .search import NOT_GIVEN, PRESETS, partition


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if math.isnan(x) or x < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number: {text!r}")
    return x


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pjpart", description="Max-throughput pipeline partitioning of DNN graphs.")
    p.add_argument("--version", action="version", version=f"pjpart {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    part = sub.add_parser("partition", help="split a graph into k pipeline stages")
    part.add_argument("graph", help=f"graph JSON file (.json or .json.gz) or a bundled example: {', '.join(EXAMPLES)}")
    part.add_argument("-k", type=int, required=True, help="number of stages (>= 1)")
    part.add_argument("--seed", type=int, default=0)
    part.add_argument("--time-limit", type=_positive_float, default=None, help="seconds (compile included)")
    part.add_argument("--max-evaluations", type=int, default=None)
    part.add_argument("--preset", default="default", choices=PRESETS)
    part.add_argument("--engine", default=None, choices=("auto", "host", "jit"),
                      help="search loop: host (NumPy state) or jit (compiled on the device); default auto")
    part.add_argument("--json", metavar="OUT", default=None, help="write the result as JSON")
    part.add_argument("--report", metavar="OUT", default=None,
                      help="write a one-file report (.html, or .md with PNGs beside it)")
    part.add_argument("--quiet", action="store_true", help="no progress line")
    part.add_argument("--json-progress", action="store_true", help="progress as JSON lines on stderr")
    _cache_flags(part)
    _cost_flags(part)
    bnd = sub.add_parser("bound", help="certified lower bounds on the optimal bottleneck")
    bnd.add_argument("graph", help="graph JSON file or a bundled example")
    bnd.add_argument("-k", type=int, required=True, help="number of stages (>= 1)")
    bnd.add_argument("--method", action="append", choices=("auto",) + METHODS, default=None,
                     help="bound method (repeatable); default auto")
    bnd.add_argument("--time-limit", type=_positive_float, default=30.0, help="seconds for all methods (default 30)")
    bnd.add_argument("--json", metavar="OUT", default=None, help="write the bounds as JSON")
    _cost_flags(bnd)
    zp = sub.add_parser("zoo", help="the bundled model zoo")
    zsub = zp.add_subparsers(dest="zoo_command", required=True)
    zl = zsub.add_parser("list", help="list the bundled models")
    zl.add_argument("--all", action="store_true", help="include op-granularity graphs")
    zr = zsub.add_parser("run", help="partition every (model, k); resumes from --out")
    zr.add_argument("--models", default=None, help="shell pattern(s), comma-separated (default: all, layer level)")
    zr.add_argument("-k", default="2,4,8,16,32,64", help="comma-separated stage counts")
    zr.add_argument("--preset", default="default", choices=PRESETS)
    zr.add_argument("--time-limit", type=_positive_float, default=None, help="seconds per (model, k)")
    zr.add_argument("--out", default="zoo-results", help="output folder (default zoo-results)")
    zr.add_argument("--seed", type=int, default=0)
    zr.add_argument("--quiet", action="store_true", help="no progress bar")
    _cache_flags(zr)
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


def _cost_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bandwidth", type=_positive_float, default=None, help="bytes/s between stages")
    p.add_argument("--memory", type=_positive_float, default=None, help="fast memory per stage (bytes)")
    p.add_argument("--overflow-bandwidth", type=_positive_float, default=None,
                   help="bytes/s for weights beyond --memory")
    p.add_argument("--memory-limit", type=_positive_float, default=None, help="hard params cap per stage")


def _cost_model(graph, args: argparse.Namespace):
    return cost_model_for(graph).replace(bandwidth=args.bandwidth, memory=args.memory,
                                         overflow_bandwidth=args.overflow_bandwidth, memory_limit=args.memory_limit)


def format_table(result: PartitionResult) -> str:
    """The stage table: stage, #nodes, work, in, out, overflow, cost; the bottleneck marked."""
    b = result.breakdown
    head = f"{'stage':>5} {'nodes':>6} {'work':>12} {'in':>12} {'out':>12} {'overflow':>12} {'cost':>12}"
    lines = [f"graph {result.graph}: k={result.k}, method {result.method} ({result.stopped_by}), "
             f"{result.evaluations} evaluations in {result.seconds:.2f} s", head, "-" * len(head)]
    for s in range(result.k):
        mark = "  <- bottleneck" if result.stage_costs[s] == result.bottleneck else ""
        lines.append(f"{s:>5} {int(b['nodes'][s]):>6} {b['work'][s]:>12.6g} {b['in'][s]:>12.6g} "
                     f"{b['out'][s]:>12.6g} {b['overflow'][s]:>12.6g} {result.stage_costs[s]:>12.6g}{mark}")
    lines.append("-" * len(head))
    lines.append(f"bottleneck {result.bottleneck:.6g}   throughput {result.throughput:.6g}/unit   "
                 f"latency {result.latency:.6g}")
    lines.append(f"lower bound {result.lower_bound:.6g} ({result.bound_method})   gap {100 * result.gap:.2f}%")
    return "\n".join(lines)


def _given(value):
    """An unset flag leaves the preset's value."""
    return NOT_GIVEN if value is None else value


def _cmd_partition(args: argparse.Namespace) -> int:
    graph = resolve_graph(args.graph)
    cm = _cost_model(graph, args)
    result = partition(graph, args.k, cm, preset=args.preset, seed=args.seed, time_limit=_given(args.time_limit),
                       max_evaluations=_given(args.max_evaluations), engine=_given(args.engine),
                       quiet=args.quiet or not (sys.stderr.isatty() or args.json_progress),
                       json_progress=args.json_progress)
    print(format_table(result))
    if args.report:
        from .report import write_report

        write_report(result, args.report)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result.to_json(), fh, indent=1)
    return 0


def format_bound(graph_name: str, bound: Bound) -> str:
    """One line per method: value, status, seconds; then the best."""
    lines = [f"graph {graph_name}: k={bound.k}, lower bounds (proven <= the optimal bottleneck)",
             f"{'method':<14} {'bound':>14} {'seconds':>9}  status"]
    for r in bound.results:
        lines.append(f"{r.method:<14} {r.value:>14.6g} {r.seconds:>9.2f}  {r.status}")
    lines.append(f"best: {bound.value:.6g} ({bound.method}) in {bound.seconds:.2f} s")
    return "\n".join(lines)


def _cmd_bound(args: argparse.Namespace) -> int:
    graph = resolve_graph(args.graph)
    cm = _cost_model(graph, args)
    methods = args.method or ["auto"]
    bound = lower_bound(graph, args.k, cm, methods="auto" if methods == ["auto"] else
                        [m for m in methods if m != "auto"], time_limit=args.time_limit)
    print(format_bound(graph.name, bound))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"graph": graph.name, "cost_model": cm.to_json(), **bound.to_json()}, fh, indent=1)
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    from . import zoo

    if args.zoo_command == "list":
        idx = zoo.index()
        print(f"{'model':<22} {'family':<12} {'gran':<6} {'n':>6} {'m':>6} {'GFLOP':>9} {'params MB':>10}  source")
        for name in zoo.names(None, None if args.all else "layer"):
            i = idx[name]
            print(f"{name:<22} {i['family']:<12} {i['granularity']:<6} {i['n']:>6} {i['m']:>6} "
                  f"{i['flops'] / 1e9:>9.2f} {i['param_bytes'] / 1e6:>10.1f}  {i['source']}")
        return 0
    from .zoorun import run_zoo, summary_table

    try:
        ks = [int(x) for x in args.k.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"-k must be comma-separated integers, got {args.k!r}") from None
    records = run_zoo(args.models, ks, args.preset, _given(args.time_limit), args.out, args.seed,
                      progress=not args.quiet)
    print(summary_table(records))
    print(f"results in {args.out}/ (results.csv, results.json, summary.md, plots)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _use_compile_cache(args)
    try:
        if args.command == "partition":
            return _cmd_partition(args)
        if args.command == "bound":
            return _cmd_bound(args)
        if args.command == "zoo":
            return _cmd_zoo(args)
    except PjpartError as exc:
        print(f"pjpart: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pjpart: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pjpart: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
