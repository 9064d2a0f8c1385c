"""The YAML presets that ship with unnas: ``configs/<command>/<name>.yaml`` of the source tree.

An installed wheel carries them inside the package, as ``unnas/presets/`` (setup.py maps the
top-level ``configs/`` folder there), found through :mod:`importlib.resources`, so a short name
such as ``fashion_mnist/rea_naswot`` works from any directory. A source checkout or an editable
install has no such folder (setuptools' editable finder cannot map a folder without
``__init__.py`` into a package) and reads the same files from the checkout's ``configs/``.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2] / "configs"


def presets_root() -> Path:
    """The folder that holds the ``search/``, ``eval/`` and ``study/`` presets."""
    installed = importlib.resources.files("unnas") / "presets"
    if installed.is_dir():  # a wheel: unpacked files inside the package
        return Path(str(installed))
    return _CHECKOUT  # a source checkout or an editable install


@dataclass(frozen=True)
class Preset:
    """One shipped preset: its short name (``cifar10/rot``), file and the first line of its comment."""

    name: str
    path: Path
    description: str


def _description(path: Path, width: int = 100) -> str:
    """The first sentence of the preset's leading comment, cut to ``width`` characters."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    end = text.find(". ")
    text = text if end < 0 else text[:end + 1]
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def list_presets(folder: str) -> list[Preset]:
    """Every preset under ``folder`` (search, eval or study), sorted by name."""
    base = presets_root() / folder
    return [Preset(p.relative_to(base).with_suffix("").as_posix(), p, _description(p))
            for p in sorted(base.rglob("*.yaml"))]


def preset_path(name: str, folder: str) -> Path:
    """Where the short name ``name`` (with or without ``.yaml``) lives under ``folder``; may not exist."""
    name = name.rstrip("/")
    return presets_root() / folder / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
