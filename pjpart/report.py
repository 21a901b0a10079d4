"""One-file report of a partition: stage table, stage-cost chart, convergence plot, bound and certificate.

``write_report(result, "out.html")`` embeds the images (base64 PNG), so the file
stands alone; ``"out.md"`` writes the two PNGs next to it (``out_stages.png``,
``out_convergence.png``) and links them.  Used by ``pjpart partition --report``.

Example
-------
>>> import pjpart, tempfile, os
>>> from pjpart.report import write_report
>>> r = pjpart.partition(pjpart.load_graph(pjpart.example_path("tiny")), 2)
>>> path = os.path.join(tempfile.mkdtemp(), "r.html")
>>> write_report(r, path) == path and "Certificate" in open(path).read()
True
"""

from __future__ import annotations

import base64
import html
import io
import os

from .result import PartitionResult

SECTIONS = ("Partition", "Stage costs", "Convergence", "Lower bound", "Certificate")


def _figures(result: PartitionResult) -> dict:
    """PNG bytes of the stage-cost bar chart and the convergence plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    costs = result.stage_costs
    fig, ax = plt.subplots(figsize=(7, 3.2))
    parts = result.breakdown
    bottom = 0
    for key, color in (("work", "C0"), ("in", "C1"), ("out", "C2"), ("overflow", "C4")):
        vals = parts[key] if key in ("work", "overflow") else parts[key] / result.cost_model.bandwidth
        ax.bar(range(len(costs)), vals, bottom=bottom, color=color, label=key)
        bottom = bottom + vals
    ax.axhline(result.lower_bound, color="k", ls="--", lw=1, label=f"lower bound ({result.bound_method})")
    ax.axhline(result.bottleneck, color="C3", lw=1, label="bottleneck")
    ax.set_xlabel("stage")
    ax.set_ylabel("cost")
    # headroom above the tallest bar for the legend, so no bar or line is hidden
    ax.set_ylim(0, 1.3 * max(result.bottleneck, result.lower_bound, 1e-300))
    ax.legend(fontsize=7, ncol=6, loc="upper center")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    out["stages"] = buf.getvalue()

    fig, ax = plt.subplots(figsize=(7, 3.2))
    if result.history:
        sec, _, best = zip(*result.history)
        ax.step(sec, best, where="post", marker="." if len(sec) < 30 else None, label="best found")
        ax.set_xlim(0, max(sec[-1], result.seconds) * 1.02)
    ax.axhline(result.bottleneck, color="C3", lw=1, label="final (float64)")
    ax.axhline(result.lower_bound, color="k", ls="--", lw=1, label="lower bound")
    ax.set_xlabel("seconds")
    ax.set_ylabel("bottleneck")
    ax.legend(fontsize=7)
    if not result.history:
        ax.set_title(f"no search needed ({result.method}, {result.stopped_by})", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    out["convergence"] = buf.getvalue()
    return out


def _rows(result: PartitionResult) -> list[list[str]]:
    b = result.breakdown
    devices = _devices(result)
    rows = []
    for s in range(result.k):
        rows.append([str(s)] + ([devices[s]] if devices else []) + [
            str(int(b["nodes"][s])), f"{b['work'][s]:.6g}", f"{b['in'][s]:.6g}",
            f"{b['out'][s]:.6g}", f"{b['overflow'][s]:.6g}", f"{result.stage_costs[s]:.6g}"
            + (" ◀ bottleneck" if result.stage_costs[s] == result.bottleneck else "")])
    return rows


def _devices(result: PartitionResult) -> list[str] | None:
    """Per stage of a heterogeneous pipeline (SPEC section 5): device name and relative speed."""
    return result.cost_model.stage_labels() if result.cost_model.heterogeneous else None


HEAD = ["stage", "nodes", "work", "in", "out", "overflow", "cost"]


def _head(result: PartitionResult) -> list[str]:
    return HEAD[:1] + ["device"] + HEAD[1:] if result.cost_model.heterogeneous else HEAD


def _certificate(result: PartitionResult) -> str:
    return (f"bottleneck {result.bottleneck:.6g}, lower bound {result.lower_bound:.6g} "
            f"({result.bound_method}): gap {100 * result.gap:.3f}% — no partition into {result.k} stages "
            f"under this cost model has a bottleneck below the bound")


def write_report(result: PartitionResult, path: str) -> str:
    """Write the report (``.html`` or ``.md``); returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figs = _figures(result)
    cm = result.cost_model.to_json()
    info = (f"graph {result.graph}, k = {result.k}, method {result.method} ({result.stopped_by}), "
            f"{result.evaluations} evaluations in {result.seconds:.2f} s, seed {result.seed}; cost model {cm}")
    if path.endswith(".md"):
        stem = os.path.splitext(path)[0]
        names = {}
        for key, data in figs.items():
            names[key] = f"{stem}_{key}.png"
            with open(names[key], "wb") as fh:
                fh.write(data)
        lines = [f"# Pipeline partition of {result.graph}", "", info, "", "## Partition", "",
                 "| " + " | ".join(_head(result)) + " |", "|" + "---:|" * len(_head(result))]
        lines += ["| " + " | ".join(r) + " |" for r in _rows(result)]
        lines += ["", "## Stage costs", "", f"![stage costs]({os.path.basename(names['stages'])})", "",
                  "## Convergence", "", f"![convergence]({os.path.basename(names['convergence'])})", "",
                  "## Lower bound", "", f"{result.lower_bound:.6g} by `{result.bound_method}` (proven <= optimum)",
                  "", "## Certificate", "", _certificate(result), ""]
        text = "\n".join(lines)
    else:
        def img(key: str) -> str:
            return f'<img alt="{key}" src="data:image/png;base64,{base64.b64encode(figs[key]).decode()}">'

        table = "<table><tr>" + "".join(f"<th>{h}</th>" for h in _head(result)) + "</tr>" + "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in _rows(result)) + "</table>"
        text = f"""<!doctype html><html><head><meta charset="utf-8"><title>pjpart: {html.escape(result.graph)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:2px 10px;text-align:right}}</style>
</head><body><h1>Pipeline partition of {html.escape(result.graph)}</h1><p>{html.escape(info)}</p>
<h2>Partition</h2>{table}
<h2>Stage costs</h2>{img("stages")}
<h2>Convergence</h2>{img("convergence")}
<h2>Lower bound</h2><p>{result.lower_bound:.6g} by <code>{html.escape(result.bound_method)}</code>
(proven &le; the optimum)</p>
<h2>Certificate</h2><p>{html.escape(_certificate(result))}</p></body></html>
"""
    with open(path, "w") as fh:
        fh.write(text)
    return path
