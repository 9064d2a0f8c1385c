"""Image decoding with torchvision's decoders (JPEG, PNG, WEBP, GIF, …), always to 3-channel RGB."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image

from unnas.errors import DataError

# torchvision 0.29 marks its decoders deprecated in favour of torchcodec; they remain the fast,
# dependency-free path here, so keep the notice out of users' logs.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities", category=DeprecationWarning)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")


class UnreadableImage(DataError):
    """An image file that cannot be decoded."""


def read_image(path: str | Path) -> Tensor:
    """uint8 RGB tensor 3×H×W; grayscale and RGBA inputs are converted."""
    try:
        data = torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8)
        if data.numel() == 0:
            raise RuntimeError("empty file")
        image = decode_image(data, mode=ImageReadMode.RGB)
    except Exception as exc:  # torchvision raises RuntimeError/ValueError depending on the codec
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableImage(
            f"unreadable image {path}: {reason}; delete or replace it, or set data.skip_unreadable=true"
        ) from None
    if image.dim() == 4:  # animated GIF: first frame
        image = image[0]
    return image


def read_label_png(path: str | Path) -> Tensor:
    """An 8-bit single-channel label image, unchanged, as int64 H×W."""
    try:
        data = torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8)
        label = decode_image(data, mode=ImageReadMode.UNCHANGED)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableImage(f"unreadable label image {path}: {reason}") from None
    if label.dim() == 3:
        if label.shape[0] != 1:
            raise DataError(f"label image {path} has {label.shape[0]} channels; expected a single-channel id image")
        label = label[0]
    return label.long()


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
