"""The NAS-Bench-101 network: a stem, stacks of identical modules built from a spec, GAP, linear.

Channel bookkeeping follows the official model builder so parameter counts match the
benchmark: the module's output channels are split among the vertices feeding the output, and
every other vertex takes the widest of its successors, so predecessors can always be
truncated (never padded) to a vertex's width.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from unnas.errors import GenotypeError

from .spec import CONV1X1, CONV3X3, MAXPOOL3X3, ModelSpec

SETTINGS = ("cifar", "imagenet")


def conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def vertex_channels(c_in: int, c_out: int, matrix: np.ndarray) -> list[int]:
    """Channels of every vertex of a module (official rule)."""
    n = matrix.shape[0]
    channels = [0] * n
    channels[0], channels[-1] = c_in, c_out
    if n == 2:
        return channels
    fan_in = int(matrix[1:, -1].sum())  # interior vertices feeding the output
    share, extra = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if matrix[v, -1]:
            channels[v] = share + (1 if extra > 0 else 0)
            extra -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v, -1]:
            channels[v] = max(channels[w] for w in range(v + 1, n - 1) if matrix[v, w])
    return channels


def _vertex_op(op: str, channels: int) -> nn.Module:
    if op == CONV3X3:
        return conv_bn_relu(channels, channels, 3)
    if op == CONV1X1:
        return conv_bn_relu(channels, channels, 1)
    if op == MAXPOOL3X3:
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise GenotypeError(f"NAS-Bench-101 network: no module for op {op!r}")  # ModelSpec already rejects these


class NB101Module(nn.Module):
    """One NAS-Bench-101 module (cell) of a spec, from ``c_in`` to ``c_out`` channels."""

    def __init__(self, spec: ModelSpec, c_in: int, c_out: int):
        super().__init__()
        m = spec.matrix
        self.n = n = spec.num_vertices
        self.channels = vertex_channels(c_in, c_out, m)
        self.preds = [[u for u in range(1, v) if m[u, v]] for v in range(n)]
        self.feeds_output = [v for v in range(1, n - 1) if m[v, -1]]
        self.projections = nn.ModuleDict()
        self.ops = nn.ModuleDict()
        for v in range(1, n - 1):
            if m[0, v]:
                self.projections[str(v)] = conv_bn_relu(c_in, self.channels[v], 1)
            self.ops[str(v)] = _vertex_op(spec.ops[v], self.channels[v])
        if m[0, -1]:
            self.projections[str(n - 1)] = conv_bn_relu(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        states: list[Tensor | None] = [x] + [None] * (self.n - 1)
        for v in range(1, self.n - 1):
            c = self.channels[v]
            terms = [states[u][:, :c] for u in self.preds[v]]
            if str(v) in self.projections:
                terms.append(self.projections[str(v)](x))
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            states[v] = self.ops[str(v)](total)
        last = str(self.n - 1)
        if not self.feeds_output:
            return self.projections[last](x)
        out = torch.cat([states[v] for v in self.feeds_output], dim=1) if len(self.feeds_output) > 1 else states[self.feeds_output[0]]
        if last in self.projections:
            out = out + self.projections[last](x)
        return out


def build_stem(setting: str, in_channels: int, width: int) -> nn.Sequential:
    """CIFAR: one 3×3 conv at stride 1. ImageNet: three stride-2 3×3 convs (→ w/2, w, w; stride 8)."""
    if setting == "cifar":
        return conv_bn_relu(in_channels, width, 3)
    return nn.Sequential(
        conv_bn_relu(in_channels, width // 2, 3, stride=2),
        conv_bn_relu(width // 2, width, 3, stride=2),
        conv_bn_relu(width, width, 3, stride=2),
    )


class NB101Network(nn.Module):
    """A NAS-Bench-101 network for a spec.

    ``features(x)`` returns the last stack's map (``out_channels`` wide) for any task head;
    ``forward`` adds global average pooling and a linear classifier, or returns the features
    when ``num_classes`` is 0/None (use it as a trunk).
    """

    def __init__(self, spec: ModelSpec, setting: str = "cifar", num_classes: int | None = 10,
                 stem_width: int = 128, num_stacks: int = 3, modules_per_stack: int | None = None,
                 in_channels: int = 3):
        super().__init__()
        if setting not in SETTINGS:
            raise GenotypeError(f"NAS-Bench-101 network: unknown setting {setting!r}; choose from {', '.join(SETTINGS)}")
        for name, value in (("stem_width", stem_width), ("num_stacks", num_stacks), ("in_channels", in_channels)):
            if value < 1:
                raise GenotypeError(f"NAS-Bench-101 network: {name} must be at least 1, got {value}")
        if modules_per_stack is None:
            modules_per_stack = 3 if setting == "cifar" else 4
        if modules_per_stack < 1:
            raise GenotypeError(f"NAS-Bench-101 network: modules_per_stack must be at least 1, got {modules_per_stack}")
        self.spec = spec
        self.setting = setting
        self.stem = build_stem(setting, in_channels, stem_width)
        layers: list[nn.Module] = []
        c_in = c = stem_width
        for stack in range(num_stacks):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
                c *= 2
            for _ in range(modules_per_stack):
                layers.append(NB101Module(spec, c_in, c))
                c_in = c
        self.stacks = nn.Sequential(*layers)
        self.out_channels = c
        self.classifier = nn.Linear(c, num_classes) if num_classes else None

    def features(self, x: Tensor) -> Tensor:
        return self.stacks(self.stem(x))

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x)
        if self.classifier is None:
            return f
        return self.classifier(f.mean(dim=(2, 3)))
