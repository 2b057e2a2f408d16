#!/usr/bin/env python3
"""Calibration time of qcc and of onnxruntime's quantize_static, side by side.

For each model of the pretrained suite (default: every model with calibration
data under target/pretrained, or QCC_PRETRAINED_DIR), the script times two
whole processes on the same model and the same calibration samples
(data/<model>/calib.npz, samples along the first axis):

  1. `qcc MODEL -o DIR --quantize int8 --calibration calib.npz` with the
     input shapes fixed to the samples' (the default calibration, with its
     equalization and range checks; the C/Rust sources are written too),
     and the same with `--quantize auto` (the mixed-precision search for
     the default 30 dB);
  2. a Python process that imports onnxruntime and runs
     onnxruntime.quantization.quantize_static (QDQ, QInt8 activations and
     weights, per channel, MinMax, one sample per reader call) and writes the
     quantized model.

It prints a Markdown table: model, samples, the three wall times in
seconds, and qcc's times over onnxruntime's. The issue's target is a ratio of at most
2. Run through scripts/calibration-time.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[2]
PRETRAINED = Path(os.environ.get("QCC_PRETRAINED_DIR", ROOT / "target" / "pretrained"))
QCC = ROOT / "target" / "release" / "qcc"
# Models run as they are without --quantize (already quantized).
PREQUANTIZED = {"ddddocr_ocr_old"}

ORT_SCRIPT = r"""
import sys
import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, CalibrationMethod, quantize_static

model, calib, out = sys.argv[1:4]
data = np.load(calib)

class Reader(CalibrationDataReader):
    def __init__(self):
        n = len(next(iter(data.values())))
        self.samples = iter([{k: np.asarray(v[i]) for k, v in data.items()} for i in range(n)])

    def get_next(self):
        return next(self.samples, None)

quantize_static(model, out, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8, per_channel=True, calibrate_method=CalibrationMethod.MinMax)
"""


def shape_flags(model_path, calib):
    """--input-shape for every graph input with a dynamic dimension."""
    graph = onnx.load(model_path, load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    flags = []
    for inp in graph.input:
        if inp.name in initializers or inp.name not in calib:
            continue
        dims = inp.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") for d in dims):
            shape = calib[inp.name].shape[1:]
            flags += ["--input-shape", f"{inp.name}={','.join(map(str, shape))}"]
    return flags


def timed(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{done.stderr}")
    return seconds


def main():
    names = sys.argv[1:] or sorted(p.name for p in (PRETRAINED / "data").iterdir() if (p / "calib.npz").exists())
    print("| model | calibration samples | qcc --quantize int8 (s) | qcc --quantize auto (s) | onnxruntime quantize_static (s) | int8 / onnxruntime | auto / onnxruntime |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        if name in PREQUANTIZED:
            continue
        model = PRETRAINED / "models" / f"{name}.onnx"
        calib_path = PRETRAINED / "data" / name / "calib.npz"
        calib = np.load(calib_path)
        samples = len(next(iter(calib.values())))
        with tempfile.TemporaryDirectory() as tmp:
            flags = ["--calibration", calib_path, *shape_flags(model, calib)]
            int8 = timed([QCC, model, "-o", Path(tmp) / "int8", "--quantize", "int8", *flags])
            auto = timed([QCC, model, "-o", Path(tmp) / "auto", "--quantize", "auto", *flags])
            ort = timed([sys.executable, "-c", ORT_SCRIPT, model, calib_path, Path(tmp) / "ort.onnx"])
        print(f"| {name} | {samples} | {int8:.1f} | {auto:.1f} | {ort:.1f} | {int8 / ort:.2f} | {auto / ort:.2f} |", flush=True)


if __name__ == "__main__":
    main()
