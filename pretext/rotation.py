"""Rotation pretext task: every image appears in all four rotations, label = rotation index."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unnas.errors import TaskError

from .base import Task
from .heads import PooledClassifier
from .registry import register_task

NUM_ROTATIONS = 4


@register_task
class RotationTask(Task):
    name = "rotation"
    description = "predict which of 0/90/180/270 degrees an image was rotated by (4 inputs per image)"

    def prepare(self, images: Tensor, labels: Tensor | None = None, *, train: bool = True,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        self.check_images(images)
        if images.shape[-1] != images.shape[-2]:
            raise TaskError(
                f"rotation needs square images so all 4 rotations share a shape, got {tuple(images.shape[-2:])}; "
                "use a square crop"
            )
        x = self.normalize(images, train, generator)
        # (B, 4, C, H, W) → (4B, C, H, W): the four rotations of one image stay adjacent.
        rotated = torch.stack([torch.rot90(x, k, dims=(2, 3)) for k in range(NUM_ROTATIONS)], dim=1)
        inputs = rotated.flatten(0, 1)
        targets = torch.arange(NUM_ROTATIONS, device=images.device).repeat(images.shape[0])
        return inputs, targets

    def build_head(self, in_channels: int) -> nn.Module:
        return PooledClassifier(in_channels, NUM_ROTATIONS)
