"""Jobs that wait for other jobs: the runners' queue, and SLURM's waves of dependent arrays.

A job may name the job it needs (``depends_on``: a train of a searched genotype names its
search). It is ready once that job's row says ``ok``; it is *blocked* once that row says
anything else (a failed or diverged search: its trains never run and are never counted).
A job without ``depends_on`` is always ready, so the sample kind's queue is a plain FIFO.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .results import read_row


def row_status(study_dir: str | Path, job_id: str) -> str | None:
    """The status in ``job_id``'s row on disk (None: no readable row, the job is pending)."""
    row = read_row(study_dir, job_id)
    return None if row is None else row.get("status")


class DependencyQueue:
    """Jobs in plan order; :meth:`take` hands out the first ready one."""

    def __init__(self, jobs: Iterable[dict], study_dir: str | Path):
        self.jobs = list(jobs)
        self.study_dir = study_dir
        self.running = {j["job_id"] for j in self.jobs}
        #: job id → status of the rows finished in this run
        self.status: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self.jobs)

    def state_of(self, job_id: str) -> str | None:
        if job_id in self.status:
            return self.status[job_id]
        if job_id in self.running:  # queued or running in this run: not finished yet
            return None
        return row_status(self.study_dir, job_id)

    def ready(self, job: dict) -> bool:
        dep = job.get("depends_on")
        return dep is None or self.state_of(dep) == "ok"

    def blocked(self, job: dict) -> bool:
        dep = job.get("depends_on")
        return dep is not None and self.state_of(dep) not in (None, "ok")

    def take(self) -> dict | None:
        """The first ready job (removed from the queue), or None when none is ready now."""
        for i, job in enumerate(self.jobs):
            if self.ready(job):
                return self.jobs.pop(i)
        return None

    def finish(self, row: dict) -> None:
        self.status[row["job_id"]] = row.get("status")

    def stuck(self) -> list[dict]:
        """The queued jobs that can never become ready (their dependency finished without ok)."""
        return [j for j in self.jobs if self.blocked(j)]


def blocked_jobs(jobs: Iterable[dict], rows: Iterable[dict]) -> list[dict]:
    """Jobs whose dependency already has a row that is not ok (before a run starts)."""
    status = {r["job_id"]: r.get("status") for r in rows}
    return [j for j in jobs if j.get("depends_on") and status.get(j["depends_on"]) not in (None, "ok")]


def dependency_waves(jobs: list[dict]) -> tuple[list[dict], dict[str, list[dict]]]:
    """(jobs that need nothing in this batch, {job id: the jobs of this batch that wait for it}):
    the first wave is one SLURM array; each waiting group is an array submitted with
    ``--dependency=afterok:<that job's array task>``."""
    ids = {j["job_id"] for j in jobs}
    first = [j for j in jobs if j.get("depends_on") not in ids]
    waiting: dict[str, list[dict]] = {}
    for job in jobs:
        if job.get("depends_on") in ids:
            waiting.setdefault(job["depends_on"], []).append(job)
    return first, waiting


def slurm_dependency(job_ids: Iterable[str]) -> str:
    """SLURM's ``--dependency`` value for jobs that may start once all of ``job_ids`` ended well."""
    return "afterok:" + ":".join(job_ids)
