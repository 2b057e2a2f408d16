"""Exports small PyTorch networks in the style of real architectures to ONNX.

Every network has random weights from a fixed seed (the fixtures test the
importer and the operators, not accuracy) and random BatchNorm statistics, so
that folding or mis-evaluating a BatchNorm shows up in the outputs. The
networks are exported with PyTorch's own exporters, as users export them:

  mobilenetv3_ts_op13      TorchScript exporter, opset 13, dynamic batch
  mobilenetv3_ts_op11      TorchScript exporter, opset 11, dynamic batch/H/W
  mobilenetv3_ts_op15_fn   TorchScript exporter, opset 15, SE block and
                           inverted residual as ONNX local functions
  resnet_dynamo            dynamo exporter (torch.export + onnxscript),
                           dynamic batch, weights in an external data file
  transformer_ts_op17      TorchScript exporter, opset 17, dynamic batch and
                           sequence length
  transformer_dynamo       dynamo exporter, dynamic batch and sequence
                           length, weights in an external data file
  kws_gru_ts_op13          TorchScript exporter, opset 13, 1-D convs + GRU,
                           dynamic batch and time
  kws_lstm_ts_op13         as above with an LSTM

Usage: python tests/models/export_pytorch.py [OUT_DIR [MODEL]]   (default: tests/models, all)
"""

import inspect
import math
import pathlib
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k, stride=1, groups=1, act=None):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """MobileNetV3's SE block: global pool, two 1x1 convs, hard-sigmoid gate."""

    def __init__(self, channels, squeeze):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class InvertedResidual(nn.Module):
    """Expand 1x1, depthwise kxk, optional SE, project 1x1, residual add."""

    def __init__(self, cin, expand, cout, k, stride, se, act):
        super().__init__()
        layers = []
        if expand != cin:
            layers.append(conv_bn(cin, expand, 1, act=act))
        layers.append(conv_bn(expand, expand, k, stride, groups=expand, act=act))
        if se:
            layers.append(SqueezeExcite(expand, max(8, expand // 4)))
        layers.append(conv_bn(expand, cout, 1))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV3(nn.Module):
    """A narrow MobileNetV3-Small: hard-swish stem, five inverted residual
    blocks (two with SE, two residual), 1x1 head, pooled classifier."""

    def __init__(self, classes=10, flatten="view"):
        super().__init__()
        hs, relu = nn.Hardswish, nn.ReLU
        self.stem = conv_bn(3, 16, 3, 2, act=hs)
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 16, 3, 2, True, relu),
            InvertedResidual(16, 48, 24, 3, 2, False, relu),
            InvertedResidual(24, 64, 24, 3, 1, False, relu),
            InvertedResidual(24, 72, 40, 5, 2, True, hs),
            InvertedResidual(40, 96, 40, 5, 1, True, hs),
        )
        self.head = conv_bn(40, 96, 1, act=hs)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(96, 64)
        self.act = nn.Hardswish()
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(64, classes)
        self.flatten = flatten

    def forward(self, x):
        x = self.pool(self.head(self.blocks(self.stem(x))))
        # Both spellings make the TorchScript exporter write a shape subgraph.
        x = x.view(x.size(0), -1) if self.flatten == "view" else torch.flatten(x, 1)
        return self.fc2(self.drop(self.act(self.fc1(x))))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride, act=nn.ReLU)
        self.conv2 = conv_bn(cout, cout, 3)
        self.down = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.conv2(self.conv1(x)) + self.down(x))


class ResNet(nn.Module):
    """A narrow ResNet: conv stem, max pool, three basic blocks, pooled FC."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 1, act=nn.ReLU)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.layers = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 32, 1))
        self.avg = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.avg(self.layers(self.pool(self.stem(x))))
        return self.fc(torch.flatten(x, 1))


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        y = torch.matmul(scores.softmax(dim=-1), v)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer with a GELU MLP."""

    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyTransformer(nn.Module):
    """Token and learned position embeddings, two encoder layers, final
    LayerNorm and a per-token output projection."""

    def __init__(self, vocab=64, dim=32, heads=4, hidden=64, layers=2, max_len=16):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(max_len, dim) * 0.1)
        self.layers = nn.Sequential(*[EncoderLayer(dim, heads, hidden) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, ids):
        x = self.tok(ids) + self.pos[: ids.shape[1]]
        return self.head(self.norm(self.layers(x)))


class KeywordSpotter(nn.Module):
    """MFCC frames -> two 1-D conv+BN+ReLU -> GRU or LSTM -> last step -> FC."""

    def __init__(self, features=20, channels=32, hidden=48, classes=12, rnn="gru"):
        super().__init__()
        self.conv1 = nn.Conv1d(features, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        cls = nn.GRU if rnn == "gru" else nn.LSTM
        self.rnn = cls(channels, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, frames):
        x = frames.transpose(1, 2)
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        y, _ = self.rnn(x.transpose(1, 2))
        return self.fc(y[:, -1])


def randomize(model, seed):
    """He-initialised weights (PyTorch's default init shrinks activations
    layer by layer until the output hardly depends on the input), small
    random biases, random LayerNorm affine parameters, and random BatchNorm
    statistics and affine parameters, so that normalisations are not (close
    to) the identity they are after initialisation."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        elif isinstance(m, nn.LayerNorm):
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.8 + 0.6)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.8 + 0.6)
            m.weight.copy_(torch.rand(n, generator=g) * 0.8 + 0.6)
            m.bias.copy_(torch.randn(n, generator=g) * 0.2)


def build(cls, seed, **kwargs):
    torch.manual_seed(seed)
    model = cls(**kwargs)
    with torch.no_grad():
        randomize(model, seed + 1)
    return model.eval()


def export_torchscript(model, example, path, opset, input_name, dynamic_axes, **kwargs):
    torch.onnx.export(
        model,
        (example,),
        str(path),
        dynamo=False,
        opset_version=opset,
        input_names=[input_name],
        output_names=["output"],
        dynamic_axes={input_name: dynamic_axes, "output": {0: "batch"}},
        **kwargs,
    )


def export_dynamo(model, example, path, input_name, dynamic_dims):
    """The dynamo exporter with its defaults (its newest opset, optimised
    graph, weights in an external `<name>.onnx.data` file)."""
    forward_arg = next(iter(inspect.signature(model.forward).parameters))
    torch.onnx.export(
        model,
        (example,),
        str(path),
        dynamo=True,
        input_names=[input_name],
        output_names=["output"],
        dynamic_shapes={forward_arg: dynamic_dims},
    )


IMAGE = (2, 3, 64, 64)
IDS = (2, 7)
FRAMES = (2, 25, 20)


def example(shape):
    """An example input: only its shape and dtype matter to the exporters."""
    if shape == IDS:
        return torch.zeros(shape, dtype=torch.int64)
    return torch.zeros(shape)


def batch():
    return torch.export.Dim("batch", min=1, max=1024)


EXPORTS = {
    "mobilenetv3_ts_op13": lambda path: export_torchscript(
        build(MobileNetV3, 0), example(IMAGE), path, 13, "input", {0: "batch"}
    ),
    "mobilenetv3_ts_op11": lambda path: export_torchscript(
        build(MobileNetV3, 1, flatten="flatten"), example(IMAGE), path, 11, "input", {0: "batch", 2: "height", 3: "width"}
    ),
    "mobilenetv3_ts_op15_fn": lambda path: export_torchscript(
        build(MobileNetV3, 2),
        example(IMAGE),
        path,
        15,
        "input",
        {0: "batch"},
        export_modules_as_functions={SqueezeExcite, InvertedResidual},
    ),
    "resnet_dynamo": lambda path: export_dynamo(build(ResNet, 3), example(IMAGE), path, "image", {0: batch()}),
    "transformer_ts_op17": lambda path: export_torchscript(
        build(TinyTransformer, 4), example(IDS), path, 17, "input_ids", {0: "batch", 1: "sequence"}
    ),
    "transformer_dynamo": lambda path: export_dynamo(
        build(TinyTransformer, 7),
        example(IDS),
        path,
        "input_ids",
        {0: batch(), 1: torch.export.Dim("sequence", min=1, max=16)},
    ),
    "kws_gru_ts_op13": lambda path: export_torchscript(
        build(KeywordSpotter, 5, rnn="gru"), example(FRAMES), path, 13, "frames", {0: "batch", 1: "time"}
    ),
    "kws_lstm_ts_op13": lambda path: export_torchscript(
        build(KeywordSpotter, 6, rnn="lstm"), example(FRAMES), path, 13, "frames", {0: "batch", 1: "time"}
    ),
}

# The TorchScript exporter's function extraction crashes (SIGSEGV) now and
# then; every export runs in its own process and is retried on a crash.
ATTEMPTS = 5


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
    out.mkdir(parents=True, exist_ok=True)
    if len(sys.argv) > 2:
        EXPORTS[sys.argv[2]](out / f"{sys.argv[2]}.onnx")
        return
    for name in EXPORTS:
        for attempt in range(1, ATTEMPTS + 1):
            rc = subprocess.run([sys.executable, __file__, str(out), name]).returncode
            if rc == 0:
                print(f"exported {out / name}.onnx")
                break
            if rc > 0 or attempt == ATTEMPTS:
                sys.exit(f"exporting {name} failed (exit status {rc})")
            print(f"exporting {name} crashed (signal {-rc}); retrying")


if __name__ == "__main__":
    main()
