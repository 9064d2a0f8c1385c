"""What one trial is: an architecture, a task (or a zero-cost proxy), data, network, recipe, seed, device.

A study job and a black-box fitness evaluation each *build* a :class:`TrialSpec` from their own
config; :func:`unnas.trials.run.run_trial` measures it. The recipe is the trainer's typed
:class:`~unnas.config.train_schema.Recipe`, merged and checked once by :func:`merge_recipe`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from unnas.config.rules import check_config
from unnas.config.study_schema import StudyDataConfig, StudyNetworkConfig
from unnas.config.train_schema import Recipe
from unnas.errors import ConfigError

#: What a trial does: train the task under the recipe, or score the untrained network with a proxy.
KINDS = ("train", "proxy")
#: The number a training trial ranks by: the last epoch's, or (flagged as optimistic) the max over epochs.
RANK_BY = ("final", "best_epoch_on_test")


@dataclass(frozen=True)
class Holdout:
    """Train on ``train_images`` and measure on ``holdout_images`` *other* images of the training split
    (a seeded split): a fitness that never reads the test split."""

    train_images: int
    holdout_images: int
    seed: int = 0


@dataclass
class TrialSpec:
    space: str
    #: The architecture in its JSON form (:meth:`unnas.trials.spaces.Space.to_json`).
    arch: Any
    #: A task name (``unnas tasks``), or a proxy name when ``kind`` is proxy.
    task: str
    kind: str = "train"
    seed: int = 1
    #: Options of ``task`` (of classification for a proxy, whose network has a classifier).
    task_options: dict = field(default_factory=dict)
    data: StudyDataConfig = field(default_factory=StudyDataConfig)
    #: None: train on the training split (its ``train_limit`` subset) and measure on ``data.test_split``.
    holdout: Holdout | None = None
    network: StudyNetworkConfig = field(default_factory=StudyNetworkConfig)
    recipe: Recipe = field(default_factory=Recipe)
    proxy_batch_size: int = 64
    rank_by: str = "final"
    device: str = "auto"


def merge_recipe(*layers: tuple[str, Mapping[str, Any]], prefix: str = "recipe.") -> Recipe:
    """The trainer's Recipe: its defaults, then each ``(where, overrides)`` layer in turn; unknown keys
    fail naming ``where.key``, YAML strings such as ``5e-4`` become numbers, and every value is checked
    against the Recipe's rules (finite, in range), named with ``prefix``."""
    merged = OmegaConf.structured(Recipe)
    for where, overrides in layers:
        try:
            merged = OmegaConf.merge(merged, dict(overrides))
        except OmegaConfBaseException as exc:
            key = getattr(exc, "full_key", None) or "?"
            raise ConfigError(f"{where}.{key}: {str(exc).splitlines()[0]}") from None
    recipe = OmegaConf.to_object(merged)
    check_config(recipe, prefix)
    return recipe


def network_settings(values: Mapping[str, Any], where: str) -> StudyNetworkConfig:
    """A network config from a plain mapping (a fitness's ``fitness.network``): unknown keys refused."""
    known = set(StudyNetworkConfig.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]} is not a network setting; known: {', '.join(sorted(known))}")
    net = StudyNetworkConfig(**dict(values))
    check_config(net, f"{where}.")
    return net
