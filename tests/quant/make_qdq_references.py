#!/usr/bin/env python3
"""Writes onnxruntime-quantized QDQ models of the digits CNNs and ORT's outputs.

For digits_cnn and digits_mbv2, in QDQ form ("qdq") and in QOperator form
("qop": QLinearConv plus onnxruntime's com.microsoft ops QGemm,
QLinearGlobalAveragePool and QLinearAdd), with int8 (QInt8, "s8") and
uint8 (QUInt8, "u8") activations, the script

  1. fixes the batch dimension of the float model's input and output to 1
     (the models are otherwise static, so every tensor of the quantized model
     has a static shape; the input is float32[1, 1, 8, 8]);
  2. runs quant_pre_process (skip_symbolic_shape=True: symbolic shape
     inference needs sympy and adds nothing for static shapes);
  3. runs quantize_static with QuantFormat.QDQ or QOperator, the given activation type,
     QInt8 weights, per_channel=True, CalibrationMethod.MinMax, ORT's default
     extra options, calibrating on digits_calib.npz (200 images, one per
     CalibrationDataReader call), the same settings as ort_quantize.py;
  4. runs the quantized model with onnxruntime (default graph optimizations,
     so the QDQ groups are fused into ORT's int8 kernels; one thread) on the
     360 images of digits_test.npz, one image per call.

It writes to OUT_DIR, for each <case> = <model>_<qdq|qop>_<s8|u8>:

    <case>.onnx       the quantized model, static shapes, batch 1
    <case>_ref.npz    "logits": float32[360, 10], ORT's outputs;
                      "scale": float32 scalar and "zero_point": int64 scalar,
                      the parameters of the QuantizeLinear that produces the
                      graph output's last quantized value (the logits are
                      (code - zero_point) * scale), to express errors in LSBs
    CASES             the case names, one per line

It also quantizes digits_cnn and digits_transformer (batch fixed to 1) with
quantize_dynamic (QInt8 weights per channel; activations quantized at run
time by DynamicQuantizeLinear for ConvInteger and MatMulInteger) and writes

    <model>_dynamic.onnx, <model>_dynamic_ref.npz ("logits", ORT's outputs)
    DYNAMIC           those case names, one per line

and prints one line per case: ORT top-1 accuracy (labels of digits_test.npz),
whether the logits lie on the output quantization grid, and the op types of
the quantized model with counts. Deterministic (byte-identical output on
every run) and takes a few seconds.

Requirements: numpy, onnx, onnxruntime (versions used: numpy 2.4.6,
onnx 1.23.2, onnxruntime 1.32.0). Run: python make_qdq_references.py OUT_DIR
"""

import collections
import itertools
import logging
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ort_quantize import EXTRA_OPTIONS, NpzReader, quiet, session  # noqa: E402

MODELS = ["digits_cnn", "digits_mbv2"]
ACTIVATIONS = [("s8", QuantType.QInt8), ("u8", QuantType.QUInt8)]
FORMATS = [("qdq", QuantFormat.QDQ), ("qop", QuantFormat.QOperator)]
DYNAMIC_MODELS = ["digits_cnn", "digits_transformer"]


def fix_batch(src, dst):
    """Saves src with dimension 0 of every graph input and output set to 1."""
    model = onnx.load(src)
    for v in list(model.graph.input) + list(model.graph.output):
        dim = v.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = 1
    del model.graph.value_info[:]  # re-inferred by quant_pre_process
    onnx.save(model, dst)


def is_static(model):
    values = list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info)
    return all(d.HasField("dim_value") for v in values for d in v.type.tensor_type.shape.dim)


def output_qparams(model):
    """Scale and zero point of the QuantizeLinear behind the first graph output.

    Walks back from the output through DequantizeLinear (and any op that does
    not change the quantization, none in these models) to the QuantizeLinear;
    in QOperator form, stops at the DequantizeLinear of a com.microsoft op's
    codes (the same parameters).
    """
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    name = model.graph.output[0].name
    while name in producer and producer[name].op_type != "QuantizeLinear":
        node = producer[name]
        source = producer.get(node.input[0])
        if node.op_type == "DequantizeLinear" and source is not None and source.domain == "com.microsoft":
            break  # QOperator form: the DequantizeLinear of a QGemm's codes
        name = node.input[0]
    if name not in producer:
        sys.exit(f"no QuantizeLinear before output {model.graph.output[0].name}")
    q = producer[name]
    scale, zp = inits[q.input[1]], inits[q.input[2]]
    assert scale.size == 1 and zp.size == 1, "per-tensor output quantization expected"
    return np.float32(scale.item()), np.int64(zp.item())


def qlinear_model(images):
    """A QOperator-form model with standard ONNX ops only: QuantizeLinear,
    two QLinearConv (per-channel weight scales, int32 bias), QLinearMatMul,
    DequantizeLinear. Random weights (fixed seed); activation scales from the
    float network's ranges over `images` (run with onnxruntime)."""
    from onnx import TensorProto, helper

    rng = np.random.RandomState(11)
    w1 = rng.randn(4, 1, 3, 3).astype(np.float32) * 0.5
    w2 = rng.randn(6, 4, 3, 3).astype(np.float32) * 0.3
    w3 = rng.randn(96, 10).astype(np.float32) * 0.2
    b1, b2 = rng.randn(4).astype(np.float32) * 0.1, rng.randn(6).astype(np.float32) * 0.1
    inits = lambda d: [numpy_helper.from_array(v, k) for k, v in d.items()]
    shape = numpy_helper.from_array(np.array([1, 96], np.int64), "shape")

    # The float network, for the activation ranges.
    fnodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w2", "b2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Reshape", ["c2", "shape"], ["r"]),
        helper.make_node("MatMul", ["r", "w3"], ["logits"]),
    ]
    out_info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ["c1", "c2", "logits"]]
    fgraph = helper.make_graph(fnodes, "float", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 8, 8])],
                               out_info, initializer=inits(dict(w1=w1, w2=w2, w3=w3, b1=b1, b2=b2)) + [shape])
    fmodel = helper.make_model(fgraph, opset_imports=[helper.make_opsetid("", 13)])
    fmodel.ir_version = 8
    import onnxruntime as ort
    sess = ort.InferenceSession(fmodel.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = [sess.run(None, {"image": images[i : i + 1]}) for i in range(len(images))]
    def qparams(k):
        v = np.concatenate([o[k].ravel() for o in outs])
        lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
        s = np.float32((hi - lo) / 255.0)
        return s, np.int8(np.clip(np.round(-lo / s) - 128, -128, 127))
    (s1, z1), (s2, z2), (s3, z3) = qparams(0), qparams(1), qparams(2)
    sx, zx = np.float32(16.0 / 255.0), np.int8(-128)

    def weights(w, axis):
        absmax = np.abs(w).max(axis=tuple(i for i in range(w.ndim) if i != axis))
        s = (absmax / 127.0).astype(np.float32)
        shape_s = [1] * w.ndim
        shape_s[axis] = -1
        return np.clip(np.round(w / s.reshape(shape_s)), -127, 127).astype(np.int8), s

    q1, ws1 = weights(w1, 0)
    q2, ws2 = weights(w2, 0)
    q3, ws3 = weights(w3, 1)
    bq1 = np.round(b1 / (sx * ws1)).astype(np.int32)
    bq2 = np.round(b2 / (s1 * ws2)).astype(np.int32)
    p = dict(sx=sx, zx=zx, s1=s1, z1=z1, s2=s2, z2=z2, s3=s3, z3=z3, q1=q1, ws1=ws1, wz1=np.zeros(4, np.int8), bq1=bq1,
             q2=q2, ws2=ws2, wz2=np.zeros(6, np.int8), bq2=bq2, q3=q3, ws3=ws3, wz3=np.zeros(10, np.int8))
    nodes = [
        helper.make_node("QuantizeLinear", ["image", "sx", "zx"], ["xq"]),
        helper.make_node("QLinearConv", ["xq", "sx", "zx", "q1", "ws1", "wz1", "s1", "z1", "bq1"], ["c1q"], pads=[1, 1, 1, 1]),
        helper.make_node("QLinearConv", ["c1q", "s1", "z1", "q2", "ws2", "wz2", "s2", "z2", "bq2"], ["c2q"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Reshape", ["c2q", "shape"], ["rq"]),
        helper.make_node("QLinearMatMul", ["rq", "s2", "z2", "q3", "ws3", "wz3", "s3", "z3"], ["lq"]),
        helper.make_node("DequantizeLinear", ["lq", "s3", "z3"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "qlinear", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], initializer=inits(p) + [shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model, s3, int(z3)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_qdq_references.py OUT_DIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    logging.getLogger().setLevel(logging.ERROR)  # ORT's quantization warnings
    calib = np.load(os.path.join(HERE, "digits_calib.npz"))["image"].astype(np.float32)
    test = np.load(os.path.join(HERE, "digits_test.npz"))
    images, labels = test["image"].astype(np.float32), test["label"]

    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            fixed = os.path.join(tmp, model + ".batch1.onnx")
            pre = os.path.join(tmp, model + ".preprocessed.onnx")
            fix_batch(os.path.join(HERE, model + ".onnx"), fixed)
            quant_pre_process(fixed, pre, skip_symbolic_shape=True)
            input_name = onnx.load(pre).graph.input[0].name
            for (form, quant_format), (suffix, activation_type) in itertools.product(FORMATS, ACTIVATIONS):
                case = f"{model}_{form}_{suffix}"
                path = os.path.join(out_dir, case + ".onnx")
                with quiet():
                    quantize_static(
                        pre,
                        path,
                        NpzReader(calib, input_name, 1),
                        quant_format=quant_format,
                        per_channel=True,
                        activation_type=activation_type,
                        weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options=dict(EXTRA_OPTIONS),
                    )
                q = onnx.load(path)
                scale, zero_point = output_qparams(q)

                sess = session(path, optimize=True)
                name = sess.get_inputs()[0].name
                logits = np.concatenate([sess.run(None, {name: images[i : i + 1]})[0] for i in range(len(images))])
                logits = logits.astype(np.float32)
                assert logits.shape == (len(images), 10), logits.shape
                np.savez(os.path.join(out_dir, case + "_ref.npz"), logits=logits, scale=scale, zero_point=zero_point)
                cases.append(case)

                correct = int((logits.argmax(1) == labels).sum())
                codes = logits.astype(np.float64) / np.float64(scale) + zero_point
                off_grid = float(np.abs(codes - np.round(codes)).max())
                shape = [d.dim_value or d.dim_param for d in q.graph.input[0].type.tensor_type.shape.dim]
                ops = collections.Counter(f"{n.domain}.{n.op_type}" if n.domain else n.op_type for n in q.graph.node)
                print(f"{case}: ORT top-1 {100.0 * correct / len(labels):.2f}% ({correct}/{len(labels)}), "
                      f"input {shape} ({'static' if is_static(q) else 'dynamic'} shapes), "
                      f"output scale {scale:.6g} zero point {zero_point} (max off-grid {off_grid:.1e} LSB), "
                      f"ops: " + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())))

    # QLinearConv / QLinearMatMul (QOperator form with standard ops only).
    model, scale, zero_point = qlinear_model(images)
    case = "qlinear_ops"
    path = os.path.join(out_dir, case + ".onnx")
    onnx.save(model, path)
    sess = session(path, optimize=True)
    logits = np.concatenate([sess.run(None, {"image": images[i : i + 1]})[0] for i in range(len(images))]).astype(np.float32)
    np.savez(os.path.join(out_dir, case + "_ref.npz"), logits=logits, scale=scale, zero_point=zero_point)
    cases.append(case)
    print(f"{case}: QuantizeLinear, QLinearConv x2, Reshape, QLinearMatMul, DequantizeLinear; output scale {scale:.6g} zero point {zero_point}")

    with open(os.path.join(out_dir, "CASES"), "w") as f:
        f.write("".join(c + "\n" for c in cases))

    # Dynamic quantization: int8 weights, activations quantized at run time
    # by DynamicQuantizeLinear (ConvInteger, MatMulInteger).
    dynamic = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in DYNAMIC_MODELS:
            fixed = os.path.join(tmp, model + ".batch1.onnx")
            fix_batch(os.path.join(HERE, model + ".onnx"), fixed)
            case = f"{model}_dynamic"
            path = os.path.join(out_dir, case + ".onnx")
            with quiet():
                quantize_dynamic(fixed, path, weight_type=QuantType.QInt8, per_channel=True)
            sess = session(path, optimize=True)
            name = sess.get_inputs()[0].name
            logits = np.concatenate([sess.run(None, {name: images[i : i + 1]})[0] for i in range(len(images))]).astype(np.float32)
            np.savez(os.path.join(out_dir, case + "_ref.npz"), logits=logits)
            dynamic.append(case)
            correct = int((logits.argmax(1) == labels).sum())
            ops = collections.Counter(n.op_type for n in onnx.load(path).graph.node)
            print(f"{case}: ORT top-1 {100.0 * correct / len(labels):.2f}% ({correct}/{len(labels)}), "
                  f"ops: " + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())))
    with open(os.path.join(out_dir, "DYNAMIC"), "w") as f:
        f.write("".join(c + "\n" for c in dynamic))


if __name__ == "__main__":
    main()
