"""Structured configs: one dataclass schema per command, YAML overrides, ``key=value`` dotlists."""

from .loader import config_to_yaml, defaults_yaml, load_config, peek, resolve_config_path
from .schema import (
           BLACKBOX_STRATEGIES,
           STRATEGIES,
           BlackBoxConfig,
           DataConfig,
           ModelConfig,
           OptimConfig,
           SearchBase,
           SearchConfig,
)
from .search_schema import load_search_config, search_schema
from .study_schema import StudyConfig
from .train_schema import Recipe, TrainConfig, TrainDataConfig, TrainModelConfig

__all__ = ["BLACKBOX_STRATEGIES", "STRATEGIES", "BlackBoxConfig", "DataConfig", "ModelConfig", "OptimConfig",
           "SearchBase", "SearchConfig", "load_search_config", "peek", "search_schema", "StudyConfig", "Recipe", "TrainConfig",
           "TrainDataConfig", "TrainModelConfig", "config_to_yaml", "defaults_yaml", "load_config", "resolve_config_path"]
