"""Build a fixed-architecture run from a :class:`~unnas.config.TrainConfig`: task, data, network.

Shared by ``unnas train`` and ``unnas eval`` so that evaluation rebuilds exactly the trained
model. Data-dependent task options (normalisation, number of classes) are written back into
the config, so the run directory's config.yaml records them and evaluation reuses them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

import pretext
from eval.networks import DEFAULTS, SegmentationNetwork, build_network, default_width
from unnas.config.rules import check_batch_for_task, check_config
from unnas.config.train_schema import TrainConfig
from unnas.data import build_dataset
from unnas.engine.task_setup import build_task_for_data
from unnas.errors import ConfigError, DataError
from unnas.spaces.darts.genotype import Genotype, load_genotype

#: Readers whose held-out split is called ``test`` (the others use ``val``).
TEST_SPLIT_READERS = ("cifar10", "fashion_mnist", "idx")
#: Name of the validation part carved from the train split (``data.val_fraction``) in logs and results.
HOLDOUT = "holdout"


def resolve_train_config(cfg: TrainConfig) -> TrainConfig:
    """Fill the defaults that depend on other keys (task, test split, out_dir) and check the setting."""
    if not cfg.arch:
        raise ConfigError("no architecture given; pass ARCH (a published name such as darts_v2, a genotype file "
                          "or an `unnas search` run directory)")
    check_config(cfg)  # setting, select, val_fraction, the recipe: the schema's rules (a config built in code too)
    if cfg.task is None:
        cfg.task = "segmentation" if cfg.setting == "cityscapes" else "classification"
    check_batch_for_task(cfg.recipe.batch_size, cfg.task, "recipe.batch_size")
    if cfg.data.test_split is None:
        cfg.data.test_split = "test" if cfg.data.name in TEST_SPLIT_READERS else "val"
    if cfg.out_dir is None:
        cfg.out_dir = f"runs/train-{cfg.setting}-{cfg.task}"
    if cfg.model.width is None:  # recorded, so evaluation rebuilds the same width from genotype.json
        cfg.model.width = default_width(cfg.arch, cfg.setting)
    if cfg.model.cells is None:
        cfg.model.cells = DEFAULTS[cfg.setting]["cells"]
    if cfg.model.aux is None:  # only the classification networks carry an auxiliary head
        cfg.model.aux = bool(DEFAULTS[cfg.setting]["aux"]) and cfg.task == "classification"
    return cfg


def build_task(cfg: TrainConfig, dataset) -> pretext.Task:
    """The task of ``cfg``; mean/std and num_classes default to the dataset's and are recorded in
    ``cfg.task_options``."""
    task, cfg.task_options = build_task_for_data(cfg.task, cfg.task_options, dataset, cfg.data.name)
    return task


class FirstImages(Dataset):
    """The first ``n`` samples of a reader, keeping its attributes (classes, mean, std, …)."""

    def __init__(self, dataset, n: int):
        self.dataset, self.n = dataset, min(n, len(dataset))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        index = key[0] if isinstance(key, tuple) else key
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for the first {self.n} images")
        return self.dataset[key]

    def __getattr__(self, name: str):
        if name in ("dataset", "n"):
            raise AttributeError(name)
        return getattr(self.dataset, name)


class IndexSubset(Dataset):
    """The samples ``indices`` of a reader, keeping its attributes (classes, mean, std, …)."""

    def __init__(self, dataset, indices: list[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self.dataset[(self.indices[key[0]], *key[1:])]
        return self.dataset[self.indices[key]]

    def __getattr__(self, name: str):
        if name in ("dataset", "indices"):
            raise AttributeError(name)
        return getattr(self.dataset, name)


def holdout_indices(n: int, fraction: float, seed: int, split: str = "train") -> tuple[list[int], list[int]]:
    """(train, validation) indices of ``n`` samples: a seeded ``fraction`` is held out; both sorted, disjoint."""
    k = int(round(n * fraction))
    if k < 1 or k >= n:
        raise DataError(f"data.val_fraction={fraction} of the {n} images of split {split!r} leaves "
                        f"{k} for validation and {n - k} for training; both parts need images, so choose a "
                        f"fraction in [{1 / n:.3g}, {1 - 1 / n:.3g}] or use more data")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[k:]), sorted(order[:k])


def build_train_sets(cfg: TrainConfig):
    """(train, validation or None): the train split, minus a seeded ``data.val_fraction`` held out when > 0.

    The held-out part is read with the evaluation transforms (no augmentation), like the test split.
    """
    train = build_dataset(cfg.data, cfg.data.split, train=True)
    if not cfg.data.val_fraction:
        return train, None
    keep, held = holdout_indices(len(train), cfg.data.val_fraction, cfg.data.val_seed, cfg.data.split)
    plain = build_dataset(cfg.data, cfg.data.split, train=False)
    return IndexSubset(train, keep), IndexSubset(plain, held)


def build_test_set(cfg: TrainConfig, split: str | None = None):
    """The evaluation split (default ``data.test_split``), cut to ``data.max_test_images``."""
    n = cfg.data.max_test_images
    if n is not None and n < 1:
        raise ConfigError(f"data.max_test_images={n} is invalid: must be at least 1 (or null for all)")
    dataset = build_dataset(cfg.data, split or cfg.data.test_split, train=False)
    return dataset if n is None else FirstImages(dataset, n)


class PaddedSegmentationNetwork(SegmentationNetwork):
    """The Cityscapes network run at the next (16k+1)×(16m+1) size, logits cropped back.

    With output stride 16 and align-corners upsampling, 16k+1 pixels put every feature on an
    input pixel (the paper pads 1024×2048 validation images to 1025×2049 and trains on 769
    crops). Padding is zeros after normalisation (the mean colour), bottom and right only, so
    the crop keeps each logit over its own pixel; state dicts equal SegmentationNetwork's.
    """

    stride = 16

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = (1 - h) % self.stride, (1 - w) % self.stride
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return super().forward(x)[..., :h, :w]


def _segmentation_network(genotype: Genotype, cfg: TrainConfig, num_classes: int,
                          in_channels: int) -> nn.Module:
    m = cfg.model
    if m.aux:
        raise ConfigError("model.aux=true but the cityscapes network has no auxiliary head; set model.aux=false")
    return PaddedSegmentationNetwork(genotype, m.width, m.cells, num_classes, aspp_channels=m.aspp_channels or 256,
                                     in_channels=in_channels)


def build_model(cfg: TrainConfig, task: pretext.Task, genotype: Genotype | None = None) -> nn.Module:
    """Classification: the setting's network with its own classifier (and aux head); segmentation
    on cityscapes: the ASPP network; any other task: the network's cell trunk plus the task's head.
    Expects a config passed through :func:`resolve_train_config` (width and cells filled)."""
    genotype = load_genotype(cfg.arch) if genotype is None else genotype
    m = cfg.model
    num_classes = m.num_classes or getattr(task, "num_classes", None)
    if cfg.task == "segmentation" and cfg.setting == "cityscapes":
        return _segmentation_network(genotype, cfg, num_classes or 19, task.input_channels)
    if cfg.task == "classification":
        return build_network(genotype, cfg.setting, m.width, m.cells, num_classes, m.aux, 0.0, task.input_channels)
    if m.aux:
        raise ConfigError(f"model.aux=true but task {cfg.task!r} uses its own head; set model.aux=false")
    net = build_network(genotype, cfg.setting, m.width, m.cells, num_classes or 2, False, 0.0, task.input_channels)
    return pretext.TaskNetwork(net.trunk, task.build_head(net.trunk.out_channels))
