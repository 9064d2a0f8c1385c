"""The TransNAS-Bench-101 encoder of an architecture (micro cell or macro skeleton), rebuilt.

- **Stem**: Conv 3×3 stride 2 (``in_channels`` → base/2, no bias) → BN → ReLU → Conv 3×3 stride 2
  (base/2 → base, no bias) → BN: ``base_channels`` (64 in the benchmark) at 1/4 resolution.
- **Modules**, one per skeleton digit (micro: always ``41414``): 2 blocks; the first takes the
  module's input width to its output width (×2 for digits 2 and 4) at its stride (2 for digits 3
  and 4), the second keeps width and resolution. The encoder's output (:meth:`TransNASNetwork.features`)
  is the last module's map: no pooling, no head (the benchmark's ``backbone`` structure).
- **Micro cell** (block of the micro space): 4 nodes, node j = Σ_{i<j} op_{j←i}(node i), output
  node 3, no cell-level residual. Edges from node 0 are built C_in → C_out at the block's stride,
  the others C_out → C_out at stride 1. Ops: ``none`` = x·0 when shape is kept, else zeros of
  C_out channels and ⌈H/stride⌉ × ⌈W/stride⌉; ``skip_connect`` = identity when shape is kept,
  else :class:`FactorizedReduce`; ``nor_conv_kxk`` = ReLU → Conv k×k (stride, pad k//2, no bias) → BN.
- **Basic block** (block of the macro space): ReLU → Conv 3×3 (stride) → BN → ReLU → Conv 3×3 → BN,
  plus the shortcut: identity, or Conv 1×1 (stride, no bias) → BN when width or resolution changes;
  no ReLU after the sum.

  **The shortcut-BN quirk.** The benchmark's code builds that BN as
  ``BatchNorm2d(C, affine, track_running_stats)``: the two flags land positionally on ``eps`` and
  ``momentum``, so the layer has **eps = 1.0 and momentum = 1.0** (running statistics = the last
  batch's; affine stays on). ``quirk_shortcut_bn=True`` (the default) reproduces the benchmark's
  network; ``False`` builds the intended ``BatchNorm2d(C)`` (eps 1e-5, momentum 0.1).
- **Initialisation** (the benchmark's): Kaiming-normal (fan_out, ReLU) for every convolution, BN
  weights 1 and biases 0. The optional classifier (``num_classes``) is TransNAS's classification
  decoder — global average pooling → Linear(out_channels, classes) — with PyTorch's default init.

``base_channels`` and ``in_channels`` are settable so that CPU-sized runs can use e.g. 16 channels
and small inputs (any size; each stride-2 layer gives ⌈H/2⌉).

**Cost** (:func:`encoder_cost`): encoder parameters and multiply-accumulates of one image at
224×224 (the benchmark's ``model_info`` convention, thop's MACs): convolutions and linear layers
only (``C_out·C_in/groups·k_h·k_w`` per output pixel, no bias terms — every conv here has none),
BN, activations, pooling, additions and the zero ops cost nothing.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unnas.complexity import count_madds, count_params
from unnas.errors import GenotypeError

from .arch import MICRO_EDGES, MacroArch, MicroArch, load_arch, module_stride, module_widens


class Zero(nn.Module):
    """``none``: x·0 when the shape is kept, else zeros of ``c_out`` channels at the strided size."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1 and self.c_in == self.c_out:
            return x.mul(0.0)
        n, _, h, w = x.shape
        s = self.stride
        return x.new_zeros((n, self.c_out, (h + s - 1) // s, (w + s - 1) // s))


class FactorizedReduce(nn.Module):
    """ReLU → two 1×1 convs at the stride, one on x and one on x shifted by a pixel → concat → BN."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        half = c_out // 2
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, half, 1, stride=stride, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - half, 1, stride=stride, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
                                nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


def micro_op(digit: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    if digit == 0:
        return Zero(c_in, c_out, stride)
    if digit == 1:
        return nn.Identity() if stride == 1 and c_in == c_out else FactorizedReduce(c_in, c_out, stride)
    if digit == 2:
        return ReLUConvBN(c_in, c_out, 1, stride)
    if digit == 3:
        return ReLUConvBN(c_in, c_out, 3, stride)
    raise GenotypeError(f"TransNAS micro cell: no op for digit {digit!r}")  # MicroArch rejects these first


class MicroCell(nn.Module):
    """One micro cell from ``c_in`` to ``c_out`` at ``stride`` (edges from node 0 carry the change)."""

    def __init__(self, arch: MicroArch, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.edges = nn.ModuleList(micro_op(d, c_in, c_out, stride) if frm == 0 else micro_op(d, c_out, c_out, 1)
                                   for (_, frm), d in zip(MICRO_EDGES, arch.digits))

    def forward(self, x: Tensor) -> Tensor:
        nodes = [x]
        for to in (1, 2, 3):
            total = None
            for k, (t, frm) in enumerate(MICRO_EDGES):
                if t == to:
                    y = self.edges[k](nodes[frm])
                    total = y if total is None else total + y
            nodes.append(total)
        return nodes[3]


class BasicBlock(nn.Module):
    """The macro space's ResNet basic block (see the module docstring for ``quirk_shortcut_bn``)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, quirk_shortcut_bn: bool = True):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        if stride == 1 and c_in == c_out:
            self.shortcut: nn.Module = nn.Identity()
        else:
            bn = nn.BatchNorm2d(c_out, eps=1.0, momentum=1.0) if quirk_shortcut_bn else nn.BatchNorm2d(c_out)
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, padding=0, bias=False), bn)

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class TransNASNetwork(nn.Module):
    """The TransNAS-Bench-101 encoder of a micro or macro architecture (see the module docstring).

    ``features(x)`` is the encoder's output map (``out_channels`` wide, 1/``reduction`` of the input);
    ``forward`` adds global average pooling and a linear classifier when ``num_classes`` is set, and
    returns the features when it is 0/None (the default: the benchmark's encoder is a trunk).
    """

    def __init__(self, arch: Any, num_classes: int | None = None, base_channels: int = 64, in_channels: int = 3,
                 quirk_shortcut_bn: bool = True):
        super().__init__()
        for name, value in (("base_channels", base_channels), ("in_channels", in_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GenotypeError(f"TransNAS network: {name} must be an integer of at least 1, got {value!r}")
        if base_channels < 2:
            raise GenotypeError(f"TransNAS network: base_channels must be at least 2 (the stem's first conv has "
                                f"base/2), got {base_channels}")
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or num_classes < 0):
            raise GenotypeError(f"TransNAS network: num_classes must be a non-negative integer or None, "
                                f"got {num_classes!r}")
        self.arch = arch = load_arch(arch)
        self.quirk_shortcut_bn = quirk_shortcut_bn
        half = base_channels // 2
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, half, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(half),
            nn.ReLU(inplace=False),
            nn.Conv2d(half, base_channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(base_channels))
        layers: list[nn.Module] = []
        c, reduction = base_channels, 4
        for digit in arch.modules:
            stride, c_out = module_stride(digit), 2 * c if module_widens(digit) else c
            layers.append(nn.Sequential(self._block(c, c_out, stride), self._block(c_out, c_out, 1)))
            c, reduction = c_out, reduction * stride
        self.layers = nn.Sequential(*layers)
        self.out_channels = c
        #: total stride of :meth:`features` (for inputs divisible by it)
        self.reduction = reduction
        self.classifier = nn.Linear(c, num_classes) if num_classes else None
        self._init_weights()

    def _block(self, c_in: int, c_out: int, stride: int) -> nn.Module:
        if isinstance(self.arch, MacroArch):
            return BasicBlock(c_in, c_out, stride, self.quirk_shortcut_bn)
        return MicroCell(self.arch, c_in, c_out, stride)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: Tensor) -> Tensor:
        return self.layers(self.stem(x))

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x)
        if self.classifier is None:
            return f
        return self.classifier(f.mean(dim=(2, 3)))


def encoder_cost(arch: Any, input_size: int = 224, base_channels: int = 64, in_channels: int = 3) -> dict:
    """Encoder parameters and MACs of one ``in_channels``×``input_size``² image (the benchmark's info at 224):
    ``{"params": int, "macs": int, "params_M": float, "macs_M": float}`` (see the module docstring)."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation arithmetic
        net = TransNASNetwork(arch, None, base_channels, in_channels)
    params, macs = count_params(net), count_madds(net, (in_channels, input_size, input_size))
    return {"params": params, "macs": macs, "params_M": params / 1e6, "macs_M": macs / 1e6}
