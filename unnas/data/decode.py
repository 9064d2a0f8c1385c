"""Image decoding, always to 3-channel uint8 RGB, with one-line errors that name the file.

JPEG, PNG, WEBP and GIF go through torchvision's fast decoders; BMP, TIFF and PPM/PGM (which
torchvision cannot decode) through Pillow, which ships with torchvision. PNG chunks are checked
(CRCs, truncation) before libpng sees them, so a corrupt PNG gives our one line instead of
libpng's own message on stderr. Error messages never carry torchvision's source paths.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image

from unnas.errors import DataError

# torchvision 0.29 marks its decoders deprecated in favour of torchcodec; they remain the fast,
# dependency-free path here, so keep the notice out of users' logs.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities", category=DeprecationWarning)

#: Extensions scanned as images; every one decodes (torchvision or Pillow).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")
#: Smallest image side accepted: a 1-pixel-wide image holds no picture to learn from.
MIN_IMAGE_SIDE = 2
FORMATS = "JPEG, PNG, WEBP, GIF, BMP, TIFF or PPM/PGM"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: "decode_png, /__w/vision/…/decode_png.cpp:62, Internal error." → "Internal error."
_TORCHVISION_WHERE = re.compile(r"^\s*\w+,\s*\S+\.(?:cpp|cc|c|h):\d+,\s*")


class UnreadableImage(DataError):
    """An image file that cannot be decoded."""


def _torchvision_format(data: bytes) -> bool:
    """Whether torchvision decodes these bytes (JPEG, PNG, GIF, WEBP); the rest goes to Pillow."""
    return (data.startswith((b"\xff\xd8\xff", PNG_SIGNATURE, b"GIF87a", b"GIF89a"))
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"))


def check_png_chunks(data: bytes) -> None:
    """Raise ValueError for a PNG whose chunk structure is broken (bad CRC, garbage, truncated)."""
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ValueError("truncated PNG (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if not kind.isalpha() or end > len(data):
            raise ValueError("corrupt or truncated PNG data" if kind.isalpha() else "corrupt PNG chunk")
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(data[pos + 4:end - 4]) != crc:
            raise ValueError(f"corrupt PNG ({kind.decode()} chunk fails its CRC check)")
        if kind == b"IEND":
            return
        pos = end


def _clean(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = _TORCHVISION_WHERE.sub("", text)
    if text.startswith("Unsupported image file"):
        return f"not a {FORMATS} image"
    if text in ("Internal error.", "Internal error"):
        return "corrupt image data"
    return text.rstrip(".")


def _decode_pillow(data: bytes) -> Tensor:
    from PIL import Image, UnidentifiedImageError  # imported on use: only formats torchvision cannot decode

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.mode.startswith("I;16") or img.mode == "I":  # 16-bit gray: keep the top byte
                gray = (np.asarray(img).astype(np.int64).clip(0, 65535) >> 8).astype(np.uint8)
                array = np.repeat(gray[:, :, None], 3, axis=2)
            else:
                array = np.array(img.convert("RGB"))
    except UnidentifiedImageError:
        raise ValueError(f"not a {FORMATS} image") from None
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def _read_bytes(path: str | Path) -> bytes:
    data = Path(path).read_bytes()
    if not data:
        raise ValueError("empty file")
    return data


def read_image(path: str | Path) -> Tensor:
    """uint8 RGB tensor 3×H×W; grayscale, RGBA and 16-bit inputs are converted."""
    try:
        data = _read_bytes(path)
        if _torchvision_format(data):
            if data.startswith(PNG_SIGNATURE):
                check_png_chunks(data)
            image = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
        else:
            image = _decode_pillow(data)
    except Exception as exc:  # decoders raise RuntimeError/ValueError/OSError depending on the codec
        raise UnreadableImage(
            f"unreadable image {path}: {_clean(exc)}; delete or replace it, or set data.skip_unreadable=true"
        ) from None
    if image.dim() == 4:  # animated GIF: first frame
        image = image[0]
    if image.dtype != torch.uint8:  # 16-bit PNG: keep the top byte
        image = (image.to(torch.int32) >> 8).to(torch.uint8)
    h, w = image.shape[-2:]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise UnreadableImage(f"image {path} is {h}×{w} px, too small to learn from (sides of at least "
                              f"{MIN_IMAGE_SIDE} px needed); delete it, or set data.skip_unreadable=true")
    return image


def read_label_png(path: str | Path) -> Tensor:
    """An 8-bit single-channel label image, unchanged, as int64 H×W."""
    try:
        data = _read_bytes(path)
        if not data.startswith(PNG_SIGNATURE):
            raise ValueError("not a PNG file")
        check_png_chunks(data)
        label = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.UNCHANGED)
    except Exception as exc:
        raise UnreadableImage(f"unreadable label image {path}: {_clean(exc)}; restore it from gtFine") from None
    if label.dim() == 3:
        if label.shape[0] != 1:
            raise DataError(f"label image {path} has {label.shape[0]} channels; expected a single-channel id image")
        label = label[0]
    return label.long()


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
