"""Chained kernels: order -> banded table -> bottleneck (and cuts), one candidate or a population."""

from __future__ import annotations

import jax

from .segments import CostParams, GraphArrays, segment_costs
from .slicing import slice_bottleneck, slice_cuts


def order_bottleneck(g: GraphArrays, cost: CostParams, order: jax.Array, k: int, band: int) -> jax.Array:
    """Optimal bottleneck of slicing one order into at most ``k`` stages (exact when <= the band's bound)."""
    return slice_bottleneck(segment_costs(g, cost, order, band), k)


def order_cuts(g: GraphArrays, cost: CostParams, order: jax.Array, k: int, band: int):
    """``(bottleneck, starts)`` for one order; see :func:`pjpart.kernels.slice_cuts`."""
    return slice_cuts(segment_costs(g, cost, order, band), k)


def population_bottlenecks(g: GraphArrays, cost: CostParams, orders: jax.Array, k: int, band: int) -> jax.Array:
    """Batched :func:`order_bottleneck`: orders ``(P, n)`` -> ``(P,)``."""
    return jax.vmap(lambda order: order_bottleneck(g, cost, order, k, band))(orders)


def population_cuts(g: GraphArrays, cost: CostParams, orders: jax.Array, k: int, band: int):
    """Batched :func:`order_cuts`: orders ``(P, n)`` -> ``((P,), (P, k + 1))``."""
    return jax.vmap(lambda order: order_cuts(g, cost, order, k, band))(orders)
