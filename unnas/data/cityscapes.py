"""Cityscapes (fine annotations) in the official layout, images paired with per-pixel train ids.

``<root>/leftImg8bit/<split>/<city>/<prefix>_leftImg8bit.png`` pairs with
``<root>/gtFine/<split>/<city>/<prefix>_gtFine_labelTrainIds.png`` (19 classes, 255 = ignore,
made by cityscapesScripts' createTrainIdLabelImgs.py). Where only the raw
``<prefix>_gtFine_labelIds.png`` exists, it is mapped to train ids on the fly, so the dataset
works straight out of the official zip files.

Augmentation follows the paper: train = random scale 2^U(-1,1) of ``data.base_size``, random
``data.crop_size`` crop, flip; eval = the full image. The image and its label always move
together (the release mirrored images but not labels).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from unnas.errors import DataError

from .base import PAPER_LIGHTING, ImageDataset
from .decode import read_image, read_label_png
from .folder import require_dir
from .registry import register_dataset
from .transforms import random_crop, random_hflip, random_scale, to_float

NUM_CLASSES = 19
IGNORE = 255
IMAGE_SUFFIX = "_leftImg8bit.png"
TRAIN_ID_SUFFIX = "_gtFine_labelTrainIds.png"
LABEL_ID_SUFFIX = "_gtFine_labelIds.png"

#: The official Cityscapes label id → train id table (cityscapesScripts helpers/labels.py);
#: every id not listed (unlabeled, ego vehicle, rectification border, out of roi, static, dynamic,
#: ground, parking, rail track, guard rail, bridge, tunnel, polegroup, caravan, trailer, …) → 255.
LABEL_ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}
CLASS_NAMES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)


def train_id_lut() -> Tensor:
    """A 256-entry lookup table: label id → train id (255 for ids that are not evaluated)."""
    lut = torch.full((256,), IGNORE, dtype=torch.long)
    for label_id, train_id in LABEL_ID_TO_TRAIN_ID.items():
        lut[label_id] = train_id
    return lut


def _names(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return set()


def pair_labels(images: list[Path], gt_split: Path) -> list[tuple[Path, bool]]:
    """For each image, (label path, whether it holds raw label ids); train ids win when both exist."""
    listings: dict[str, set[str]] = {}
    pairs = []
    for image in images:
        city = image.parent.name
        present = listings.setdefault(city, _names(gt_split / city))
        prefix = image.name[: -len(IMAGE_SUFFIX)]
        if prefix + TRAIN_ID_SUFFIX in present:
            pairs.append((gt_split / city / (prefix + TRAIN_ID_SUFFIX), False))
        elif prefix + LABEL_ID_SUFFIX in present:
            pairs.append((gt_split / city / (prefix + LABEL_ID_SUFFIX), True))
        else:
            raise DataError(
                f"label {gt_split / city / (prefix + TRAIN_ID_SUFFIX)} for {image} is missing (no {LABEL_ID_SUFFIX} "
                "either); extract gtFine_trainvaltest.zip into the root or run cityscapesScripts createTrainIdLabelImgs.py"
            )
    return pairs


def pad_to(image: Tensor, label: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """Pad bottom/right up to size×size: zeros for the image, ignore for the label."""
    h, w = image.shape[-2:]
    dh, dw = max(size - h, 0), max(size - w, 0)
    if dh or dw:
        image = F.pad(image, (0, dw, 0, dh))
        label = F.pad(label, (0, dw, 0, dh), value=IGNORE)
    return image, label


class CityscapesPipeline:
    """Train: random scale of ``base_size`` (short side ≥ crop), crop, flip — image and label together."""

    def __init__(self, crop_size: int, base_size: int, train: bool):
        self.crop_size, self.base_size, self.train = crop_size, base_size, train

    def __call__(self, image: Tensor, label: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        if self.train:
            image, label = random_scale(image, self.base_size, self.crop_size, generator, mask=label)
            image, label = pad_to(image, label, self.crop_size)
            image, label = random_crop(image, self.crop_size, generator, mask=label)
            image, label = random_hflip(image, generator, mask=label)
        return to_float(image), label


class Cityscapes(ImageDataset):
    label_kind = "mask"
    num_classes = NUM_CLASSES
    classes = CLASS_NAMES
    lighting = PAPER_LIGHTING

    def __init__(self, images: list[Path], labels: list[tuple[Path, bool]], pipeline: CityscapesPipeline):
        self.images, self.labels, self.pipeline = images, labels, pipeline
        self.lut = train_id_lut()

    def __len__(self) -> int:
        return len(self.images)

    def read_label(self, index: int) -> Tensor:
        path, raw_ids = self.labels[index]
        label = read_label_png(path)
        if raw_ids:
            return self.lut[label]
        bad = (label >= NUM_CLASSES) & (label != IGNORE)
        if bad.any():
            value = int(label[bad][0])
            raise DataError(f"label {path} holds value {value}; train-id labels must be 0–{NUM_CLASSES - 1} or "
                            f"{IGNORE} (is it a labelIds or color image renamed?)")
        return label

    def load(self, index: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        image, label = read_image(self.images[index]), self.read_label(index)
        if image.shape[-2:] != label.shape:
            raise DataError(f"{self.images[index]} is {tuple(image.shape[-2:])} but its label "
                            f"{self.labels[index][0]} is {tuple(label.shape)}; they must be the same size")
        return self.pipeline(image, label, generator)


@register_dataset("cityscapes", "Cityscapes: <root>/leftImg8bit/<split>/<city>/*_leftImg8bit.png with "
                                "<root>/gtFine/... *_gtFine_labelTrainIds.png (or labelIds, converted); 19 classes")
def build_cityscapes(cfg, split: str, train: bool) -> Cityscapes:
    root = require_dir(cfg.root, "cityscapes reader")
    image_root, gt_root = root / "leftImg8bit", root / "gtFine"
    if not image_root.is_dir():
        raise DataError(f"{image_root} does not exist; expected {root}/leftImg8bit/<split>/<city>/*{IMAGE_SUFFIX} "
                        "(extract leftImg8bit_trainvaltest.zip into data.root)")
    if not gt_root.is_dir():
        raise DataError(f"{gt_root} does not exist but {image_root} does; extract gtFine_trainvaltest.zip into {root}")
    image_split = image_root / split
    if not image_split.is_dir():
        have = sorted(d.name for d in image_root.iterdir() if d.is_dir())
        raise DataError(f"split folder {image_split} does not exist (found: {', '.join(have) or 'none'}); set data.split")
    images = sorted(image_split.glob(f"*/*{IMAGE_SUFFIX}"))
    if not images:
        raise DataError(f"no *{IMAGE_SUFFIX} images in {image_split}/<city>/; check data.root and data.split")
    pairs = pair_labels(images, gt_root / split)
    return Cityscapes(images, pairs, CityscapesPipeline(cfg.crop_size, cfg.base_size, train))
