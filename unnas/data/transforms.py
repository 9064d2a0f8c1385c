"""Seeded image augmentations on CHW tensors. Every random draw takes an explicit generator.

Functions that take a mask apply the same geometry to it (nearest-neighbour resizing), so
image and labels can never drift apart — the paper's release mirrored images but not labels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _uniform(generator: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _randint(generator: torch.Generator, high: int) -> int:
    """Uniform integer in [0, high]."""
    return int(torch.randint(0, high + 1, (), generator=generator))


def to_float(image: Tensor) -> Tensor:
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image.float()


def resize(image: Tensor, size: tuple[int, int], mask: bool = False) -> Tensor:
    """Bilinear (antialiased) for images, nearest for masks. Works on C×H×W or H×W tensors."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    x = image.unsqueeze(0) if image.dim() == 3 else image[None, None]
    if mask:
        # nearest-exact samples pixel centres, so labels line up with the bilinear image
        out = F.interpolate(x.float(), size=size, mode="nearest-exact").to(image.dtype)
    elif image.dtype == torch.uint8 and image.device.type == "cpu":
        # uint8 bilinear+antialias is native on CPU and ~4x faster than a float round trip
        out = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    else:
        out = F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=True)
        if image.dtype == torch.uint8:
            out = out.round_().clamp_(0, 255).to(torch.uint8)
    return out[0] if image.dim() == 3 else out[0, 0]


def resize_short_side(image: Tensor, short: int, mask: bool = False) -> Tensor:
    h, w = image.shape[-2:]
    if min(h, w) == short:
        return image
    scale = short / min(h, w)
    return resize(image, (max(round(h * scale), short), max(round(w * scale), short)), mask=mask)


def center_crop(image: Tensor, size: int) -> Tensor:
    h, w = image.shape[-2:]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return image[..., top:top + size, left:left + size]


def random_crop(image: Tensor, size: int, generator: torch.Generator, mask: Tensor | None = None,
                pad: int = 0, fill_mask: int = 255):
    """A size×size crop at a random offset; ``pad`` zero-pads first (CIFAR style)."""
    if pad:
        image = F.pad(image, (pad, pad, pad, pad))
        if mask is not None:
            mask = F.pad(mask, (pad, pad, pad, pad), value=fill_mask)
    h, w = image.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"image {h}×{w} is smaller than the crop {size}")
    top, left = _randint(generator, h - size), _randint(generator, w - size)
    out = image[..., top:top + size, left:left + size]
    if mask is None:
        return out
    return out, mask[..., top:top + size, left:left + size]


def random_hflip(image: Tensor, generator: torch.Generator, mask: Tensor | None = None, p: float = 0.5):
    flip = _uniform(generator) < p
    if flip:
        image = image.flip(-1)
        if mask is not None:
            mask = mask.flip(-1)
    return image if mask is None else (image, mask)


def random_resized_crop(image: Tensor, size: int, generator: torch.Generator, scale=(0.08, 1.0),
                        ratio=(3 / 4, 4 / 3), tries: int = 10) -> Tensor:
    """Inception-style crop: random area fraction and aspect ratio, resized to size×size.

    Falls back to a centre crop of the short side after ``tries`` misses, as the paper's code does.
    """
    h, w = image.shape[-2:]
    area = h * w
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(tries):
        target = area * _uniform(generator, *scale)
        aspect = math.exp(_uniform(generator, log_lo, log_hi))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top, left = _randint(generator, h - ch), _randint(generator, w - cw)
            return resize(image[..., top:top + ch, left:left + cw], (size, size))
    side = min(h, w)
    return resize(center_crop(image, side), (size, size))


def random_scale(image: Tensor, base: int, min_side: int, generator: torch.Generator,
                 mask: Tensor | None = None, log2_range: float = 1.0):
    """Scale so the short side becomes max(min_side, base·2^U(-r, r)); the mask follows (nearest)."""
    s = 2.0 ** _uniform(generator, -log2_range, log2_range)
    short = max(min_side, int(base * s))
    image = resize_short_side(image, short)
    if mask is None:
        return image
    return image, resize(mask, tuple(image.shape[-2:]), mask=True)
