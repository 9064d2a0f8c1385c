"""Published (or exported) benchmark tables: one row per architecture, one column per metric.

A table is a CSV file (a header line, then one row per architecture) or a JSON-lines file (one object
per line). Each row is keyed by the space's canonical string in an ``arch`` column
(``|nor_conv_3x3~0|+…|``, ``64-41414-3_03_101``, ``64-2311-basic``), or for NAS-Bench-201 by the
official ``index``; every other column is a metric and must be a finite number (empty: not recorded).
Keys are checked once, as the table is read: a key that does not parse, a duplicate architecture or a
non-finite metric is a one-line error naming the file and line. Rows are joined to architectures by the
canonical string, so a table keyed by index and a study keyed by string meet.

Tables are study targets (``target: {table: FILE, metric: NAME}``) and black-box fitness
(``fitness.table=FILE fitness.metric=NAME``): a lookup instead of a training.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unnas.atomic import atomic_write_text
from unnas.errors import ConfigError, DataError, UnnasError

from .rows import average_seeds, read_plan, read_rows
from .spaces import Space, get_space

#: Key columns, in order of preference.
KEY_COLUMNS = ("arch", "index")


@dataclass
class Table:
    """``rows[canonical string] = {metric: value}`` of one space, read from ``path``."""

    space: Space
    path: Path
    metrics: list[str]
    rows: dict[str, dict[str, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def value(self, arch: Any, metric: str) -> float | None:
        """``metric`` of ``arch`` (any form the space reads), or None when the table has no such row or value."""
        return self.rows.get(self.space.canonical(arch), {}).get(metric)

    def check_metric(self, metric: str, key: str) -> None:
        if metric not in self.metrics:
            raise DataError(f"{key}={metric!r} is not a column of {self.path}; its metrics: {', '.join(self.metrics)}")

    def coverage(self) -> float | None:
        """The share of the space the table covers (None when the space is not enumerable)."""
        if self.space.enumerate is None:
            return None
        return len(self.rows) / len(self.space.enumerate())

    def ranges(self) -> dict[str, tuple[float, float, int]]:
        """Per metric: (min, max, number of rows that record it)."""
        out = {}
        for m in self.metrics:
            values = [r[m] for r in self.rows.values() if m in r]
            out[m] = (min(values), max(values), len(values)) if values else (math.nan, math.nan, 0)
        return out


def _records(path: Path) -> list[tuple[int, dict]]:
    """``(line number, row)`` of a CSV or JSON-lines file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"table {path} cannot be read ({exc}); give a CSV or JSON-lines file") from None
    if path.suffix in (".jsonl", ".json"):
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n} is not valid JSON ({exc.msg}); one object per line") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{n} is not an object; each line holds one architecture's row")
            out.append((n, row))
        return out
    lines = text.splitlines()
    reader = csv.DictReader(lines)
    if reader.fieldnames is None:
        raise DataError(f"table {path} is empty; give a header line and one row per architecture")
    return [(n, row) for n, row in enumerate(reader, 2)]


def read_table(path: str | Path, space: str) -> Table:
    """Read and check a table of ``space`` (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"table {path} does not exist; give a CSV or JSON-lines file (README: Benchmark tables)")
    sp = get_space(space)
    records = _records(path)
    if not records:
        raise DataError(f"table {path} has no rows")
    columns = list(records[0][1])
    key = next((k for k in KEY_COLUMNS if k in columns), None)
    if key is None:
        raise DataError(f"table {path} has no key column; name it 'arch' (the space's string) or, for nasbench201, "
                        "'index' (the official index)")
    metrics = [c for c in columns if c not in KEY_COLUMNS]
    if not metrics:
        raise DataError(f"table {path} has no metric column besides {key}")
    table = Table(sp, path, metrics)
    seen: dict[str, int] = {}
    for n, row in records:
        raw = row.get(key)
        try:
            arch = sp.load(int(raw) if key == "index" else str(raw).strip())
        except (UnnasError, ValueError, TypeError) as exc:
            raise DataError(f"{path}:{n}: {key} {raw!r} is not a {sp.name} architecture ({exc})") from None
        canonical = sp.canonical(arch)
        if canonical in seen:
            raise DataError(f"{path}:{n}: {canonical} repeats line {seen[canonical]}; keep one row per architecture")
        seen[canonical] = n
        values = {}
        for m in metrics:
            v = row.get(m)
            if v is None or (isinstance(v, str) and not v.strip()):
                continue  # not recorded for this architecture
            try:
                value = float(v)
            except (TypeError, ValueError):
                raise DataError(f"{path}:{n}: {m}={v!r} is not a number") from None
            if not math.isfinite(value):
                raise DataError(f"{path}:{n}: {m}={v!r} is not finite; leave it empty when it was not measured")
            values[m] = value
        table.rows[canonical] = values
    return table


def table_option(value: Any, key: str) -> tuple[str, str] | None:
    """``(file, metric)`` of a ``{table: FILE, metric: NAME}`` setting, None for a task name."""
    if not isinstance(value, dict):
        return None
    unknown = sorted(set(value) - {"table", "metric"})
    if unknown or not value.get("table") or not value.get("metric"):
        raise ConfigError(f"{key} must be a task name or {{table: FILE, metric: NAME}}, got {value}")
    return str(value["table"]), str(value["metric"])


def study_table_rows(study_dir: str | Path) -> tuple[Space, list[str], list[dict]]:
    """A study directory's results as table rows: one per architecture (its canonical string), each task's
    metric averaged over the seeds that finished, and params/madds; returns (space, columns, rows)."""
    study_dir = Path(study_dir)
    plan = read_plan(study_dir)
    if plan is None or "archs_by_id" not in plan:
        raise DataError(f"{study_dir} holds no plan.json with architectures; run `unnas study plan|run` first")
    space = get_space(plan["space"])
    rows = [r for r in read_rows(study_dir, plan.get("fingerprint")) if r.get("status") == "ok"]
    means = average_seeds(rows)
    tasks = [t for t in list(plan.get("tasks", [])) + list(plan.get("proxies", [])) if t in means]
    sizes = {}
    for row in rows:
        entry = sizes.setdefault(str(row["arch_id"]), {})
        for k in ("params", "madds"):
            if isinstance(row.get(k), (int, float)):
                entry.setdefault(k, row[k])
    out = []
    for arch_id, arch in plan["archs_by_id"].items():
        values = {t: means[t][arch_id] for t in tasks if arch_id in means[t]}
        if values:
            out.append({"arch": space.canonical(arch), **values, **sizes.get(arch_id, {})})
    return space, ["arch", *tasks, "params", "madds"], out


def write_table(path: str | Path, columns: list[str], rows: list[dict]) -> Path:
    """A CSV table (empty cells where a row lacks a column), written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return atomic_write_text(path, buffer.getvalue())
