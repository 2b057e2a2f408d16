#!/usr/bin/env python3
"""Trains the bundled example model: a small CNN on scikit-learn's digits.

The digits dataset (1,797 8x8 grey-scale images of handwritten digits) ships
inside scikit-learn, so nothing is downloaded. The script trains with a fixed
seed, prints the test accuracy, and writes

    model.onnx    the trained network (input "image": float32[N, 1, 8, 8],
                  pixel values 0..16; output "logits": float32[N, 10])
    sample.npy    one test image (float32[1, 1, 8, 8])
    samples.npz   the 360 held-out test images ("image") and labels ("label")

Requirements: torch, scikit-learn, onnx (versions used: torch 2.15,
scikit-learn 1.9.1, onnx 1.23.2). Run: python train.py
"""

import os

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1, stride=2),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1, groups=16),
            nn.ReLU6(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(16, 10)

    def forward(self, x):
        x = x / 16.0
        return self.classifier(torch.flatten(self.features(x), 1))


def main():
    torch.manual_seed(0)
    digits = load_digits()
    x = digits.images.astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    model = DigitsNet()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for epoch in range(60):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x_test)).argmax(1).numpy()
    print(f"test accuracy: {(pred == y_test).mean():.4f} on {len(y_test)} images")

    torch.onnx.export(
        model,
        (torch.from_numpy(x_test[:1]),),
        os.path.join(HERE, "model.onnx"),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13,
        dynamo=False,
    )
    np.save(os.path.join(HERE, "sample.npy"), x_test[:1])
    np.savez_compressed(os.path.join(HERE, "samples.npz"), image=x_test, label=y_test)
    print(f"sample.npy is a {y_test[0]}")


if __name__ == "__main__":
    main()
