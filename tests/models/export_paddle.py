"""Exports a small MobileNetV3-style PaddlePaddle network to ONNX with
paddle2onnx, as Paddle users export models (paddle.jit.save, then
paddle2onnx.export).

The network has random weights from a fixed seed and random BatchNorm
statistics; its input has a dynamic batch (InputSpec [None, 3, 64, 64]). The
output file is named after the paddle2onnx major version, since each writes
the same network differently at opset 11:

  mobilenetv3_p2o1_op11   paddle2onnx 1.0.8 (paddlepaddle 2.6.2): Hardswish
                          as x * Clip(x + 3, 0, 6) / 6 (Add, Clip, Mul, Div)
  mobilenetv3_p2o2_op11   paddle2onnx 2.1.0 (paddlepaddle 3.3.1, new IR):
                          Hardswish as HardSigmoid + Mul

Usage: python tests/models/export_paddle.py [OUT_DIR]   (default: tests/models)
"""

import pathlib
import sys
import tempfile

import numpy as np
import paddle
import paddle2onnx
import paddle.nn as nn


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=None):
        layers = [nn.Conv2D(cin, cout, k, stride, k // 2, groups=groups, bias_attr=False), nn.BatchNorm2D(cout)]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcite(nn.Layer):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc1 = nn.Conv2D(channels, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2D(squeeze, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class InvertedResidual(nn.Layer):
    def __init__(self, cin, expand, cout, k, stride, se, act):
        super().__init__()
        layers = []
        if expand != cin:
            layers.append(ConvBN(cin, expand, 1, act=act))
        layers.append(ConvBN(expand, expand, k, stride, groups=expand, act=act))
        if se:
            layers.append(SqueezeExcite(expand, max(8, expand // 4)))
        layers.append(ConvBN(expand, cout, 1))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV3(nn.Layer):
    def __init__(self, classes=10):
        super().__init__()
        hs, relu = nn.Hardswish, nn.ReLU
        self.stem = ConvBN(3, 16, 3, 2, act=hs)
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 16, 3, 2, True, relu),
            InvertedResidual(16, 48, 24, 3, 2, False, relu),
            InvertedResidual(24, 64, 24, 3, 1, False, relu),
            InvertedResidual(24, 72, 40, 5, 2, True, hs),
            InvertedResidual(40, 96, 40, 5, 1, True, hs),
        )
        self.head = ConvBN(40, 96, 1, act=hs)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(96, 64)
        self.act = nn.Hardswish()
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x):
        x = self.flatten(self.pool(self.head(self.blocks(self.stem(x)))))
        return self.fc2(self.drop(self.act(self.fc1(x))))


def randomize(model, seed):
    """He-initialised weights, small random biases, random BatchNorm
    statistics and affine parameters (see export_pytorch.py)."""
    rng = np.random.default_rng(seed)
    for layer in model.sublayers():
        if isinstance(layer, (nn.Conv2D, nn.Linear)):
            w = layer.weight
            # Paddle's Linear weight is [in, out]; Conv2D's is [out, in/groups, kh, kw].
            fan_in = w.shape[0] if isinstance(layer, nn.Linear) else int(np.prod(w.shape[1:]))
            w.set_value(rng.standard_normal(w.shape).astype("float32") * np.float32(np.sqrt(2.0 / fan_in)))
            if layer.bias is not None:
                layer.bias.set_value(rng.standard_normal(layer.bias.shape).astype("float32") * np.float32(0.1))
        elif isinstance(layer, nn.BatchNorm2D):
            n = layer.weight.shape[0]
            layer._mean.set_value((rng.standard_normal(n) * 0.2).astype("float32"))
            layer._variance.set_value((rng.random(n) * 0.8 + 0.6).astype("float32"))
            layer.weight.set_value((rng.random(n) * 0.8 + 0.6).astype("float32"))
            layer.bias.set_value((rng.standard_normal(n) * 0.2).astype("float32"))


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
    out.mkdir(parents=True, exist_ok=True)
    paddle.seed(0)
    model = MobileNetV3()
    randomize(model, 1)
    model.eval()
    spec = [paddle.static.InputSpec(shape=[None, 3, 64, 64], dtype="float32", name="image")]
    with tempfile.TemporaryDirectory() as tmp:
        # paddle.onnx.export would raise the opset to the newest any op
        # "requires"; call paddle2onnx directly to keep the requested one.
        prefix = pathlib.Path(tmp) / "model"
        paddle.jit.save(model, str(prefix), input_spec=spec)
        program = next(p for p in (prefix.with_suffix(".json"), prefix.with_suffix(".pdmodel")) if p.exists())
        paddle2onnx.export(
            str(program),
            str(prefix.with_suffix(".pdiparams")),
            str(out / f"mobilenetv3_p2o{paddle2onnx.__version__.split('.')[0]}_op11.onnx"),
            opset_version=11,
            auto_upgrade_opset=False,
            verbose=False,
        )


if __name__ == "__main__":
    main()
