"""What the kernels take: a Graph turned into arrays, the shared compiled kernels, the
pure population fitness for compiled search loops, and two small shape helpers.

Graph arrays are arguments of the compiled kernels, not constants, so graphs of the
same shape ``(n, m)`` with the same ``k`` and band reuse one executable.

>>> band_bucket(9, 100), band_bucket(30, 100), band_bucket(30, 20)
(12, 32, 20)
>>> stages_from_starts([2, 0, 1], [0, 1, 3]).tolist()
[1, 1, 0]
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .cost import CostModel
from .graph import Graph


@functools.lru_cache(maxsize=None)
def compiled_kernels() -> dict:
    """The jit-compiled kernels, shared by all evaluators: graph arrays are arguments, so
    graphs of the same shape (n, m) with the same k and band reuse one executable."""
    import jax

    from .kernels import (decode_orders, needed_band, needed_width, population_bottleneck_pairs,
                          population_bottlenecks, population_cuts)

    def decode_and_band(keys, indegree, succ_pad, ready0, work, bound):
        orders, overflow = decode_orders(keys, indegree, succ_pad, ready0)
        return orders, overflow.any(), band_of(orders, work, bound)

    def band_of(orders, work, bound):
        return jax.vmap(lambda o: needed_band(work, o, bound))(orders).max()

    def width_of(orders, work, bound, stages):
        return jax.vmap(lambda o: needed_width(work, o, bound, stages))(orders).max()

    return {
        "bottlenecks": jax.jit(population_bottlenecks, static_argnames=("k", "band", "batch", "width")),
        "pairs": jax.jit(population_bottleneck_pairs, static_argnames=("k", "band", "batch", "width")),
        "cuts": jax.jit(population_cuts, static_argnames=("k", "band", "batch")),
        "decode": jax.jit(decode_and_band),
        "band": jax.jit(band_of),
        "width": jax.jit(width_of, static_argnames=("stages",)),
    }


@functools.lru_cache(maxsize=None)
def population_fitness(k: int, band: int, batch: int, batch_size: int, dtype: str, width: int | None = None):
    """The pure population fitness for these static settings (one object per settings, see
    :meth:`pjpart.Evaluator.fitness_function`); with ``width``, the DP on work windows of that
    width under the bound that ``params`` ends with (:func:`pjpart.kernels.slice_windowed`)."""
    import jax.numpy as jnp

    from .kernels import decode_orders, population_bottlenecks

    padded = -(-batch_size // batch) * batch

    def fitness(keys, params):
        arrays, cost, indeg, succ_pad, ready0, bound = params
        keys = keys.astype(dtype)
        if padded > batch_size:  # whole sub-batches of ``batch`` candidates (bounded memory)
            keys = jnp.concatenate([keys, jnp.repeat(keys[:1], padded - batch_size, axis=0)])
        orders, overflow = decode_orders(keys, indeg, succ_pad, ready0)
        values = population_bottlenecks(arrays, cost, orders, k=k, band=band, batch=batch, width=width,
                                        bound=None if width is None else bound)
        return jnp.where(overflow, jnp.inf, values)[:batch_size]

    fitness.band, fitness.width = band, width
    return fitness


def band_bucket(band: int, n: int) -> int:
    """Round a needed band up to one of few sizes (8, 12, 16, 24, 32, 48, ...), at most ``n``,
    so that changing bands cause few compilations."""
    size = 8
    while size < band:
        size = size * 3 // 2 if (size & (size - 1)) == 0 else size * 4 // 3
    return int(min(n, size))


#: an evaluator on CPUs slices on the host once a candidate's banded table would hold more entries than this:
#: such tables outgrow the caches, and the host's row-by-row slicing keeps one row
HOST_SLICING_MIN_TABLE = 30_000_000


def host_slicing_pays(prefix: np.ndarray, bound: float) -> bool:
    """Whether an order with these prefix works (``prefix[j]``: work of its first ``j`` nodes)
    needs a banded table of more than :data:`HOST_SLICING_MIN_TABLE` entries under the bound
    on a segment's work: the band is its longest run of work within ``bound``, bucketed."""
    n = len(prefix) - 1
    first = np.searchsorted(prefix, prefix - bound, side="left")
    band = band_bucket(max(1, int((np.arange(n + 1) - first).max())), n)
    return (band + 1) * (n + 1) > HOST_SLICING_MIN_TABLE


def window_width(orders: list, work: Any, bound: Any, n: int, band: int, stages: int) -> int | None:
    """The work-window width (bucketed) that device chunks of ``orders`` need for ``stages`` stages
    under ``bound`` (:func:`pjpart.kernels.needed_width`), or ``None`` where the DP on the band's
    stage windows is less work (:func:`window_cheaper`)."""
    kernel = compiled_kernels()["width"]
    width = band_bucket(max(int(kernel(chunk, work, bound, stages=stages)) for chunk in orders), n + 1)
    return width if window_cheaper(n, band, width, stages) else None


def window_cheaper(n: int, band: int, width: int, stages: int) -> bool:
    """Whether the slicing DP on work windows of ``width`` positions
    (:func:`pjpart.kernels.slice_windowed`) does less work than on the band's stage windows
    (:func:`pjpart.kernels.stage_windows`), ``stages`` stages of an order of ``n`` nodes."""
    from .kernels import stage_windows

    banded = sum(max(0, hi - lo + 1) for lo, hi in stage_windows(n, band, stages))
    return stages * min(2 * width - 1, band + 1) * width < (band + 1) * banded


def stages_from_starts(order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Stage of every node from an order and segment starts (``k + 1`` entries, last = n)."""
    n = len(order)
    by_pos = np.searchsorted(np.asarray(starts)[1:], np.arange(n), side="right")
    stages = np.empty(n, dtype=np.int64)
    stages[np.asarray(order)] = by_pos
    return stages


def graph_arrays(graph: Graph, dtype) -> Any:
    """The graph as kernel inputs (:class:`pjpart.kernels.GraphArrays`): costs in ``dtype``, edges by
    producer with first / last flags (one producer's tensor counts once per stage).
    """
    import jax.numpy as jnp
    from .kernels import GraphArrays

    src = graph.edges[:, 0].astype(np.int32)
    dst = graph.edges[:, 1].astype(np.int32)
    first = np.r_[True, src[1:] != src[:-1]] if len(src) else np.zeros(0, bool)
    last = np.r_[src[1:] != src[:-1], True] if len(src) else np.zeros(0, bool)
    inb = np.zeros(graph.n)
    np.add.at(inb, dst, graph.sizeout[src])
    outb = np.where(np.diff(graph.succ_ptr) > 0, graph.sizeout, 0.0)
    return GraphArrays(
        work=jnp.asarray(graph.work, dtype), params=jnp.asarray(graph.params, dtype),
        sizeout=jnp.asarray(graph.sizeout, dtype), src=jnp.asarray(src), dst=jnp.asarray(dst),
        first=jnp.asarray(first), last=jnp.asarray(last),
        inb=jnp.asarray(inb, dtype), outb=jnp.asarray(outb, dtype))


def cost_params(cost_model: CostModel, k: int, dtype: Any) -> Any:
    """The cost model as kernel arguments: :class:`pjpart.kernels.CostParams` (scalars), or for a
    heterogeneous pipeline :class:`pjpart.kernels.StageParams` (``(k,)`` arrays per stage)."""
    import jax.numpy as jnp

    from .kernels import CostParams, StageParams

    cm = cost_model
    if not cm.heterogeneous:
        return CostParams(*(jnp.asarray(x, dtype) for x in
                            (cm.bandwidth, cm.memory, cm.overflow_bandwidth, cm.memory_limit)))
    cm.check_stages(k)
    t = cm.stage_terms()
    return StageParams(*(jnp.asarray(x, dtype) for x in (t.speed, t.memory, t.memory_limit, t.bandwidth_in,
                                                           t.bandwidth_out, cm.overflow_bandwidth)))


__all__ = ["HOST_SLICING_MIN_TABLE", "band_bucket", "compiled_kernels", "cost_params", "graph_arrays",
           "host_slicing_pays", "population_fitness", "stages_from_starts", "window_cheaper",
           "window_width"]
