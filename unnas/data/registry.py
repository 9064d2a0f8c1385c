"""Reader registry: ``data.name`` in the config picks a builder ``(cfg, split, train) -> ImageDataset``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from unnas.config.rules import check_config
from unnas.errors import ConfigError

from .base import ImageDataset

Builder = Callable[..., ImageDataset]

@dataclass(frozen=True)
class ReaderInfo:
    name: str
    description: str
    build: Builder


_READERS: dict[str, ReaderInfo] = {}


def register_dataset(name: str, description: str) -> Callable[[Builder], Builder]:
    def wrap(fn: Builder) -> Builder:
        if name in _READERS:
            raise ConfigError(f"dataset reader {name!r} is already registered")
        _READERS[name] = ReaderInfo(name, description, fn)
        return fn

    return wrap


def build_dataset(cfg, split: str | None = None, train: bool = True) -> ImageDataset:
    """Build the reader named by ``cfg.name`` for ``split`` (default ``cfg.split``)."""
    info = _READERS.get(cfg.name)
    if info is None:
        raise ConfigError(f"data.name={cfg.name!r} is not a known reader; choose one of: {', '.join(sorted(_READERS))}")
    check_data_values(cfg)
    dataset = info.build(cfg, split or cfg.split, train)
    lighting = getattr(cfg, "lighting", None)
    if lighting is not None:  # in range: check_data_values
        dataset.lighting = float(lighting)
    return dataset


def check_data_values(cfg) -> None:
    """Sizes and fractions every reader relies on, checked before anything is decoded (the data schema's
    rules: sides within 1..4096 px — a batch of larger images does not fit in memory —, fractions in range)."""
    check_config(cfg, "data.")


def list_datasets() -> dict[str, str]:
    return {name: info.description for name, info in sorted(_READERS.items())}
