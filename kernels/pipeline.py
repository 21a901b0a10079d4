"""Chained kernels: order -> banded table -> bottleneck (and cuts), one candidate or a population."""

from __future__ import annotations

import jax

from .segments import CostParams, GraphArrays, StageParams, segment_costs, segment_parts, work_prefix
from .slicing import slice_bottleneck, slice_bottleneck_pair, slice_cuts, slice_windowed

Cost = CostParams | StageParams


def _table(g: GraphArrays, cost: Cost, order: jax.Array, band: int) -> tuple[jax.Array, StageParams | None]:
    """The order's banded table and, for a heterogeneous pipeline (``StageParams``, chosen
    when tracing), the per-stage prices the DP applies to its sums."""
    if isinstance(cost, StageParams):
        return segment_parts(g, order, band), cost
    return segment_costs(g, cost, order, band), None


def order_bottleneck(g: GraphArrays, cost: Cost, order: jax.Array, k: int, band: int, width: int | None = None,
                     bound: jax.Array | None = None) -> jax.Array:
    """Optimal bottleneck of slicing one order into at most ``k`` stages (exact when <= the band's bound).

    With ``width`` and ``bound`` (the band's bound on a segment's work), each DP stage is
    computed on its work window only (:func:`pjpart.kernels.slice_windowed`)."""
    table, stages = _table(g, cost, order, band)
    if width is None:
        return slice_bottleneck(table, k, stages=stages)
    return slice_windowed(table, work_prefix(g.work, order), bound, k, width, stages=stages)


def order_bottleneck_pair(g: GraphArrays, cost: Cost, order: jax.Array, k: int, band: int, width: int | None = None,
                          bound: jax.Array | None = None) -> jax.Array:
    """``[D_k, D_{k+1}]`` of one order: the optimal bottleneck with ``k`` and ``k + 1`` stages
    (see :func:`pjpart.kernels.slice_bottleneck_pair`; ``width``, ``bound``: as :func:`order_bottleneck`)."""
    table, stages = _table(g, cost, order, band)
    if width is None:
        return slice_bottleneck_pair(table, k, stages=stages)
    return slice_windowed(table, work_prefix(g.work, order), bound, k, width, pair=True, stages=stages)


def order_cuts(g: GraphArrays, cost: Cost, order: jax.Array, k: int, band: int):
    """``(bottleneck, starts)`` for one order; see :func:`pjpart.kernels.slice_cuts`."""
    table, stages = _table(g, cost, order, band)
    return slice_cuts(table, k, stages=stages)


def _batched(fn, orders: jax.Array, batch: int | None):
    """vmap ``fn`` over the population, in sequential sub-batches of ``batch`` (bounded memory)."""
    P = orders.shape[0]
    if batch is None or batch >= P or P % batch:
        return jax.vmap(fn)(orders)
    out = jax.lax.map(jax.vmap(fn), orders.reshape(P // batch, batch, orders.shape[1]))
    return jax.tree.map(lambda x: x.reshape((P,) + x.shape[2:]), out)


def population_bottlenecks(g: GraphArrays, cost: CostParams, orders: jax.Array, k: int, band: int,
                           batch: int | None = None, width: int | None = None,
                           bound: jax.Array | None = None) -> jax.Array:
    """Batched :func:`order_bottleneck`: orders ``(P, n)`` -> ``(P,)``, ``batch`` candidates at a time."""
    return _batched(lambda order: order_bottleneck(g, cost, order, k, band, width, bound), orders, batch)


def population_bottleneck_pairs(g: GraphArrays, cost: CostParams, orders: jax.Array, k: int, band: int,
                                batch: int | None = None, width: int | None = None,
                                bound: jax.Array | None = None) -> jax.Array:
    """Batched :func:`order_bottleneck_pair`: orders ``(P, n)`` -> ``(P, 2)``."""
    return _batched(lambda order: order_bottleneck_pair(g, cost, order, k, band, width, bound), orders, batch)


def population_cuts(g: GraphArrays, cost: CostParams, orders: jax.Array, k: int, band: int,
                    batch: int | None = None):
    """Batched :func:`order_cuts`: orders ``(P, n)`` -> ``((P,), (P, k + 1))``."""
    return _batched(lambda order: order_cuts(g, cost, order, k, band), orders, batch)
