"""Every shipped YAML config loads through its schema; the demo config is the schema default."""

from pathlib import Path

import pytest

from conftest import REPO
from unnas.config import SearchConfig, config_to_yaml, load_config, load_search_config

SEARCH_CONFIGS = sorted((REPO / "configs" / "search").rglob("*.yaml"))


@pytest.mark.parametrize("path", SEARCH_CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_search_config_loads(path: Path):
    overrides = ["data.root=/data"] if "demo" not in path.parts else []
    cfg = load_search_config(path, overrides)  # each preset under its strategy's schema
    assert cfg.optim.epochs >= 1 and cfg.task if cfg.strategy == "darts" else cfg.fitness.budget >= 1


def test_dataset_configs_require_a_data_root():
    from unnas.data import build_dataset
    from unnas.errors import DataError

    cfg = load_config(SearchConfig, REPO / "configs/search/imagenet/rot.yaml")
    with pytest.raises(DataError, match="data.root"):
        build_dataset(cfg.data)


def test_demo_config_is_the_default():
    demo = load_config(SearchConfig, REPO / "configs/search/demo/rot.yaml")
    assert config_to_yaml(demo) == config_to_yaml(load_config(SearchConfig))


def test_paper_imagenet_settings():
    cfg = load_config(SearchConfig, REPO / "configs/search/imagenet/cls.yaml", ["data.root=/x"])
    o = cfg.optim
    assert (cfg.model.cells, cfg.model.width, o.batch_size, o.lr, o.weight_decay, o.arch_lr, o.epochs,
            o.arch_start_epoch, cfg.data.crop_size) == (8, 16, 64, 0.1, 3e-5, 3e-4, 2, 1.0, 224)
