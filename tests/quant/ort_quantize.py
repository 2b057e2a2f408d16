#!/usr/bin/env python3
"""Quantizes the digits test models with onnxruntime and measures accuracy.

For each model (default: every tests/quant/*.onnx) the script

  1. runs onnxruntime.quantization.quant_pre_process on it (ONNX shape
     inference plus ORT's basic graph optimizations; symbolic shape inference
     is skipped because it needs sympy and adds nothing for these static
     shapes) unless --no-preprocess is given;
  2. runs onnxruntime.quantization.quantize_static on the pre-processed model
     with QuantFormat.QDQ, int8 (QInt8) activations and weights, once for each
     calibration method (MinMax, Entropy, Percentile) and each weight
     granularity (per-channel, per-tensor), calibrating on digits_calib.npz
     (200 training images, fed one image per CalibrationDataReader call by
     default, see --calib-batch), with ORT's default extra options; the wall
     time of every quantize_static call is recorded;
  3. evaluates the float model and every quantized model with onnxruntime on
     digits_test.npz (360 held-out images) twice: with ORT's default graph
     optimizations, which fuse the QDQ pairs into ORT's int8 kernels
     (QLinearConv, QLinearMatMul, ...), and with optimizations disabled, where
     QuantizeLinear/DequantizeLinear run as written around float operators
     ("simulated");
  4. prints a Markdown table (top-1 %, agreement with the float model's
     top-1, max and mean |quantized logit - float logit|, quantize_static
     seconds) and, with --json PATH, writes the same results.

The quantized models go to --out (default target/quant-ort in the repository)
as <model>.preprocessed.onnx and <model>.<per_channel|per_tensor>.<method>.onnx.
Runs are deterministic: evaluation sessions use one thread and the quantized
models and accuracies are the same on every run (only the timings change).

Requirements: numpy, onnx, onnxruntime (versions used: numpy 2.4.6,
onnx 1.23.2, onnxruntime 1.32.0). Run: python ort_quantize.py [--json PATH]
[--out DIR] [MODEL.onnx ...]
"""

import argparse
import contextlib
import glob
import io
import json
import logging
import os
import platform
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

METHODS = [
    ("MinMax", CalibrationMethod.MinMax),
    ("Entropy", CalibrationMethod.Entropy),
    ("Percentile", CalibrationMethod.Percentile),
]
GRANULARITIES = [("per-channel", True), ("per-tensor", False)]

# ORT defaults (kept on purpose): asymmetric activations (ActivationSymmetric
# False), symmetric weights (WeightSymmetric True), no reduce_range, Relu/Clip
# folded into the activation ranges, Percentile 99.999 on |x| with 2048 bins.
# Entropy uses 128 histogram bins and 128 quantized bins, so its KL search has
# a single candidate (the full range) and it gives the same ranges as MinMax;
# quantize_static has no extra option to change the bin counts.
EXTRA_OPTIONS = {}


class NpzReader(CalibrationDataReader):
    """Feeds the calibration images in order, `batch` images per call."""

    def __init__(self, images, input_name, batch):
        self.batches = iter([{input_name: images[i : i + batch]} for i in range(0, len(images), batch)])

    def get_next(self):
        return next(self.batches, None)


def session(path, optimize):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def logits(path, images, optimize=True):
    sess = session(path, optimize)
    return sess.run(None, {sess.get_inputs()[0].name: images})[0]


def scores(out, labels, ref):
    """Top-1 %, agreement % with the float model's top-1, max and mean |logit - float logit|."""
    err = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    return (
        float((out.argmax(1) == labels).mean() * 100.0),
        float((out.argmax(1) == ref.argmax(1)).mean() * 100.0),
        float(err.max()),
        float(err.mean()),
    )


@contextlib.contextmanager
def quiet():
    """The calibrators print progress to stdout; keep the table clean."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", help="ONNX models (default: tests/quant/*.onnx)")
    ap.add_argument("--out", default=os.path.join(REPO, "target", "quant-ort"), help="directory for quantized models")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--calib", default=os.path.join(HERE, "digits_calib.npz"))
    ap.add_argument("--test", default=os.path.join(HERE, "digits_test.npz"))
    ap.add_argument("--calib-batch", type=int, default=1, metavar="N",
                    help="calibration images per CalibrationDataReader call (default 1)")
    ap.add_argument("--no-preprocess", action="store_true", help="skip quant_pre_process")
    args = ap.parse_args()

    logging.getLogger().setLevel(logging.ERROR)  # ORT's "consider pre-processing" etc.
    models = args.models or sorted(glob.glob(os.path.join(HERE, "*.onnx")))
    if not models:
        sys.exit("no models found")
    calib = np.load(args.calib)["image"].astype(np.float32)
    if args.calib_batch < 1 or len(calib) % args.calib_batch:
        # The histogram calibrators stack the per-batch outputs into one array.
        sys.exit(f"--calib-batch must divide the {len(calib)} calibration images")
    os.makedirs(args.out, exist_ok=True)
    test = np.load(args.test)
    images, labels = test["image"].astype(np.float32), test["label"]

    rows = []
    for model_path in models:
        name = os.path.splitext(os.path.basename(model_path))[0]
        ref = logits(model_path, images)
        f_acc = scores(ref, labels, ref)[0]
        rows.append(dict(model=name, granularity="float", method="-", top1=f_acc,
                         top1_simulated=scores(logits(model_path, images, False), labels, ref)[0],
                         agree_with_float=100.0, max_abs_logit_error=0.0, mean_abs_logit_error=0.0,
                         quantize_seconds=None, file=os.path.basename(model_path)))
        print(f"{name}: float {f_acc:.2f}%", file=sys.stderr)

        source = model_path
        if not args.no_preprocess:
            source = os.path.join(args.out, f"{name}.preprocessed.onnx")
            quant_pre_process(model_path, source, skip_symbolic_shape=True)
        input_name = onnx.load(source).graph.input[0].name

        for gran, per_channel in GRANULARITIES:
            for method_name, method in METHODS:
                out = os.path.join(args.out, f"{name}.{gran.replace('-', '_')}.{method_name.lower()}.onnx")
                start = time.perf_counter()
                with quiet():
                    quantize_static(
                        source,
                        out,
                        NpzReader(calib, input_name, args.calib_batch),
                        quant_format=QuantFormat.QDQ,
                        per_channel=per_channel,
                        activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8,
                        calibrate_method=method,
                        extra_options=dict(EXTRA_OPTIONS),
                    )
                seconds = time.perf_counter() - start
                acc, agree, err, mean_err = scores(logits(out, images), labels, ref)
                sim = scores(logits(out, images, False), labels, ref)[0]
                rows.append(dict(model=name, granularity=gran, method=method_name, top1=acc,
                                 top1_simulated=sim, agree_with_float=agree, max_abs_logit_error=err,
                                 mean_abs_logit_error=mean_err, quantize_seconds=seconds,
                                 file=os.path.basename(out)))
                print(f"{name}: {gran} {method_name} {acc:.2f}% ({seconds:.2f} s)", file=sys.stderr)

    print("| model | weights | calibration | top-1 % (ORT int8) | top-1 % (QDQ simulated) "
          "| agrees with float % | max / mean abs logit error | quantize_static s |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        secs = "-" if r["quantize_seconds"] is None else f"{r['quantize_seconds']:.2f}"
        print(f"| {r['model']} | {r['granularity']} | {r['method']} | {r['top1']:.2f} | "
              f"{r['top1_simulated']:.2f} | {r['agree_with_float']:.2f} | "
              f"{r['max_abs_logit_error']:.3f} / {r['mean_abs_logit_error']:.3f} | {secs} |")

    if args.json:
        report = dict(
            onnxruntime=ort.__version__,
            onnx=onnx.__version__,
            numpy=np.__version__,
            machine=platform.machine(),
            preprocess=not args.no_preprocess,
            quant_format="QDQ",
            activation_type="QInt8",
            weight_type="QInt8",
            extra_options=EXTRA_OPTIONS,
            calibration_images=int(len(calib)),
            calibration_batch=args.calib_batch,
            test_images=int(len(labels)),
            results=rows,
        )
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
