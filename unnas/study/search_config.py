"""Schema of a search-based study (``kind: search``) and the choice of schema by ``kind``.

A search study searches a DARTS cell with every ``search_tasks`` entry × ``search_seeds``,
draws ``random_genotypes`` seeded random cells of the same space, and trains every genotype on
the ``target`` task with every ``train_seeds`` entry under one ``recipe``. A ``search_tasks`` entry is
a task, or the name of a ``search.variants`` entry (a task searched under its own overrides). The
training side (data, network, recipe, runner) is the sample study's, so its jobs run through the same code.

It lives beside the study code rather than in :mod:`unnas.config` because only the study
commands load it: ``kind`` is read from the YAML file and the overrides first, then the schema
of that kind is loaded (``kind: sample``, or no kind, is today's :class:`~unnas.config.StudyConfig`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from unnas.config.loader import peek
from unnas.config.study_schema import SETTINGS, StudyConfig, StudyTraining
from unnas.errors import ConfigError

KINDS = ("sample", "search")
#: Networks the genotypes are trained in (cityscapes: the segmentation network, one reduction).
SEARCH_SETTINGS = (*SETTINGS, "cityscapes")
#: random_match: window (the sampler's ResNet-56 params/FLOPs window, as `unnas draw`) or none (any draw).
RANDOM_MATCH = ("window", "none")


@dataclass
class SampleStudyConfig(StudyConfig):
    """Today's study with its ``kind`` written out (``kind`` is not fingerprinted: same study either way)."""

    kind: str = "sample"


@dataclass
class SearchVariant:
    """One search setting of a task under its own name, e.g. rotation with Gumbel relaxation."""

    #: The task searched (an ``unnas tasks`` name).
    task: Optional[str] = None
    #: Overrides of the search config on top of the study's (nested or dotted keys), e.g. {arch.relaxation: gumbel}.
    overrides: Dict[str, Any] = field(default_factory=dict)


#: A variant's name is a job id and directory name part.
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class SearchSettings:
    """Which ``unnas search`` config each search starts from, and what the study changes in it."""

    #: A search preset for every task (short name under configs/search/ or a path); null: the search defaults.
    config: Optional[str] = None
    #: A preset per task, e.g. {rotation: imagenet/rot, classification: imagenet/cls}; wins over ``config``.
    configs: Dict[str, str] = field(default_factory=dict)
    #: Overrides of every search's config (nested or dotted keys), e.g. {optim: {epochs: 1}}.
    overrides: Dict[str, Any] = field(default_factory=dict)
    #: Further overrides per search task, e.g. {rotation: {optim.batch_size: 16}}.
    task_overrides: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    #: Named search settings, NAME → {task, overrides}; a ``search_tasks`` entry may be a NAME, so one task
    #: can be searched under several settings. Applied after ``task_overrides[task]``; unlisted ones are ignored.
    variants: Dict[str, SearchVariant] = field(default_factory=dict)


@dataclass
class SearchStudyConfig(StudyTraining):
    rules = {"kind": ("search",), "search_seeds": ">= 0", "random_genotypes": ">= 0",
             "sample_seed": ">= 0", "random_match": RANDOM_MATCH, "train_seeds": ">= 0"}

    name: str = "search-study"
    kind: str = "search"
    space: str = "darts"
    #: Tasks that search a cell (``unnas tasks`` names); each search job is an ``unnas search`` run.
    search_tasks: List[str] = field(default_factory=lambda: ["classification", "rotation"])
    search_seeds: List[int] = field(default_factory=lambda: [1])
    search: SearchSettings = field(default_factory=SearchSettings)
    #: Options per task (searches and the target's training), e.g. {jigsaw: {grid: 2}}.
    task_options: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    #: Seeded random DARTS cells trained beside the searched ones (the baseline).
    random_genotypes: int = 4
    #: Seed of the random cells' stream (the sampler's ids: same seed, same cells).
    sample_seed: int = 0
    random_match: str = "window"
    #: The task every genotype is trained on, with ``recipe`` (and ``recipes[target]``).
    target: str = "classification"
    train_seeds: List[int] = field(default_factory=lambda: [1])

    def validate(self) -> None:
        """Checks that need no torch; task names, presets and recipes are checked at plan time."""
        if self.space != "darts":
            raise ConfigError(f"space={self.space!r} is not one of darts (a search study searches DARTS cells)")
        if self.network.setting not in SEARCH_SETTINGS:  # the sample study's network rule knows no cityscapes
            raise ConfigError(f"network.setting={self.network.setting!r} is not one of {', '.join(SEARCH_SETTINGS)}")
        for key in ("search_tasks", "search_seeds", "train_seeds"):
            values = getattr(self, key)
            dup = next((v for v in values if values.count(v) > 1), None)
            if dup is not None:
                raise ConfigError(f"{key} lists {dup!r} twice; list each once")
        if not self.search_seeds:
            raise ConfigError("search_seeds is empty; give at least one seed, e.g. search_seeds=[1]")
        if not self.train_seeds:
            raise ConfigError("train_seeds is empty; give at least one seed, e.g. train_seeds=[1]")
        if not self.search_tasks and not self.random_genotypes:
            raise ConfigError("the study has no search_tasks and no random_genotypes; list some search_tasks")
        for name, variant in self.search.variants.items():
            if not VARIANT_NAME.fullmatch(name):
                raise ConfigError(f"search.variants: name {name!r} must be letters, digits, '_', '.' or '-' "
                                  "(it names job ids and directories), e.g. rotation_gumbel")
            if not variant.task:
                raise ConfigError(f"search.variants.{name} has no task; give the task it searches, "
                                  f"e.g. search.variants.{name}.task=rotation")


def peek_kind(path: str | Path | None, overrides: Sequence[str]) -> str:
    """The study's ``kind``: the last ``kind=`` override, else the YAML file's ``kind``, else sample."""
    kind = peek(path, overrides, "kind")
    kind = "sample" if kind is None else str(kind)
    if kind not in KINDS:
        raise ConfigError(f"kind={kind!r} is not one of {', '.join(KINDS)} (in {path or 'the overrides'})")
    return kind


def study_schema(kind: str) -> type:
    """The schema of a study of ``kind``."""
    return SearchStudyConfig if kind == "search" else SampleStudyConfig


def study_kind(cfg) -> str:
    return getattr(cfg, "kind", "sample")
