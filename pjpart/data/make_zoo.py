"""Regenerate the bundled model zoo (``pjpart/data/zoo``): ``python -m pjpart.data.make_zoo``.

Needs Keras 3 on JAX (``pip install 'pjpart[zoo]'``) and, for the transformers,
``pip install --no-deps keras-hub && pip install regex tokenizers``.  No network:
every model is built from its published configuration with random weights
(``weights=None``), traced with :func:`pjpart.from_keras` and costed on the H100
profile (float32 weights and activations, TF32 matmuls).  Already written models
are skipped, so an interrupted run resumes; ``--only NAME`` rebuilds some.

CNNs: one node per Keras layer.  Transformers: the Keras top level is one layer
per transformer block, too coarse, so they are grouped by the name stack at
depth 3 (attention projections, attention core, feed-forward denses, norms).
A few models are also written at op granularity (one node per jaxpr equation).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time

ZOO_DIR = os.path.join(os.path.dirname(__file__), "zoo")
TEXT = {"token_ids": 512, "segment_ids": 512, "padding_mask": 512}

# (name, keras.applications constructor, input shape or None for the default, batch)
CNNS = [
    ("resnet50", "ResNet50"), ("resnet101", "ResNet101"), ("resnet152", "ResNet152"),
    ("resnet50v2", "ResNet50V2"), ("resnet101v2", "ResNet101V2"), ("resnet152v2", "ResNet152V2"),
    ("vgg16", "VGG16"), ("vgg19", "VGG19"), ("inceptionv3", "InceptionV3"),
    ("inceptionresnetv2", "InceptionResNetV2"), ("xception", "Xception"), ("mobilenet", "MobileNet"),
    ("mobilenetv2", "MobileNetV2"), ("mobilenetv3small", "MobileNetV3Small"),
    ("mobilenetv3large", "MobileNetV3Large"), ("densenet121", "DenseNet121"), ("densenet169", "DenseNet169"),
    ("densenet201", "DenseNet201"), ("nasnetmobile", "NASNetMobile"), ("efficientnetb0", "EfficientNetB0"),
    ("efficientnetb3", "EfficientNetB3"), ("efficientnetv2b0", "EfficientNetV2B0"),
    ("efficientnetv2s", "EfficientNetV2S"), ("convnexttiny", "ConvNeXtTiny"), ("convnextbase", "ConvNeXtBase"),
]
CNN_BATCH = 8


def transformers(keras_hub):
    """(name, builder, sizes, note): published configurations, random initialisation."""
    m = keras_hub.models
    return [
        ("bert-base", lambda: m.BertBackbone(vocabulary_size=30522, num_layers=12, num_heads=12, hidden_dim=768,
                                             intermediate_dim=3072, max_sequence_length=512), TEXT, "BERT-base"),
        ("bert-large", lambda: m.BertBackbone(vocabulary_size=30522, num_layers=24, num_heads=16, hidden_dim=1024,
                                              intermediate_dim=4096, max_sequence_length=512), TEXT, "BERT-large"),
        ("gpt2-small", lambda: m.GPT2Backbone(vocabulary_size=50257, num_layers=12, num_heads=12, hidden_dim=768,
                                              intermediate_dim=3072, max_sequence_length=1024), TEXT, "GPT-2 124M"),
        ("gpt2-medium", lambda: m.GPT2Backbone(vocabulary_size=50257, num_layers=24, num_heads=16, hidden_dim=1024,
                                               intermediate_dim=4096, max_sequence_length=1024), TEXT,
         "GPT-2 355M"),
        ("llama-1b-gqa", lambda: m.LlamaBackbone(vocabulary_size=128256, num_layers=16, num_query_heads=32,
                                                 num_key_value_heads=8, hidden_dim=2048, intermediate_dim=8192),
         TEXT, "Llama 3.2 1B configuration: grouped-query attention, 32 query / 8 key-value heads"),
        ("vit-b16", lambda: m.ViTBackbone(image_shape=(224, 224, 3), patch_size=16, num_layers=12, num_heads=12,
                                          hidden_dim=768, mlp_dim=3072), {}, "ViT-B/16"),
        ("t5-base", lambda: m.T5Backbone(vocabulary_size=32128, num_layers=12, num_heads=12, hidden_dim=768,
                                         intermediate_dim=3072), TEXT, "T5-base encoder-decoder"),
        ("mixtral-8x7b-2l", lambda: m.MixtralBackbone(vocabulary_size=32000, num_layers=2, num_query_heads=32,
                                                      num_key_value_heads=8, hidden_dim=4096, intermediate_dim=14336,
                                                      num_experts=8, top_k=2, dtype="bfloat16"),
         {"token_ids": 128, "padding_mask": 128},
         "Mixtral 8x7B layer configuration (8 experts, top-2, GQA) in bfloat16, 2 of its 32 layers: random "
         "weights for more do not fit this 24 GiB machine"),
    ]


OP_GRANULARITY = ["resnet50", "mobilenetv2", "bert-base"]


def write(graph, name: str, extra: dict) -> None:
    graph.meta.update(extra)
    data = graph.to_json()
    data["name"] = name
    with gzip.open(os.path.join(ZOO_DIR, f"{name}.json.gz"), "wt") as fh:
        json.dump(data, fh, separators=(",", ":"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)
    from pjpart.importers.keras import from_keras, import_keras

    keras = import_keras()
    os.makedirs(ZOO_DIR, exist_ok=True)
    jobs = [(name, "cnn", ctor, None, None) for name, ctor in CNNS]
    try:
        import keras_hub

        jobs += [(name, "transformer", build, sizes, note) for name, build, sizes, note in transformers(keras_hub)]
    except ImportError:
        print("keras_hub not installed: transformers skipped", file=sys.stderr)
    for name, family, ctor, sizes, note in jobs:
        if args.only is not None and name not in args.only:
            continue
        targets = [(name, "module")] + ([(f"{name}-op", "op")] if name in OP_GRANULARITY else [])
        if args.only is None and all(os.path.exists(os.path.join(ZOO_DIR, f"{t}.json.gz")) for t, _ in targets):
            continue
        t0 = time.perf_counter()
        keras.backend.clear_session()
        if family == "cnn":
            model = getattr(keras.applications, ctor)(weights=None)
            if None in tuple(model.input.shape)[1:]:  # e.g. MobileNetV3: no default resolution
                model = getattr(keras.applications, ctor)(weights=None, input_shape=(224, 224, 3))
            batch, depth, source = CNN_BATCH, 1, f"keras.applications.{ctor}(weights=None)"
        else:
            model = ctor()
            # the MoE's experts sit one level deeper: depth 4 shows them as parallel branches
            batch, depth, source = 1, 4 if name.startswith("mixtral") else 3, f"keras_hub {note}"
        for target, gran in targets:
            try:
                g = from_keras(model, batch_size=batch, sizes=sizes, depth=depth, granularity=gran, name=target)
            except Exception as exc:  # one broken model must not stop the zoo
                print(f"{target}: FAILED {type(exc).__name__}: {exc}", flush=True)
                continue
            write(g, target, {"source": source, "family": family, "batch_size": batch, "hardware": "h100",
                              "granularity": "layer" if gran == "module" else "op",
                              "n": g.n, "m": g.m, "dtype": "float32"})
            print(f"{target:<22} n={g.n:>5} m={g.m:>5} GFLOP={g.meta['flops'] / 1e9:9.2f} "
                  f"params={g.params.sum() / 1e6:9.1f} MB  {time.perf_counter() - t0:6.1f} s", flush=True)
        del model
    from pjpart.zoo import build_index

    idx = build_index(ZOO_DIR)
    print(f"index: {len(idx)} graphs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
