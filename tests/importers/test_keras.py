"""The Keras importer (the optional 'zoo' extra): one node per layer, hand-counted FLOPs."""

import pytest

import pjpart


def test_keras_functional_model_one_node_per_layer():
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="Keras is the optional 'zoo' extra; the core install has none")
    x = keras.Input((8,), name="x")
    h = keras.layers.Dense(4, name="d1")(x)
    a = keras.layers.Dense(3, name="left")(h)
    b = keras.layers.Dense(3, name="right")(h)
    y = keras.layers.Add(name="join")([a, b])
    model = keras.Model(x, y)
    g = pjpart.from_keras(model, batch_size=2)
    assert g.ids == ("d1", "left", "right", "join")
    assert {tuple(e) for e in g.edges.tolist()} == {(0, 1), (0, 2), (1, 3), (2, 3)}
    # dense: 2*batch*in*out + bias adds; join: one add per element
    assert g.meta["flops"] == (2 * 2 * 8 * 4 + 8) + 2 * (2 * 2 * 4 * 3 + 6) + 6
    assert g.params.sum() == model.count_params() * 4
    assert g.sizeout.tolist() == [2 * 4 * 4, 2 * 3 * 4, 2 * 3 * 4, 2 * 3 * 4]
