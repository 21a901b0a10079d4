"""Random keys -> topological order (SPEC section 2.1), batched in JAX.

Kahn's algorithm as a ``lax.scan`` over ``n`` steps: each step takes, among
the nodes whose predecessors are all placed, the one with the smallest key
(``argmin`` returns the first minimum, so ties go to the smallest index), then
releases its successors.  Theta(n^2) work per candidate, but all of it is
wide vector work that accelerators do well; on a CPU a heap per candidate on
the host is faster (see ``pjpart.Evaluator``), and both are tested against the
same reference.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def decode_order(keys: jax.Array, indegree: jax.Array, succ_pad: jax.Array) -> jax.Array:
    """Topological order ``(n,)`` of one candidate.

    ``indegree``: ``(n,)`` int32 in-degrees; ``succ_pad``: ``(n, dmax)`` successor
    lists padded with ``n`` (an index that scatter drops).
    """
    n = keys.shape[0]
    inf = jnp.asarray(jnp.inf, keys.dtype)

    def step(carry, _):
        indeg, placed = carry
        score = jnp.where((indeg == 0) & ~placed, keys, inf)
        v = jnp.argmin(score).astype(jnp.int32)
        placed = placed.at[v].set(True)
        indeg = indeg.at[succ_pad[v]].add(-1, mode="drop")
        return (indeg, placed), v

    init = (indegree.astype(jnp.int32), jnp.zeros((n,), bool))
    _, order = lax.scan(step, init, None, length=n)
    return order


decode_orders = jax.vmap(decode_order, in_axes=(0, None, None))
decode_orders.__doc__ = "Batched :func:`decode_order`: keys ``(P, n)`` -> orders ``(P, n)``."
