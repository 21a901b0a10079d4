"""Text tables of results for the command line: the stage table with units, the cost model
used and where it came from, and the bounds per method.

>>> import pjpart
>>> r = pjpart.partition(pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)]), 2)
>>> print(format_table(r).splitlines()[-1])
lower bound 6 s (exact-dp)   gap 0.00%   optimal (within solver tolerance 2e-06)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .bounds import Bound
from .cost import CostModel
from .result import PROOF_TOLERANCE, PartitionResult


def _fmt_value(x: Any) -> str:
    if isinstance(x, float):
        return "inf" if math.isinf(x) else f"{x:g}"
    return str(x)


def format_cost_model(cm: CostModel, units: dict | None = None, source: str | None = None) -> str:
    """``cost model: bandwidth 2.5e+10 B/s, memory inf B, ... (from ...)``."""
    units = units or {}
    w, b, p = units.get("work", "s"), units.get("sizeout", "B"), units.get("params", "B")
    unit = {"bandwidth": f"{b}/{w}", "overflow_bandwidth": f"{p}/{w}", "memory": p, "memory_limit": p,
            "stage_memory": p, "stage_memory_limit": p, "link_bandwidth": f"{b}/{w}"}
    fields = []
    for f in dataclasses.fields(cm):
        value = getattr(cm, f.name)
        if value is None:  # a per-stage list not given
            continue
        shown = "[" + ", ".join(_fmt_value(x) for x in value) + "]" if isinstance(value, tuple) else _fmt_value(value)
        fields.append(f"{f.name.replace('_', ' ')} {shown}" + (f" {unit[f.name]}" if f.name in unit else ""))
    return "cost model: " + ", ".join(fields) + (f" ({source})" if source else "")


def format_table(result: PartitionResult, units: dict | None = None, cost_source: str | None = None) -> str:
    """The stage table: stage, #nodes, work, in, out, params, overflow, cost with their units
    (``units``: the graph's), the bottleneck marked; then the cost model used and the totals."""
    units = units or {}
    w, b, p = units.get("work", "s"), units.get("sizeout", "B"), units.get("params", "B")
    bd = result.breakdown
    cm = result.cost_model
    cols = [f"work [{w}]", f"in [{b}]", f"out [{b}]", f"params [{p}]", f"overflow [{w}]", f"cost [{w}]"]
    devices = cm.stage_labels() if cm.heterogeneous else None
    head = f"{'stage':>5} " + (f"{'device':>14} " if devices else "") + f"{'nodes':>6} " \
        + " ".join(f"{c:>12}" for c in cols)
    lines = [f"graph {result.graph}: k={result.k}, method {result.method} ({result.stopped_by}), "
             f"{result.evaluations} evaluations in {result.seconds:.2f} s", head, "-" * len(head)]
    for s in range(result.k):
        mark = "  <- bottleneck" if result.stage_costs[s] == result.bottleneck else ""
        vals = [bd["work"][s], bd["in"][s], bd["out"][s], bd["params"][s], bd["overflow"][s], result.stage_costs[s]]
        lines.append(f"{s:>5} " + (f"{devices[s]:>14} " if devices else "") + f"{int(bd['nodes'][s]):>6} "
                     + " ".join(f"{v:>12.6g}" for v in vals) + mark)
    lines.append("-" * len(head))
    lines.append(format_cost_model(result.cost_model, units, cost_source))
    used = getattr(result, "stages_used", result.k)
    lines.append(f"bottleneck {result.bottleneck:.6g} {w}   throughput {result.throughput:.6g}/{w}   "
                 f"latency {result.latency:.6g} {w}" + (f" ({used} of {result.k} stages used)" if used < result.k
                                                        else ""))
    proof = f"   optimal (within solver tolerance {PROOF_TOLERANCE:g})" if result.proven_optimal else ""
    lines.append(f"lower bound {result.lower_bound:.6g} {w} ({result.bound_method})   gap {100 * result.gap:.2f}%"
                 + proof)
    return "\n".join(lines)


def bound_header(graph_name: str, k: int) -> str:
    """The first lines of :func:`format_bound` (printed before the methods run, by ``pjpart bound``)."""
    return (f"graph {graph_name}: k={k}, lower bounds (proven <= the optimal bottleneck)\n"
            f"{'method':<14} {'bound':>14} {'seconds':>9}  status")


def bound_row(r: Any) -> str:
    """One method's line of :func:`format_bound` (printed as the method ends)."""
    return f"{r.method:<14} {r.value:>14.6g} {r.seconds:>9.2f}  {r.status}"


def bound_progress_row(method: str, value: float, seconds: float, note: str) -> str:
    """A line of a method still running, printed each time its bound rises (``pjpart bound``)."""
    return f"{method:<14} {value:>14.6g} {seconds:>9.2f}  ... {note}"


def bound_best(bound: Bound) -> str:
    text = f"best: {bound.value:.6g} ({bound.method}) in {bound.seconds:.2f} s"
    if bound.partition is not None:
        gap = bound.partition_cost / bound.value - 1 if bound.value > 0 else float("inf")
        text += (f"\na partition found on the way ({bound.partition_method}): bottleneck {bound.partition_cost:.6g} "
                 f"(gap {gap:.2%}; --json: partition)")
    return text


def format_bound(graph_name: str, bound: Bound) -> str:
    """One line per method: value, status, seconds; then the best."""
    return "\n".join([bound_header(graph_name, bound.k)] + [bound_row(r) for r in bound.results] + [bound_best(bound)])


__all__ = ["bound_best", "bound_header", "bound_progress_row", "bound_row", "format_bound", "format_cost_model", "format_table"]
