"""IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.

Format: a big-endian magic ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian uint32
dimensions, then the raw big-endian values. ``data.root`` holds
``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (each optionally ``.gz``); split ``train``
reads the first pair, ``test`` the ``t10k`` pair.

Images are grayscale: each becomes a float 3×H×W tensor in [0, 1] (the gray plane
replicated), optionally resized to ``data.crop_size`` (e.g. 32 to feed the DARTS CIFAR stem).
Training adds a flip and a random crop after 4-px zero padding, as for CIFAR.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from unnas.errors import DataError

from .base import ImageDataset
from .folder import require_dir
from .registry import register_dataset
from .transforms import random_crop, random_hflip, resize

#: IDX dtype code → numpy big-endian dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
#: Per-pixel mean and std of the Fashion-MNIST train split (60000 images, values / 255), measured
#: on Debian's dataset-fashion-mnist files: ``p = read_idx(train-images) / 255; p.mean(), p.std()``
#: gave 0.28604 and 0.35302.
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530
INSTALL_HINT = ("`apt-get install dataset-fashion-mnist` puts them under the folder "
                "`dpkg -L dataset-fashion-mnist` shows (/usr/share/datasets/fashion-mnist)")


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in one IDX file (gzip-compressed if its name ends in .gz)."""
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"IDX file {path} cannot be read: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic {raw[:4].hex() or 'empty'}); expected 0000<dtype><ndim>")
    dtype, ndim = np.dtype(IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX file {path} is truncated inside its header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"IDX file {path}: header says {dims} ({expected} bytes of data) but it holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def find_idx(root: Path, stem: str, what: str) -> Path:
    """``root/stem`` or ``root/stem.gz``, whichever exists."""
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    raise DataError(f"{what}: {stem}(.gz) is missing under {root}; {INSTALL_HINT}")


def read_idx_split(root: Path, split: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(N×H×W uint8 images, N int64 labels) of one split."""
    if split not in SPLIT_PREFIX:
        raise DataError(f"{what} has splits 'train' and 'test', not {split!r}; set data.split")
    prefix = SPLIT_PREFIX[split]
    images_path = find_idx(root, f"{prefix}-images-idx3-ubyte", what)
    labels_path = find_idx(root, f"{prefix}-labels-idx1-ubyte", what)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected N×H×W uint8 images, got shape {images.shape} of {images.dtype}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected a 1-D label vector, got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{what}: {images_path.name} holds {len(images)} images but {labels_path.name} "
                        f"holds {len(labels)} labels; the files must come from the same split")
    return images, labels.astype(np.int64)


class IDXImages(ImageDataset):
    """Grayscale IDX images with class labels, replicated to 3 channels."""

    label_kind = "class"
    is_color = False

    def __init__(self, images: np.ndarray, labels: np.ndarray, train: bool, size: int,
                 mean: float, std: float, num_classes: int):
        self.images, self.labels = images, labels
        self.train, self.size = train, size
        self.mean, self.std = (mean,) * 3, (std,) * 3
        self.num_classes = num_classes

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int, generator: torch.Generator) -> tuple[Tensor, int]:
        image = torch.from_numpy(self.images[index]).float().div_(255.0)[None]
        image = resize(image, (self.size, self.size))
        if self.train:
            image = random_hflip(image, generator)
            image = random_crop(image, self.size, generator, pad=4)
        return image.expand(3, -1, -1).contiguous(), int(self.labels[index])


def _check_labels(labels: np.ndarray, num_classes: int, root: Path, what: str) -> None:
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{what}: labels under {root} must be 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")


@register_dataset("fashion_mnist", "Fashion-MNIST IDX files (train-/t10k-images/labels, .gz or not), 10 classes, gray → 3 channels")
def build_fashion_mnist(cfg, split: str, train: bool) -> IDXImages:
    what = "fashion_mnist reader"
    root = require_dir(cfg.root, what)
    images, labels = read_idx_split(root, split, what)
    _check_labels(labels, 10, root, what)
    return IDXImages(images, labels, train, cfg.crop_size, FASHION_MNIST_MEAN, FASHION_MNIST_STD, 10)


@register_dataset("idx", "any MNIST-style IDX files (train-/t10k-images/labels); classes and mean/std from the data")
def build_idx(cfg, split: str, train: bool) -> IDXImages:
    """Classes = max label + 1 and mean/std measured on the split's own pixels at load time."""
    what = "idx reader"
    root = require_dir(cfg.root, what)
    images, labels = read_idx_split(root, split, what)
    num_classes = int(labels.max()) + 1 if len(labels) else 1
    _check_labels(labels, num_classes, root, what)
    pixels = images.astype(np.float64) / 255.0
    return IDXImages(images, labels, train, cfg.crop_size, float(pixels.mean()), float(max(pixels.std(), 1e-6)),
                     num_classes)
