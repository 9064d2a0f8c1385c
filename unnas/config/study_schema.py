"""Schema of a sample-based study (``unnas study plan|run|status|analyze STUDY_CONFIG``).

A study trains every architecture of a sample on every task with every seed, under one fixed
recipe per task, and ranks the architectures task by task. Defaults are the paper's DARTS /
CIFAR-10 study except the training budget (the trainer's :class:`~unnas.engine.trainer.Recipe`
defaults, overridden by ``recipe`` and per task by ``recipes``). YAML presets live under
``configs/study/<space>/<dataset>.yaml``.

Recipes are plain mappings here (validated against ``Recipe``'s fields at plan time) so that
loading a config does not import the trainer and torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from unnas.errors import ConfigError

from .schema import RUNNERS, DataConfig, SlurmConfig

#: The spaces a study or a fitness may name (unnas.trials.spaces holds what each offers).
SPACES = ("darts", "nasbench101", "mr", "nasbench201", "transnas_micro", "transnas_macro")
#: NAS-Bench-201 network variants: the benchmark's, or the zero-cost-proxy literature's (non-affine BN and
#: biased convs in the cells).
VARIANTS = ("benchmark", "zero_cost")
SETTINGS = ("cifar", "imagenet")
#: What a training job's ``metric`` is: the last epoch's on the test split (the paper's study), or
#: each run's max over epochs on the test split (an optimistic number, flagged in the report).
RANK_BY = ("final", "best_epoch_on_test")


@dataclass
class StudyDataConfig(DataConfig):
    """The train data (``split``) plus the split the ranking metric is measured on."""

    rules = {"train_limit": ">= 1", "test_limit": ">= 1", "subset_seed": ">= 0"}

    name: str = "cifar10"
    crop_size: int = 32
    resize_size: int = 32
    test_split: str = "test"
    #: Train on a seeded random subset of this many training images (None: all of them).
    train_limit: Optional[int] = None
    #: Evaluate on a seeded random subset of this many test images (None: all of them).
    test_limit: Optional[int] = None
    #: Seed of both subsets (fixed per study, so every job sees the same images).
    subset_seed: int = 0


@dataclass
class StudyNetworkConfig:
    """How a space's architectures become trainable networks; each space reads its own keys
    (``unnas.trials.spaces``: darts setting/width/cells, nasbench101 setting/stem_width/num_stacks/
    modules_per_stack, nasbench201 width/cells_per_stage/variant, transnas base_channels; mr none)."""

    rules = {"width": ">= 2", "cells": ">= 1", "stem_width": ">= 1", "num_stacks": ">= 1",
             "modules_per_stack": ">= 1", "cells_per_stage": ">= 1", "base_channels": ">= 2", "variant": VARIANTS,
             "proxy_variant": VARIANTS}

    #: cifar (3×3 stem, stride 1) or imagenet (stride-8 stem), for DARTS and NAS-Bench-101.
    setting: str = "cifar"
    #: DARTS: initial width C and number of cells (reductions at L//3 and 2L//3). NAS-Bench-201: C (16 in the benchmark).
    width: int = 16
    cells: int = 20
    #: NAS-Bench-101: stem width, stacks, modules per stack (None: 3 for cifar, 4 for imagenet).
    stem_width: int = 128
    num_stacks: int = 3
    modules_per_stack: Optional[int] = None
    #: NAS-Bench-201: cells per stage N (5 in the benchmark).
    cells_per_stage: int = 5
    #: NAS-Bench-201: benchmark (affine BN, bias-free convs) or zero_cost (the proxy papers' variant: non-affine BN
    #: without running statistics and biased convs in the cells).
    variant: str = "benchmark"
    #: NAS-Bench-201: the variant proxy jobs score (null: ``variant``); zero_cost reproduces the zero-cost papers' setup.
    proxy_variant: Optional[str] = None
    #: TransNAS-Bench-101: the encoder's stem width (64 in the benchmark).
    base_channels: int = 64


@dataclass
class StudyTraining:
    """How a study trains its architectures and where its jobs run: what the sample and search kinds share."""

    rules = {"rank_by": RANK_BY, "runner": RUNNERS, "workers": ">= 0"}

    data: StudyDataConfig = field(default_factory=StudyDataConfig)
    #: Data overrides per task, e.g. {jigsaw: {crop_size: 255}}.
    task_data: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    network: StudyNetworkConfig = field(default_factory=StudyNetworkConfig)
    #: Overrides of the trainer's Recipe for every task (epochs, batch_size, lr, …).
    recipe: Dict[str, Any] = field(default_factory=dict)
    #: Further Recipe overrides per task, e.g. {rotation: {batch_size: 32, lr: 0.025}}.
    recipes: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    #: Ranking metric of training jobs: final (the last epoch on the test split, as the paper) or
    #: best_epoch_on_test (max over epochs on the test split; the report carries a warning).
    rank_by: str = "final"
    #: Study directory: plan.json, results/, results.jsonl, report.md, figures/.
    out_dir: str = "runs/study/${name}"
    runner: str = "local"
    #: Local pool size (0: one per GPU when CUDA is present, else 1).
    workers: int = 0
    #: auto (CUDA when present), cpu, cuda
    device: str = "auto"
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    progress: bool = True


@dataclass
class StudyConfig(StudyTraining):
    rules = {"space": SPACES, "count": ">= 1", "sample_seed": ">= 0", "proxy_batch_size": ">= 2", "seeds": ">= 0"}

    name: str = "study"
    space: str = "darts"
    #: paper (the paper's 500 samples of DARTS or NAS-Bench-101), sample (the space's sampler: ``count`` draws of
    #: ``sample_seed``; NB201 and TransNAS without repeats), all (every architecture of NB201 or TransNAS), a path
    #: to a samples JSON (``unnas draw`` / the paper's layout / a space sampler's save_samples), a text file of
    #: the space's strings (one per line), or a directory of search runs (each subdirectory's genotype.json /
    #: spec.json / arch.json, named by the subdirectory: train the winners under one recipe).
    archs: str = "paper"
    #: Use the first N architectures of the source (None: all; required for ``sample``).
    count: Optional[int] = None
    sample_seed: int = 0
    #: Task names (``unnas tasks``); zero-cost proxy names are accepted here too.
    tasks: List[str] = field(default_factory=lambda: ["classification", "rotation"])
    #: Options per task, e.g. {jigsaw: {grid: 2}}.
    task_options: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    #: Zero-cost proxies (synflow, snip, grad_norm, naswot, jacob_cov; ``unnas tasks`` lists them): one job
    #: per architecture, untrained network. snip and grad_norm need class labels; the others run on any reader.
    proxies: List[str] = field(default_factory=list)
    #: Images in the one seeded batch a proxy scores.
    proxy_batch_size: int = 64
    seeds: List[int] = field(default_factory=lambda: [1])
    #: What the others are ranked against: a task of ``tasks`` (the supervised one), or a benchmark table's column,
    #: ``{table: FILE, metric: NAME}`` (`unnas table check`): then no task needs labels, the table is the target.
    target: Any = "classification"

    def validate(self) -> None:
        """Checks the rules (unnas/config/rules.py) cannot express; task, proxy and recipe names are checked
        at plan time."""
        if self.network.setting not in SETTINGS:  # a search study's network may also be cityscapes
            raise ConfigError(f"network.setting={self.network.setting!r} is not one of {', '.join(SETTINGS)}")
        if not self.seeds:
            raise ConfigError("seeds is empty; give at least one seed, e.g. seeds=[1]")
        if self.archs == "sample" and self.count is None:
            raise ConfigError("archs=sample needs count: how many architectures to draw (e.g. count=20)")
        if not self.tasks and not self.proxies:
            raise ConfigError("the study has no tasks and no proxies; list some under tasks")
        if isinstance(self.target, dict):
            if sorted(self.target) != ["metric", "table"] or not all(self.target.values()):
                raise ConfigError(f"target must be a task name or {{table: FILE, metric: NAME}}, got {self.target}")
        elif not isinstance(self.target, str):
            raise ConfigError(f"target must be a task name or {{table: FILE, metric: NAME}}, got {self.target!r}")
