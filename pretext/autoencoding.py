"""Autoencoding pretext task (TransNAS-Bench-101): the network under study encodes, a decoder reconstructs.

No labels: the target is the input image itself. The trunk sees the normalised image; the
decoder (:class:`pretext.heads.ReconstructionDecoder`) ends in a sigmoid, so the reconstruction
lives in **unnormalised RGB in [0, 1]** and loss and metric compare it there with the original
pixels. Targets are those pixels as uint8 (B×3×H×W, ``round(255·x)``): integer targets are part
of the Task contract and a quarter of the memory; the rounding error (≤ 1/510) is far below any
reconstruction error a network reaches.

Loss: L1 weighted ``1 − gan_weight`` (TransNAS: 0.99 with a 0.01 conditional-GAN term). The GAN
term is not implemented yet, so ``gan_weight`` must be 0 (the default, TransNAS's choice for
search too). Metrics: ``ssim`` (kornia, 11-px Gaussian window, data range 1; higher is better,
1 for a perfect reconstruction) and ``l1`` (mean absolute error in [0, 1] pixel units).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unnas.errors import TaskError

from .base import IMAGENET_MEAN, IMAGENET_STD, Task
from .heads import DEFAULT_DECODER_STAGES, ReconstructionDecoder
from .registry import register_task

#: SSIM's Gaussian window (Wang et al. 2004); shrunk to the largest odd size that fits smaller images.
SSIM_WINDOW = 11


def target_pixels(targets: Tensor, like: Tensor) -> Tensor:
    """uint8 targets back to float pixels in [0, 1], in ``like``'s dtype."""
    return targets.to(like.dtype) / 255.0


def ssim_map(outputs: Tensor, pixels: Tensor) -> Tensor:
    """Per-pixel SSIM of two B×C×H×W images in [0, 1] (kornia; the window fits small images)."""
    from kornia.metrics import ssim  # imported on use: kornia takes 0.7 s, every task module loads

    side = min(outputs.shape[-2:])
    window = min(SSIM_WINDOW, side if side % 2 else side - 1)
    return ssim(outputs.clamp(0.0, 1.0), pixels, window_size=max(window, 1), max_val=1.0)


@register_task
class AutoencodingTask(Task):
    """Reconstruct the RGB input through the trunk and a pix2pix-style decoder (label-free)."""

    name = "autoencoding"
    description = ("label-free: reconstruct the input image through a conv + transposed-conv decoder "
                   "(L1 loss, SSIM metric)")

    def __init__(self, gan_weight: float = 0.0, decoder_stages: int = DEFAULT_DECODER_STAGES,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        super().__init__(mean, std)
        if not 0.0 <= float(gan_weight) < 1.0:
            raise TaskError(f"task 'autoencoding': task_options.gan_weight must be in [0, 1), got {gan_weight}")
        if float(gan_weight) > 0.0:
            raise TaskError(f"task 'autoencoding': task_options.gan_weight={gan_weight} asks for the conditional-GAN "
                            "loss, which is not implemented yet; set task_options.gan_weight=0 (L1 only)")
        if int(decoder_stages) != decoder_stages or not 1 <= int(decoder_stages) <= 8:
            raise TaskError(f"task 'autoencoding': task_options.decoder_stages must be an integer in [1, 8], "
                            f"got {decoder_stages}")
        self.gan_weight = float(gan_weight)
        self.decoder_stages = int(decoder_stages)

    def prepare(self, images: Tensor, labels: Tensor | None = None, *, train: bool = True,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        self.check_images(images)
        targets = (images.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        return self.normalize(images), targets

    def build_head(self, in_channels: int) -> nn.Module:
        return ReconstructionDecoder(in_channels, out_channels=3, stages=self.decoder_stages)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return (1.0 - self.gan_weight) * F.l1_loss(outputs, target_pixels(targets, outputs))

    def metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        pixels = target_pixels(targets, outputs)
        return {"ssim": ssim_map(outputs, pixels).mean(), "l1": (outputs - pixels).abs().mean()}

    def describe(self) -> dict:
        return {**super().describe(), "gan_weight": self.gan_weight, "decoder_stages": self.decoder_stages,
                "compared_in": "unnormalised RGB in [0, 1]"}
