"""The embedded demo data: real colour photographs bundled inside scikit-image's wheel.

They load with no network. Each epoch serves ``data.length`` random crops of them, so the
demo search sees varied real images even though there are only a handful of photos.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from unnas.errors import DataError

from .base import NO_LABEL, ImageDataset
from .decode import read_image
from .folder import ImagePipeline
from .registry import register_dataset

#: Colour photographs shipped in skimage/data (file names inside that folder).
DEMO_PHOTOS = (
    "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg", "ihc.png",
    "retina.jpg", "motorcycle_left.png", "motorcycle_right.png",
)


def demo_photo_dir() -> Path:
    try:
        import skimage.data  # imported on use: only the demo reader needs scikit-image
    except ImportError as exc:  # scikit-image is a hard dependency; this only names the fix
        raise DataError("the demo photos come from scikit-image; install it with `pip install scikit-image`") from exc
    return Path(skimage.data.__file__).parent


class DemoPhotos(ImageDataset):
    """``length`` random crops per epoch of the bundled photos (photo = index mod #photos)."""

    def __init__(self, pipeline: ImagePipeline, length: int):
        folder = demo_photo_dir()
        missing = [n for n in DEMO_PHOTOS if not (folder / n).exists()]
        if missing:
            raise DataError(f"scikit-image's bundled photos are missing ({', '.join(missing)}) in {folder}; reinstall scikit-image")
        self.names = list(DEMO_PHOTOS)
        self.photos = [read_image(folder / n) for n in DEMO_PHOTOS]
        self.pipeline = pipeline
        self.length = length

    def __len__(self) -> int:
        return self.length

    def load(self, index: int, generator: torch.Generator) -> tuple[Tensor, int]:
        photo = self.photos[index % len(self.photos)]
        return self.pipeline(photo, generator), NO_LABEL


@register_dataset("demo", "random crops of the colour photos bundled with scikit-image (no download)")
def build_demo(cfg, split: str, train: bool) -> DemoPhotos:
    if cfg.length < 2:
        raise DataError(f"data.length={cfg.length}: the demo reader needs at least 2 samples per epoch")
    return DemoPhotos(ImagePipeline.from_config(cfg, train), cfg.length)
