"""Structured configs: one dataclass schema per command, YAML overrides, ``key=value`` dotlists."""

from .loader import config_to_yaml, defaults_yaml, load_config, resolve_config_path
from .schema import DataConfig, ModelConfig, OptimConfig, SearchConfig
from .study_schema import StudyConfig
from .train_schema import Recipe, TrainConfig, TrainDataConfig, TrainModelConfig

__all__ = ["DataConfig", "ModelConfig", "OptimConfig", "SearchConfig", "StudyConfig", "Recipe", "TrainConfig",
           "TrainDataConfig", "TrainModelConfig", "config_to_yaml", "defaults_yaml", "load_config", "resolve_config_path"]
