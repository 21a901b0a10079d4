"""The command line's help texts: presets, zoo models and cost-model rules read from the
library, so that ``--help`` never disagrees with what a run does."""

from __future__ import annotations

import re
import textwrap

from .bounds import METHODS
from .cost import CostModel
from .examples import EXAMPLES
from .search import PRESETS, load_preset

DEFAULT_BOUND_TIME = 30.0  # seconds `pjpart bound` spends on all methods unless told


def _preset_lines() -> str:
    """Each preset's stop rule and size, read from its file (``configs/NAME.toml``)."""
    lines = []
    for name in PRESETS:
        cfg = load_preset(name)
        stop = cfg.stop
        rule = f"time limit {stop.time_limit:g} s" if stop.time_limit is not None else "no time limit"
        if stop.generations is not None:
            rule += f", {stop.generations} generations"
        if stop.max_evaluations is not None:
            rule += f", {stop.max_evaluations} evaluations"
        size = f"population {cfg.brkga.population} x {cfg.islands} island{'s' if cfg.islands > 1 else ''}"
        lines.append(f"  {name:<8} {rule:<34} {size}")
    return "\n".join(lines)


def wrap(text: str, indent: str = "") -> str:
    """``text`` filled to 92 columns, a number and its unit (``10 s``) kept on one line."""
    text = re.sub(r"(\d) (s|B)\b", "\\1\xa0\\2", text)
    return textwrap.fill(text, width=92, initial_indent=indent, subsequent_indent=indent).replace("\xa0", " ")


def _zoo_names_lines() -> str:
    from . import zoo

    names = zoo.names()
    text = (f"{', '.join(names[:6])}, ... ({len(names)} at layer level, more at op level: `pjpart zoo list "
            f"[--all]`; `zoo:NAME` to be explicit)")
    return wrap(text, " " * 21).lstrip()


def _both_line() -> str:
    """The names that are both a bundled example and a zoo model, with their sizes."""
    from . import zoo
    from .examples import example_path
    from .graph_io import load_graph

    idx = zoo.index()
    both = [name for name in EXAMPLES if name in idx]
    if not both:
        return ""
    sizes = ", ".join(f"{name}: the bundled example has {load_graph(example_path(name)).n} nodes, "
                      f"`zoo:{name}` {idx[name]['n']}" for name in both)
    return wrap(f"A name that is both ({sizes}) means the bundled example; the first line printed says "
                 f"which graph was loaded.", "  ")


def _cost_help() -> str:
    d = CostModel()
    return wrap(f"Cost model: the graph file's `cost_model` object when it has one, else the defaults "
                 f"(bandwidth {d.bandwidth:g}, memory inf, overflow bandwidth {d.overflow_bandwidth:g}, memory "
                 f"limit inf); each cost flag replaces one field. The output ends with the cost model used and "
                 f"where each field came from.")


def partition_epilog() -> str:
    default = load_preset("default").stop.time_limit
    return f"""\
GRAPH is one of
  a file             SPEC JSON (.json or .json.gz): {{"nodes": [{{"id", "work", "params",
                     "sizeout"}}, ...], "edges": [[source, target], ...]}}
  a bundled example  {', '.join(EXAMPLES)} (`example:NAME` to be explicit)
  a zoo model        {_zoo_names_lines()}
{_both_line()}

Presets (--preset, default `default`) and the stop rule each uses when neither --time-limit
nor --max-evaluations is given:
{_preset_lines()}

{wrap(f"Stopping: --time-limit S replaces the preset's time limit (compilation included; default "
        f"{default:g} s with the default preset). --max-evaluations N is an evaluation budget: the search "
        f"stops after N candidate partitions have been evaluated; given alone it bounds the run with no "
        f"time limit, and the same --seed then gives the same result. Ctrl-C stops with the best partition "
        f"found. --seed N (default 0) seeds the search's random number generator.")}

{_cost_help()}

Output: the graph line, the stage table (units from the graph file's `units`), the cost model,
the bottleneck, throughput, latency, lower bound and gap. --json OUT writes the result
(`--json -`: to stdout, the table then goes to stderr); --strict makes an unknown node field
in the graph file an error instead of a warning.

Examples:
  pjpart partition tiny -k 2
  pjpart partition zoo:resnet50 -k 8 --time-limit 30 --json result.json
  pjpart partition model.json.gz -k 4 --max-evaluations 1e6 --seed 1
  pjpart partition model.json -k 16 --bandwidth 25e9 --memory-limit 16e9 --json - | jq .gap
"""


def bound_epilog() -> str:
    return f"""\
GRAPH as for `pjpart partition` (a file, `example:NAME`, `zoo:NAME`, or a bare name).

{wrap(f"Methods (--method, repeatable; default auto): {', '.join(METHODS)}. auto runs combinatorial, "
        f"averaging, mincut, exact-dp, relaxed-dp, configuration (how many blocks of cost <= T cover the "
        f"graph, by column generation, group by group on a graph in series: it keeps parallel experts whole; "
        f"only where every group has at most 160 nodes, with at most three quarters of the time left), then guess "
        f"(bottleneck guessing: the exact MIP inside stage windows, refuting guesses of the bottleneck) with "
        f"the time left, and superblock2, superblock3 if any remains. A line is printed per method as it "
        f"ends, and while guess or configuration runs a `...` line each time its bound rises. Every value "
        f"printed is proven <= the optimal bottleneck; a partition a method finds on the way is printed "
        f"after the table.")}
--time-limit S (default {DEFAULT_BOUND_TIME:g} s) is the time for all methods together.

{_cost_help()}

Examples:
  pjpart bound tiny -k 2
  pjpart bound zoo:bert-base -k 16 --method mincut --method mip --time-limit 120
  pjpart bound model.json -k 8 --json - > bounds.json
  pjpart bound model.json -k 16 --method configuration --time-limit 600
"""


def zoo_run_epilog() -> str:
    return """\
Each (model, k) is partitioned with --preset (default `default`, its own time limit unless
--time-limit is given) and --seed (default 0). Results go to --out (default zoo-results):
results.json, results.csv, summary.md, gaps.png and a stage-cost chart. A cell is resumed from
--out only when a row there has the same model, k, preset, seed, time limit, evaluation budget
and cost model; new rows are merged into the files, rows of other models, k or time limits
are kept. A failed cell (its worker died twice, or an unexpected error) is kept as a row
with status "failed" and its error, and rerun by the next zoo run. Rows of one model and k
share the best bound among them, so their gaps compare.

--backend: sequential (this process), processes (--jobs local processes), dask (a local
cluster of --jobs processes on 127.0.0.1, or the scheduler at --address) or ray (pip
install 'pjpart[ray]'; --address auto joins this machine's Ray cluster). The workers share
the compile cache; each runs its BLAS/OpenMP threads on cores // jobs.

Examples:
  pjpart zoo run --models 'resnet*,bert-base' -k 4,16 --time-limit 5
  pjpart zoo run --preset fast --out fast-results
  pjpart zoo run --backend dask --jobs 2 -k 4,16
  pjpart zoo run --backend dask --address tcp://scheduler:8786
"""


__all__ = ["DEFAULT_BOUND_TIME", "bound_epilog", "partition_epilog", "wrap", "zoo_run_epilog"]
