"""Folders of images: unlabeled (any nesting) and class folders (ImageNet ``train/<wnid>/…``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import Tensor

from unnas.errors import ConfigError, DataError

from .base import NO_LABEL, PAPER_LIGHTING, ImageDataset
from .decode import UnreadableImage, is_image_file, read_image
from .registry import register_dataset
from .transforms import center_crop, random_crop, random_hflip, random_resized_crop, resize_short_side, to_float


def require_dir(root: str | Path | None, what: str) -> Path:
    if not root:
        raise DataError(f"{what}: no data root given; set data.root=/path/to/images")
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"{what}: data root {path} does not exist; check data.root")
    if not path.is_dir():
        raise DataError(f"{what}: data root {path} is not a directory; point data.root at a folder")
    return path


def scan_images(root: Path) -> list[Path]:
    """Every image file under ``root`` (recursively, symlinks followed), sorted for a stable order."""
    found = []
    for dirpath, _dirs, files in os.walk(root, followlinks=True):
        for f in files:
            p = Path(dirpath) / f
            if is_image_file(p):
                found.append(p)
    return sorted(found)


def drop_unreadable(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Decode every file once; return (readable, unreadable). Used when data.skip_unreadable is set."""
    good, bad = [], []
    for p in paths:
        try:
            read_image(p)
            good.append(p)
        except UnreadableImage:
            bad.append(p)
    return good, bad


TRAIN_CROPS = ("random_resized", "resize_random")


class ImagePipeline:
    """ImageNet-style augmentation; eval = resize short side, centre crop.

    Train crops: ``random_resized`` (Inception random-sized crop, the paper's cls/rot/col) or
    ``resize_random`` (short side to ``resize_size``, then a random crop: the paper's jigsaw,
    256 → 255). Both end with a horizontal flip.
    """

    def __init__(self, crop_size: int, resize_size: int, train: bool, min_scale: float = 0.08,
                 train_crop: str = "random_resized"):
        if train_crop not in TRAIN_CROPS:
            raise ConfigError(f"data.train_crop={train_crop!r} is unknown; choose one of {', '.join(TRAIN_CROPS)}")
        self.crop_size, self.resize_size, self.train, self.min_scale = crop_size, resize_size, train, min_scale
        self.train_crop = train_crop

    @classmethod
    def from_config(cls, cfg, train: bool) -> "ImagePipeline":
        return cls(cfg.crop_size, cfg.resize_size, train, cfg.min_scale, cfg.train_crop)

    def __call__(self, image: Tensor, generator: torch.Generator) -> Tensor:
        if self.train and self.train_crop == "resize_random":
            image = random_crop(resize_short_side(image, max(self.resize_size, self.crop_size)), self.crop_size,
                                generator)
            image = random_hflip(image, generator)
        elif self.train:
            image = random_resized_crop(image, self.crop_size, generator, scale=(self.min_scale, 1.0))
            image = random_hflip(image, generator)
        else:
            image = center_crop(resize_short_side(image, max(self.resize_size, self.crop_size)), self.crop_size)
        return to_float(image)


class FileListDataset(ImageDataset):
    """Images named by a list of paths, each with an optional integer label."""

    def __init__(self, paths: list[Path], labels: list[int] | None, pipeline: ImagePipeline,
                 num_classes: int | None = None, classes: list[str] | None = None):
        self.paths = paths
        self.labels = labels
        self.pipeline = pipeline
        self.num_classes = num_classes
        self.classes = classes
        self.label_kind = "class" if labels is not None else None

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int, generator: torch.Generator) -> tuple[Tensor, int]:
        image = self.pipeline(read_image(self.paths[index]), generator)
        return image, (self.labels[index] if self.labels is not None else NO_LABEL)


def _pipeline(cfg, train: bool) -> ImagePipeline:
    return ImagePipeline.from_config(cfg, train)


def _apply_unreadable_policy(paths: list[Path], cfg, root: Path) -> list[Path]:
    if not cfg.skip_unreadable:
        return paths
    good, bad = drop_unreadable(paths)
    if bad:
        print(f"unnas: skipped {len(bad)} unreadable image(s) under {root}, e.g. {bad[0]}")
    if not good:
        raise DataError(f"no readable image under {root} ({len(bad)} unreadable files)")
    return good


@register_dataset("folder", "any folder of images, nested or flat, no labels (your own unlabeled data)")
def build_folder(cfg, split: str, train: bool) -> FileListDataset:
    root = require_dir(cfg.root, "folder reader")
    paths = scan_images(root)
    if not paths:
        raise DataError(f"no image files under {root} (looked for {', '.join(e for e in ('.jpg', '.png', '.webp', '.bmp'))}, …)")
    paths = _apply_unreadable_policy(paths, cfg, root)
    return FileListDataset(paths, None, _pipeline(cfg, train))


WNID = re.compile(r"^n[0-9]+$")


def class_folders(split_dir: Path, strict_wnid: bool) -> list[str]:
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir() and not d.name.startswith("."))
    if strict_wnid:
        classes = [c for c in classes if WNID.match(c)]
    if not classes:
        raise DataError(f"no class folders in {split_dir}" + (" (ImageNet class folders look like n01440764)" if strict_wnid else ""))
    return classes


def build_class_folder(cfg, split: str, train: bool, strict_wnid: bool) -> FileListDataset:
    root = require_dir(cfg.root, "imagefolder reader")
    split_dir = root / split
    if not split_dir.is_dir():
        raise DataError(f"{split_dir} does not exist; expected {root}/{split}/<class>/<image> (set data.split)")
    classes = class_folders(split_dir, strict_wnid)
    paths: list[Path] = []
    labels: list[int] = []
    for idx, cls in enumerate(classes):
        files = scan_images(split_dir / cls)
        if not files:
            raise DataError(f"class folder {split_dir / cls} holds no images; remove it or add images")
        paths += files
        labels += [idx] * len(files)
    if cfg.skip_unreadable:
        keep = set(_apply_unreadable_policy(paths, cfg, split_dir))
        labels = [lab for p, lab in zip(paths, labels) if p in keep]
        paths = [p for p in paths if p in keep]
    return FileListDataset(paths, labels, _pipeline(cfg, train), num_classes=len(classes), classes=classes)


@register_dataset("imagefolder", "class folders <root>/<split>/<class>/<image>; labels from sorted folder names")
def build_imagefolder(cfg, split: str, train: bool) -> FileListDataset:
    return build_class_folder(cfg, split, train, strict_wnid=False)


@register_dataset("imagenet", "ImageNet-1K: <root>/{train,val}/<wnid>/<image>, 1000 classes from sorted wnids")
def build_imagenet(cfg, split: str, train: bool) -> FileListDataset:
    dataset = build_class_folder(cfg, split, train, strict_wnid=True)
    dataset.lighting = PAPER_LIGHTING
    return dataset
