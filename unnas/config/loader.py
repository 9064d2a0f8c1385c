"""Load a schema, merge a YAML file and ``key=value`` overrides, fail fast naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, TypeVar

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from unnas.errors import ConfigError

from .presets import preset_path
from .rules import check_config

T = TypeVar("T")


def resolve_config_path(arg: str, command: str) -> Path:
    """A path to a YAML file (it wins), or the short name of a shipped preset like ``cifar10/rot``
    (``configs/<command>/cifar10/rot.yaml``; ``unnas presets`` lists them)."""
    p = Path(arg).expanduser()
    if p.is_file():
        return p
    tried = [p]
    if not p.is_absolute():  # a short name of a preset
        short = preset_path(arg, command)
        if short.is_file():
            return short
        tried.append(short)
        if short.with_suffix("").is_dir():
            names = sorted(f.stem for f in short.with_suffix("").glob("*.yaml"))
            raise ConfigError(f"config {arg!r} is a folder of configs; pick one of: "
                              + ", ".join(f"{arg.rstrip('/')}/{n}" for n in names))
    if p.is_dir():
        raise ConfigError(f"config {arg!r} is a directory; give a YAML file or a preset name (unnas presets lists them)")
    raise ConfigError(f"config {arg!r} not found; tried {' and '.join(str(t) for t in tried)}; "
                      "`unnas presets` lists the shipped presets")


def _read_yaml(path: Path):
    """The parsed file; syntax errors name the line and column."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read ({type(exc).__name__}: {exc}); "
                          "give a YAML text file") from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        what = f"{problem} ({context})" if context else problem
        raise ConfigError(f"config file {path} is not valid YAML{where}: {what}") from None


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
            data = _read_yaml(Path(path))
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
    check_config(obj)  # every number finite and in range, every choice known (unnas/config/rules.py)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def peek(path: str | Path | None, overrides: Sequence[str], key: str) -> object | None:
    """The value of a top-level ``key`` before any schema is chosen: the last ``key=`` override, else the
    YAML file's (None when neither sets it). Used to pick the schema itself (a study's ``kind``, a
    search's ``strategy``)."""
    value = None
    if path is not None:
        data = _read_yaml(Path(path))
        value = data.get(key) if isinstance(data, dict) else None
    for item in overrides:
        name, _, text = item.partition("=")
        if name.strip() == key:
            value = text.strip()
    return value


def config_to_yaml(cfg) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def defaults_yaml(cfg) -> str:
    """What a run made before a key existed used: the schema defaults of ``cfg``'s config class, except
    for the keys in the class's ``legacy_defaults`` (dotted key → value), whose default today is not
    the behaviour they were added to switch."""
    defaults = OmegaConf.structured(type(cfg))
    for key, value in getattr(type(cfg), "legacy_defaults", {}).items():
        OmegaConf.update(defaults, key, value)
    return OmegaConf.to_yaml(defaults)
