"""Writes onnxruntime's outputs for every committed model, as references
for tests/real_models.rs.

Usage: python tests/models/make_references.py OUT_DIR

Needs only onnx, onnxruntime and numpy. For each tests/models/<model>.onnx
it writes OUT_DIR/<model>/:

  shapes.txt      one `--input-shape` value per line (NAME=d0,d1,...), in
                  graph-input order: the fixed shape chosen for each input
  input_K.npy     a deterministic input for graph input K, of that shape
  expected_K.npy  onnxruntime's output K (graph optimisations disabled)

and OUT_DIR/STAMP with the package versions used.
"""

import pathlib
import sys
import zlib

import numpy as np
import onnx
import onnxruntime as ort

MODELS = pathlib.Path(__file__).resolve().parent

# The shape fixed for each dynamic input, and the kind of data fed to it.
# Batch 2 everywhere (batch 1 would hide batch-handling mistakes); the
# spatial, sequence and time sizes differ from the export examples.
SPECS = {
    "mobilenetv3_ts_op13": {"input": ([2, 3, 64, 64], "image")},
    "mobilenetv3_ts_op11": {"input": ([2, 3, 48, 40], "image")},
    "mobilenetv3_ts_op15_fn": {"input": ([2, 3, 64, 64], "image")},
    "mobilenetv3_p2o1_op11": {"image": ([2, 3, 64, 64], "image")},
    "mobilenetv3_p2o2_op11": {"image": ([2, 3, 64, 64], "image")},
    "resnet_dynamo": {"image": ([2, 3, 64, 64], "image")},
    "transformer_ts_op17": {"input_ids": ([2, 7], "tokens")},
    "transformer_dynamo": {"input_ids": ([2, 7], "tokens")},
    "kws_gru_ts_op13": {"frames": ([2, 31, 20], "frames")},
    "kws_lstm_ts_op13": {"frames": ([2, 31, 20], "frames")},
    "kws_lstm_ts_op13_dq": {"frames": ([2, 31, 20], "frames")},
}

VOCAB = 64


def make_input(kind, shape, dtype, rng):
    """Inputs whose samples differ in more than noise: pooled or recurrent
    features of white noise hardly depend on the sample, which would let a
    wrong operator pass."""
    if kind == "image":
        n, c = shape[0], shape[1]
        x = 0.5 * rng.standard_normal(shape) + rng.standard_normal((n, c, 1, 1))
        ramp = np.linspace(-1.0, 1.0, shape[3])[None, None, None, :] * rng.standard_normal((n, 1, 1, 1))
        x = x + ramp
    elif kind == "frames":
        n, f = shape[0], shape[2]
        x = rng.standard_normal(shape) * rng.uniform(0.5, 1.5, (n, 1, 1)) + rng.standard_normal((n, 1, f))
    elif kind == "tokens":
        x = rng.integers(0, VOCAB, shape)
    else:
        raise ValueError(f"unknown input kind {kind!r}")
    return x.astype(dtype)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    models = sorted(MODELS.glob("*.onnx"))
    missing = [m.stem for m in models if m.stem not in SPECS]
    if missing:
        sys.exit(f"no input spec for {', '.join(missing)}: add them to SPECS in {__file__}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    for path in models:
        name = path.stem
        dest = out / name
        dest.mkdir(parents=True, exist_ok=True)
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        spec = SPECS[name]
        feeds, lines = {}, []
        for k, arg in enumerate(session.get_inputs()):
            if arg.name not in spec:
                sys.exit(f"{name}: no shape for input {arg.name!r} in SPECS")
            shape, kind = spec[arg.name]
            dtype = onnx.helper.tensor_dtype_to_np_dtype(
                {"tensor(float)": onnx.TensorProto.FLOAT, "tensor(int64)": onnx.TensorProto.INT64}[arg.type]
            )
            x = make_input(kind, shape, dtype, rng)
            feeds[arg.name] = x
            np.save(dest / f"input_{k}.npy", x)
            lines.append(f"{arg.name}={','.join(map(str, shape))}")
        (dest / "shapes.txt").write_text("\n".join(lines) + "\n")
        for k, y in enumerate(session.run(None, feeds)):
            np.save(dest / f"expected_{k}.npy", y)
        print(f"{name}: {' '.join(lines)}")
    (out / "STAMP").write_text(f"onnx {onnx.__version__}\nonnxruntime {ort.__version__}\nnumpy {np.__version__}\n")


if __name__ == "__main__":
    main()
