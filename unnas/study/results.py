"""The results table of a study: one small JSON file per finished job, merged on demand.

Storage choice: every finished job writes ``<study>/results/<job_id>.json`` atomically (temp
file + rename) from the process that ran it — a local pool worker or a SLURM node. Unlike
appends to one shared file, this stays atomic on network file systems (O_APPEND is not atomic
across NFS clients), needs no lock, and a retried job simply replaces its own row. A killed
job leaves no row and is pending again. ``results.jsonl`` (one row per line, sorted by job id)
is exported from these files after ``unnas study run`` and by ``unnas study analyze``, for
:func:`unnas.study.analysis.read_results` and other tools.

A row: ``job_id, arch_id, task, kind, seed, status, metric, metric_name, error, fingerprint,
device, wall_clock_s``. ``metric`` is the number the analysis ranks by and ``metric_name`` says
which it is: for a training job the final epoch's test metric (``"final test top1"``; the study's
``rank_by: best_epoch_on_test`` makes it the max over epochs, named so), for a proxy its score.
A finished row adds ``final`` (the last epoch's metrics), ``max_over_epochs`` (each metric's max
over the evaluated epochs, on the test split; both null for a proxy), ``epochs`` (0 for a proxy),
``params, madds`` and, for training, ``rank_by, train_wall_clock_s``; there is no "best" key. ``status`` is
``ok``, ``failed`` (the job broke: bad input, a dead worker; ``--retry-failed`` re-runs it) or
``diverged`` (its loss or weights became NaN/Inf: a result, kept out of the correlations and not
retried). Every file is strict JSON: a non-finite number is stored as null.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

from unnas.trials.rows import RESULTS_DIR, TABLE_FILE, export_table, read_rows

__all__ = ["RESULTS_DIR", "TABLE_FILE", "export_table", "read_rows", "pending_jobs", "blocked_jobs",
           "planned_ok_rows", "planned_job_ids", "status_table", "format_status"]


def pending_jobs(jobs: list[dict], rows: Iterable[dict], retry_failed: bool = False) -> list[dict]:
    """Jobs without a row (and, with ``retry_failed``, those whose row says failed; diverged rows are kept:
    the same seed and recipe diverge again)."""
    status = {r["job_id"]: r.get("status") for r in rows}
    return [j for j in jobs if status.get(j["job_id"]) is None
            or (retry_failed and status[j["job_id"]] not in ("ok", "diverged"))]


def blocked_jobs(jobs: Iterable[dict], rows: Iterable[dict]) -> list[dict]:
    """Jobs whose dependency already has a row that is not ok (before a run starts): never run, never counted."""
    status = {r["job_id"]: r.get("status") for r in rows}
    return [j for j in jobs if j.get("depends_on") and status.get(j["depends_on"]) not in (None, "ok")]


def planned_ok_rows(jobs: list[dict], rows: Iterable[dict]) -> list[dict]:
    """Finished rows of the planned jobs: the input of the analysis."""
    planned = {j["job_id"] for j in jobs}
    return [r for r in rows if r["job_id"] in planned and r.get("status") == "ok" and r.get("metric") is not None]


def planned_job_ids(jobs: list[dict], rows: Iterable[dict], status: str) -> list[str]:
    """Sorted job ids of the planned jobs whose row has ``status`` (e.g. the diverged ones, for the report)."""
    planned = {j["job_id"] for j in jobs}
    return sorted(r["job_id"] for r in rows if r["job_id"] in planned and r.get("status") == status)


def status_table(jobs: list[dict], rows: Iterable[dict]) -> dict[str, dict]:
    """Per task: ``{"ok", "failed", "diverged", "pending", "first_error"}`` over the planned jobs."""
    by_id = {r["job_id"]: r for r in rows}
    table: dict[str, dict] = defaultdict(lambda: {"ok": 0, "failed": 0, "diverged": 0, "pending": 0,
                                                  "first_error": None})
    for job in jobs:
        entry = table[job.get("group") or job["task"]]  # a search study counts searches and trains apart
        row = by_id.get(job["job_id"])
        status = None if row is None else row.get("status")
        state = "pending" if row is None else (status if status in ("ok", "diverged") else "failed")
        entry[state] += 1
        if state == "failed" and entry["first_error"] is None:
            entry["first_error"] = f"{job['job_id']}: {row.get('error') or 'no error recorded'}"
    return dict(table)


HEADERS = ("done", "failed", "diverged", "pending")


def format_status(table: dict[str, dict]) -> str:
    width = max([len(t) for t in table] + [4])
    keys = ("ok", "failed", "diverged", "pending")

    def line(name: str, e) -> str:
        return f"{name:<{width}}  " + "  ".join(f"{e[k]:>{max(len(h), 6)}}" for k, h in zip(keys, HEADERS))

    lines = [f"{'task':<{width}}  " + "  ".join(f"{h:>{max(len(h), 6)}}" for h in HEADERS)]
    totals: Counter = Counter()
    for task, e in table.items():
        lines.append(line(task, e))
        totals.update({k: e[k] for k in keys})
    lines.append(line("all", totals))
    errors = [f"  {task}: {e['first_error']}" for task, e in table.items() if e["first_error"]]
    if errors:
        lines += ["first error per task:"] + errors
    return "\n".join(lines)
