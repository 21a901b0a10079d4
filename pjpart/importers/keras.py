"""``from_keras``: one node per layer of a Keras 3 model on the JAX backend.

The model's stateless call is traced to a jaxpr (:func:`from_jax`), with the
model's trainable and non-trainable variables as the weights, and equations are
grouped by the Keras layer name that Keras puts on the JAX name stack
(``depth=1``; nested models such as keras_hub backbones need ``depth=2`` or 3).
So per layer: FLOPs from its traced JAX computation, ``params`` from the
weights it reads, ``sizeout`` from its output, edges from the layer graph as
the data actually flows.

Keras is optional (``pip install pjpart[zoo]``) and imported here only; the
backend must be JAX (``KERAS_BACKEND=jax``, set by default if Keras is not yet
imported).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..graph import Graph, GraphError
from .jaxpr import from_jax


def import_keras():
    """Import Keras on the JAX backend, or fail with a clear message."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as exc:
        raise GraphError("from_keras needs Keras 3: pip install 'pjpart[zoo]' (or pip install keras)") from exc
    if keras.backend.backend() != "jax":
        raise GraphError(f"from_keras needs the JAX backend of Keras, this process uses "
                         f"{keras.backend.backend()!r}; set KERAS_BACKEND=jax before importing keras")
    return keras


def example_inputs(model: Any, batch_size: int = 1, sizes: dict | None = None) -> Any:
    """Zero arrays shaped like the model's inputs; ``None`` dims are the batch (first) or ``sizes[name]``."""
    keras = import_keras()
    sizes = sizes or {}

    def make(t: Any):
        shape = []
        for i, d in enumerate(t.shape):
            if d is not None:
                shape.append(int(d))
            elif i == 0:
                shape.append(batch_size)
            else:
                name = getattr(t, "name", "") or ""
                key = next((k for k in sizes if k in name), None)
                if key is None:
                    raise GraphError(f"input {name!r} has an unknown dimension {i}; pass sizes={{{name!r}: N}}")
                shape.append(int(sizes[key]))
        return np.zeros(shape, dtype=np.dtype(t.dtype))

    return keras.tree.map_structure(make, model.input)


def from_keras(model: Any, *, batch_size: int = 1, sizes: dict | None = None, hardware: Any = "h100",
               depth: int = 1, granularity: str = "module", name: str | None = None) -> Graph:
    """The layer graph of a built Keras 3 functional model (see the module docstring).

    Parameters
    ----------
    model
        A built Keras 3 model (functional, on the JAX backend).
    batch_size
        The size of an input's first dimension where it is ``None`` (the batch); the
        model is traced on zero arrays of the inputs' shapes.
    sizes
        The size of any other ``None`` dimension, by (part of) the input's name: ``{name: N}``.
    hardware, depth, granularity
        As in :func:`from_jax`; ``granularity="module"`` (the default) with ``depth=1``
        makes one node per layer (nested models such as keras_hub backbones need
        ``depth=2`` or 3).
    name
        The graph's name; the model's by default.

    Returns
    -------
    Graph
        One node per layer (``granularity="module"``); ``meta`` also records ``source``
        (``"keras"``), ``batch_size`` and ``input_shape``.

    Raises
    ------
    GraphError
        When Keras 3 is not installed (``pip install 'pjpart[zoo]'``), the process uses
        another Keras backend, or an input has an unknown dimension not in ``sizes``.

    Examples
    --------
    Keras is optional, so the tests skip this example.  The JAX backend is chosen before
    Keras is first imported:

    >>> import os
    >>> os.environ["KERAS_BACKEND"] = "jax"                              # doctest: +SKIP
    >>> import keras                                                     # doctest: +SKIP
    >>> inputs = keras.Input((4,), name="x")                             # doctest: +SKIP
    >>> hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)  # doctest: +SKIP
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden), name="mlp")  # doctest: +SKIP
    >>> g = from_keras(model)                                            # doctest: +SKIP
    >>> g.name, g.ids, g.params.tolist(), g.meta["input_shape"]         # doctest: +SKIP
    ('mlp', ('hidden', 'head'), [160.0, 72.0], [[1, 4]])
    """
    import_keras()
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    inputs = example_inputs(model, batch_size, sizes)

    def forward(tv, ntv, x):
        return model.stateless_call(tv, ntv, x, training=False)[0]

    graph = from_jax(forward, trainable, non_trainable, inputs, params_argnums=(0, 1), granularity=granularity,
                     depth=depth, hardware=hardware, name=name or model.name)
    graph.meta.update({"source": "keras", "batch_size": batch_size,
                       "input_shape": [list(a.shape) for a in _leaves(inputs)]})
    return graph


def _leaves(tree: Any) -> list:
    import jax

    return jax.tree_util.tree_leaves(tree)
