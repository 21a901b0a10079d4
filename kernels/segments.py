"""Banded segment-cost tables for one topological order (SPEC section 2.3), in JAX.

Layout.  For an order with positions ``0..n-1`` the table is stored by segment
*end* ``j`` (``0..n``) and segment *length* ``d`` (``0..band``)::

    table[d, j] = f(order[j - d : j])      (inf where j - d < 0; 0 where d == 0)

Only segments of at most ``band`` nodes are represented.  Why that is enough:
if ``U`` is the cost of any valid partition, no segment whose ``work`` alone
exceeds ``U`` can be part of a partition better than ``U``; every segment of
``band + 1`` or more nodes has work above ``U`` when ``band + 1`` is at least
the number of smallest node works needed to exceed ``U``.  Hence the banded
slicing DP returns the exact optimum of an order whenever that optimum is
``<= U``, and otherwise a value ``> U`` (the cost of a valid, possibly
suboptimal, slicing, or ``inf``).  ``band = n`` is the full table.

Communication without a 2-D difference array.  Write ``p(v)`` for positions.
For the segment ``S = [i, j)``::

    out(S) = sum_{a in S} outb(a) - sum_{producers u: i <= p(u), last(u) < j} s(u)
    in(S)  = sum_{c in S} inb(c)  - sum_{links e: i <= L(e), c(e) < j} s(e)

where ``outb(a)`` is the size of the node at ``a`` if it has consumers,
``inb(c)`` the total size of the producers feeding the node at ``c``, ``last(u)``
the last consumer's position, and for every edge ``(u, v)`` with consumers of
``u`` sorted by position, ``L(e)`` is the position of the previous consumer of
``u`` (or of ``u`` itself for the first).  A producer outside ``S`` is counted
once: at its first consumer inside ``S``, the one whose ``L`` is left of ``i``.
So ``in + out`` is a 1-D part minus ``X(i, j)``: the total weight of the
"points" ``(p, q)`` (``(L(e), c(e))`` and ``(p(u), last(u))``) lying inside the
segment.  With ``H[p, g]`` the weight of the points at ``p`` with ``q - p < g``,
``X(j - d, j) = sum_{t=1..d} H[j - t, t]``: a running sum over ``d`` of the
rows of ``H`` shifted right by ``d``.  Everything is O((band + 1) (n + 1) + m) per candidate, with one
scatter of ``2 m`` points; no ``n x n`` array is built unless ``band = n``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax


class GraphArrays(NamedTuple):
    """Plain arrays describing a graph for the kernels (no pjpart objects)."""

    work: jax.Array      # (n,)
    params: jax.Array    # (n,)
    sizeout: jax.Array   # (n,)
    src: jax.Array       # (m,) int32, edges sorted by (src, dst)
    dst: jax.Array       # (m,) int32
    first: jax.Array     # (m,) bool: first edge of its source's group
    last: jax.Array      # (m,) bool: last edge of its source's group
    inb: jax.Array       # (n,) bytes read by each node (sum of its producers' sizes)
    outb: jax.Array      # (n,) bytes written by each node that has consumers


class CostParams(NamedTuple):
    """The cost model's scalars as arrays (traced, so changing them does not recompile)."""

    bandwidth: jax.Array
    memory: jax.Array
    overflow_bandwidth: jax.Array
    memory_limit: jax.Array


class StageParams(NamedTuple):
    """A heterogeneous pipeline's cost model (SPEC section 5) as arrays: ``(k,)`` per stage,
    ``bandwidth_in[b]`` the link into stage ``b`` and ``bandwidth_out[b]`` the one out of it."""

    speed: jax.Array
    memory: jax.Array
    memory_limit: jax.Array
    bandwidth_in: jax.Array
    bandwidth_out: jax.Array
    overflow_bandwidth: jax.Array


def work_prefix(work: jax.Array, order: jax.Array) -> jax.Array:
    """``prefix[j]``: the work of the order's first ``j`` nodes, ``(n + 1,)``."""
    return jnp.concatenate([jnp.zeros((1,), work.dtype), jnp.cumsum(work[order])])


def positions(order: jax.Array) -> jax.Array:
    """Inverse permutation: ``pos[order[p]] = p``."""
    n = order.shape[-1]
    return jnp.zeros((n,), jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))


def inside_points(g: GraphArrays, pos: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The weighted points ``(p, q, w)`` whose weight leaves ``in + out`` of every segment holding both."""
    n = pos.shape[0]
    if g.src.shape[0] == 0:
        z = jnp.zeros((0,), jnp.int32)
        return z, z, jnp.zeros((0,), g.sizeout.dtype)
    a = pos[g.src]
    key = g.src * (n + 1) + pos[g.dst]
    c = jnp.sort(key) - g.src * (n + 1)  # consumers of each source sorted by position
    prev = jnp.where(g.first, a, jnp.roll(c, 1))
    s = g.sizeout[g.src]
    p = jnp.concatenate([prev, a])
    q = jnp.concatenate([c, c])
    w = jnp.concatenate([s, jnp.where(g.last, s, 0)])
    return p, q, w


def segment_costs(g: GraphArrays, cost: CostParams, order: jax.Array, band: int) -> jax.Array:
    """Banded cost table ``(band + 1, n + 1)`` of one order; see the module docstring.

    One ``lax.scan`` over the segment length ``d`` carries the running sums
    (work, params, in + out traffic, the gap-cumulated inside weights ``H[d]`` and
    the inside total ``X``) as ``n + 1`` vectors and emits only the finished row
    ``table[d]``: each step adds the per-position values shifted right by ``d``
    (a dynamic slice of a zero-padded vector).  Measured on XLA:CPU this is
    faster than building the five ``(band + 1, n + 1)`` arrays and combining
    them, which is memory-bound.
    """
    n = order.shape[0]
    dtype = g.work.dtype
    pos = positions(order)
    values = jnp.stack([g.work[order], g.params[order], (g.inb + g.outb)[order]])
    # padded[:, band + x] = values[:, x]: a slice starting at band - d reads values[:, j - d] (0 for j < d, j = n)
    padded = jnp.concatenate([jnp.zeros((3, band), dtype), values, jnp.zeros((3, 1), dtype)], axis=1)
    p, q, w = inside_points(g, pos)
    # h0[h, p]: weight of the points at p with gap h (gaps beyond the band cannot lie inside a segment)
    h0 = jnp.zeros((band + 1, n + 1), dtype).at[q - p, p].add(w, mode="drop")
    zeros = jnp.zeros((band,), dtype)
    j = jnp.arange(n + 1)

    def body(carry, d):
        sums, h, inside = carry
        sums = sums + lax.dynamic_slice(padded, (0, band - d), (3, n + 1))  # sum(values[j - d : j])
        h = h + h0[d - 1]                                                    # H[d, p]: weight with gap < d
        inside = inside + lax.dynamic_slice(jnp.concatenate([zeros, h]), (band - d,), (n + 1,))  # + H[d, j - d]
        work, params, traffic = sums[0], sums[1], sums[2]
        comm = jnp.maximum(traffic - inside, 0)
        over = jnp.maximum(params - cost.memory, 0) / cost.overflow_bandwidth
        over = jnp.where(params > cost.memory_limit, jnp.inf, over)
        row = jnp.where(d > j, jnp.inf, work + comm / cost.bandwidth + over)
        return (sums, h, inside), row.astype(dtype)

    init = (jnp.zeros((3, n + 1), dtype), jnp.zeros((n + 1,), dtype), jnp.zeros((n + 1,), dtype))
    _, rows = lax.scan(body, init, jnp.arange(1, band + 1))
    return jnp.concatenate([jnp.zeros((1, n + 1), dtype), rows])


def segment_parts(g: GraphArrays, order: jax.Array, band: int) -> jax.Array:
    """The sums a heterogeneous stage prices, ``(band + 1, 4, n + 1)``: for the segment
    of length ``d`` ending at ``j``, ``[work (inf where d > j), params, in, out][:, j]``.

    The scan of :func:`segment_costs` with ``in`` and ``out`` kept apart (``in``'s points
    are the first ``m`` of :func:`inside_points`, ``out``'s the last ``m``), since stage
    ``b`` reads over the link ``b - 1`` and sends over link ``b``; the stage's own speed,
    links and memory are applied in the DP (:func:`pjpart.kernels.stage_row`), so one
    table serves all ``k`` stages.
    """
    n = order.shape[0]
    m = g.src.shape[0]
    dtype = g.work.dtype
    pos = positions(order)
    values = jnp.stack([g.work[order], g.params[order], g.inb[order], g.outb[order]])
    padded = jnp.concatenate([jnp.zeros((4, band), dtype), values, jnp.zeros((4, 1), dtype)], axis=1)
    p, q, w = inside_points(g, pos)
    channel = jnp.concatenate([jnp.zeros((m,), jnp.int32), jnp.ones((m,), jnp.int32)])  # 0: in, 1: out
    h0 = jnp.zeros((2, band + 1, n + 1), dtype).at[channel, q - p, p].add(w, mode="drop")
    zeros = jnp.zeros((2, band), dtype)
    j = jnp.arange(n + 1)

    def body(carry, d):
        sums, h, inside = carry
        sums = sums + lax.dynamic_slice(padded, (0, band - d), (4, n + 1))
        h = h + h0[:, d - 1]
        inside = inside + lax.dynamic_slice(jnp.concatenate([zeros, h], axis=1), (0, band - d), (2, n + 1))
        comm = jnp.maximum(sums[2:] - inside, 0)
        row = jnp.stack([jnp.where(d > j, jnp.inf, sums[0]), sums[1], comm[0], comm[1]])
        return (sums, h, inside), row.astype(dtype)

    init = (jnp.zeros((4, n + 1), dtype), jnp.zeros((2, n + 1), dtype), jnp.zeros((2, n + 1), dtype))
    _, rows = lax.scan(body, init, jnp.arange(1, band + 1))
    return jnp.concatenate([jnp.zeros((1, 4, n + 1), dtype), rows])


def stage_row(parts: jax.Array, stages: StageParams, b: jax.Array) -> jax.Array:
    """Stage ``b``'s segment costs from :func:`segment_parts` columns ``parts`` (``(4, ...)``):
    ``work / speed[b] + in / link_in[b] + out / link_out[b] + overflow_b(params)``."""
    work, params, inn, out = parts[0], parts[1], parts[2], parts[3]
    over = jnp.maximum(params - stages.memory[b], 0) / stages.overflow_bandwidth
    over = jnp.where(params > stages.memory_limit[b], jnp.inf, over)
    return work / stages.speed[b] + inn / stages.bandwidth_in[b] + out / stages.bandwidth_out[b] + over
