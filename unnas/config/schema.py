"""Config schemas (dataclasses). Defaults are the demo search: rotation on the embedded photos.

YAML files under ``configs/`` hold only overrides of these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from unnas.errors import ConfigError

from .rules import check_batch_for_task

#: Where a study's jobs or a black-box search's evaluations run.
RUNNERS = ("local", "slurm")


@dataclass
class DataConfig:
    rules = {"crop_size": "[1, 4096]", "resize_size": "[1, 4096]", "base_size": "[1, 4096]", "min_scale": "(0, 1]",
             "train_crop": ("random_resized", "resize_random"), "length": ">= 1", "num_workers": ">= 0",
             "portion": "(0, 1)", "lighting": ">= 0"}

    #: Reader name: demo | folder | imagefolder | imagenet | cifar10 | … (`unnas info --readers`)
    name: str = "demo"
    #: Data root on disk (unused by the demo reader).
    root: Optional[str] = None
    split: str = "train"
    #: Train crop side (px).
    crop_size: int = 64
    #: Short side before the centre crop at evaluation (paper: 256 for 224 crops).
    resize_size: int = 73
    #: Smallest area fraction of random-sized crops.
    min_scale: float = 0.08
    #: Train crop: random_resized (Inception style) or resize_random (short side to resize_size,
    #: then a random crop_size crop: the paper's jigsaw pipeline, 256 → 255).
    train_crop: str = "random_resized"
    #: Samples per epoch for readers that draw random crops (demo).
    length: int = 256
    #: List file for list-based readers (ImageNet-22K).
    list_file: Optional[str] = None
    #: Base short side of the random-scale augmentation (Cityscapes: 512 search, 1024 eval).
    base_size: int = 512
    num_workers: int = 0
    #: Decode every file once up front and drop the unreadable ones (default: stop at the first).
    skip_unreadable: bool = False
    #: Fraction of the train split for the weights; the rest drives α.
    portion: float = 0.5
    #: Shuffle (seeded) before splitting into halves; the paper does for ImageNet, not CIFAR.
    shuffle_split: bool = True
    #: PCA lighting noise std on training images (AlexNet eigen-basis; colorization never uses it).
    #: null: the reader's default, 0.1 for imagenet, imagenet22k and cityscapes as the paper, else 0.
    lighting: Optional[float] = None


@dataclass
class ModelConfig:
    rules = {"width": ">= 2", "cells": ">= 1", "nodes": ">= 1", "stem": ("cifar", "imagenet"),
             "reductions": ("two", "one"), "impl": ("reference", "fast")}

    width: int = 8
    cells: int = 5
    nodes: int = 4
    #: cifar (stride 1) or imagenet (stride 8)
    stem: str = "imagenet"
    #: two (classification) or one (segmentation: output stride 16)
    reductions: str = "two"
    #: Under torchrun, batch statistics over the global batch (SyncBatchNorm): exact
    #: single-process equivalence at the cost of one all-reduce per BN call.
    sync_bn: bool = False
    #: Supernet implementation: reference (plain per-edge ops) or fast (edges grouped per source
    #: state: same outputs and gradients, far fewer kernels).
    impl: str = "fast"


@dataclass
class OptimConfig:
    rules = {"epochs": ">= 1", "batch_size": ">= 1", "lr": "> 0", "lr_min": "[0, lr]", "momentum": "[0, 1)",
             "weight_decay": ">= 0", "grad_clip": "> 0", "arch_lr": "> 0", "arch_betas": "[0, 1)",
             "arch_weight_decay": ">= 0", "arch_start_epoch": "[0, epochs]", "iters_per_epoch": ">= 1",
             "arch_batch_size": ">= 1", "arch_lr_schedule": ("constant", "cosine")}

    epochs: int = 4
    #: Images per weight step (and per α step unless arch_batch_size); pretext tasks may turn one image into several inputs.
    batch_size: int = 8
    lr: float = 0.05
    lr_min: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    #: The paper's 3e-4 leaves α within 1% of uniform in the demo's 64 steps (~20 000 on ImageNet); the
    #: demo's 0.075 with the cosine schedule is the measured compromise between sharpness and cross-seed
    #: agreement (configs/search/demo/rot.yaml, benchmarks/RESULTS.md). The presets set the paper's.
    arch_lr: float = 0.075
    arch_betas: List[float] = field(default_factory=lambda: [0.5, 0.999])
    arch_weight_decay: float = 1e-3
    #: α updates start at this (fractional) epoch; the paper uses 1.0 for ImageNet-1K, 0 elsewhere.
    arch_start_epoch: float = 0.0
    #: Stop each epoch after this many iterations (None: the whole weight half).
    iters_per_epoch: Optional[int] = None
    #: Images per α step (None: batch_size). α's gradient is far noisier than its lr suggests;
    #: a larger α batch buys a steadier α for less time than more steps would.
    arch_batch_size: Optional[int] = None
    #: α learning rate over the search: constant (the paper; every preset) or cosine (arch_lr → 0, stepped
    #: per epoch like the weights' lr; the demo): a short search then keeps the early, reproducible
    #: direction of α and settles its genotype instead of reshuffling it in the last epochs.
    arch_lr_schedule: str = "cosine"


@dataclass
class ArchConfig:
    """Gradient search's relaxation and discretisation (unnas/search/relaxation.py); defaults = DARTS."""
    rules = {"relaxation": ("softmax", "gumbel"), "tau_start": "(0, 100]", "tau_end": "(0, 100]",
             "tau_schedule": ("exponential", "linear"), "entropy_weight": "[0, 1e6]",
             "entropy_schedule": ("constant", "linear"), "entropy_ops": ("all", "no_none"),
             "discretization": ("argmax", "sample"), "discretization_seed": ">= 0", "samples": "[1, 10000]"}

    #: softmax (DARTS) | gumbel (SNAS: Gumbel-softmax samples in every training forward)
    relaxation: str = "softmax"
    #: Gumbel temperature, annealed from tau_start to tau_end over the search (SNAS: 1 → 0.03).
    tau_start: float = 1.0
    tau_end: float = 0.03
    #: exponential | linear
    tau_schedule: str = "exponential"
    #: Straight-through: one-hot samples forward, soft gradient backward.
    hard: bool = False
    #: Weight of the mean normalised entropy of softmax(α) added to the α loss (MTL-NAS; 0: off).
    entropy_weight: float = 0.0
    #: constant | linear (0 → entropy_weight over the search)
    entropy_schedule: str = "constant"
    #: all (MTL-NAS: every op's weight) | no_none (the distribution over the ops the DARTS rule can keep:
    #: over all ops, minimising the entropy on the demo let `none` take the normal cell)
    entropy_ops: str = "all"
    #: argmax (DARTS) | sample (each edge's op drawn from softmax(α), inputs by edge strength)
    discretization: str = "argmax"
    #: With the search's ``seed`` it seeds the draws (two searches with other seeds draw differently).
    discretization_seed: int = 0
    #: Genotypes drawn into genotypes_sampled.json when discretization=sample.
    samples: int = 10


@dataclass
class SlurmConfig:
    """submitit options for ``runner: slurm`` (a study: one array task per job; a black-box search: one job
    per evaluation)."""
    rules = {"time_min": ">= 1", "gpus_per_node": ">= 0", "cpus_per_task": ">= 1", "mem_gb": ">= 1",
             "array_parallelism": ">= 1"}

    partition: Optional[str] = None
    time_min: int = 240
    gpus_per_node: int = 1
    cpus_per_task: int = 8
    mem_gb: Optional[int] = None
    #: Most array tasks running at once.
    array_parallelism: int = 256
    #: Extra ``#SBATCH`` options, e.g. {account: myproj, qos: normal}.
    additional: Dict[str, Any] = field(default_factory=dict)
    #: submitit cluster: None picks SLURM when ``sbatch`` exists; ``local`` runs the same
    #: submission path in subprocesses on this machine (testing without a cluster).
    cluster: Optional[str] = None


@dataclass
class FitnessConfig:
    """Black-box strategies' fitness (unnas/search/fitness.py): a study job on held-out training images."""
    rules = {"budget": ">= 1", "train_images": ">= 2", "holdout_images": ">= 1", "split_seed": ">= 0",
             "proxy_batch_size": ">= 2", "workers": ">= 1", "runner": ("local", "slurm")}

    #: darts | nasbench101 | mr
    space: str = "darts"
    #: Task trained per candidate (any `unnas tasks` name), unless proxy is set.
    task: str = "rotation"
    #: Label-free proxy (synflow | naswot | jacob_cov) on one seeded batch instead of training.
    proxy: Optional[str] = None
    #: A benchmark table (CSV or JSON lines, `unnas table check`) whose ``metric`` column is the fitness: a lookup
    #: per query instead of a training; architectures the table lacks get no fitness.
    table: Optional[str] = None
    metric: Optional[str] = None
    #: Study recipe fields for the task training (epochs, batch_size, lr, ...).
    recipe: Dict[str, Any] = field(default_factory=dict)
    #: Number of architectures evaluated.
    budget: int = 50
    train_images: int = 512
    #: Held-out training images the fitness is measured on (never the test split).
    holdout_images: int = 256
    split_seed: int = 0
    proxy_batch_size: int = 64
    #: Study network settings (setting, width, cells, stem_width, num_stacks, modules_per_stack).
    network: Dict[str, Any] = field(default_factory=lambda: {"width": 8, "cells": 5})
    #: Evaluations running at once (1: one at a time in the search process, as before workers existed).
    workers: int = 1
    #: local (workers > 1: spawned processes on this machine) | slurm (one submitit job per evaluation, at most
    #: ``workers`` at once; ``slurm.cluster=local`` runs them as subprocesses here).
    runner: str = "local"
    slurm: SlurmConfig = field(default_factory=SlurmConfig)


@dataclass
class ReaConfig:
    rules = {"population": ">= 1", "sample": "[1, population]"}

    population: int = 10
    sample: int = 10
    #: The issue's ``rea.async`` (a Python keyword, hence the name). With fitness.workers > 1: true, a
    #: worker that finishes takes the next mutation at once; false, TransNAS's sequential variant (the
    #: initial population evaluated in parallel, then one mutation at a time: the same architectures as workers=1).
    asynchronous: bool = True


@dataclass
class PpoConfig:
    """TransNAS-Bench-101's settings."""
    rules = {"lr": "> 0", "lr_decay": "(0, 1]", "decay_every": ">= 1", "clip": "(0, 1)", "memory": ">= 1",
             "gamma": "[0, 1]", "gae_lambda": "[0, 1]", "value_coef": ">= 0", "entropy_coef": ">= 0", "epochs": ">= 1",
             "hidden": ">= 1"}

    lr: float = 0.01
    lr_decay: float = 0.999
    decay_every: int = 15
    clip: float = 0.2
    #: Decision steps collected before each update.
    memory: int = 100
    gamma: float = 0.99
    gae_lambda: float = 0.95
    value_coef: float = 1.0
    entropy_coef: float = 0.01
    epochs: int = 4
    hidden: int = 32


#: Every ``unnas search`` strategy: darts (the gradient search), the black-box ones, ncp (predictor-based).
STRATEGIES = ("darts", "random", "rea", "ppo", "ncp")
BLACKBOX_STRATEGIES = ("random", "rea", "ppo")


@dataclass
class SearchBase:
    """What every strategy shares: which strategy, its run directory, seed, device, progress line, the
    data and the options of the task it trains. Strategy-specific keys live in their own groups."""

    rules = {"seed": ">= 0", "strategy": STRATEGIES}

    #: darts | random | rea | ppo | ncp (case-insensitive on the command line and in YAML)
    strategy: str = "darts"
    task_options: Dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = 1
    #: auto (CUDA when present), cpu, cuda, cuda:N
    device: str = "auto"
    #: Run directory (default ``runs/search-<strategy>-<dataset>-<task>``); re-running with the same one resumes.
    out_dir: Optional[str] = None
    progress: bool = True

    def __post_init__(self):
        if self.out_dir is None:
            self.out_dir = self.default_out_dir()

    def default_out_dir(self) -> str:
        return f"runs/search-{self.strategy}-{self.data.name}"


@dataclass
class SearchConfig(SearchBase):
    """``unnas search`` with ``strategy: darts``: a DARTS cell searched with any task."""

    rules = {"strategy": ("darts",), "checkpoint_every": ">= 1", "log_every": ">= 1", "eval_batches": ">= 0"}
    #: Keys added after runs existed whose default is not the behaviour before them: a checkpoint
    #: without the key resumes only under this value (unnas.config.loader.defaults_yaml).
    legacy_defaults = {"optim.arch_lr_schedule": "constant"}

    task: str = "rotation"
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    arch: ArchConfig = field(default_factory=ArchConfig)
    #: Bit-identical reruns (torch deterministic algorithms); slower on GPU.
    deterministic: bool = True
    #: Write checkpoints/last.pt every N iterations (and at each epoch end).
    checkpoint_every: int = 20
    log_every: int = 5
    #: Batches of the α half evaluated at each epoch end (0: skip).
    eval_batches: int = 4

    def default_out_dir(self) -> str:
        return f"runs/search-darts-{self.data.name}-{self.task}"

    def validate(self) -> None:
        """What the rules cannot express, one line naming the key."""
        o, m = self.optim, self.model
        check_batch_for_task(o.batch_size, self.task, "optim.batch_size")
        check_batch_for_task(o.arch_batch_size, self.task, "optim.arch_batch_size")
        checks = [
            (not o.nesterov or o.momentum > 0, "optim.nesterov", o.nesterov, "false when optim.momentum is 0"),
            (len(o.arch_betas) == 2, "optim.arch_betas", o.arch_betas, "two numbers in [0, 1)"),
            (m.stem != "imagenet" or m.width % 2 == 0, "model.width", m.width, "even with the imagenet stem"),
            (self.data.crop_size >= 8, "data.crop_size", self.data.crop_size, "at least 8 (the supernet's reductions)"),
        ]
        for ok, key, value, rule in checks:
            if not ok:
                raise ConfigError(f"{key}={value!r} is invalid: must be {rule}")


@dataclass
class BlackBoxConfig(SearchBase):
    """``unnas search`` with ``strategy: random | rea | ppo``: whole architectures proposed and scored by a
    label-free fitness (``fitness`` group), with the strategy's own settings (``rea``, ``ppo``)."""

    rules = {"strategy": BLACKBOX_STRATEGIES}

    strategy: str = "random"
    #: Only ``model.nodes`` is read: the nodes of a DARTS cell (fitness.space=darts).
    model: ModelConfig = field(default_factory=ModelConfig)
    fitness: FitnessConfig = field(default_factory=FitnessConfig)
    rea: ReaConfig = field(default_factory=ReaConfig)
    ppo: PpoConfig = field(default_factory=PpoConfig)

    def default_out_dir(self) -> str:
        fit = self.fitness
        if fit.table:
            return f"runs/search-{self.strategy}-table-{Path(fit.table).stem}-{fit.metric}"
        return f"runs/search-{self.strategy}-{self.data.name}-{fit.proxy or fit.task}"

    def validate(self) -> None:
        fit = self.fitness
        if bool(fit.table) != bool(fit.metric):
            raise ConfigError("fitness.table and fitness.metric go together: the table file and the column to maximise")
        if fit.table and fit.proxy:
            raise ConfigError("fitness.table and fitness.proxy are two fitnesses; set one of them")
