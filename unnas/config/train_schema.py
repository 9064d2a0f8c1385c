"""Config schema of ``unnas train`` / ``unnas eval``: a fixed architecture trained from scratch.

The training recipe (:class:`Recipe`) is a plain dataclass so that the study runner can build
one in code; :func:`unnas.engine.trainer.train_and_evaluate` takes it directly. YAML files under
``configs/eval/`` hold only overrides of these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from .schema import DataConfig


@dataclass
class Recipe:
    """How to train: SGD, cosine lr per epoch with optional linear warm-up, evaluation cadence."""

    rules = {"epochs": ">= 1", "batch_size": ">= 1", "lr": "> 0", "lr_min": "[0, lr]", "momentum": "[0, 1)",
             "weight_decay": ">= 0", "warmup_epochs": "[0, epochs]", "warmup_factor": "(0, 1]", "grad_clip": "> 0",
             "aux_weight": ">= 0", "drop_path": "[0, 1)", "test_batch_size": ">= 1", "precise_bn_batches": ">= 0",
             "eval_every": ">= 1", "num_workers": ">= 0", "max_iters_per_epoch": ">= 1"}

    epochs: int = 10
    #: Images per step per process (the global batch is batch_size × processes).
    batch_size: int = 32
    lr: float = 0.1
    lr_min: float = 0.0
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 3e-5
    #: Linear warm-up (per epoch) from warmup_factor × lr to lr over this many epochs.
    warmup_epochs: float = 0.0
    warmup_factor: float = 0.1
    #: Clip the gradient norm to this value (None: no clipping).
    grad_clip: Optional[float] = None
    #: Weight of the auxiliary head's loss, when the model returns (logits, aux_logits) in training.
    aux_weight: float = 0.4
    #: Maximum drop-path probability, reached linearly at the last epoch (drop_path × epoch / epochs).
    drop_path: float = 0.0
    #: Images per evaluation batch per process.
    test_batch_size: int = 100
    #: After each epoch, recompute BN statistics on this many train batches (0: off).
    precise_bn_batches: int = 0
    #: Evaluate on the test split every N epochs (and always after the last).
    eval_every: int = 1
    num_workers: int = 0
    #: Stop each epoch after this many iterations (None: the whole train split), for quick runs.
    max_iters_per_epoch: Optional[int] = None


@dataclass
class TrainDataConfig(DataConfig):
    rules = {"max_test_images": ">= 1", "val_fraction": "[0, 1)", "val_seed": ">= 0"}

    name: str = "cifar10"
    crop_size: int = 32
    resize_size: int = 32
    #: Split evaluated during and after training (None: ``test`` for cifar10 / fashion_mnist / idx, else ``val``).
    test_split: Optional[str] = None
    #: Evaluate on the first N images of the test split only (None: all), for quick runs.
    max_test_images: Optional[int] = None
    #: Hold out this fraction of the train split as a validation part (0: none). When > 0 the
    #: per-epoch evaluations (and ``select: best_epoch``) use it, the rest trains, and the test
    #: split is evaluated once, at the end.
    val_fraction: float = 0.0
    #: Seed of the held-out part (fixed, so runs with different ``seed`` share one validation part).
    val_seed: int = 0


@dataclass
class TrainModelConfig:
    """The evaluation network; None takes the setting's default (``eval.networks.build_network``)."""

    rules = {"width": ">= 1", "cells": ">= 1", "num_classes": ">= 1", "aspp_channels": ">= 1"}

    #: Initial channels C (None: the released width of a published arch, else 36 / 48 / 82).
    width: Optional[int] = None
    #: Cells L (None: 20 / 14 / 12 for cifar / imagenet / cityscapes).
    cells: Optional[int] = None
    #: Auxiliary head (classification only; None: on for cifar and imagenet).
    aux: Optional[bool] = None
    #: Classes (None: the task's, which defaults to the dataset's).
    num_classes: Optional[int] = None
    #: ASPP branch width of the segmentation network (None: 256, as in the paper).
    aspp_channels: Optional[int] = None


@dataclass
class TrainConfig:
    rules = {"setting": ("cifar", "imagenet", "cityscapes"), "seed": ">= 0", "select": ("final", "best_epoch")}

    #: Published genotype name, genotype file or `unnas search` run directory (the ARCH argument).
    arch: str = ""
    #: Network family: cifar | imagenet | cityscapes.
    setting: str = "cifar"
    #: classification, segmentation or any registered task (None: segmentation for cityscapes, else classification).
    task: Optional[str] = None
    task_options: Dict[str, Any] = field(default_factory=dict)
    data: TrainDataConfig = field(default_factory=TrainDataConfig)
    model: TrainModelConfig = field(default_factory=TrainModelConfig)
    recipe: Recipe = field(default_factory=Recipe)
    seed: int = 1
    #: auto (CUDA when present), cpu, cuda, cuda:N
    device: str = "auto"
    #: Run directory (None: runs/train-<setting>-<task>); re-running with the same one resumes.
    out_dir: Optional[str] = None
    progress: bool = True
    #: Under torchrun on GPUs, batch statistics over the global batch (SyncBatchNorm).
    sync_bn: bool = False
    #: Bit-identical reruns (torch deterministic algorithms); slower on GPU.
    deterministic: bool = False
    #: Which epoch's model is reported: ``final`` (the last epoch), or ``best_epoch`` (the epoch with the
    #: best top1 / mIoU on the per-epoch evaluation split). With ``data.val_fraction`` > 0 the choice is
    #: made on the validation part and only the chosen model meets the test split; without one,
    #: ``best_epoch`` prints the max over epochs on the test split — a number you may not report.
    select: str = "final"
