"""``from_jax``: a computation graph from any JAX function, by tracing it to a jaxpr.

One node per jaxpr equation (``granularity="op"``), after inlining calls
(``jit``/``pjit``, ``custom_jvp_call``, ``custom_vjp_call``, ``closed_call``,
``remat``); control flow (``scan``, ``while``, ``cond``) stays one node whose
FLOPs are counted from its body (``scan``: times its length; ``while``: one trip,
the trip count is unknown; ``cond``: the costliest branch).

Per node:

* ``flops``: exact for ``dot_general`` (``2 * out * contracted``) and
  ``conv_general_dilated`` (``2 * out * kernel elements per output feature``),
  one per output element for elementwise ops, one per input element for
  reductions, window size per output for ``reduce_window``; data movement
  (reshape, transpose, gather, ...) has none;
* ``bytes``: input plus output bytes (what a roofline model moves through HBM);
* ``params``: bytes of the weights (leaves of the arguments named by
  ``params_argnums``) the node reads; a weight read by several nodes is counted
  once, at its first reader, so ``params`` sums to the model's weight bytes;
* ``sizeout``: bytes of the node's outputs.  Edges follow variable use; model
  inputs and literals make no edges.

``work`` is the roofline time on a :class:`~pjpart.hardware.Hardware` profile
(``max(flops / peak, bytes / hbm_bandwidth)``); the graph's ``meta`` records the
profile, FLOPs and the profile's :class:`~pjpart.CostModel`.

``granularity="module"`` groups equations by the first ``depth`` components of
their name stack (``jax.named_scope``, flax/haiku module paths, Keras layer
names).  Contracting arbitrary groups of a DAG can create a cycle, so a group is
cut into *runs of consecutive equations*: equation order is a topological
order, and contracting consecutive intervals of a topological order always
leaves every edge going forward, so the result is a DAG.  A scope interrupted by
another becomes several nodes (``name#2``, ...).

Example
-------
>>> import jax.numpy as jnp
>>> from pjpart.importers import from_jax
>>> def mlp(w, x):
...     return jnp.tanh(x @ w["a"]) @ w["b"]
>>> w = {"a": jnp.ones((4, 8)), "b": jnp.ones((8, 2))}
>>> g = from_jax(mlp, w, jnp.ones((3, 4)))
>>> g.n, int(g.meta["flops"]), int(g.params.sum())
(3, 312, 192)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..graph import Graph, GraphError

ELEMENTWISE = frozenset("""
add sub mul div rem pow integer_pow max min neg abs sign floor ceil round exp exp2 log log1p expm1 tanh
logistic sin cos tan asin acos atan atan2 sinh cosh asinh acosh atanh sqrt rsqrt cbrt erf erfc erf_inv
lgamma digamma square select_n clamp and or not xor eq ne lt le gt ge nextafter is_finite
shift_left shift_right_logical shift_right_arithmetic population_count imag real conj complex
""".split())
REDUCTIONS = frozenset("""
reduce_sum reduce_max reduce_min reduce_prod reduce_and reduce_or reduce_xor argmax argmin
cumsum cumprod cummax cummin cumlogsumexp
""".split())
CALLS = {"jit": "jaxpr", "pjit": "jaxpr", "closed_call": "call_jaxpr", "core_call": "call_jaxpr",
         "custom_jvp_call": "call_jaxpr", "custom_vjp_call": "call_jaxpr", "custom_vjp_call_jaxpr": "fun_jaxpr",
         "remat": "jaxpr", "checkpoint": "jaxpr", "custom_lin": None}
_TRANSFORM = re.compile(r"^\w+\(.*\)$")  # name-stack entries such as jvp(...) or transpose(...)


def _nbytes(aval: Any) -> float:
    try:
        return float(math.prod(aval.shape)) * np.dtype(aval.dtype).itemsize
    except TypeError:  # float0 and other non-numeric avals carry no data
        return 0.0


def _size(aval: Any) -> float:
    return float(math.prod(getattr(aval, "shape", ())))


def _is_literal(v: Any) -> bool:
    return type(v).__name__ == "Literal"


def _inner(eqn: Any):
    """The (jaxpr, consts) of an inlinable call equation, or None."""
    key = CALLS.get(eqn.primitive.name)
    if key is None or key not in eqn.params:
        return None
    sub = eqn.params[key]
    if hasattr(sub, "jaxpr"):  # ClosedJaxpr
        return sub.jaxpr, list(sub.consts)
    return sub, []


def eqn_flops(eqn: Any) -> float:
    """FLOPs of one equation by the rules in the module docstring."""
    name = eqn.primitive.name
    ins = [v.aval for v in eqn.invars]
    outs = [v.aval for v in eqn.outvars]
    out = sum(_size(a) for a in outs)
    if name == "dot_general":
        (lc, _), _ = eqn.params["dimension_numbers"]
        contracted = math.prod(ins[0].shape[d] for d in lc)
        return 2.0 * out * contracted
    if name == "conv_general_dilated":
        rhs = ins[1]
        out_feat = rhs.shape[eqn.params["dimension_numbers"].rhs_spec[0]]
        return 2.0 * out * (_size(rhs) / max(out_feat, 1))
    if name in ELEMENTWISE:
        return out
    if name in REDUCTIONS:
        return _size(ins[0]) if ins else out
    if name.startswith("reduce_window"):
        return out * math.prod(eqn.params.get("window_dimensions", (1,)))
    if name == "scan":
        return eqn.params["length"] * jaxpr_flops(eqn.params["jaxpr"].jaxpr)
    if name == "while":
        return jaxpr_flops(eqn.params["body_jaxpr"].jaxpr) + jaxpr_flops(eqn.params["cond_jaxpr"].jaxpr)
    if name == "cond":
        return max(jaxpr_flops(b.jaxpr) for b in eqn.params["branches"])
    inner = _inner(eqn)
    if inner is not None:
        return jaxpr_flops(inner[0])
    return 0.0


def jaxpr_flops(jaxpr: Any) -> float:
    """Total FLOPs of a jaxpr (calls inlined, control flow by :func:`eqn_flops`)."""
    return float(sum(eqn_flops(e) for e in jaxpr.eqns))


@dataclass
class _Op:
    prim: str
    scope: tuple
    flops: float
    bytes: float
    params: float
    sizeout: float
    dtype: str
    preds: set = field(default_factory=set)


def _dtype_key(eqn: Any) -> str:
    for v in eqn.invars:
        dt = getattr(v.aval, "dtype", None)
        if dt is not None:
            return np.dtype(dt).name
    return "float32"


def _flatten(jaxpr: Any, env: dict, weights: dict, scope: tuple, ops: list) -> list:
    """Append one _Op per equation of ``jaxpr`` (calls inlined); return the outputs' producers.

    ``env`` maps a variable to the index of the op producing it (or ``None`` for
    a model input); ``weights`` maps weight variables to their bytes until a
    reader claims them.
    """
    for eqn in jaxpr.eqns:
        stack = tuple(s for s in str(eqn.source_info.name_stack).split("/") if s and not _TRANSFORM.match(s))
        here = scope + stack
        inner = _inner(eqn)
        if inner is not None:
            sub, consts = inner
            sub_env = {}
            for var, outer in zip(sub.invars, eqn.invars):
                sub_env[var] = None if _is_literal(outer) else env.get(outer)
                if not _is_literal(outer) and outer in weights:
                    weights[var] = weights.pop(outer)  # the weight is read inside the call
            for var in sub.constvars:
                sub_env[var] = None
            results = _flatten(sub, sub_env, weights, here, ops)
            for var, prod in zip(eqn.outvars, results):
                env[var] = prod
            continue
        op = _Op(prim=eqn.primitive.name, scope=here, flops=eqn_flops(eqn),
                 bytes=sum(_nbytes(v.aval) for v in eqn.invars) + sum(_nbytes(v.aval) for v in eqn.outvars),
                 params=0.0, sizeout=sum(_nbytes(v.aval) for v in eqn.outvars), dtype=_dtype_key(eqn))
        idx = len(ops)
        for v in eqn.invars:
            if _is_literal(v):
                continue
            if v in weights:
                op.params += weights.pop(v)
            src = env.get(v)
            if src is not None:
                op.preds.add(src)
        ops.append(op)
        for v in eqn.outvars:
            env[v] = idx
    return [None if _is_literal(v) else env.get(v) for v in jaxpr.outvars]


def from_jax(fn: Callable, *example_args: Any, params_argnums: tuple = (0,), granularity: str = "op",
             depth: int = 1, hardware: Any = "h100", name: str = "jax") -> Graph:
    """Trace ``fn(*example_args)`` and return its computation graph (see the module docstring).

    Parameters
    ----------
    fn
        Any JAX-traceable function.
    *example_args
        Arguments to trace it with (arrays or pytrees of them; only shapes and dtypes matter).
    params_argnums
        The arguments holding the model's weights (pytrees); default the first.
    granularity
        ``"op"`` (one node per equation) or ``"module"`` (name-stack groups ``depth``
        deep, cut into consecutive runs so the result is a DAG).
    depth
        Name-stack components that make a group (``granularity="module"``; >= 1).
    hardware
        A profile name from ``configs/hardware`` or a :class:`~pjpart.hardware.Hardware`;
        ``work`` is the roofline time on it.
    name
        The graph's name.

    Returns
    -------
    Graph
        Nodes with ``work`` (seconds), ``params`` and ``sizeout`` (bytes); ``meta`` records
        the source, granularity, hardware profile, FLOPs, weight bytes and the profile's
        ``cost_model``.

    Raises
    ------
    GraphError
        On a bad ``granularity`` or ``depth``, or a function with no operations.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> def layer(w, x):
    ...     with jax.named_scope("dense"):
    ...         y = x @ w
    ...     with jax.named_scope("act"):
    ...         return jnp.tanh(y)
    >>> w, x = jnp.ones((4, 2)), jnp.ones((3, 4))
    >>> g = from_jax(layer, w, x)
    >>> g.ids, g.params.tolist(), g.sizeout.tolist(), g.meta["flops"]
    (('0:dot_general@dense', '1:tanh@act'), [32.0, 0.0], [24.0, 24.0], 54.0)
    >>> from_jax(layer, w, x, granularity="module", name="layer").ids
    ('dense', 'act')
    """
    import jax

    from ..hardware import load_hardware

    if granularity not in ("op", "module"):
        raise GraphError(f"granularity must be 'op' or 'module', got {granularity!r}")
    if depth < 1:
        raise GraphError(f"depth must be >= 1, got {depth}")
    hw = load_hardware(hardware) if isinstance(hardware, str) else hardware
    closed = jax.make_jaxpr(fn)(*example_args)
    jaxpr = closed.jaxpr
    leaves_per_arg = [len(jax.tree_util.tree_leaves(a)) for a in example_args]
    weights: dict = {}
    pos = 0
    for i, count in enumerate(leaves_per_arg):
        if i in params_argnums:
            for var in jaxpr.invars[pos: pos + count]:
                weights[var] = _nbytes(var.aval)
        pos += count
    env = {v: None for v in list(jaxpr.invars) + list(jaxpr.constvars)}
    ops: list[_Op] = []
    _flatten(jaxpr, env, weights, (), ops)
    if not ops:
        raise GraphError("the traced function has no operations")
    return _to_graph(ops, granularity, depth, hw, name)


def group_runs(keys: list) -> list[int]:
    """Group index per item: consecutive items with equal keys share a group (see module docstring)."""
    groups, last = [], object()
    for key in keys:
        if not groups or key != last:
            groups.append(len(groups) and groups[-1] + 1)
        else:
            groups.append(groups[-1])
        last = key
    return groups


def _to_graph(ops: list, granularity: str, depth: int, hw: Any, name: str) -> Graph:
    if granularity == "op":
        group = list(range(len(ops)))
        labels = [f"{i}:{op.prim}" + (f"@{'/'.join(op.scope)}" if op.scope else "") for i, op in enumerate(ops)]
    else:
        keys = [op.scope[:depth] if op.scope else ("<top>",) for op in ops]
        group = group_runs(keys)
        labels, seen = [], {}
        for g in range(group[-1] + 1):
            first = group.index(g)
            base = "/".join(keys[first])
            seen[base] = seen.get(base, 0) + 1
            labels.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    G = len(labels)
    flops, params = np.zeros(G), np.zeros(G)
    work = np.zeros(G)
    out_bytes = np.zeros(len(ops))
    edges = set()
    consumers_outside = [False] * len(ops)
    for i, op in enumerate(ops):
        g = group[i]
        flops[g] += op.flops
        params[g] += op.params
        work[g] += hw.op_time(op.flops, op.bytes, op.dtype)
        out_bytes[i] = op.sizeout
        for p in op.preds:
            if group[p] != g:
                edges.add((group[p], g))
                consumers_outside[p] = True
    # a group's output tensor: the outputs of its ops read outside it, or of its last op when none are
    sizeout = np.zeros(G)
    has_out = np.zeros(G, dtype=bool)
    for i in range(len(ops)):
        if consumers_outside[i]:
            sizeout[group[i]] += out_bytes[i]
            has_out[group[i]] = True
    for i in range(len(ops)):
        g = group[i]
        if not has_out[g] and (i + 1 == len(ops) or group[i + 1] != g):
            sizeout[g] = out_bytes[i]
    e = np.array(sorted(edges), dtype=np.int64).reshape(-1, 2)
    meta = {"source": "jax", "granularity": granularity, "hardware": hw.name, "flops": float(flops.sum()),
            "param_bytes": float(params.sum()), "cost_model": hw.cost_model().to_json()}
    return Graph.from_arrays(work=work, params=params, sizeout=sizeout, edges=e, ids=labels, name=name, meta=meta)
