"""Trials on disk: one small JSON row per finished trial, the plan that lists them, and their table.

Storage choice: every finished trial writes ``<dir>/results/<job_id>.json`` atomically (temp file
+ rename) from the process that ran it — a local worker or a SLURM node. Unlike appends to one
shared file, this stays atomic on network file systems (O_APPEND is not atomic across NFS
clients), needs no lock, and a retried trial simply replaces its own row. A killed trial leaves no
row and is pending again. ``results.jsonl`` (one row per line, sorted by id) is exported from these
files. Every file is strict JSON: a non-finite number is stored as null (:func:`finite_only`).

A row carries the ``fingerprint`` of the settings it was measured under; reading rows under another
fingerprint is refused in one line, so results measured differently never mix. ``plan.json`` lists
the trials (``jobs``) and their architectures (``archs_by_id``); a study writes it, and whoever reads
the measured table (an analysis, ``unnas predictor fit``) reads it here.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from unnas.atomic import atomic_write_json, atomic_write_text
from unnas.errors import DataError

RESULTS_DIR = "results"
TABLE_FILE = "results.jsonl"
PLAN_FILE = "plan.json"
#: Fields every row has (the analysis refuses rows without them).
REQUIRED = ("arch_id", "task", "seed", "metric")


def check_fingerprint(found: str | None, expected: str, where: Path) -> None:
    """One-line refusal of files that belong to a study with other settings."""
    if found != expected:
        raise DataError(f"{where} belongs to another study (fingerprint {found}, this config {expected}); "
                        "use another out_dir, or restore the settings that study was run with")


def finite_only(obj: Any, where: str = "") -> tuple[Any, list[str]]:
    """``obj`` with every NaN/Inf float replaced by None, and the dotted keys where one was found."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, [where or "value"]
    if isinstance(obj, dict):
        out, bad = {}, []
        for k, v in obj.items():
            out[k], found = finite_only(v, f"{where}.{k}" if where else str(k))
            bad += found
        return out, bad
    if isinstance(obj, (list, tuple)):
        pairs = [finite_only(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return [v for v, _ in pairs], [b for _, found in pairs for b in found]
    return obj, []


def row_path(study_dir: str | Path, job_id: str) -> Path:
    return Path(study_dir) / RESULTS_DIR / f"{job_id}.json"


def write_row(study_dir: str | Path, row: dict) -> Path:
    return atomic_write_json(row_path(study_dir, row["job_id"]), row)


def read_row(study_dir: str | Path, job_id: str) -> dict | None:
    """``job_id``'s row, or None when it has none (or none readable: the job is pending)."""
    try:
        row = json.loads(row_path(study_dir, job_id).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return row if isinstance(row, dict) else None


def read_rows(study_dir: str | Path, fingerprint: str | None = None) -> list[dict]:
    """Every row under ``results/`` (sorted by job id); rows of another study raise a one-line error."""
    folder = Path(study_dir) / RESULTS_DIR
    rows = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            row = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"result {path} cannot be read ({str(exc).splitlines()[0]}); delete it to re-run that job") from None
        if not isinstance(row, dict) or "job_id" not in row:
            raise DataError(f"result {path} is not a job row; delete it to re-run that job")
        if fingerprint is not None:
            check_fingerprint(row.get("fingerprint"), fingerprint, path)
        rows.append(row)
    return rows


def export_table(study_dir: str | Path, rows: Iterable[dict]) -> Path:
    """Write ``results.jsonl`` (atomically) from the rows."""
    lines = [json.dumps(r, sort_keys=True, allow_nan=False) for r in sorted(rows, key=lambda r: r["job_id"])]
    return atomic_write_text(Path(study_dir) / TABLE_FILE, "".join(line + "\n" for line in lines))


def read_plan(study_dir: str | Path) -> dict | None:
    path = Path(study_dir) / PLAN_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} cannot be read ({str(exc).splitlines()[0]}); delete it and plan again") from None


def per_seed(rows: Iterable[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """``{task: {arch_id: {seed: metric}}}`` of the finished runs. Rows of runs that did not finish (a
    ``status`` other than ok — failed, diverged — or a null or non-finite metric) are skipped."""
    per: dict[str, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    for i, row in enumerate(rows):
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise DataError(f"results row {i}: missing field(s) {', '.join(missing)}; each row needs {', '.join(REQUIRED)}")
        if row.get("status", "ok") != "ok" or row["metric"] is None:
            continue
        try:
            value = float(row["metric"])
        except (TypeError, ValueError):
            raise DataError(f"results row {i}: metric {row['metric']!r} is not a number") from None
        if math.isfinite(value):
            per[str(row["task"])][str(row["arch_id"])][str(row["seed"])] = value
    return {task: dict(archs) for task, archs in per.items()}


def average_seeds(rows: Iterable[dict], complete_seeds: bool = False) -> dict[str, dict[str, float]]:
    """``{task: {arch_id: mean metric over seeds}}`` of the finished runs (see :func:`per_seed`).

    With ``complete_seeds`` an (arch, task) is kept only if it finished every seed seen for that
    task (the paper's rule); otherwise the mean of the finished seeds is used.
    """
    out: dict[str, dict[str, float]] = {}
    for task, archs in per_seed(rows).items():
        seeds = set().union(*(s.keys() for s in archs.values()))
        out[task] = {a: float(np.mean(list(s.values()))) for a, s in archs.items()
                     if not complete_seeds or set(s) == seeds}
    return out
