#!/usr/bin/env python3
"""Writes the kernel cases of the int8 property tests (tests/quant.rs).

Each case is a small float ONNX model around one integer kernel (a Conv of a
given geometry, Gemm, batched MatMul, broadcast Add/Sub/Mul, Concat, the
pools, lookup-table activations, data movement, MatMul of two activations
with and without broadcast batch axes, Softmax along the last axis, an
attention block Transpose/Mul/MatMul/Softmax/MatMul; pad_constant,
pad_reflect, resize_nearest, resize_bilinear (half_pixel),
resize_bilinear_align_corners, conv_transpose (stride 2, pads,
output_padding, group 2), conv_transpose_1d, reduce_mean_last_axis
(keepdims 0, axes as an input), reduce_mean_spatial (axes [2, 3], keepdims
1); layer_norm_last_axis, layer_norm_two_axes (Scale over both normalized
axes, B broadcast along the first), layer_norm_no_bias, layer_norm_relu (a
fused Relu)) with random weights, plus

    <case>.onnx         the model, fixed shapes
    <case>_calib.npz    16 random calibration samples per input
    <case>_codes.npz    8 random int8 samples per input (for --io int8)

qcc quantizes each model, and the generated Rust and C must reproduce the
integer oracle bit for bit on the random codes. Needs numpy and onnx only.
Run: python make_kernel_cases.py OUT_DIR
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.RandomState(7)


def conv(name, x, c_in, c_out, k, out, **attrs):
    """A Conv node with random weights and bias as initializers."""
    group = attrs.get("group", 1)
    ks = k if isinstance(k, (list, tuple)) else [k, k]
    w = rng.randn(c_out, c_in // group, *ks).astype(np.float32) * 0.3
    b = rng.randn(c_out).astype(np.float32) * 0.2
    inits = [numpy_helper.from_array(w, name + "_w"), numpy_helper.from_array(b, name + "_b")]
    node = helper.make_node("Conv", [x, name + "_w", name + "_b"], [out], name=name, kernel_shape=ks, **attrs)
    return [node], inits


def case(name, nodes, inits, inputs, output, opset=17):
    return name, nodes, inits, inputs, output, opset


def cases():
    out = []
    # Convolutions of every geometry.
    for name, c_in, c_out, k, attrs, hw in [
        ("conv_regular", 3, 8, 3, dict(pads=[1, 1, 1, 1]), 9),
        ("conv_depthwise", 8, 8, 3, dict(group=8, strides=[2, 2], pads=[1, 1, 1, 1]), 10),
        ("conv_grouped", 8, 12, 3, dict(group=4, dilations=[2, 2], pads=[2, 2, 2, 2]), 9),
        ("conv_1x1", 8, 16, 1, dict(), 5),
        ("conv_strided_asym", 4, 6, [5, 3], dict(strides=[3, 2], pads=[0, 1, 2, 0]), 11),
    ]:
        n, i = conv(name, "x", c_in, c_out, k, "y", **attrs)
        out.append(case(name, n, i, [("x", [1, c_in, hw, hw])], ("y", None)))
    n, i = conv("conv_1d", "x", 4, 5, [3], "y", pads=[1, 1], strides=[2])
    out.append(case("conv_1d", n, i, [("x", [1, 4, 20])], ("y", None)))
    n, i = conv("c", "x", 3, 6, 3, "h", pads=[1, 1, 1, 1])
    out.append(case("conv_relu", n + [helper.make_node("Relu", ["h"], ["y"])], i, [("x", [2, 3, 6, 6])], ("y", None)))
    lo, hi = numpy_helper.from_array(np.array(0, np.float32), "lo"), numpy_helper.from_array(np.array(0.5, np.float32), "hi")
    out.append(case("conv_clip", n + [helper.make_node("Clip", ["h", "lo", "hi"], ["y"])], i + [lo, hi], [("x", [1, 3, 6, 6])], ("y", None)))
    # BatchNormalization after a Conv without bias: folded before quantization.
    w = numpy_helper.from_array(rng.randn(5, 3, 3, 3).astype(np.float32) * 0.3, "bn_w")
    stats = [rng.rand(5) + 0.5, rng.randn(5) * 0.2, rng.randn(5) * 0.3, rng.rand(5) + 0.2]
    stats = [numpy_helper.from_array(s.astype(np.float32), n) for s, n in zip(stats, ["bn_s", "bn_b", "bn_m", "bn_v"])]
    bn = [
        helper.make_node("Conv", ["x", "bn_w"], ["h"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["h", "bn_s", "bn_b", "bn_m", "bn_v"], ["n"]),
        helper.make_node("Relu", ["n"], ["y"]),
    ]
    out.append(case("conv_batchnorm_relu", bn, [w] + stats, [("x", [1, 3, 6, 6])], ("y", None)))
    # Matrix products.
    w = numpy_helper.from_array(rng.randn(10, 16).astype(np.float32), "w")
    c = numpy_helper.from_array(rng.randn(10).astype(np.float32), "c")
    g = helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1, alpha=0.5, beta=2.0)
    out.append(case("gemm", [g], [w, c], [("x", [4, 16])], ("y", None)))
    w = numpy_helper.from_array(rng.randn(16, 12).astype(np.float32) * 0.2, "w")
    b = numpy_helper.from_array(rng.randn(12).astype(np.float32), "b")
    mm = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    out.append(case("matmul_batched_add", mm, [w, b], [("x", [2, 5, 16])], ("y", None)))
    # Elementwise with broadcasting, two inputs.
    for op in ["Add", "Sub", "Mul"]:
        node = helper.make_node(op, ["a", "b"], ["y"])
        out.append(case(f"{op.lower()}_broadcast", [node], [], [("a", [1, 4, 5, 6]), ("b", [1, 1, 5, 6])], ("y", None)))
    k = numpy_helper.from_array(np.array(3.0, np.float32), "k")
    out.append(case("div_scalar", [helper.make_node("Div", ["x", "k"], ["y"])], [k], [("x", [1, 3, 4, 4])], ("y", None)))
    # Concat of two convolutions with different ranges.
    n1, i1 = conv("c1", "x", 3, 4, 3, "p", pads=[1, 1, 1, 1])
    n2, i2 = conv("c2", "x", 3, 2, 1, "q")
    cat = helper.make_node("Concat", ["p", "q"], ["y"], axis=1)
    out.append(case("concat_rescale", n1 + n2 + [cat], i1 + i2, [("x", [1, 3, 6, 6])], ("y", None)))
    # Pools.
    pools = [
        ("maxpool", helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
        ("avgpool_pad", helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
        ("avgpool_nopad", helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 2], strides=[1, 2], pads=[1, 0, 1, 1])),
        ("global_avgpool", helper.make_node("GlobalAveragePool", ["x"], ["y"])),
        ("global_maxpool", helper.make_node("GlobalMaxPool", ["x"], ["y"])),
    ]
    for name, node in pools:
        out.append(case(name, [node], [], [("x", [1, 3, 7, 7])], ("y", None)))
    # Lookup-table activations.
    for op, attrs in [("Sigmoid", {}), ("Tanh", {}), ("LeakyRelu", dict(alpha=0.1)), ("HardSwish", {}), ("Exp", {}), ("Erf", {}), ("Relu", {})]:
        node = helper.make_node(op, ["x"], ["y"], **attrs)
        out.append(case(f"lut_{op.lower()}", [node], [], [("x", [1, 2, 4, 4])], ("y", None)))
    # Elementwise chains on one input, each compiled to one table: GELU as
    # exported at opset 17, HardSwish as Paddle exports it, x * sigmoid(x).
    scalars = {n: numpy_helper.from_array(np.array(v, np.float32), n) for n, v in
               [("sqrt2", 2 ** 0.5), ("one", 1.0), ("half", 0.5), ("three", 3.0), ("six", 6.0), ("zero", 0.0)]}
    gelu = [
        helper.make_node("Div", ["x", "sqrt2"], ["g1"]),
        helper.make_node("Erf", ["g1"], ["g2"]),
        helper.make_node("Add", ["g2", "one"], ["g3"]),
        helper.make_node("Mul", ["x", "g3"], ["g4"]),
        helper.make_node("Mul", ["g4", "half"], ["y"]),
    ]
    hswish = [
        helper.make_node("Add", ["x", "three"], ["h1"]),
        helper.make_node("Clip", ["h1", "zero", "six"], ["h2"]),
        helper.make_node("Mul", ["x", "h2"], ["h3"]),
        helper.make_node("Div", ["h3", "six"], ["y"]),
    ]
    silu = [helper.make_node("Sigmoid", ["x"], ["s1"]), helper.make_node("Mul", ["x", "s1"], ["y"])]
    for name, nodes, used in [("chain_gelu", gelu, ["sqrt2", "one", "half"]), ("chain_hardswish", hswish, ["three", "zero", "six"]), ("chain_silu", silu, [])]:
        out.append(case(name, nodes, [scalars[u] for u in used], [("x", [1, 3, 4, 4])], ("y", None)))
    # Data movement on codes.
    shape = numpy_helper.from_array(np.array([1, 6, 9], np.int64), "shape")
    starts, ends = numpy_helper.from_array(np.array([1], np.int64), "starts"), numpy_helper.from_array(np.array([8], np.int64), "ends")
    axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
    n, i = conv("c", "x", 2, 6, 3, "h", pads=[1, 1, 1, 1])
    moves = n + [
        helper.make_node("Reshape", ["h", "shape"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
        helper.make_node("Slice", ["t", "starts", "ends", "axes"], ["s"]),
        helper.make_node("Flatten", ["s"], ["y"]),
    ]
    out.append(case("data_movement", moves, i + [shape, starts, ends, axes], [("x", [1, 2, 3, 3])], ("y", None)))
    # Products of two activations, softmax, and an attention block on codes.
    mm = helper.make_node("MatMul", ["a", "b"], ["y"])
    out.append(case("matmul_activations", [mm], [], [("a", [2, 3, 5, 7]), ("b", [2, 3, 7, 4])], ("y", None)))
    out.append(case("matmul_broadcast_batch", [mm], [], [("a", [1, 5, 7]), ("b", [3, 7, 4])], ("y", None)))
    sm = helper.make_node("Softmax", ["x"], ["y"], axis=-1)
    out.append(case("softmax_last_axis", [sm], [], [("x", [2, 3, 6, 9])], ("y", None)))
    scale = numpy_helper.from_array(np.array(0.25, np.float32), "scale")
    attention = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("Mul", ["q", "scale"], ["qs"]),
        helper.make_node("MatMul", ["qs", "kt"], ["s"]),
        helper.make_node("Softmax", ["s"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"]),
    ]
    qkv = [(n, [1, 2, 8, 16]) for n in "qkv"]
    out.append(case("attention", attention, [scale], qkv, ("y", None)))
    out.extend(spatial_cases())
    out.extend(norm_cases())
    return out


def const(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.array(values, dtype), name)


def spatial_cases():
    """Pad, Resize, ConvTranspose and ReduceMean on codes (weights from their
    own generator, so the data of the cases above stay as they were)."""
    srng = np.random.RandomState(11)
    out = []
    pads = const("pads", [0, 0, 1, 2, 0, 0, 2, 1], np.int64)
    node = helper.make_node("Pad", ["x", "pads", "value"], ["y"], mode="constant")
    out.append(case("pad_constant", [node], [pads, const("value", 0.5)], [("x", [1, 3, 5, 5])], ("y", None)))
    pads = const("pads", [0, 0, 2, 1, 0, 0, 1, 3], np.int64)
    node = helper.make_node("Pad", ["x", "pads"], ["y"], mode="reflect")
    out.append(case("pad_reflect", [node], [pads], [("x", [1, 2, 5, 6])], ("y", None)))
    # Resize: inputs X, roi (empty), scales or sizes.
    roi = const("roi", [])
    node = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode="nearest", nearest_mode="round_prefer_ceil")
    out.append(case("resize_nearest", [node], [roi, const("scales", [1, 1, 2, 1.6])], [("x", [1, 2, 4, 5])], ("y", None)))
    node = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode="linear", coordinate_transformation_mode="half_pixel")
    out.append(case("resize_bilinear", [node], [roi, const("scales", [1, 1, 1.6, 2])], [("x", [1, 2, 5, 6])], ("y", None)))
    node = helper.make_node("Resize", ["x", "roi", "", "sizes"], ["y"], mode="linear", coordinate_transformation_mode="align_corners")
    sizes = const("sizes", [2, 3, 7, 9], np.int64)
    out.append(case("resize_bilinear_align_corners", [node], [roi, sizes], [("x", [2, 3, 4, 5])], ("y", None)))
    # ConvTranspose: weights [C_in, C_out / group, k...].
    w = const("w", srng.randn(4, 3, 3, 3) * 0.3)
    b = const("b", srng.randn(6) * 0.2)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 0, 0, 1], output_padding=[1, 1], group=2)
    out.append(case("conv_transpose", [node], [w, b], [("x", [1, 4, 5, 5])], ("y", None)))
    w = const("w", srng.randn(3, 4, 4) * 0.3)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[3], pads=[1, 2], dilations=[2])
    out.append(case("conv_transpose_1d", [node], [w], [("x", [1, 3, 7])], ("y", None)))
    # ReduceMean: axes as an input (opset 18) and as an attribute (opset 17).
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)
    out.append(case("reduce_mean_last_axis", [node], [const("axes", [-1], np.int64)], [("x", [2, 5, 7])], ("y", None), opset=18))
    node = helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=1)
    out.append(case("reduce_mean_spatial", [node], [], [("x", [1, 4, 5, 6])], ("y", None)))
    return out


def norm_cases():
    """LayerNormalization on codes (parameters from their own generator, so
    the data of the cases above stay as they were)."""
    nrng = np.random.RandomState(13)
    out = []

    def gamma_beta(shape_g, shape_b):
        g = const("gamma", 1.0 + nrng.randn(*shape_g) * 0.3)
        b = const("beta", nrng.randn(*shape_b) * 0.2)
        return g, b

    g, b = gamma_beta([16], [16])
    node = helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-5)
    out.append(case("layer_norm_last_axis", [node], [g, b], [("x", [2, 5, 16])], ("y", None)))
    g, b = gamma_beta([4, 6], [6])
    node = helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], axis=-2, epsilon=1e-3)
    out.append(case("layer_norm_two_axes", [node], [g, b], [("x", [3, 4, 6])], ("y", None)))
    g, _ = gamma_beta([10], [10])
    node = helper.make_node("LayerNormalization", ["x", "gamma"], ["y"], axis=1)
    out.append(case("layer_norm_no_bias", [node], [g], [("x", [3, 10])], ("y", None)))
    g, b = gamma_beta([12], [12])
    nodes = [
        helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["n"], axis=-1),
        helper.make_node("Relu", ["n"], ["y"]),
    ]
    out.append(case("layer_norm_relu", nodes, [g, b], [("x", [1, 4, 12])], ("y", None)))
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for name, nodes, inits, inputs, (y, _), opset in cases():
        ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
        graph = helper.make_graph(nodes, name, ins, [], initializer=inits)
        inferred = onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))
        graph.output.extend(v for v in inferred.graph.value_info if v.name == y)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(out_dir, name + ".onnx"))
        calib = {n: (rng.randn(16, *s) * 2).astype(np.float32) for n, s in inputs}
        codes = {n: rng.randint(-128, 128, size=(8, *s)).astype(np.int8) for n, s in inputs}
        np.savez_compressed(os.path.join(out_dir, name + "_calib.npz"), **calib)
        np.savez_compressed(os.path.join(out_dir, name + "_codes.npz"), **codes)
        names.append(name)
    with open(os.path.join(out_dir, "CASES"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"{len(names)} kernel cases in {out_dir}")


if __name__ == "__main__":
    main()
