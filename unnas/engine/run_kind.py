"""What kind of run a directory holds, read from what it already has, and the refusal to mix kinds.

Every run directory says what wrote it: ``config.yaml`` of ``unnas train`` has ``recipe``/``setting``,
a search's names its ``strategy`` (darts, random, rea, ppo, ncp; a DARTS search written before
strategies existed has ``optim``), a study's directory has ``plan.json``. A command given a directory
of another kind stops in one line before writing anything: a black-box search must not replace a
DARTS search's genotype.json (a later ``unnas train`` of that directory would train the wrong cell).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from unnas.errors import CheckpointError

#: Top-level config keys only one of the two schemas has.
_TRAIN_KEYS = ("recipe", "setting")
_SEARCH_KEYS = ("optim",)


def _config(path: Path) -> dict | None:
    try:
        data = yaml.safe_load((path / "config.yaml").read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def run_kind(path: str | Path) -> str | None:
    """``"train"``, ``"search"`` (any strategy), ``"study"``, or None when ``path`` holds none of them."""
    kind = detailed_kind(path)
    return None if kind is None else kind.split(":")[0]


def detailed_kind(path: str | Path) -> str | None:
    """``"train"``, ``"search:<strategy>"``, ``"study"``, or None (no directory, or nothing recognisable in it)."""
    path = Path(path)
    if not path.is_dir():
        return None
    if (path / "plan.json").is_file() and not (path / "config.yaml").is_file():
        return "study"
    data = _config(path)
    if data is None:
        return None
    if any(k in data for k in _TRAIN_KEYS):
        return "train"
    if "strategy" in data:
        return f"search:{str(data['strategy']).lower()}"
    if any(k in data for k in _SEARCH_KEYS):
        return "search:darts"
    return None


def describe_kind(kind: str) -> str:
    if kind.startswith("search:"):
        return f"an `unnas search strategy={kind.split(':', 1)[1]}` run"
    return {"train": "an `unnas train` run", "study": "a study"}.get(kind, kind)


def check_run_kind(path: str | Path, kind: str) -> None:
    """Refuse a directory that holds a run of another kind (``kind`` as :func:`detailed_kind` names it), or a
    path that is a file."""
    if Path(path).exists() and not Path(path).is_dir():
        raise CheckpointError(f"{path} exists and is not a directory; choose a new out_dir")
    found = detailed_kind(path)
    if found is not None and found != kind:
        raise CheckpointError(f"{path} holds {describe_kind(found)}, not {describe_kind(kind)}; choose a new out_dir "
                              "(a run directory holds one kind of run)")
