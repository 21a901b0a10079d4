"""pjpart: split a DNN computation graph into k pipeline stages for maximum throughput.

Public names are re-exported here::

    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
    >>> r = pjpart.partition(g, k=2, seed=0)
    >>> r.bottleneck, r.assignment.tolist()
    (6.0, [0, 0, 0, 1])
"""

from .bounds import Bound, BoundError, combinatorial_bound, lower_bound
from .compile_cache import enable_compilation_cache
from .cost import CostModel, cost_model_for, evaluate, stage_breakdown
from .evaluator import Evaluator
from .examples import example_path, resolve_graph
from .errors import ConfigError, GraphError, InfeasibleError, PjpartError
from .graph import Graph
from .graph_io import load_graph, save_graph
from .result import PartitionResult
from .importers import from_jax, from_keras, from_onnx, from_torch, load_regal
from .search import BASELINES, NOT_GIVEN, PRESETS, SearchConfig, Solver, baseline, load_preset, partition
from .sweep import share_bounds, sweep, write_records
from .coarsen import coarsen  # after .search, which imports the module pjpart.coarsen
from . import export  # pjpart.export: runtime plans (torch_pipe, per-stage ONNX, layouts)

__version__ = "0.1.0"

__all__ = [
    "BASELINES",
    "Bound",
    "BoundError",
    "ConfigError",
    "CostModel",
    "Evaluator",
    "Graph",
    "GraphError",
    "InfeasibleError",
    "NOT_GIVEN",
    "PRESETS",
    "PartitionResult",
    "PjpartError",
    "SearchConfig",
    "Solver",
    "coarsen",
    "combinatorial_bound",
    "cost_model_for",
    "enable_compilation_cache",
    "baseline",
    "evaluate",
    "from_jax",
    "from_keras",
    "from_onnx",
    "from_torch",
    "load_regal",
    "example_path",
    "load_graph",
    "load_preset",
    "lower_bound",
    "partition",
    "resolve_graph",
    "save_graph",
    "share_bounds",
    "stage_breakdown",
    "sweep",
    "write_records",
    "__version__",
]
