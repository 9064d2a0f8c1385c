"""CIFAR-10 in its python-pickle batches (``data_batch_1..5``, ``test_batch``)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from unnas.errors import DataError

from .base import ImageDataset
from .folder import require_dir
from .registry import register_dataset
from .transforms import random_crop, random_hflip

CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)


def read_cifar_batches(root: Path, files: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for name in files:
        path = root / name
        if not path.exists():
            raise DataError(f"CIFAR-10 file {path} is missing; data.root must hold data_batch_1..5 and test_batch "
                            "(the 'cifar-10-batches-py' folder)")
        try:
            with path.open("rb") as f:
                batch = pickle.load(f, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            labs = np.asarray(batch[b"labels"], dtype=np.int64)
        except Exception as exc:
            raise DataError(f"{path} is not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
        if data.ndim != 2 or data.shape[1] != 3072 or len(labs) != len(data):
            raise DataError(f"{path}: expected N×3072 uint8 data with N labels, got {data.shape} and {labs.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(labs)
    return np.concatenate(images), np.concatenate(labels)


class CIFAR10(ImageDataset):
    """Train augmentation as in the paper: flip, then a random 32 crop after 4-px zero padding."""

    mean, std = CIFAR_MEAN, CIFAR_STD
    #: The release's CIFAR colorization constants (UNNAS_FACTS B.2), not the averages of mean/std
    #: (0.4735 / 0.2507).
    luminance_stats = (0.4741, 0.2512)
    label_kind = "class"
    num_classes = 10

    def __init__(self, root: Path, split: str, train: bool):
        if split not in ("train", "test"):
            raise DataError(f"CIFAR-10 has splits 'train' and 'test', not {split!r}; set data.split")
        self.images, self.labels = read_cifar_batches(root, TRAIN_FILES if split == "train" else TEST_FILES)
        if self.labels.min() < 0 or self.labels.max() > 9:
            raise DataError(f"CIFAR-10 labels under {root} must be 0..9, found {self.labels.min()}..{self.labels.max()}")
        self.train = train

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int, generator: torch.Generator) -> tuple[Tensor, int]:
        image = torch.from_numpy(self.images[index]).float().div_(255.0)
        if self.train:
            image = random_hflip(image, generator)
            image = random_crop(image, 32, generator, pad=4)
        return image, int(self.labels[index])


@register_dataset("cifar10", "CIFAR-10 python batches (data_batch_1..5, test_batch), 10 classes")
def build_cifar10(cfg, split: str, train: bool) -> CIFAR10:
    return CIFAR10(require_dir(cfg.root, "cifar10 reader"), split, train)
