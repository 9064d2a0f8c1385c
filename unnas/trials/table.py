"""The table a set of trials left: one row per architecture, its code and its metrics.

Read from a study directory (``plan.json`` + ``results/``): each task's metric averaged over seeds,
params/madds from each architecture's first finished row in plan order. It is what predictors learn
(``unnas predictor fit``); reading it needs no study code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unnas.errors import ConfigError, DataError, GenotypeError

from .rows import PLAN_FILE, average_seeds, read_plan, read_rows
from .spaces import code_space, get_space

#: Columns every row carries besides its task's metric.
COMPLEXITY = ("params", "madds")


@dataclass
class StudyTable:
    """One row per architecture: its code and its metrics (NaN where a job did not finish)."""

    space: str
    ids: list[str]
    codes: np.ndarray  # N × D
    metrics: list[str]
    values: np.ndarray  # N × M
    study: str = ""


def read_study_table(study_dir: str | Path) -> StudyTable:
    """The table of a study directory (``plan.json`` + ``results/``): tasks averaged over seeds,
    params/madds from each architecture's first finished row in plan order."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise DataError(f"study directory {study_dir} does not exist; pass the out_dir of a study")
    plan = read_plan(study_dir)
    if plan is None or "archs_by_id" not in plan:
        raise DataError(f"{study_dir} holds no plan.json with architectures; run `unnas study plan|run` first")
    try:
        return _table(study_dir, plan)
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError, GenotypeError) as exc:  # a plan.json edited by hand
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(f"{study_dir / PLAN_FILE} does not describe this study's results ({type(exc).__name__}: "
                        f"{detail}); restore it, or plan the study again (`unnas study plan`)") from None


def _table(study_dir: Path, plan: dict) -> StudyTable:
    rows = [r for r in read_rows(study_dir, plan.get("fingerprint")) if r.get("status") == "ok"]
    if not rows:
        raise DataError(f"{study_dir}/results holds no finished job; run `unnas study run` first")
    cs = code_space(plan["space"])
    means = average_seeds(rows)
    tasks = [t for t in list(plan.get("tasks", [])) + list(plan.get("proxies", [])) if t in means]
    order = {j["job_id"]: k for k, j in enumerate(plan.get("jobs", []))}
    complexity: dict[str, dict[str, float]] = {}
    for row in sorted(rows, key=lambda r: order.get(r["job_id"], len(order))):
        entry = complexity.setdefault(str(row["arch_id"]), {})
        for key in COMPLEXITY:
            if key not in entry and isinstance(row.get(key), (int, float)):
                entry[key] = float(row[key])
    metrics = tasks + [k for k in COMPLEXITY if any(k in e for e in complexity.values())]
    ids = [a for a in plan["archs_by_id"] if any(a in means[t] for t in tasks)]
    codes = np.stack([cs.encode(get_space(plan["space"]).load(plan["archs_by_id"][a])) for a in ids])
    values = np.array([[means[m].get(a, math.nan) if m in means else complexity.get(a, {}).get(m, math.nan)
                        for m in metrics] for a in ids], dtype=np.float64)
    return StudyTable(cs.space, ids, codes, metrics, values, str(study_dir))
