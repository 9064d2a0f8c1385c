"""Jigsaw pretext task: cut an image into grid² jittered tiles, shuffle them, predict the shuffle.

Everything is batched tensor work on the images' device: one gather cuts all tiles of all
images at once, already in slot order. The shared trunk sees the B·n² tiles as one batch and
:class:`JigsawHead` concatenates each image's pooled tile features in slot order.

Randomness (permutation label, gray conversion, tile jitter) comes from ``generator``. The draws
are made on the generator's device and moved to the images' device, so a CPU generator gives the
same tiles whether the images are on the CPU or a GPU.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from unnas.errors import TaskError

from .base import IMAGENET_MEAN, IMAGENET_STD, Task, draw_device
from .permutations import default_permutations, load_permutations
from .registry import register_task

#: ITU-R 601 luma weights, as OpenCV's RGB→gray that the paper used.
GRAY_WEIGHTS = (0.299, 0.587, 0.114)
TILE_EPS = 1e-5


class JigsawHead(nn.Module):
    """Pool each tile's features, concatenate an image's tiles in slot order, one linear layer."""

    def __init__(self, in_channels: int, tiles: int, num_permutations: int):
        super().__init__()
        self.tiles = tiles
        self.fc = nn.Linear(tiles * in_channels, num_permutations)

    def forward(self, features: Tensor, input_size: tuple[int, int] | None = None) -> Tensor:
        if features.shape[0] % self.tiles:
            raise TaskError(f"jigsaw head got {features.shape[0]} tile features, not a multiple of {self.tiles} tiles")
        pooled = features.mean(dim=(2, 3))  # (B·n², C), image-major then slot order
        return self.fc(pooled.reshape(-1, self.tiles * pooled.shape[1]))


@register_task
class JigsawTask(Task):
    """Predict which of a fixed set of permutations shuffled an image's tiles (paper: 3×3, 1000).

    ``num_permutations=None`` uses the grid's default set: all 24 (lexicographic) for 2×2, the
    shipped greedy maximal-Hamming set (seed 0) for 3×3. ``permutations_file`` loads a (P, grid²)
    0-based table instead (its first ``num_permutations`` rows if that is set).
    """

    name = "jigsaw"
    description = "predict which permutation shuffled an image's grid×grid jittered tiles (grid² inputs per image)"

    def __init__(self, grid: int = 3, num_permutations: int | None = None, permutations_file: str | None = None,
                 gray_fraction: float = 0.3, tile_fraction: float = 0.76,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 lighting: float = 0.0):
        super().__init__(mean, std, lighting)
        if int(grid) != grid or not 2 <= int(grid) <= 8:
            raise TaskError(f"jigsaw grid must be an integer in 2..8, got {grid}")
        if not 0.0 <= float(gray_fraction) <= 1.0:
            raise TaskError(f"jigsaw gray_fraction must be in [0, 1], got {gray_fraction}")
        if not 0.0 < float(tile_fraction) <= 1.0:
            raise TaskError(f"jigsaw tile_fraction must be in (0, 1], got {tile_fraction}")
        if num_permutations is not None and int(num_permutations) < 2:
            raise TaskError(f"jigsaw num_permutations must be at least 2, got {num_permutations}")
        self.grid = int(grid)
        self.tiles = self.grid * self.grid
        self.gray_fraction = float(gray_fraction)
        self.tile_fraction = float(tile_fraction)
        self.permutations_file = permutations_file
        if permutations_file is not None:
            perms = load_permutations(permutations_file, self.tiles)
            if num_permutations is not None:
                if num_permutations > len(perms):
                    raise TaskError(f"jigsaw num_permutations={num_permutations} but {permutations_file} holds only "
                                    f"{len(perms)}; lower num_permutations")
                perms = perms[:num_permutations]
        else:
            perms = default_permutations(self.grid, num_permutations)
        self.permutations = torch.from_numpy(perms)
        self.num_permutations = len(perms)
        # Slot s of permutation p holds the tile of cell inverse[p, s]; cutting in slot order needs it.
        self._inverse = torch.argsort(self.permutations, dim=1)
        #: Each cell must leave a tile of at least a few pixels.
        self.min_image_size = self.grid * 4

    def prepare(self, images: Tensor, labels: Tensor | None = None, *, train: bool = True,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        self.check_images(images)
        b, _, h, w = images.shape
        cell_h, cell_w = h // self.grid, w // self.grid
        tile = max(1, int(self.tile_fraction * min(cell_h, cell_w)))
        device, draw = images.device, draw_device(generator, images.device)

        # Draws, always in this order: label, gray coin, per-slot jitter (then lighting, when on).
        target = torch.randint(self.num_permutations, (b,), generator=generator, device=draw).to(device)
        gray = torch.rand(b, generator=generator, device=draw).to(device) < self.gray_fraction
        off_y = torch.randint(cell_h - tile + 1, (b, self.tiles), generator=generator, device=draw).to(device)
        off_x = torch.randint(cell_w - tile + 1, (b, self.tiles), generator=generator, device=draw).to(device)

        # Cell of the tile that lands in each slot, then the flat pixel index of every tile pixel.
        cell = self.device_constant("inverse", self._inverse, target)[target]     # (B, n²)
        ramp = torch.arange(tile, device=device)
        rows = ((cell // self.grid) * cell_h + off_y)[..., None] + ramp            # (B, n², t)
        cols = ((cell % self.grid) * cell_w + off_x)[..., None] + ramp             # (B, n², t)
        flat = (rows[..., :, None] * w + cols[..., None, :]).view(b, 1, -1)         # (B, 1, n²·t²)
        # Cut first: the pixel-wise gray conversion and normalisation then touch only tile pixels.
        tiles = images.float().flatten(2).gather(2, flat.expand(b, 3, -1))         # (B, 3, n²·t²)
        if train and self.gray_fraction > 0:
            luma = (tiles * self.device_constant("gray", GRAY_WEIGHTS, tiles).view(1, 3, 1)).sum(dim=1, keepdim=True)
            tiles = torch.where(gray.view(b, 1, 1), luma.expand_as(tiles), tiles)
        tiles = self.normalize(tiles, train, generator)  # lighting after the gray coin, as the paper's pipeline
        tiles = tiles.view(b, 3, self.tiles, tile, tile).transpose(1, 2)           # (B, n², 3, t, t)

        # Per-tile normalisation over channels and pixels removes colour/brightness shortcuts.
        var, mean = torch.var_mean(tiles, dim=(2, 3, 4), keepdim=True, correction=0)
        tiles = ((tiles - mean) / (var.sqrt() + TILE_EPS)).contiguous()
        return tiles.flatten(0, 1), target

    def build_head(self, in_channels: int) -> nn.Module:
        return JigsawHead(in_channels, self.tiles, self.num_permutations)

    def describe(self) -> dict:
        return {**super().describe(), "grid": self.grid, "num_permutations": self.num_permutations,
                "permutations_file": self.permutations_file, "gray_fraction": self.gray_fraction,
                "tile_fraction": self.tile_fraction}
