"""Structured configs: one dataclass schema per command, YAML overrides, ``key=value`` dotlists."""

from .loader import config_to_yaml, load_config, resolve_config_path
from .schema import DataConfig, ModelConfig, OptimConfig, SearchConfig
from .train_schema import Recipe, TrainConfig, TrainDataConfig, TrainModelConfig  # noqa: F401
from .study_schema import StudyConfig  # noqa: F401

__all__ = ["DataConfig", "ModelConfig", "OptimConfig", "SearchConfig", "config_to_yaml", "load_config",
           "resolve_config_path"]
