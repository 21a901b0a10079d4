"""Regenerate the bundled example graphs: ``python -m pjpart.data.make_examples``.

* ``tiny.json``: six ops, small integer costs, checkable by hand (README, tests).
* ``resnet50.json.gz``: ResNet-50 (He et al., 2016) at layer granularity, built
  from its published architecture (no framework needed): one node per conv /
  batch-norm / relu / add / pool / dense layer, as Keras lays it out.  Costs for
  batch 8 in float16 on a PCIe-attached accelerator class chip: 100 TFLOP/s
  peak, 1.5 TB/s memory, 25 GB/s link (``cost_model.bandwidth``).  ``work`` is
  the roofline time ``max(flops / peak, bytes moved / memory bandwidth)``
  in seconds; ``params`` and ``sizeout`` in bytes.
"""

from __future__ import annotations

import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PEAK_FLOPS = 100e12
MEM_BW = 1.5e12
LINK_BW = 25e9
BATCH = 8
BYTES = 2  # float16


def tiny() -> dict:
    nodes = [
        {"id": "input", "work": 1, "params": 0, "sizeout": 4},
        {"id": "conv_a", "work": 6, "params": 3, "sizeout": 2},
        {"id": "conv_b", "work": 4, "params": 2, "sizeout": 2},
        {"id": "add", "work": 1, "params": 0, "sizeout": 2},
        {"id": "dense", "work": 5, "params": 4, "sizeout": 1},
        {"id": "softmax", "work": 1, "params": 0, "sizeout": 1},
    ]
    edges = [["input", "conv_a"], ["input", "conv_b"], ["conv_a", "add"], ["conv_b", "add"],
             ["add", "dense"], ["dense", "softmax"]]
    return {"name": "tiny", "units": {"work": "us", "params": "KiB", "sizeout": "KiB"},
            "nodes": nodes, "edges": edges}


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.edges: list[list[str]] = []

    def add(self, name: str, inputs: list[str], flops: float, params: int, out_elems: int,
            in_elems: int) -> str:
        moved = (params + out_elems + in_elems) * BYTES
        work = max(flops / PEAK_FLOPS, moved / MEM_BW)
        self.nodes.append({"id": name, "work": work, "params": params * BYTES, "sizeout": out_elems * BYTES})
        self.edges.extend([src, name] for src in inputs)
        return name


def resnet50() -> dict:
    b = _Builder()
    shapes: dict[str, tuple[int, int, int]] = {}

    def elems(s):
        return BATCH * s[0] * s[1] * s[2]

    def conv(name, x, cout, ksize, stride):
        h, w, cin = shapes[x]
        ho, wo = (h + stride - 1) // stride, (w + stride - 1) // stride
        params = ksize * ksize * cin * cout + cout
        flops = 2 * BATCH * ho * wo * cout * ksize * ksize * cin
        shapes[name] = (ho, wo, cout)
        return b.add(name, [x], flops, params, elems(shapes[name]), elems(shapes[x]))

    def unary(name, x, flops_per=1, params=0):
        shapes[name] = shapes[x]
        return b.add(name, [x], flops_per * elems(shapes[x]), params, elems(shapes[x]), elems(shapes[x]))

    def bn(name, x):
        return unary(name, x, 4, 4 * shapes[x][2])

    def add(name, xs):
        shapes[name] = shapes[xs[0]]
        return b.add(name, xs, elems(shapes[name]), 0, elems(shapes[name]), 2 * elems(shapes[name]))

    shapes["input"] = (224, 224, 3)
    b.add("input", [], 0, 0, elems(shapes["input"]), 0)
    x = conv("conv1_conv", "input", 64, 7, 2)
    x = bn("conv1_bn", x)
    x = unary("conv1_relu", x)
    h, w, c = shapes[x]
    shapes["pool1_pool"] = (h // 2, w // 2, c)
    x = b.add("pool1_pool", [x], 9 * elems(shapes["pool1_pool"]), 0, elems(shapes["pool1_pool"]), elems((h, w, c)))
    for stage, (filters, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], start=2):
        for blk in range(1, blocks + 1):
            p = f"conv{stage}_block{blk}"
            s = stride if blk == 1 else 1
            if blk == 1:
                sc = conv(f"{p}_0_conv", x, 4 * filters, 1, s)
                sc = bn(f"{p}_0_bn", sc)
            else:
                sc = x
            y = conv(f"{p}_1_conv", x, filters, 1, s)
            y = unary(f"{p}_1_relu", bn(f"{p}_1_bn", y))
            y = conv(f"{p}_2_conv", y, filters, 3, 1)
            y = unary(f"{p}_2_relu", bn(f"{p}_2_bn", y))
            y = conv(f"{p}_3_conv", y, 4 * filters, 1, 1)
            y = bn(f"{p}_3_bn", y)
            y = add(f"{p}_add", [sc, y])
            x = unary(f"{p}_out", y)
    h, w, c = shapes[x]
    shapes["avg_pool"] = (1, 1, c)
    x = b.add("avg_pool", [x], elems((h, w, c)), 0, elems((1, 1, c)), elems((h, w, c)))
    shapes["predictions"] = (1, 1, 1000)
    b.add("predictions", [x], 2 * BATCH * c * 1000, c * 1000 + 1000, BATCH * 1000, BATCH * c)
    return {
        "name": "resnet50",
        "units": {"work": "s", "params": "B", "sizeout": "B"},
        "source": "ResNet-50 (He et al. 2016), layer granularity, batch 8, float16",
        "cost_model": {"bandwidth": LINK_BW},
        "nodes": b.nodes,
        "edges": b.edges,
    }


def main() -> None:
    with open(os.path.join(HERE, "tiny.json"), "w") as fh:
        json.dump(tiny(), fh, indent=1)
    with gzip.GzipFile(os.path.join(HERE, "resnet50.json.gz"), "wb", mtime=0) as fh:
        fh.write(json.dumps(resnet50()).encode())


if __name__ == "__main__":
    main()
