"""Concurrent fitness evaluations behind one futures interface (``fitness.workers``, ``fitness.runner``).

:class:`EvaluationPool` runs ``evaluator(arch_json, seed)`` on at most ``workers`` workers of an
executor: locally a ``ProcessPoolExecutor`` of spawned processes (:func:`local_pool`), on SLURM one
submitit job per evaluation (:func:`slurm_pool`), in tests any ``concurrent.futures`` executor.
:meth:`EvaluationPool.submit` returns a task; :meth:`EvaluationPool.finished` the tasks that ended,
with their result dicts, in completion order.

A worker process that dies (the out-of-memory killer, a crash in native code) breaks a
``ProcessPoolExecutor`` and every evaluation running on it. The pool starts a new executor and runs
those evaluations again, each alone: one that breaks the executor while it runs alone killed its
worker and fails (``fitness: None``, ``status: failed``, "worker died …"); the others get their
results. A submitit job that ends without a result (timeout, node failure) fails its candidate too.
An exception the evaluator itself raises (a :class:`~unnas.errors.ConfigError`) still reaches the caller.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from unnas.errors import one_line

WORKER_DIED = ("worker died while evaluating this architecture (its process ended abruptly, e.g. the "
               "out-of-memory killer); delete its line from history.jsonl to evaluate it again")


@dataclass(eq=False)
class Task:
    """One evaluation: what runs, and on which future."""

    arch: Any
    seed: int
    future: Any = None
    since: float = 0.0
    #: It was running when a worker died: it runs again, alone.
    suspect: bool = False


def failed(error: str) -> dict:
    return {"fitness": None, "params": None, "flops": None, "status": "failed", "error": error}


class EvaluationPool:
    """At most ``workers`` evaluations at once on executors from ``make_executor()`` (a new one after a
    dead worker). Executors give futures with ``done()``/``result()``; :class:`concurrent.futures.Future`
    ones are waited on, others polled every ``poll_s`` seconds."""

    def __init__(self, evaluator: Callable[[Any, int], dict], workers: int, make_executor: Callable[[], Any],
                 poll_s: float = 1.0):
        self.evaluator, self.workers, self._make, self.poll_s = evaluator, workers, make_executor, poll_s
        self._executor = None
        self._queue: deque[Task] = deque()
        self._running: list[Task] = []
        self._ended: list[tuple[Task, dict]] = []

    def submit(self, arch: Any, seed: int) -> Task:
        task = Task(arch, seed)
        self._queue.append(task)
        self._dispatch()
        return task

    def finished(self, block: bool = True) -> list[tuple[Task, dict]]:
        """``(task, result)`` of the evaluations that ended since the last call; with ``block``, at least one
        (unless none is left)."""
        while True:
            done = [t for t in self._running if t.future.done()]
            if any(_broke(t.future) for t in done):
                self._restart()
            for task in (t for t in done if t in self._running):
                self._running.remove(task)
                result = task.future.result()  # the evaluator's own exception (a ConfigError) goes up
                self._ended.append((task, {"seconds": round(time.perf_counter() - task.since, 3), **result}))
            self._dispatch()
            if self._ended or not block or not self._running:
                out, self._ended = self._ended, []
                return out
            futures = [t.future for t in self._running]
            if all(isinstance(f, Future) for f in futures):
                wait(futures, return_when=FIRST_COMPLETED)
            else:
                time.sleep(self.poll_s)

    def close(self) -> None:
        """Shut the executor down; evaluations still running (Ctrl-C, an error) are stopped, not awaited."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if self._running:
            getattr(executor, "terminate_workers", lambda: None)()
        executor.shutdown(wait=not self._running, cancel_futures=True)
        self._running, self._queue = [], deque()

    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.workers:
            if self._running and (self._queue[0].suspect or self._running[0].suspect):
                return  # a suspect runs alone
            task = self._queue.popleft()
            if self._executor is None:
                self._executor = self._make()
            task.since = time.perf_counter()
            try:
                task.future = self._executor.submit(self.evaluator, task.arch, task.seed)
            except BrokenExecutor:  # a worker died since the last look
                self._queue.appendleft(task)
                self._restart()
                continue
            self._running.append(task)

    def _restart(self) -> None:
        """A dead worker ended the executor and everything on it: a new executor; the one evaluation that
        ran alone fails, several run again one by one (the others' finished results are kept)."""
        wait([t.future for t in self._running])  # a broken executor ends them all at once
        victims = [t for t in self._running if _broke(t.future)]
        self._running = [t for t in self._running if t not in victims]
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None
        if len(victims) == 1:
            self._ended.append((victims[0], {**failed(WORKER_DIED),
                                             "seconds": round(time.perf_counter() - victims[0].since, 3)}))
            return
        for task in reversed(victims):
            task.suspect = True
            self._queue.appendleft(task)


def _broke(future) -> bool:
    return isinstance(future, Future) and isinstance(future.exception(), BrokenExecutor)


# ----------------------------------------------------------------------------- this machine
class _Processes(ProcessPoolExecutor):
    def terminate_workers(self) -> None:  # Python 3.14 has its own; 3.11 needs the process table
        for proc in list((self._processes or {}).values()):
            proc.terminate()


def _init_worker(parent_pid: int, threads: int, gpus: int, counter) -> None:
    """A spawned worker: dies with the search, leaves Ctrl-C to it, takes its share of the cores (and a GPU)."""
    from unnas.study.worker import die_with_parent

    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if gpus:
        with counter.get_lock():
            index, counter.value = counter.value, counter.value + 1
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)  # before torch touches CUDA
    import torch
    from tqdm import tqdm

    torch.set_num_threads(threads)
    tqdm.set_lock(threading.RLock())  # its default, a multiprocessing semaphore, leaks when a worker is killed


def local_pool(evaluator, workers: int, device: str = "auto") -> EvaluationPool:
    """``workers`` spawned processes (no forked torch state), ``cores // workers`` threads each; with
    ``device`` auto or cuda and CUDA present, one GPU each, round-robin (``cuda:N`` leaves every worker
    on that GPU). Workers live for the whole search, so each reads its data once."""
    import multiprocessing as mp

    import torch

    ctx = mp.get_context("spawn")
    gpus = torch.cuda.device_count() if device in ("auto", "cuda") and torch.cuda.is_available() else 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    args = (os.getpid(), max(1, cores // workers), gpus, ctx.Value("i", 0) if gpus else None)
    return EvaluationPool(evaluator, workers, lambda: _Processes(workers, mp_context=ctx, initializer=_init_worker,
                                                                 initargs=args))


# ----------------------------------------------------------------------------- SLURM (submitit)
def _evaluate_with_threads(evaluator, arch, seed: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    return evaluator(arch, seed)


class _SubmititJob:
    """A submitit job as the pool sees it: one that ends without a result is a failed candidate."""

    def __init__(self, job):
        self.job = job

    def done(self) -> bool:
        return self.job.done()

    def result(self) -> dict:
        try:
            return self.job.result()
        except Exception as exc:  # timeout, node failure, the evaluator's own error on the node
            return failed(f"submitit job {self.job.job_id}: {one_line(exc)}")


class _SubmititExecutor:
    def __init__(self, executor, threads: int):
        self.executor, self.threads, self.jobs = executor, threads, []

    def submit(self, evaluator, arch, seed: int) -> _SubmititJob:
        self.jobs = [j for j in self.jobs if not j.done()]
        self.jobs.append(self.executor.submit(_evaluate_with_threads, evaluator, arch, seed, self.threads))
        return _SubmititJob(self.jobs[-1])

    def terminate_workers(self) -> None:
        for job in self.jobs:
            if not job.done():
                job.cancel(check=False)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def slurm_pool(evaluator, workers: int, slurm_cfg, folder: str | Path) -> EvaluationPool:
    """One submitit job per evaluation (the study's SLURM options), at most ``workers`` at once."""
    from unnas.study.runner import SlurmRunner

    executor = SlurmRunner(slurm_cfg, folder).executor
    executor.update_parameters(name="unnas-fitness")
    local = executor.cluster in ("local", "debug")
    return EvaluationPool(evaluator, workers, lambda: _SubmititExecutor(executor, max(1, slurm_cfg.cpus_per_task)),
                          poll_s=1.0 if local else 15.0)


def evaluation_pool(cfg, evaluator) -> EvaluationPool | None:
    """The pool ``cfg.fitness`` asks for; None: one evaluation at a time in this process."""
    fit = cfg.fitness
    if fit.runner == "slurm":
        return slurm_pool(evaluator, fit.workers, fit.slurm, Path(cfg.out_dir) / "submitit")
    return local_pool(evaluator, fit.workers, cfg.device) if fit.workers > 1 else None
