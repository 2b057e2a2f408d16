#!/usr/bin/env python3
"""Trains the int8 quantization test models on scikit-learn's digits.

The digits dataset (1,797 8x8 grey-scale images of handwritten digits) ships
inside scikit-learn, so nothing is downloaded. Every model takes the raw pixel
values 0..16 and divides by 16 itself. The script trains four networks on the
CPU with fixed seeds, prints each one's float test accuracy and parameter
count, and writes into this directory

    digits_cnn.onnx          small CNN: Conv+BN+ReLU, MaxPool, Conv+BN+ReLU,
                             Conv+ReLU6 (Clip), GlobalAveragePool, Flatten,
                             Gemm (opset 13)
    digits_mbv2.onnx         MobileNetV2-style net: stem, three inverted
                             residual blocks (one strided, two with a residual
                             Add), GlobalAveragePool, Gemm (opset 13)
    digits_transformer.onnx  one pre-norm transformer encoder layer over the
                             8 image rows as tokens, attention written out as
                             MatMul/Softmax, mean over tokens, linear head
                             (opset 17, LayerNormalization); only written if
                             it reaches the accuracy bar below
    digits_mbv1_skewed.onnx  MobileNetV1-style net (ReLU) whose depthwise
                             channels are rescaled after training, the float
                             function unchanged: the spread of channel ranges
                             cross-layer equalization is for (opset 13)
    digits_calib.npz         "image": float32[200, 1, 8, 8], the first 200
                             training images (the calibration set)
    digits_test.npz          "image": float32[360, 1, 8, 8] and
                             "label": int64[360], the held-out test set

Every model has input "image": float32[N, 1, 8, 8] and output
"logits": float32[N, 10], with N dynamic. The exporter is TorchScript
(dynamo=False); in eval mode it folds each BatchNorm into the Conv before it.

Requirements: torch, scikit-learn, onnx (versions used: torch 2.15,
scikit-learn 1.9.1, onnx 1.23.2). Run: python train.py
"""

import math
import os
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))

# The transformer is only written if its float test accuracy exceeds this.
TRANSFORMER_MIN_ACCURACY = 0.90


class DigitsCnn(nn.Module):
    """About 3,900 parameters."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU6(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(16, 10)

    def forward(self, x):
        x = x / 16.0
        return self.classifier(torch.flatten(self.features(x), 1))


def conv_bn(cin, cout, kernel, stride=1, groups=1, relu6=True):
    layers = [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu6:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, linear 1x1 project."""

    def __init__(self, cin, cout, expand, stride):
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            conv_bn(cin, hidden, 1),
            conv_bn(hidden, hidden, 3, stride=stride, groups=hidden),
            conv_bn(hidden, cout, 1, relu6=False),
        )

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class DigitsMbv2(nn.Module):
    """About 12,700 parameters. 8x8 -> 8x8 -> 8x8 -> 4x4 -> 4x4."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 16, 3),
            InvertedResidual(16, 16, 4, 1),  # residual
            InvertedResidual(16, 24, 4, 2),  # strided, no residual
            InvertedResidual(24, 24, 4, 1),  # residual
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(24, 10)

    def forward(self, x):
        x = x / 16.0
        return self.classifier(torch.flatten(self.features(x), 1))


def depthwise_separable(cin, cout, stride):
    """MobileNetV1 block: 3x3 depthwise+BN+ReLU, 1x1 pointwise+BN+ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU(),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class DigitsMbv1Skewed(nn.Module):
    """MobileNetV1-style net with ReLU. 8x8 -> 8x8 -> 8x8 -> 4x4 -> 4x4.

    After training, `skew_depthwise_channels` rescales each depthwise
    channel, which leaves the float function unchanged but spreads the
    per-channel ranges the way BatchNormalization folding does in large
    depthwise networks (the small digits net does not get there by itself):
    the case cross-layer equalization exists for.
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            depthwise_separable(16, 32, 1),
            depthwise_separable(32, 32, 2),
            depthwise_separable(32, 48, 1),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(48, 10)

    def forward(self, x):
        x = x / 16.0
        return self.classifier(torch.flatten(self.features(x), 1))

    @torch.no_grad()
    def skew_depthwise_channels(self, octaves=4.0):
        """Multiplies depthwise channel c's BatchNorm scale and shift by
        s_c = 2^u (u spread evenly over [-octaves, octaves], in a fixed
        shuffled order) and the next pointwise convolution's input channel c
        by 1/s_c. ReLU(s·x) = s·ReLU(x) for s > 0, so the function is the
        same; after export the folded depthwise weights and the activations
        between the two convolutions span 2^(2·octaves) across channels."""
        gen = torch.Generator().manual_seed(1)
        for block in list(self.features)[3:6]:
            bn, pointwise = block[1], block[3]
            c = bn.num_features
            s = 2.0 ** torch.linspace(-octaves, octaves, c)[torch.randperm(c, generator=gen)]
            bn.weight.mul_(s)
            bn.bias.mul_(s)
            pointwise.weight.div_(s.view(1, c, 1, 1))


class DigitsTransformer(nn.Module):
    """One pre-norm encoder layer; each image row (8 pixels) is a token."""

    def __init__(self, d=32, heads=2, mlp=64, tokens=8):
        super().__init__()
        self.d, self.heads, self.tokens = d, heads, tokens
        self.head_dim = d // heads
        self.embed = nn.Linear(8, d)
        self.pos = nn.Parameter(torch.randn(tokens, d) * 0.02)
        self.ln1 = nn.LayerNorm(d)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, mlp)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp, d)
        self.classifier = nn.Linear(d, 10)

    def split_heads(self, t):
        # [N, T, d] -> [N, heads, T, head_dim]; -1 keeps the shape a constant.
        return t.reshape(-1, self.tokens, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x):
        x = x / 16.0
        x = x.reshape(-1, self.tokens, 8)  # [N, 8 rows, 8 pixels]
        x = self.embed(x) + self.pos
        h = self.ln1(x)
        q = self.split_heads(self.q(h)) * (1.0 / math.sqrt(self.head_dim))
        k = self.split_heads(self.k(h))
        v = self.split_heads(self.v(h))
        attn = torch.softmax(torch.matmul(q, k.transpose(2, 3)), dim=-1)
        a = torch.matmul(attn, v).transpose(1, 2).reshape(-1, self.tokens, self.d)
        x = x + self.proj(a)
        x = x + self.fc2(self.act(self.fc1(self.ln2(x))))
        return self.classifier(x.mean(1))


def train(model, x_train, y_train, epochs, lr, weight_decay=0.0, batch=64):
    """Adam(W) with a cosine learning-rate schedule; fixed seed per model."""
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(x_train) / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())


def export(model, example, name, opset):
    path = os.path.join(HERE, name)
    model.eval()
    torch.onnx.export(
        model,
        (torch.from_numpy(example),),
        path,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
        opset_version=opset,
        dynamo=False,
    )
    return path


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    digits = load_digits()
    x = digits.images.astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    # name, constructor, opset, epochs, lr, weight decay, minimum accuracy to write
    specs = [
        ("digits_cnn.onnx", DigitsCnn, 13, 60, 0.01, 0.0, 0.0),
        ("digits_mbv2.onnx", DigitsMbv2, 13, 60, 0.01, 0.0, 0.0),
        ("digits_transformer.onnx", DigitsTransformer, 17, 150, 0.003, 0.01, TRANSFORMER_MIN_ACCURACY),
        ("digits_mbv1_skewed.onnx", DigitsMbv1Skewed, 13, 60, 0.01, 0.0, 0.0),
    ]
    for name, ctor, opset, epochs, lr, wd, min_acc in specs:
        torch.manual_seed(0)
        model = ctor()
        params = sum(p.numel() for p in model.parameters())
        start = time.perf_counter()
        train(model, x_train, y_train, epochs, lr, wd)
        seconds = time.perf_counter() - start
        acc = accuracy(model, x_test, y_test)
        if hasattr(model, "skew_depthwise_channels"):
            model.skew_depthwise_channels()
            skewed = accuracy(model, x_test, y_test)
            assert skewed == acc, f"skewing changed the accuracy: {acc} -> {skewed}"
        print(f"{name}: float test accuracy {acc * 100:.2f}% on {len(y_test)} images, "
              f"{params} parameters, trained in {seconds:.1f} s")
        if acc > min_acc:
            path = export(model, x_test[:1], name, opset)
            print(f"  wrote {path} ({os.path.getsize(path)} bytes)")
        else:
            print(f"  not written: below {min_acc * 100:.0f}%")

    np.savez_compressed(os.path.join(HERE, "digits_calib.npz"), image=x_train[:200])
    np.savez_compressed(os.path.join(HERE, "digits_test.npz"), image=x_test, label=y_test)
    print("wrote digits_calib.npz (200 training images) and digits_test.npz (360 test images)")


if __name__ == "__main__":
    main()
