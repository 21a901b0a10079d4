"""FLOPs of ONNX operators from their static shapes and attributes (the rules of :func:`pjpart.from_onnx`).

A multiply-add is 2 FLOPs.  ``out`` is the number of output elements, ``in`` of the
first input's:

==========================================  ================================================
operator                                    FLOPs
==========================================  ================================================
MatMul (and MatMulInteger, QLinearMatMul)   ``2 * out * K`` (``K``: A's last dimension)
Gemm                                        ``2 * M * N * K``, ``+ M * N`` with a bias ``C``
Conv (ConvInteger, QLinearConv)             ``2 * out * (C_in / group) * kernel``, ``+ out`` with a bias
ConvTranspose                               ``2 * in * (C_out / group) * kernel``, ``+ out`` with a bias
Attention (ai.onnx, opset 23)               ``B * H * S_q * S_kv * (2 * D + 2 * D_v + 5)``: Q K^T,
                                            softmax (5 per score) and the product with V
Einsum                                      ``2 * out * (product of the contracted dimensions)``
                                            per operand after the first
Softmax, LogSoftmax                         5 per element (max, subtract, exp, sum, divide)
LayerNormalization                          5 per element (mean, subtract, square, mean, scale),
                                            +1 for the scale, +1 for a bias
RMSNormalization, SimplifiedLayerNormalization  3 per element (square, mean, scale), +1 for the scale
BatchNormalization                          2 per element (inference: one multiply-add)
InstanceNormalization, GroupNormalization   7 per element (as LayerNormalization with scale and bias)
elementwise ops (Add, Relu, Gelu, Where...) 1 per output element
Sum, Mean, Max, Min (variadic)              ``(inputs - 1)`` per output element
reductions (ReduceSum, ArgMax, CumSum...)   1 per input element
MaxPool, AveragePool, LpPool                ``kernel`` per output element
GlobalAveragePool, GlobalMaxPool            1 per input element
data movement (Reshape, Gather, Concat...)  0
==========================================  ================================================

Any other operator has no rule: it is counted as 0 FLOPs (its time is then its memory
traffic) and named in the graph's ``meta["unknown_ops"]``.

>>> node_flops("MatMul", {}, [(2, 3, 4), (4, 5)], [(2, 3, 5)])
240.0
>>> node_flops("Gemm", {"transB": 1}, [(8, 16), (32, 16), (32,)], [(8, 32)])
8448.0
>>> node_flops("MyCustomOp", {}, [(4,)], [(4,)]) is None
True
"""

from __future__ import annotations

import math

ELEMENTWISE = frozenset("""
Add Sub Mul Div Pow Mod Neg Abs Sqrt Reciprocal Exp Log Tanh Sigmoid Relu LeakyRelu PRelu Elu Selu Celu
HardSigmoid HardSwish Softplus Softsign Erf Gelu FastGelu BiasGelu Mish Sin Cos Tan Asin Acos Atan Sinh Cosh
Asinh Acosh Atanh Floor Ceil Round Sign Clip Where Equal Less LessOrEqual Greater GreaterOrEqual And Or Xor Not
BitShift BitwiseAnd BitwiseOr BitwiseXor BitwiseNot IsNaN IsInf ThresholdedRelu Shrink QuantizeLinear
DequantizeLinear DynamicQuantizeLinear QuickGelu
""".split())
VARIADIC = frozenset({"Sum", "Mean", "Max", "Min"})
REDUCTIONS = frozenset("""
ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp
ReduceSumSquare ArgMax ArgMin CumSum
""".split())
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool"})
GLOBAL_POOLS = frozenset({"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
PER_ELEMENT = {"Softmax": 5, "LogSoftmax": 5, "BatchNormalization": 2, "InstanceNormalization": 7,
               "GroupNormalization": 7, "LpNormalization": 3, "MeanVarianceNormalization": 5}
MOVEMENT = frozenset("""
Reshape Transpose Concat Split Slice Gather GatherElements GatherND Scatter ScatterElements ScatterND Squeeze
Unsqueeze Flatten Identity Cast CastLike Shape Size Expand Tile Pad Resize Upsample DepthToSpace SpaceToDepth
ConstantOfShape Range OneHot NonZero TopK Dropout Trilu EyeLike Compress ReverseSequence Unique Optional
OptionalGetElement OptionalHasElement SequenceAt SequenceConstruct SequenceEmpty SequenceInsert SequenceLength
SplitToSequence ConcatFromSequence Constant Col2Im CenterCropPad
""".split())


def _size(shape) -> float:
    return float(math.prod(shape))


def _einsum(equation: str, ins: list, out: tuple) -> float:
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    operands = lhs.split(",")
    sizes: dict = {}
    for subs, shape in zip(operands, ins):
        head, dots, tail = subs.partition("...")
        dims = list(shape[:len(head)]) + (list(shape[len(shape) - len(tail):]) if dots and tail else [])
        for letter, dim in zip(head + (tail if dots else ""), dims if dots else shape):
            sizes[letter] = max(sizes.get(letter, 1), dim)
    if not arrow:  # implicit output: the letters that appear once
        rhs = "".join(c for c in sizes if lhs.count(c) == 1)
    if len(operands) == 1:  # a reduction or a transpose of one operand
        return float(math.prod(sizes.values())) if set(sizes) - set(rhs) else 0.0
    contracted = math.prod(sizes[c] for c in sizes if c not in rhs)
    return 2.0 * _size(out) * contracted * (len(operands) - 1)


def _attention(attrs: dict, ins: list) -> float:
    q, k, v = ins[0], ins[1], ins[2]
    if len(q) == 4:
        batch, heads, s_q, d = q
        s_kv, d_v = k[2], v[3]
    else:
        heads = int(attrs.get("q_num_heads", 1))
        kv_heads = int(attrs.get("kv_num_heads", heads))
        batch, s_q, hidden = q
        d = hidden / heads
        s_kv, d_v = k[1], v[2] / kv_heads
    if len(ins) > 4 and ins[4] is not None:  # past_key: (B, H_kv, S_past, D)
        s_kv += ins[4][2]
    return float(batch * heads * s_q * s_kv * (2 * d + 2 * d_v + 5))


def node_flops(op: str, attrs: dict, ins: list, outs: list) -> float | None:
    """FLOPs of one ONNX node by the module's rules; ``None`` for an operator without one.

    Parameters
    ----------
    op
        The node's ``op_type``.
    attrs
        Its attributes (``name -> value``, as :func:`onnx.helper.get_attribute_value` gives them).
    ins, outs
        The static shapes (tuples of ints) of its inputs and outputs, ``None`` for a missing
        optional input.

    Returns
    -------
    float or None

    Examples
    --------
    >>> node_flops("Conv", {"group": 1}, [(1, 3, 8, 8), (4, 3, 3, 3), (4,)], [(1, 4, 8, 8)])
    14080.0
    >>> node_flops("LayerNormalization", {}, [(2, 4), (4,), (4,)], [(2, 4)])
    56.0
    """
    out = _size(outs[0]) if outs and outs[0] is not None else 0.0
    first = _size(ins[0]) if ins and ins[0] is not None else 0.0
    has = lambda i: len(ins) > i and ins[i] is not None  # noqa: E731
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        return 2.0 * out * ins[0][-1]  # QLinearMatMul's A is its first input too
    if op == "Gemm":
        a = ins[0]
        k = a[0] if attrs.get("transA", 0) else a[1]
        return 2.0 * out * k + (out if has(2) else 0.0)
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        w = ins[3] if op == "QLinearConv" else ins[1]
        bias = has(8) if op == "QLinearConv" else has(2) and op == "Conv"
        return 2.0 * out * _size(w[1:]) + (out if bias else 0.0)
    if op == "ConvTranspose":
        return 2.0 * first * _size(ins[1][1:]) + (out if has(2) else 0.0)
    if op == "Attention":
        return _attention(attrs, ins)
    if op == "Einsum":
        return _einsum(str(attrs.get("equation", "")), ins, outs[0])
    if op == "LayerNormalization":
        return first * (6 + (1 if has(2) else 0))
    if op in ("RMSNormalization", "SimplifiedLayerNormalization"):
        return first * 4
    if op in PER_ELEMENT:
        return first * PER_ELEMENT[op]
    if op in VARIADIC:
        return out * (len([s for s in ins if s is not None]) - 1)
    if op in ELEMENTWISE:
        return out
    if op in REDUCTIONS:
        return first
    if op in POOLS:
        return out * math.prod(attrs.get("kernel_shape", (1,)))
    if op in GLOBAL_POOLS:
        return first
    if op in MOVEMENT:
        return 0.0
    return None


__all__ = ["node_flops"]
