"""pjpart.kernels: pure JAX array functions that evaluate whole populations at once.

No I/O, no pjpart objects, no Python loop over nodes or candidates.  Each
function has a NumPy reference in ``pjpart.reference`` and the tests tie the two
together.

* :func:`decode_orders` - random keys -> topological orders (Kahn, batched);
* :func:`segment_costs` - banded segment-cost table of one order; :func:`segment_parts` - its
  sums (work, params, in, out) for a heterogeneous pipeline (:class:`StageParams`), which
  the DP prices stage by stage (:func:`stage_row`);
* :func:`slice_bottleneck`, :func:`slice_cuts` - the min-max slicing DP;
  :func:`slice_bottleneck_pair` - with ``k`` and ``k + 1`` stages (a search's tie-break);
  :func:`slice_windowed` - either, each stage on its work window under an upper bound
  (:func:`work_windows`, :func:`needed_width`);
* :func:`order_bottleneck`, :func:`order_cuts` - order -> bottleneck (and cuts);
  vmap them over a population.
"""

from .decode import decode_order, decode_orders, needed_band
from .pipeline import (order_bottleneck, order_bottleneck_pair, order_cuts, population_bottleneck_pairs,
                       population_bottlenecks, population_cuts)
from .segments import (CostParams, GraphArrays, StageParams, inside_points, positions, segment_costs,
                       segment_parts, stage_row)
from .slicing import (needed_width, slice_bottleneck, slice_bottleneck_pair, slice_cuts, slice_rows, slice_windowed,
                      stage_windows, work_windows)

__all__ = [
    "CostParams",
    "GraphArrays",
    "StageParams",
    "decode_order",
    "decode_orders",
    "inside_points",
    "needed_band",
    "needed_width",
    "order_bottleneck",
    "order_bottleneck_pair",
    "order_cuts",
    "population_bottleneck_pairs",
    "population_bottlenecks",
    "population_cuts",
    "positions",
    "segment_costs",
    "segment_parts",
    "slice_bottleneck",
    "slice_bottleneck_pair",
    "slice_cuts",
    "slice_rows",
    "slice_windowed",
    "stage_row",
    "stage_windows",
    "work_windows",
]
