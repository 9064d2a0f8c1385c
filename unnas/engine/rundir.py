"""The run directory: resolved config, metrics log, checkpoints, results and pictures.

Layout::

    config.yaml            the resolved config (written once; a resumed run must match it)
    metrics.jsonl          one JSON object per log step
    checkpoints/last.pt    written atomically
    genotype.json, *.png   results and pictures (search)
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import yaml

from unnas.atomic import atomic_write_text, remove_stale_temps
from unnas.errors import CheckpointError


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    def file(self, name: str) -> Path:
        return self.path / name

    def has_checkpoint(self) -> bool:
        return self.checkpoint.exists()

    def prepare(self, config_yaml: str, ignore_keys: tuple[str, ...] = (), saved_config: str | None = None,
                defaults_yaml: str | None = None) -> None:
        """Create the folder and write the config, or check that a resumed run's settings match.

        A resume is compared with ``saved_config`` (the config the checkpoint carries) when given,
        else with ``config.yaml``; a refused resume changes nothing on disk. A key the saved config
        lacks (added to the schema after the run was made) matches when this command leaves it at
        its default in ``defaults_yaml``: new keys default to the behaviour that existed before them.
        """
        if self.path.exists() and not self.path.is_dir():
            raise CheckpointError(f"out_dir {self.path} exists and is not a directory; choose another out_dir")
        self.path.mkdir(parents=True, exist_ok=True)
        if self.has_checkpoint():
            old_text = saved_config
            if old_text is None and self.config_file.exists():
                old_text = self.config_file.read_text()
            if old_text is not None:
                old = yaml.safe_load(old_text) or {}
                new = yaml.safe_load(config_yaml) or {}
                defaults = yaml.safe_load(defaults_yaml) if defaults_yaml else None
                diff = first_difference(old, new, ignore_keys, defaults=defaults)
                if diff is not None:
                    key, a, b = diff
                    raise CheckpointError(
                        f"{self.path} holds a run with {key}={a!r}, but this command asks for {key}={b!r}; "
                        "re-run with the same settings to resume, or choose a new out_dir"
                    )
        if not self.config_file.exists() or self.config_file.read_text() != config_yaml:
            atomic_write_text(self.config_file, config_yaml)

    def truncate_metrics(self, max_step: int) -> None:
        """Drop log lines written after the checkpoint a resumed run starts from."""
        if not self.metrics_file.exists():
            return
        keep = []
        for line in self.metrics_file.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            if rec.get("step", 0) <= max_step:
                keep.append(line)
        atomic_write_text(self.metrics_file, "".join(ln + "\n" for ln in keep))

    def log(self, record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 3), **record}
        with self.metrics_file.open("a") as f:
            f.write(json.dumps(finite_or_null(record), allow_nan=False) + "\n")

    def remove_stale_temps(self) -> int:
        """Temp files of writes killed in an earlier process (the caller holds the directory lock)."""
        return sum(remove_stale_temps(d) for d in (self.path, self.checkpoint.parent) if d.is_dir())


_ABSENT = object()


def first_difference(old: Any, new: Any, ignore: tuple[str, ...], prefix: str = "",
                     defaults: Any = None) -> tuple[str, Any, Any] | None:
    """The first (key, old, new) that differs; a key missing from ``old`` is compared with its
    value in ``defaults`` (when given) instead."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            full = f"{prefix}{key}"
            if full in ignore:
                continue
            default = defaults.get(key, _ABSENT) if isinstance(defaults, dict) else _ABSENT
            if key not in old and default is not _ABSENT and new.get(key) == default:
                continue
            before = default if key not in old and default is not _ABSENT else old.get(key)
            d = first_difference(before, new.get(key), ignore, full + ".",
                                 default if isinstance(default, dict) else None)
            if d is not None:
                return d
        return None
    return None if old == new else (prefix.rstrip("."), old, new)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    lines = Path(path).read_text().splitlines() if Path(path).exists() else []
    return [json.loads(ln) for ln in lines if ln.strip()]


def finite_or_null(obj: Any) -> Any:
    """``obj`` with every NaN/Inf float replaced by None, so logs stay strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(v) for v in obj]
    return obj
