"""The command line's ``export`` command and ``--coarsen`` flag (parsing and printing only).

``pjpart export RESULT.json --format F [--model PATH] [--out OUT]`` turns a partition
(``pjpart partition GRAPH -k K --json RESULT.json``) into a runtime's plan
(:mod:`pjpart.export`): the result is re-validated on the graph first (``--model``, else
the bundled graph it names).  ``--coarsen D|layer`` on ``partition`` and ``bound`` solves in
module (depth D) or layer units (:func:`pjpart.coarsen`), the units a runtime accepts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable

from .errors import ConfigError, GraphError

EXPORT_EPILOG = """\
formats:
  stages     JSON: per stage its nodes, params and cost; the tensors crossing each boundary with their bytes
  onnx       one ONNX file per stage cut from --model (a .onnx), and OUT/manifest.json chaining them
  torch      {"split_spec": {module FQN: "BEGINNING"}} for torch.distributed.pipelining (--model: the graph
             file of pjpart.from_torch; pjpart.export.torch_pipe builds the pipe in Python)
  deepspeed  a PipelineModule partition: "parts" over the model's layer units
  megatron   --pipeline-model-parallel-size and --pipeline-model-parallel-layout ('E,t*3|t*4|t*3,L')
  vllm       VLLM_PP_LAYER_PARTITION=3,4,3

--model is the graph the partition was computed on, or the model it came from (a .onnx file, a graph
file); without it, the bundled graph the result names. A partition the target cannot express (a layer
split between stages, a stage starting inside a module) is an error saying so: partition again in the
target's units with --coarsen (pjpart partition GRAPH -k K --coarsen layer, or --coarsen DEPTH).

Examples:
  pjpart partition model.onnx -k 3 --json r.json && pjpart export r.json --format onnx --model model.onnx --out stages/
  pjpart partition gpt.json -k 4 --coarsen layer --json r.json && pjpart export r.json --format megatron --model gpt.json
"""


def add_coarsen_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--coarsen", metavar="D|layer", default=None,
                        help="solve in module units: group nodes by their module at depth D (an integer >= 1) or by "
                             "layer (pjpart.coarsen); default: the graph's own nodes")


def check_coarsen(args: argparse.Namespace) -> None:
    """``--coarsen``, checked before any work: an integer >= 1 or ``layer``."""
    value = getattr(args, "coarsen", None)
    if value is None or value == "layer":
        return
    try:
        args.coarsen = int(value)
    except ValueError:
        args.coarsen = 0
    if args.coarsen < 1:
        raise ConfigError(f"--coarsen must be a module depth (an integer >= 1) or 'layer', got {value!r}")


def apply_coarsen(graph, args: argparse.Namespace, emit: Callable[[str], None]):
    """The graph to solve: ``graph`` coarsened by ``--coarsen`` (saying so), or itself."""
    if getattr(args, "coarsen", None) is None:
        return graph
    from .coarsen import coarsen

    coarse = coarsen(graph, args.coarsen).graph
    unit = "layer" if args.coarsen == "layer" else f"module depth {args.coarsen}"
    emit(f"coarsened by {unit}: {graph.n} -> {coarse.n} nodes")
    return coarse


def add_export_parser(sub, formatter) -> None:
    from .export import FORMATS

    ex = sub.add_parser("export", help="a partition as a runtime's plan (ONNX stages, torch, DeepSpeed, ...)",
                        formatter_class=formatter, epilog=EXPORT_EPILOG,
                        description="Turn a partition result (pjpart partition --json) into a runtime's plan.")
    ex.add_argument("result", metavar="RESULT", help="the result JSON of pjpart partition --json")
    ex.add_argument("--format", required=True, choices=FORMATS, help="the plan to write (required; see below)")
    ex.add_argument("--model", metavar="PATH", default=None,
                    help="the graph or model the partition is of: a .onnx file or a graph file (default: the "
                         "bundled graph the result names)")
    ex.add_argument("--out", metavar="OUT", default=None,
                    help="output file (onnx: a folder, required); default: stdout")
    ex.add_argument("--layers", metavar="MODULE", default=None,
                    help="deepspeed/megatron/vllm: the module holding the layers (default: the one with the most "
                         "numbered children, e.g. layers)")


def _read_result(path: str) -> dict:
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise GraphError(f"{path}: no such result file") from None
    except json.JSONDecodeError as exc:
        raise GraphError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphError(f"{path}: cannot read result file ({exc})") from None


def run_export(args: argparse.Namespace, emit: Callable[..., None]) -> int:
    """``pjpart export``: read, re-validate, export, write."""
    from .export import export, graph_for, render, result_from_json

    if args.format == "onnx" and args.out is None:
        raise ConfigError("--format onnx writes a folder of stage files: give --out DIR")
    if args.format == "onnx" and (args.model is None or not args.model.endswith(".onnx")):
        raise ConfigError("--format onnx cuts the source model: give --model MODEL.onnx")
    if args.out is not None and args.format != "onnx" and os.path.isdir(args.out):
        raise ConfigError(f"--out {args.out!r} is a folder; give a file name")
    data = _read_result(args.result)
    if args.format == "onnx":  # any partition of the model's nodes is expressible: check ids and precedence only
        from .export.onnx_stages import structure_graph
        from .importers.onnx import load_model, structure

        result = result_from_json(data, structure_graph(structure(load_model(args.model))), costs=False)
        manifest = export(result, "onnx", args.out, model=args.model)
        emit(f"wrote {len(manifest)} stage files and manifest.json to {args.out}")
        return 0
    graph = graph_for(str(data.get("graph", "")) if isinstance(data, dict) else "", args.model)
    result = result_from_json(data, graph)
    plan = export(result, args.format, graph=graph, layers=args.layers)
    if args.out is None:
        emit(render(plan, args.format))
        return 0
    with open(args.out, "w") as fh:
        fh.write(render(plan, args.format) + "\n")
    emit(f"wrote the {args.format} plan to {args.out}", sys.stderr)
    return 0


__all__ = ["add_coarsen_flag", "add_export_parser", "apply_coarsen", "check_coarsen", "run_export"]
