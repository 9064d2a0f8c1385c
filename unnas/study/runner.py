"""Run a study's pending jobs on the one executor (:mod:`unnas.trials.executor`).

Whoever runs a job writes its row (:func:`execute`), so finished work survives a
crash of the driver. Jobs go to the executor in plan order (its priority); a job with
``depends_on`` (a search study's train) waits for its search in this batch and runs only if that
search's row is ``ok`` — on a SLURM cluster it is submitted at once, held by SLURM. A job whose
worker died gets a ``failed`` row ("worker died, signal 9 …", or its own row if it wrote one before
dying); a job whose dependency did not end ok is ``blocked``: returned, never stored, never counted.
Ctrl-C or SIGTERM stops queued jobs from starting and stops the running ones (pending again next run).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm import tqdm

from unnas.trials.executor import Executor, build_executor
from unnas.trials.rows import read_row, row_path, write_row

from .jobs import base_row, run_job
from .search_jobs import execute_search_study_job


def execute(job: dict, cfg, study_dir: str) -> dict:
    """Run one job of either kind and store its row (a search study's blocked train's row is not stored)."""
    if getattr(cfg, "kind", "sample") == "search":
        return execute_search_study_job(job, cfg, study_dir)
    row = run_job(job, cfg)
    write_row(study_dir, row)
    return row


def failed_row(job: dict, cfg, error: str, wall_clock_s: float | None = None) -> dict:
    """The row of a job that died outside :func:`execute` (a dead worker, a lost SLURM task)."""
    row = base_row(job, cfg)
    row.update(status="failed", metric=None, error=error,
               wall_clock_s=None if wall_clock_s is None else round(wall_clock_s, 3))
    return row


def _progress(total: int, enabled: bool, desc: str):
    return tqdm(total=total, disable=not enabled, desc=desc, unit="job", dynamic_ncols=True)


def _tick(bar, row: dict, counts: dict) -> None:
    status = row.get("status")
    if status != "ok":
        counts[status] = counts.get(status, 0) + 1
    bad = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    bar.set_postfix_str(bad or row["job_id"], refresh=False)
    bar.update(1)


def _row_ok(row) -> bool:
    return isinstance(row, dict) and row.get("status") == "ok"


def _row_of(task, job: dict, cfg, study_dir: str) -> dict:
    """The row of an ended task: what the job returned, else the row its end leaves."""
    if task.lost is None:
        return task.outcome()
    dep = job.get("depends_on")
    if not task.started or (dep is not None and not _row_ok(read_row(study_dir, dep))):
        row = failed_row(job, cfg, f"its dependency {dep} did not end ok: not run")
        row["status"] = "blocked"  # never stored: pending, and never counted
        return row
    path = row_path(study_dir, job["job_id"])
    if path.is_file():  # written by the dead worker after the job was handed out (older rows were removed)
        try:
            return json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            pass  # never trust a dead worker's file
    row = failed_row(job, cfg, f"{task.lost}; --retry-failed re-runs it", time.time() - task.since)
    write_row(study_dir, row)
    return row


def run_jobs(executor: Executor, jobs: list[dict], cfg, study_dir: str | Path) -> list[dict]:
    """Run ``jobs`` (plan order) on ``executor``; returns their rows in the order they ended."""
    study_dir = str(Path(study_dir).resolve())  # SLURM nodes may start in another directory
    tasks, jobs_of, rows, counts = {}, {}, [], {}
    for priority, job in enumerate(jobs):
        row_path(study_dir, job["job_id"]).unlink(missing_ok=True)  # a retried job's old row goes first
        dep = tasks.get(job.get("depends_on"))
        task = executor.submit(execute, job, cfg, study_dir, priority=priority, after=dep,
                               when=_row_ok if dep is not None else None)
        tasks[job["job_id"]], jobs_of[task.id] = task, job
    with _progress(len(jobs), cfg.progress, f"study {cfg.name}") as bar:
        try:
            while executor.pending:
                for task in executor.finished():
                    rows.append(_row_of(task, jobs_of[task.id], cfg, study_dir))
                    _tick(bar, rows[-1], counts)
        finally:  # Ctrl-C, SIGTERM or an error here: queued jobs never start, running ones stop
            executor.close()
    return rows


def study_executor(cfg, study_dir: str | Path) -> Executor:
    return build_executor(cfg.runner, cfg.workers, cfg.device, cfg.slurm, Path(study_dir) / "submitit",
                          name=f"unnas-{cfg.name}")
