"""Run a study's pending jobs: in this process, on a local pool of worker processes, or on SLURM (submitit).

Whoever runs a job writes its row (:func:`execute`), so finished work survives a crash of the
driver. SLURM gets one array task per job through ``submitit``; its ``local`` cluster runs the
same submission path in subprocesses, for testing without a cluster.

The local pool is built on the standard library, not ``ProcessPoolExecutor`` (one dead worker
breaks that whole pool): *spawn* processes (no forked torch state), one pipe each, and the
parent hands out one job at a time, so it always knows which job each worker holds. A worker
that dies (SIGKILL, the out-of-memory killer, a crash in native code) loses only that job — its
row says ``failed``, "worker died, signal 9" — and is replaced while the others finish. A worker
runs many jobs and keeps its readers cached. Each takes ``cores // workers`` threads and, with
CUDA, one GPU (``CUDA_VISIBLE_DEVICES`` set before torch touches CUDA), round-robin. Workers die
with the parent: ``PR_SET_PDEATHSIG`` on Linux, end-of-file on their pipe, and a check of
``os.getppid()`` between jobs. Ctrl-C (SIGINT goes to the parent only; workers ignore it) or
SIGTERM stops queued jobs from starting and stops the running ones (pending again next run);
finished rows stay.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from unnas.errors import ConfigError, one_line

from .job import base_row, run_job
from .results import read_row, row_path, write_row
from .search_queue import DependencyQueue, dependency_waves, slurm_dependency
from .worker import execute, serve

__all__ = ["run_job", "execute", "LocalRunner", "SlurmRunner", "build_runner"]


def failed_row(job: dict, cfg, error: str, wall_clock_s: float | None = None) -> dict:
    """The row of a job that died outside :func:`run_job` (a dead worker, a lost SLURM task)."""
    row = base_row(job, cfg)
    row.update(status="failed", metric=None, error=error,
               wall_clock_s=None if wall_clock_s is None else round(wall_clock_s, 3))
    return row


def _progress(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="job", dynamic_ncols=True)


def _tick(bar, row: dict, counts: dict) -> None:
    status = row.get("status")
    if status != "ok":
        counts[status] = counts.get(status, 0) + 1
    bad = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    bar.set_postfix_str(bad or row["job_id"], refresh=False)
    bar.update(1)


# ----------------------------------------------------------------------------- local pool: the parent side
@dataclass
class _Slot:
    """One worker process and the job it holds (None: it was told to stop)."""

    proc: mp.process.BaseProcess
    conn: object
    gpu: int | None
    job: dict | None = None
    since: float = 0.0
    done: int = 0
    #: told to stop (or dead); an idle worker (no job, not stopped) waits for a job whose dependency runs
    stopped: bool = False


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        hint = ", e.g. the out-of-memory killer" if -exitcode == signal.SIGKILL else ""
        return f"worker died, signal {-exitcode} ({name}{hint})"
    return f"worker died, exit code {exitcode}"


class LocalRunner:
    """``workers`` processes on this machine; ``workers == 1`` runs the jobs in this process.

    Run it from the main thread: Linux's parent-death signal follows the thread that started
    the workers.
    """

    def __init__(self, workers: int = 0, device: str = "auto"):
        import torch

        use_cuda = device != "cpu" and torch.cuda.is_available()
        self.gpus = torch.cuda.device_count() if use_cuda else 0
        self.workers = workers or max(self.gpus, 1)
        self._slots: list[_Slot] = []
        self._queued = 0
        #: pid of every worker process started, in order (replacements included).
        self.started_pids: list[int] = []

    def describe(self) -> str:
        where = "in this process" if self.workers == 1 else f"on {self.workers} worker processes"
        return where + (f" ({self.gpus} GPU(s))" if self.gpus else " (CPU)")

    def state(self) -> dict:
        """What the pool is doing now: jobs still queued, and per live worker its pid, job and jobs done."""
        return {"queued": self._queued,
                "workers": [{"pid": s.proc.pid, "job_id": s.job["job_id"] if s.job else None, "since": s.since,
                             "done": s.done} for s in list(self._slots) if s.proc.is_alive()]}

    def run(self, jobs: list[dict], cfg, study_dir: str | Path) -> list[dict]:
        """Run ``jobs``; a job with ``depends_on`` starts once that job's row is ok (never if it is not)."""
        study_dir, rows, counts = str(study_dir), [], {}
        queue = DependencyQueue(jobs, study_dir)
        with _progress(len(jobs), cfg.progress, f"study {cfg.name}") as bar:
            if self.workers == 1:
                while (job := queue.take()) is not None:
                    rows.append(execute(job, cfg, study_dir))
                    queue.finish(rows[-1])
                    _tick(bar, rows[-1], counts)
                return rows
            self._run_pool(queue, cfg, study_dir, lambda row: (queue.finish(row), rows.append(row),
                                                               _tick(bar, row, counts)))
        return rows

    def _start(self, ctx, gpu: int | None, threads: int, cfg_pickle: bytes, study_dir: str) -> _Slot:
        parent_end, child_end = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=serve, args=(child_end, os.getpid(), threads, gpu, cfg_pickle, study_dir),
                           name="unnas-study-worker", daemon=True)
        proc.start()
        child_end.close()  # only the worker holds its end: its death reads as end-of-file here
        self.started_pids.append(proc.pid)
        return _Slot(proc, parent_end, gpu)

    def _hand_out(self, slot: _Slot, queue: DependencyQueue, study_dir: str) -> None:
        """Send the next ready job to ``slot`` (or None: stop, once the queue is empty; with jobs that
        wait for running ones the slot stays idle). A retried job's old row goes first, so a row
        found after a worker's death is that worker's own."""
        slot.job = queue.take()
        self._queued = len(queue)
        if slot.job is not None:
            row_path(study_dir, slot.job["job_id"]).unlink(missing_ok=True)
            slot.since = time.time()
        elif len(queue):
            return  # idle until a dependency finishes (or told to stop by _stop)
        else:
            slot.stopped = True
        try:
            slot.conn.send(slot.job)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            pass  # the worker is already dead: its sentinel reports it

    def _run_pool(self, queue: DependencyQueue, cfg, study_dir: str, finish) -> None:
        ctx = mp.get_context("spawn")
        threads = max(1, len(os.sched_getaffinity(0)) // self.workers)
        cfg_pickle = pickle.dumps(cfg)
        self._slots = slots = []
        try:
            for i in range(min(self.workers, len(queue))):
                slots.append(self._start(ctx, i % self.gpus if self.gpus else None, threads, cfg_pickle, study_dir))
                self._hand_out(slots[-1], queue, study_dir)
            while any(s.job is not None for s in slots):
                busy = [s for s in slots if s.job is not None]
                ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy]))
                for i, slot in enumerate(slots):
                    if slot.job is None or (slot.conn not in ready and slot.proc.sentinel not in ready):
                        continue
                    row = self._receive(slot)
                    if row is not None:
                        slot.done += 1
                        finish(row)
                        self._hand_out(slot, queue, study_dir)
                        continue
                    finish(self._lost(slot, cfg, study_dir))
                    if len(queue):  # a replacement takes the dead worker's place (and GPU)
                        slots[i] = self._start(ctx, slot.gpu, threads, cfg_pickle, study_dir)
                        self._hand_out(slots[i], queue, study_dir)
                for slot in slots:  # jobs whose dependency just finished go to idle workers
                    if slot.job is None and not slot.stopped:
                        self._hand_out(slot, queue, study_dir)
        finally:  # Ctrl-C, SIGTERM or an error here: queued jobs never start, running ones stop
            self._queued = 0
            self._stop(slots)

    @staticmethod
    def _receive(slot: _Slot) -> dict | None:
        """The row the worker sent, or None when it is gone (end-of-file, or dead with nothing sent)."""
        try:
            return slot.conn.recv() if slot.conn.poll() else None
        except (EOFError, OSError):
            return None

    def _lost(self, slot: _Slot, cfg, study_dir: str) -> dict:
        """The row of the job a dead worker held: its own row if it wrote one before dying, else failed."""
        slot.proc.join(timeout=10)
        if slot.proc.is_alive():  # closed its pipe but lingers: make sure
            slot.proc.kill()
            slot.proc.join()
        job, slot.job, slot.stopped = slot.job, None, True
        slot.conn.close()
        path = row_path(study_dir, job["job_id"])
        if path.is_file():  # written after this job was handed out (older rows were removed then)
            try:
                return json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                pass  # killed mid-write is impossible (atomic), but never trust a dead worker's file
        error = f"{_death_reason(slot.proc.exitcode)} while running this job on pid {slot.proc.pid}; " \
                "--retry-failed re-runs it"
        row = failed_row(job, cfg, error, time.time() - slot.since)
        write_row(study_dir, row)
        return row

    @staticmethod
    def _stop(slots: list[_Slot]) -> None:
        for s in slots:
            if s.proc.is_alive() and s.job is not None:
                s.proc.terminate()  # its job has no row: pending again
            elif s.proc.is_alive() and not s.stopped:  # idle, waiting for a job that will not come
                try:
                    s.conn.send(None)
                except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
                    pass
        deadline = time.time() + 10
        for s in slots:
            s.proc.join(timeout=max(0.0, deadline - time.time()))
            if s.proc.is_alive():
                s.proc.kill()
                s.proc.join()
            s.conn.close()


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
        """One array per wave: the jobs that need nothing, then per job the jobs waiting for it. On SLURM
        those wait with ``--dependency=afterok`` (held by SLURM); on submitit's local cluster they are
        submitted when the job they wait for ends ok."""
        self.executor.update_parameters(name=f"unnas-{cfg.name}")
        study_dir, rows, counts = str(Path(study_dir).resolve()), [], {}  # nodes may start elsewhere
        first, waiting = dependency_waves(jobs)
        held = self.executor.cluster not in ("local", "debug")
        job_of: dict[str, dict] = {}

        def submit(batch: list[dict], after: str | None = None) -> list:
            if after is not None:
                extra = {**dict(self.cfg.additional), "dependency": slurm_dependency([after]),
                         "kill-on-invalid-dep": "yes"}
                self.executor.update_parameters(slurm_additional_parameters=extra)
            n = len(batch)
            handles = self.executor.map_array(_execute_with_threads, batch, [cfg] * n, [study_dir] * n,
                                              [max(1, self.cfg.cpus_per_task)] * n)
            if after is not None:
                self.executor.update_parameters(slurm_additional_parameters=dict(self.cfg.additional))
            job_of.update(zip((h.job_id for h in handles), batch))
            return handles

        todo = submit(first) if first else []
        if held:
            by_job = {job_of[h.job_id]["job_id"]: h.job_id for h in todo}
            for dep, group in waiting.items():
                todo += submit(group, after=by_job[dep])
        with _progress(len(jobs), cfg.progress, f"study {cfg.name} [{self.executor.cluster}]") as bar:
            # sacct is polled on a cluster; the local cluster only checks its subprocesses
            poll_s = 1.0 if self.executor.cluster in ("local", "debug") else 15.0
            while todo:
                done = [h for h in todo if h.done()]
                for handle in done:
                    todo.remove(handle)
                    job = job_of[handle.job_id]
                    row = self._result(handle, job, cfg, study_dir)
                    rows.append(row)
                    _tick(bar, row, counts)
                    if not held and row.get("status") == "ok" and job["job_id"] in waiting:
                        todo += submit(waiting[job["job_id"]])
                if todo and not done:
                    time.sleep(poll_s)
        return rows

    @staticmethod
    def _result(handle, job: dict, cfg, study_dir: str) -> dict:
        try:
            return handle.result()
        except Exception as exc:  # the task died outside run_job (timeout, node failure, a cancelled dependency)
            dep = job.get("depends_on")
            if dep is not None and (read_row(study_dir, dep) or {}).get("status") != "ok":
                row = failed_row(job, cfg, f"its dependency {dep} did not end ok: not run")
                row["status"] = "blocked"  # never stored: pending, and never counted
                return row
            row = failed_row(job, cfg, f"submitit job {handle.job_id}: {one_line(exc)}")
            write_row(study_dir, row)
            return row


def _execute_with_threads(job: dict, cfg, study_dir: str, threads: int) -> dict:
    """A SLURM task: torch takes the task's CPUs, not every core of the node it shares."""
    import torch

    torch.set_num_threads(threads)
    return execute(job, cfg, study_dir)


def build_runner(cfg, study_dir: str | Path):
    if cfg.runner == "slurm":
        return SlurmRunner(cfg.slurm, Path(study_dir) / "submitit")
    return LocalRunner(cfg.workers, cfg.device)

