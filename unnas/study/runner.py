"""Run a study's pending jobs: in this process, on a local process pool, or on SLURM (submitit).

Whoever runs a job writes its row (:func:`execute`), so finished work survives a crash of the
driver. The local pool uses *spawn* workers (no forked torch state); each worker takes
``cores // workers`` threads, and with CUDA one GPU (``CUDA_VISIBLE_DEVICES`` set before torch
touches CUDA), round-robin. SLURM gets one array task per job through ``submitit``; its
``local`` cluster runs the same submission path in subprocesses, for testing without a cluster.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from unnas.errors import ConfigError, UnnasError

from .job import base_row, run_job
from .results import write_row

__all__ = ["run_job", "execute", "LocalRunner", "SlurmRunner", "build_runner"]


def execute(job: dict, cfg, study_dir: str) -> dict:
    """Run one job and store its row in the study directory; returns the row."""
    row = run_job(job, cfg)
    write_row(study_dir, row)
    return row


def _progress(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="job", dynamic_ncols=True)


def _tick(bar, row: dict, failed: list[int]) -> None:
    failed[0] += row.get("status") != "ok"
    bar.set_postfix_str(f"failed {failed[0]}" if failed[0] else row["job_id"], refresh=False)
    bar.update(1)


# ----------------------------------------------------------------------------- local
def _init_worker(threads: int, gpus) -> None:
    """Pool initializer: pick this worker's GPU before CUDA starts (device auto → that GPU) and its cores."""
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())
    import torch

    torch.set_num_threads(threads)


class LocalRunner:
    """``workers`` processes on this machine; ``workers == 1`` runs the jobs in this process."""

    def __init__(self, workers: int = 0, device: str = "auto"):
        import torch

        use_cuda = device != "cpu" and torch.cuda.is_available()
        self.gpus = torch.cuda.device_count() if use_cuda else 0
        self.workers = workers or max(self.gpus, 1)

    def describe(self) -> str:
        where = "in this process" if self.workers == 1 else f"on {self.workers} worker processes"
        return where + (f" ({self.gpus} GPU(s))" if self.gpus else " (CPU)")

    def run(self, jobs: list[dict], cfg, study_dir: str | Path) -> list[dict]:
        study_dir, rows, failed = str(study_dir), [], [0]
        with _progress(len(jobs), cfg.progress, f"study {cfg.name}") as bar:
            if self.workers == 1:
                for job in jobs:
                    rows.append(execute(job, cfg, study_dir))
                    _tick(bar, rows[-1], failed)
                return rows
            ctx = mp.get_context("spawn")
            gpus = None
            if self.gpus:
                gpus = ctx.Queue()
                for i in range(self.workers):
                    gpus.put(i % self.gpus)
            threads = max(1, len(os.sched_getaffinity(0)) // self.workers)
            pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker, initargs=(threads, gpus))
            try:
                futures = [pool.submit(execute, job, cfg, study_dir) for job in jobs]
                for fut in as_completed(futures):
                    rows.append(fut.result())
                    _tick(bar, rows[-1], failed)
            except BrokenProcessPool:
                raise UnnasError(f"a worker process died (out of memory?) with {len(jobs) - len(rows)} jobs "
                                 "unfinished; finished jobs are saved, re-run the same command to continue") from None
            finally:  # on Ctrl-C, queued jobs must not start; finished ones are already saved
                pool.shutdown(wait=True, cancel_futures=True)
        return rows


# ----------------------------------------------------------------------------- slurm
class SlurmRunner:
    """One SLURM array task per job via ``submitit.AutoExecutor`` (``slurm.cluster=local``: subprocesses here)."""

    def __init__(self, slurm_cfg, folder: str | Path):
        try:
            import submitit
        except ImportError:
            raise ConfigError("runner=slurm needs submitit: pip install submitit") from None
        self.cfg = slurm_cfg
        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=slurm_cfg.cluster)
        params = {"timeout_min": slurm_cfg.time_min, "gpus_per_node": slurm_cfg.gpus_per_node,
                  "cpus_per_task": slurm_cfg.cpus_per_task, "slurm_array_parallelism": slurm_cfg.array_parallelism}
        if self.executor.cluster == "local":
            import torch

            params["gpus_per_node"] = min(slurm_cfg.gpus_per_node, torch.cuda.device_count())
        if slurm_cfg.partition:
            params["slurm_partition"] = slurm_cfg.partition
        if slurm_cfg.mem_gb:
            params["mem_gb"] = slurm_cfg.mem_gb
        if slurm_cfg.additional:
            params["slurm_additional_parameters"] = dict(slurm_cfg.additional)
        self.executor.update_parameters(**params)

    def describe(self) -> str:
        return f"through submitit ({self.executor.cluster})"

    def run(self, jobs: list[dict], cfg, study_dir: str | Path) -> list[dict]:
        import submitit

        self.executor.update_parameters(name=f"unnas-{cfg.name}")
        study_dir, rows, failed = str(Path(study_dir).resolve()), [], [0]  # nodes may start elsewhere
        n = len(jobs)
        threads = [max(1, self.cfg.cpus_per_task)] * n
        handles = self.executor.map_array(_execute_with_threads, jobs, [cfg] * n, [study_dir] * n, threads)
        by_handle = dict(zip((h.job_id for h in handles), jobs))
        with _progress(n, cfg.progress, f"study {cfg.name} [{self.executor.cluster}]") as bar:
            # sacct is polled on a cluster; the local cluster only checks its subprocesses
            poll_s = 1.0 if self.executor.cluster in ("local", "debug") else 15.0
            for handle in submitit.helpers.as_completed(handles, poll_frequency=poll_s):
                try:
                    row = handle.result()
                except Exception as exc:  # the task died outside run_job (timeout, node failure)
                    from unnas.errors import one_line

                    row = base_row(by_handle[handle.job_id], cfg)
                    row.update(status="failed", metric=None, error=f"submitit job {handle.job_id}: {one_line(exc)}")
                    write_row(study_dir, row)
                rows.append(row)
                _tick(bar, row, failed)
        return rows


def _execute_with_threads(job: dict, cfg, study_dir: str, threads: int) -> dict:
    """A SLURM task: torch takes the task's CPUs, not every core of the node it shares."""
    import torch

    torch.set_num_threads(threads)
    return execute(job, cfg, study_dir)


def build_runner(cfg, study_dir: str | Path):
    if cfg.runner == "slurm":
        return SlurmRunner(cfg.slurm, Path(study_dir) / "submitit")
    return LocalRunner(cfg.workers, cfg.device)

