"""Which command wrote a run directory, read from its config.yaml (train and search share the layout).

``unnas info`` and ``unnas eval`` accept run directories; a search run's config cannot be read
as a training config (and the other way round), so they look here first and say what to do.
"""

from __future__ import annotations

from pathlib import Path

import yaml

#: Top-level config keys only one of the two schemas has.
_TRAIN_KEYS = ("recipe", "setting")
_SEARCH_KEYS = ("optim",)


def run_kind(path: str | Path) -> str | None:
    """``"train"``, ``"search"``, or None when ``path`` holds no readable config.yaml of either."""
    config = Path(path) / "config.yaml"
    if not Path(path).is_dir() or not config.is_file():
        return None
    try:
        data = yaml.safe_load(config.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    if any(k in data for k in _TRAIN_KEYS):
        return "train"
    if any(k in data for k in _SEARCH_KEYS):
        return "search"
    return None
