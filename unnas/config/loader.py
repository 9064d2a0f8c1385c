"""Load a schema, merge a YAML file and ``key=value`` overrides, fail fast naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, TypeVar

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from unnas.errors import ConfigError

T = TypeVar("T")

#: The repository's configs/ folder (present for source checkouts and editable installs).
CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"


def resolve_config_path(arg: str, command: str) -> Path:
    """A path to a YAML file, or a short name like ``cifar10/rot`` under ``configs/<command>/``."""
    p = Path(arg)
    if p.is_file():
        return p
    short = CONFIG_ROOT / command / (arg if arg.endswith(".yaml") else f"{arg}.yaml")
    if short.is_file():
        return short
    raise ConfigError(f"config {arg!r} not found (neither a file nor configs/{command}/{arg}.yaml)")


def _describe(exc: OmegaConfBaseException) -> str:
    key = getattr(exc, "full_key", None)
    msg = str(exc).splitlines()[0]
    if key and key not in msg:
        msg = f"{key}: {msg}"
    return msg


def load_config(schema: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Schema defaults ← YAML file ← dotlist overrides, validated, resolved and returned as a dataclass."""
    cfg = OmegaConf.structured(schema)
    try:
        if path is not None:
            try:
                data = yaml.safe_load(Path(path).read_text()) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
            if not isinstance(data, dict):
                raise ConfigError(f"config file {path} must hold a mapping of keys, got {type(data).__name__}")
            cfg = OmegaConf.merge(cfg, OmegaConf.create(data))
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise ConfigError(f"override {bad[0]!r} is not key=value (e.g. optim.epochs=2)")
        if overrides:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
        OmegaConf.resolve(cfg)
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"config{where}: {_describe(exc)}") from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def config_to_yaml(cfg) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))
