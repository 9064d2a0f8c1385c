"""Reader registry: ``data.name`` in the config picks a builder ``(cfg, split, train) -> ImageDataset``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from unnas.errors import ConfigError

from .base import ImageDataset

Builder = Callable[..., ImageDataset]

#: Largest image side a config may ask for (data.crop_size, data.resize_size, data.base_size):
#: a batch of larger crops no longer fits in memory, and no paper setting comes close (769, 1024).
MAX_SIDE = 4096


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
    if lighting is not None:
        if not float(lighting) >= 0.0:
            raise ConfigError(f"data.lighting={lighting} must be >= 0 (0 turns PCA lighting off, null keeps "
                              "the reader's default)")
        dataset.lighting = float(lighting)
    return dataset


def check_data_values(cfg) -> None:
    """Sizes and fractions every reader relies on, checked before anything is decoded."""
    for key in ("crop_size", "resize_size", "base_size"):
        value = getattr(cfg, key, None)
        if value is not None and not 1 <= value <= MAX_SIDE:
            raise ConfigError(f"data.{key}={value} is invalid: must be between 1 and {MAX_SIDE} px "
                              "(a batch of larger images does not fit in memory)")
    min_scale = getattr(cfg, "min_scale", None)
    if min_scale is not None and not 0 < min_scale <= 1:
        raise ConfigError(f"data.min_scale={min_scale} is invalid: must be in (0, 1] (an area fraction)")
    length = getattr(cfg, "length", None)
    if length is not None and length < 1:
        raise ConfigError(f"data.length={length} is invalid: must be at least 1")


def list_datasets() -> dict[str, str]:
    return {name: info.description for name, info in sorted(_READERS.items())}
