"""The images a trial trains and is measured on: cached readers, seeded subsets and held-out splits.

A worker process runs many trials; its readers are cached (:func:`reader`), so a split's files are
decoded once for all of them. Subsets and held-out splits are seeded permutations kept in file
order, so every trial of a study (or every candidate of a search) sees the same images.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import torch

from unnas.data import ImageDataset, build_dataset
from unnas.errors import ConfigError

_READERS: dict[tuple, Any] = {}
_MAX_READERS = 4
#: Data settings that do not change what a reader holds (subsets and split names are applied on top).
_NOT_READER_SETTINGS = {"split", "test_split", "train_limit", "test_limit", "subset_seed"}


class SubsetImages(ImageDataset):
    """A fixed subset of a reader that keeps its attributes (statistics, labels, colour)."""

    def __init__(self, base: ImageDataset, indices: list[int]):
        self.base, self.indices = base, list(indices)
        for attr in ("mean", "std", "label_kind", "num_classes", "is_color"):
            setattr(self, attr, getattr(base, attr))

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, index: int, generator: torch.Generator):
        return self.base.load(self.indices[index], generator)


def seeded_subset(dataset, limit: int | None, seed: int):
    """The first ``limit`` images of a seeded permutation (in file order), or the whole dataset."""
    if limit is None or limit >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:limit]
    return SubsetImages(dataset, sorted(order.tolist()))


def reader(data_cfg, split: str, train: bool):
    """A reader, cached per process; subsets and split names do not change what it holds."""
    settings = {k: v for k, v in dataclasses.asdict(data_cfg).items() if k not in _NOT_READER_SETTINGS}
    key = (json.dumps(settings, sort_keys=True, default=str), split, train)
    if key not in _READERS:
        if len(_READERS) >= _MAX_READERS:
            _READERS.pop(next(iter(_READERS)))
        _READERS[key] = build_dataset(data_cfg, split, train=train)
    return _READERS[key]


def holdout_split(train_reader, eval_reader, train_images: int, holdout_images: int, seed: int,
                  where: str = "fitness"):
    """Disjoint seeded subsets of one training split: (images to train on, held-out images to measure on)."""
    n = len(train_reader)
    if train_images + holdout_images > n:
        raise ConfigError(f"{where}.train_images + {where}.holdout_images = {train_images + holdout_images} but the "
                          f"training split holds {n} images; lower them")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return (SubsetImages(train_reader, sorted(order[:train_images])),
            SubsetImages(eval_reader, sorted(order[train_images:train_images + holdout_images])))


def train_images(spec):
    """The images a trial trains on (or a proxy draws its batch from): the whole train split's seeded subset, or
    the training part of a held-out split. Reads only the train split."""
    data = spec.data
    if spec.holdout is not None:
        return trial_datasets(spec)[0]
    return seeded_subset(reader(data, data.split, True), data.train_limit, data.subset_seed)


def trial_datasets(spec) -> tuple[Any, Any, str]:
    """(train, evaluation) datasets of a trial and the name of the split it is measured on."""
    data = spec.data
    if spec.holdout is not None:
        h = spec.holdout
        train, held_out = holdout_split(reader(data, data.split, True), reader(data, data.split, False),
                                        h.train_images, h.holdout_images, h.seed)
        return train, held_out, "held-out"
    train = seeded_subset(reader(data, data.split, True), data.train_limit, data.subset_seed)
    test = seeded_subset(reader(data, data.test_split, False), data.test_limit, data.subset_seed)
    return train, test, data.test_split


def proxy_batch(dataset, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``size`` training images (augmented) chosen and augmented by ``seed`` alone, with their class
    labels (None when the reader has no class labels)."""
    g = torch.Generator().manual_seed(seed)
    picks = torch.randperm(len(dataset), generator=g)[:size].tolist()
    items = [dataset[(i, seed * 1_000_003 + pos)] for pos, i in enumerate(picks)]
    labels = torch.tensor([int(lab) for _, lab in items]) if dataset.label_kind == "class" else None
    return torch.stack([im for im, _ in items]), labels
