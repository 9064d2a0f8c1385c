"""Model size: trainable parameters and multiply-adds of one forward pass.

Counting rule for :func:`count_madds` (the convention of the DARTS / mobile-setting papers and
of thop's MACs, without bias terms):

- a convolution costs ``C_out × (C_in / groups) × k_h × k_w × H_out × W_out``;
- a linear layer costs ``in_features × out_features`` per row it is applied to;
- pooling, batch norm, activations, additions, concatenations and interpolation cost nothing.

The count is for ONE image: the module runs once in eval mode on a batch of one. So a head
that runs only while training (the auxiliary classifier) is not counted. The pass runs on the
``meta`` device (shapes only, no arithmetic, no memory for activations), with every parameter
and buffer swapped for a meta stand-in through ``torch.func.functional_call``; the module
itself is left untouched.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call


def count_params(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameter elements (only those with ``requires_grad`` unless told otherwise)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _layer_madds(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-adds of one conv or linear call, from its output (a batch of one image)."""
    if isinstance(module, nn.Conv2d):
        k_h, k_w = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * k_h * k_w
    return output.numel() * module.in_features  # linear: (rows × out) outputs, `in` products each


def count_layers(module: nn.Module, input_shape: Sequence[int],
                 layer_cost: Callable[[nn.Module, torch.Tensor], int]) -> int:
    """The sum of ``layer_cost(layer, output)`` over every conv and linear call of one forward pass of one image
    of shape ``input_shape`` = (C, H, W), in eval mode, on the meta device (the module is left untouched)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (channels, height, width), got {tuple(input_shape)}")
    total = 0

    def hook(mod: nn.Module, _inputs, output) -> None:
        nonlocal total
        total += layer_cost(mod, output)

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    modes = {m: m.training for m in module.modules()}
    meta = {name: torch.empty_like(t, device="meta")
            for name, t in list(module.named_parameters()) + list(module.named_buffers())}
    try:
        module.eval()
        with torch.no_grad():
            functional_call(module, meta, (torch.zeros((1,) + shape, device="meta"),), strict=False)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return total


def count_madds(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of one forward pass of one image of shape ``input_shape`` = (C, H, W)."""
    return count_layers(module, input_shape, _layer_madds)
