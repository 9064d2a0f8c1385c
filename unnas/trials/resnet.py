"""ResNet-56 for CIFAR, the yardstick of the paper's DARTS complexity window.

Built like pycls's CIFAR ResNet so that its size matches the paper's reference count
(0.8558 M params, 125.75 M multiply-adds at 32×32): a 3×3 stem (16 ch), 3 stages of 9 basic
blocks (16/32/64 ch, stride 2 at the start of stages 2 and 3), and a **1×1 conv + BN
projection shortcut** wherever the shape changes (option B; option A's parameter-free
shortcuts would give 0.853 M), then global average pooling and a linear classifier.
"""

from __future__ import annotations

from torch import Tensor, nn


class BasicBlock(nn.Module):
    """conv3×3-BN-ReLU-conv3×3-BN plus the (projected) input, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))
        self.b = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.proj = None
        if stride != 1 or c_in != c_out:
            self.proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.relu(self.b(self.a(x)) + shortcut)


class CifarResNet(nn.Module):
    """Depth 6n+2 CIFAR ResNet (n blocks per stage); ``depth=56`` is ResNet-56."""

    def __init__(self, depth: int = 56, num_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, …), got {depth}")
        blocks = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers, c_in = [], widths[0]
        for stage, c_out in enumerate(widths):
            for i in range(blocks):
                layers.append(BasicBlock(c_in, c_out, 2 if stage > 0 and i == 0 else 1))
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.stages(self.stem(x)).mean(dim=(2, 3)))


def resnet56(num_classes: int = 10) -> CifarResNet:
    return CifarResNet(56, num_classes)
