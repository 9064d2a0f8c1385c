"""Parameters and FLOPs of NAS-Bench-201 networks in the benchmark's own convention.

The benchmark (``xautodl/utils/flop_benchmark.py``) counts, for ONE image:

- **params**: trainable parameters (BN running statistics are buffers, not counted);
- **FLOPs**: multiply-accumulates of convolutions and linear layers only —
  a convolution costs ``k_h·k_w·C_in·C_out/groups`` per output pixel, plus ``C_out`` per output
  pixel when it has a bias; a linear layer ``in·out``, plus ``out`` for its bias;
  BN, ReLU, pooling and additions cost nothing.

Images are 3×32×32 for CIFAR-10 / CIFAR-100 (10 / 100 classes) and 3×16×16 for ImageNet16-120
(120 classes). The published records print params and FLOPs in millions (value / 1e6, labelled
"MB" and "M"); :func:`benchmark_cost` gives the exact integers and those millions.

This differs from :func:`unnas.complexity.count_madds` (no bias terms) and from thop, which also
counts BN (arch 0: thop 16.46 M against the benchmark's 15.65 M). The counter runs the real
module once on the ``meta`` device (shapes only), with forward hooks on its Conv2d and Linear
layers; the module is left untouched.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from unnas.complexity import count_layers, count_params
from unnas.errors import GenotypeError

from .network import NB201Network

#: dataset → (classes, image side) of the benchmark's three datasets (and their usual aliases).
DATASETS: dict[str, tuple[int, int]] = {
    "cifar10": (10, 32), "cifar10-valid": (10, 32), "cifar100": (100, 32),
    "imagenet16-120": (120, 16), "imagenet16": (120, 16), "in16": (120, 16),
}


def _layer_flops(module: nn.Module, output: torch.Tensor) -> int:
    """FLOPs of one conv or linear call on a batch of one (the benchmark's rule)."""
    if isinstance(module, nn.Conv2d):
        k_h, k_w = module.kernel_size
        positions = output.shape[0] * output.shape[2] * output.shape[3]
        per_position = k_h * k_w * module.in_channels * module.out_channels // module.groups
        return positions * (per_position + (module.out_channels if module.bias is not None else 0))
    rows = output.numel() // module.out_features
    return rows * (module.in_features * module.out_features + (module.out_features if module.bias is not None else 0))


def count_flops(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Benchmark FLOPs (conv + linear multiply-accumulates, bias included) of one image ``(C, H, W)``."""
    return count_layers(module, input_shape, _layer_flops)


def dataset_shape(dataset: str) -> tuple[int, int]:
    """``(classes, image side)`` of one of the benchmark's datasets."""
    key = dataset.lower()
    if key not in DATASETS:
        raise GenotypeError(f"NAS-Bench-201 cost: unknown dataset {dataset!r}; choose cifar10, cifar100 or "
                            "ImageNet16-120")
    return DATASETS[key]


def network_cost(net: nn.Module, image_side: int, in_channels: int = 3) -> dict:
    """``{"params", "flops", "params_M", "flops_M"}`` of a built network on one square image."""
    params, flops = count_params(net), count_flops(net, (in_channels, image_side, image_side))
    return {"params": params, "flops": flops, "params_M": params / 1e6, "flops_M": flops / 1e6}


def benchmark_cost(arch: Any, dataset: str = "cifar10", C: int = 16, N: int = 5, variant: str = "benchmark") -> dict:
    """Params and FLOPs of the benchmark network of ``arch`` for ``dataset`` (cifar10, cifar100,
    ImageNet16-120): ``{"params": int, "flops": int, "params_M": float, "flops_M": float}``; the ``_M``
    values are what the benchmark records (e.g. arch 0 on CIFAR-10: 0.129306 and 15.64737)."""
    classes, side = dataset_shape(dataset)
    with torch.device("meta"):  # shapes only: no memory, no initialisation arithmetic
        net = NB201Network(arch, num_classes=classes, C=C, N=N, variant=variant)
    return network_cost(net, side)
