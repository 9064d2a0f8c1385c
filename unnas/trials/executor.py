"""One executor for many trials: in this process, on local worker processes, or on SLURM through submitit.

``study run`` and black-box search both hand it picklable calls and collect them as they end::

    executor = build_executor("local", workers=2, device="auto")
    task = executor.submit(fn, *args, priority=3, after=other, when=lambda result: result["status"] == "ok")
    for task in executor.finished():     # blocks until at least one ended (unless none is left)
        task.outcome()                   # fn's return value; raises what fn raised
        task.lost                        # or why it has no result (worker died, SLURM job lost, not run)
    executor.close()

- **Order**: of the tasks that may start, the lowest ``priority`` first (callers pass the plan order).
- **Dependencies**: a task with ``after`` starts once that task ended, and only if ``when(its result)``
  holds; otherwise it ends unrun (``lost`` says why). On a SLURM cluster it is submitted at once,
  held by SLURM with ``--dependency=afterok:<job>``, and cancelled if ``when`` fails.
- **A dead worker** (SIGKILL, the out-of-memory killer, a crash in native code) loses only the task it
  held — ``lost`` says "worker died, signal 9 …" — and is replaced while tasks wait. Local workers are
  spawned (no forked torch state), run many tasks (caches persist), take ``cores // workers`` threads
  and, with CUDA, one GPU each, round-robin; they die with their parent (``PR_SET_PDEATHSIG`` on Linux,
  end-of-file on their pipe, ``os.getppid()`` between tasks). :meth:`Executor.close` stops queued tasks
  from starting and stops running ones. The hand-made pool is kept over ``ProcessPoolExecutor`` and
  loky: in both, one dead worker breaks every future in flight.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable

import torch

from unnas.errors import ConfigError, one_line

from .worker import call_with_threads, serve

_IDS = itertools.count()


@dataclass(eq=False)
class Task:
    """One call, from submission to its end."""

    fn: Callable
    args: tuple
    priority: float = 0.0
    after: "Task | None" = None
    when: Callable[[Any], bool] | None = None
    id: int = field(default_factory=lambda: next(_IDS))
    done: bool = False
    result: Any = None
    #: The exception ``fn`` raised (re-raised by :meth:`outcome`).
    error: BaseException | None = None
    #: Why the task has no result: its worker died, its SLURM job ended without one, it was not run.
    lost: str | None = None
    #: Whether it started (a task lost before starting never ran).
    started: bool = False
    since: float = 0.0
    pid: int | None = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result

    def ok(self) -> bool:
        return self.done and self.error is None and self.lost is None

    def _end(self, result: Any = None, error: BaseException | None = None, lost: str | None = None) -> None:
        self.done, self.result, self.error, self.lost = True, result, error, lost

    def may_start(self) -> bool | None:
        """True: ready; False: never (its dependency did not end as ``when`` needs); None: wait."""
        if self.after is None:
            return True
        if not self.after.done:
            return None
        return self.after.ok() and (self.when is None or bool(self.when(self.after.result)))


def _not_run(task: Task) -> str:
    return f"not run: the task it waits for ended {'without a result' if not task.after.ok() else 'not ok'}"


class Executor:
    """The interface; :class:`InProcess`, :class:`LocalProcesses` and :class:`Submitit` implement it."""

    workers = 1

    def __init__(self):
        self._queue: list[Task] = []
        self._ended: list[Task] = []

    def submit(self, fn: Callable, *args, priority: float = 0.0, after: Task | None = None,
               when: Callable[[Any], bool] | None = None) -> Task:
        task = Task(fn, args, priority, after, when)
        self._queue.append(task)
        return task

    @property
    def queued(self) -> int:
        return len(self._queue)

    def running(self) -> list[Task]:
        return []

    @property
    def pending(self) -> int:
        """Tasks submitted and not yet returned by :meth:`finished`."""
        return len(self._queue) + len(self.running()) + len(self._ended)

    def _take(self) -> Task | None:
        """The first task (by priority) that may start; tasks that never may end unrun."""
        for task in [t for t in self._queue if t.may_start() is False]:
            self._queue.remove(task)
            task._end(lost=_not_run(task))
            self._ended.append(task)
        ready = [t for t in self._queue if t.may_start()]
        if not ready:
            return None
        task = min(ready, key=lambda t: t.priority)
        self._queue.remove(task)
        task.started, task.since = True, time.time()
        return task

    def _flush(self) -> list[Task]:
        out, self._ended = self._ended, []
        return out

    def finished(self, block: bool = True) -> list[Task]:
        raise NotImplementedError

    def close(self, cancel: bool = False) -> None:
        """Queued tasks never start; running ones are stopped (SLURM jobs only with ``cancel``)."""
        self._queue = []

    def describe(self) -> str:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InProcess(Executor):
    """One task at a time, in this process, when :meth:`finished` is called (exactly reproducible)."""

    def finished(self, block: bool = True) -> list[Task]:
        task = self._take()
        if task is not None:
            try:
                task._end(result=task.fn(*task.args))
            except Exception as exc:
                task._end(error=exc)
            self._ended.append(task)
        return self._flush()

    def describe(self) -> str:
        return "in this process"


# ----------------------------------------------------------------------------- local worker processes
@dataclass(eq=False)
class _Slot:
    """One worker process and the task it holds."""

    proc: Any
    conn: Any
    gpu: int | None
    task: Task | None = None
    done: int = 0
    stopped: bool = False


def death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        hint = ", e.g. the out-of-memory killer" if -exitcode == signal.SIGKILL else ""
        return f"worker died, signal {-exitcode} ({name}{hint})"
    return f"worker died, exit code {exitcode}"


def cuda_devices(device: str) -> int:
    """GPUs the workers share round-robin: every visible one for ``auto``/``cuda``, none otherwise
    (``cuda:N`` keeps every worker on that GPU, ``cpu`` on the CPU)."""
    if device not in ("auto", "cuda"):
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LocalProcesses(Executor):
    """``workers`` spawned processes on this machine. Run it from the main thread: Linux's parent-death
    signal follows the thread that started the workers."""

    def __init__(self, workers: int, device: str = "auto"):
        super().__init__()
        self.workers = workers
        self.gpus = cuda_devices(device)
        self.threads = max(1, available_cores() // workers)
        self._ctx = mp.get_context("spawn")
        self._slots: list[_Slot] = []
        #: pid of every worker process started, in order (replacements included).
        self.started_pids: list[int] = []

    def describe(self) -> str:
        return f"on {self.workers} worker processes" + (f" ({self.gpus} GPU(s))" if self.gpus else " (CPU)")

    def running(self) -> list[Task]:
        return [s.task for s in self._slots if s.task is not None]

    def state(self) -> dict:
        """What the pool is doing: tasks queued, and per live worker its pid, GPU, task, start time and tasks done."""
        return {"queued": len(self._queue),
                "workers": [{"pid": s.proc.pid, "gpu": s.gpu, "task": s.task, "since": s.task.since if s.task else None,
                             "done": s.done} for s in list(self._slots) if s.proc.is_alive()]}

    def _start(self, gpu: int | None) -> _Slot:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=serve, args=(child_end, os.getpid(), self.threads, gpu),
                                 name="unnas-worker", daemon=True)
        proc.start()
        child_end.close()  # only the worker holds its end: its death reads as end-of-file here
        self.started_pids.append(proc.pid)
        return _Slot(proc, parent_end, gpu)

    def _dispatch(self) -> None:
        """Hand ready tasks to idle workers, starting workers (and replacements) up to ``workers``."""
        live = [s for s in self._slots if not s.stopped]
        while len(live) < self.workers and self._queue:
            used = [s.gpu for s in live]
            gpu = next((g for g in range(self.gpus) if g not in used), len(live) % self.gpus) if self.gpus else None
            live.append(self._start(gpu))
            self._slots.append(live[-1])
        for slot in live:
            if slot.task is None:
                task = self._take()
                if task is None:
                    break
                slot.task, task.pid = task, slot.proc.pid
                try:
                    slot.conn.send((task.id, task.fn, task.args))
                except (BrokenPipeError, ConnectionResetError, EOFError):
                    pass  # the worker is already dead: its sentinel reports it

    def finished(self, block: bool = True) -> list[Task]:
        while True:
            self._dispatch()
            busy = [s for s in self._slots if s.task is not None]
            if self._ended or not busy:  # idle workers wait for the next task (close() stops them)
                return self._flush()
            ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=None if block else 0))
            for slot in busy:
                if slot.conn in ready or slot.proc.sentinel in ready:
                    self._collect(slot)
            if not block and not self._ended:
                return []

    def _collect(self, slot: _Slot) -> None:
        task = slot.task
        try:
            reply = slot.conn.recv() if slot.conn.poll() else None
        except (EOFError, OSError):
            reply = None
        if reply is not None:
            _task_id, ok, value = reply
            task._end(result=value) if ok else task._end(error=value)
            slot.task, slot.done = None, slot.done + 1
        else:  # gone: end-of-file, or dead with nothing sent
            slot.proc.join(timeout=10)
            if slot.proc.is_alive():  # closed its pipe but lingers: make sure
                slot.proc.kill()
                slot.proc.join()
            task._end(lost=f"{death_reason(slot.proc.exitcode)} while running this on pid {slot.proc.pid}")
            slot.task, slot.stopped = None, True
            slot.conn.close()
        self._ended.append(task)

    @staticmethod
    def _tell_stop(slot: _Slot) -> None:
        slot.stopped = True
        try:
            slot.conn.send(None)
        except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
            pass

    def close(self, cancel: bool = False) -> None:
        self._queue = []
        for slot in self._slots:
            if slot.proc.is_alive() and slot.task is not None:
                slot.proc.terminate()  # its task has no result: the caller leaves it pending
            elif not slot.stopped:
                self._tell_stop(slot)
        deadline = time.time() + 10
        for slot in self._slots:
            slot.proc.join(timeout=max(0.0, deadline - time.time()))
            if slot.proc.is_alive():
                slot.proc.kill()
                slot.proc.join()
            slot.conn.close()
        self._slots = []


# ----------------------------------------------------------------------------- SLURM (submitit)
def slurm_executor(slurm_cfg, folder: str | Path, name: str):
    """A ``submitit.AutoExecutor`` with the config's SLURM options (``cluster: local``: subprocesses here)."""
    try:
        import submitit  # imported on use: it costs startup and only SLURM runs need it
    except ImportError:
        raise ConfigError("runner=slurm needs submitit: pip install submitit") from None
    executor = submitit.AutoExecutor(folder=str(folder), cluster=slurm_cfg.cluster)
    params = {"timeout_min": slurm_cfg.time_min, "gpus_per_node": slurm_cfg.gpus_per_node,
              "cpus_per_task": slurm_cfg.cpus_per_task, "slurm_array_parallelism": slurm_cfg.array_parallelism,
              "name": name}
    if executor.cluster == "local":
        params["gpus_per_node"] = min(slurm_cfg.gpus_per_node, cuda_devices("auto"))
    if slurm_cfg.partition:
        params["slurm_partition"] = slurm_cfg.partition
    if slurm_cfg.mem_gb:
        params["mem_gb"] = slurm_cfg.mem_gb
    if slurm_cfg.additional:
        params["slurm_additional_parameters"] = dict(slurm_cfg.additional)
    executor.update_parameters(**params)
    return executor


class Submitit(Executor):
    """One submitit job per task, submitted as arrays (one per wave of tasks that may start together).

    On a SLURM cluster a task with ``after`` is submitted at once, held with ``--dependency=afterok``;
    on submitit's local cluster (subprocesses, for testing without SLURM) it is submitted when its
    dependency ends. ``max_running`` caps the jobs in flight (None: as many as submitted)."""

    def __init__(self, executor, threads: int, additional: dict | None = None, max_running: int | None = None):
        super().__init__()
        self.executor, self.threads = executor, threads
        self.additional = dict(additional or {})
        self.cluster = executor.cluster
        self.held = self.cluster not in ("local", "debug")
        self.poll_s = 15.0 if self.held else 1.0  # sacct is polled on a cluster
        self.workers = max_running or 0
        self._jobs: dict[int, Any] = {}  # task id → submitit job
        self._running: list[Task] = []

    def describe(self) -> str:
        return f"through submitit ({self.cluster})"

    def running(self) -> list[Task]:
        return list(self._running)

    def _submit(self, tasks: list[Task], after_job: str | None = None) -> None:
        if after_job is not None:
            self.executor.update_parameters(slurm_additional_parameters={
                **self.additional, "dependency": f"afterok:{after_job}", "kill-on-invalid-dep": "yes"})
        with self.executor.batch():
            jobs = [self.executor.submit(call_with_threads, t.fn, t.args, self.threads) for t in tasks]
        if after_job is not None:
            self.executor.update_parameters(slurm_additional_parameters=dict(self.additional))
        for task, job in zip(tasks, jobs):
            self._jobs[task.id], task.started, task.since = job, True, time.time()
            self._running.append(task)

    def _pump(self) -> None:
        """Submit what may go: ready tasks (up to ``max_running``), and on a cluster the held ones."""
        room = (self.workers - len(self._running)) if self.workers else len(self._queue)
        wave: list[Task] = []
        while room > 0 and (task := self._take()) is not None:
            wave.append(task)
            room -= 1
        if wave:
            self._submit(wave)
        if self.held:
            groups: dict[int, list[Task]] = {}
            for task in [t for t in self._queue if t.after is not None and t.after.id in self._jobs]:
                groups.setdefault(task.after.id, []).append(task)
                self._queue.remove(task)
            for dep, group in groups.items():
                self._submit(group, after_job=self._jobs[dep].job_id)

    def finished(self, block: bool = True) -> list[Task]:
        while True:
            self._pump()
            for task in [t for t in self._running if self._jobs[t.id].done()]:
                self._running.remove(task)
                job = self._jobs[task.id]
                try:
                    task._end(result=job.result())
                except Exception as exc:  # timeout, node failure, a cancelled dependency, fn's own error
                    task._end(lost=f"submitit job {job.job_id}: {one_line(exc)}")
                self._ended.append(task)
                self._cancel_unwanted(task)
            if self._ended or not block or not (self._running or self._queue):
                return self._flush()
            time.sleep(self.poll_s)

    def _cancel_unwanted(self, ended: Task) -> None:
        """Held tasks whose dependency ended without what they need are cancelled, not left to run."""
        for task in [t for t in self._running if t.after is ended and t.may_start() is False]:
            self._jobs[task.id].cancel(check=False)
            self._running.remove(task)
            task._end(lost=_not_run(task))
            self._ended.append(task)

    def close(self, cancel: bool = False) -> None:
        """Queued tasks are dropped; with ``cancel`` the submitted jobs are cancelled too (a search's
        evaluations), else left to finish (a study's jobs write their own rows)."""
        self._queue = []
        if cancel:
            for task in self._running:
                self._jobs[task.id].cancel(check=False)
        self._running = []


def build_executor(runner: str, workers: int, device: str = "auto", slurm_cfg=None, folder: str | Path = ".",
                   name: str = "unnas", max_running: int | None = None) -> Executor:
    """``runner`` local: :class:`InProcess` for one worker, else :class:`LocalProcesses` (``workers`` 0: one per
    GPU, else 1); slurm: :class:`Submitit` in ``folder``."""
    if runner == "slurm":
        executor = slurm_executor(slurm_cfg, folder, name)
        return Submitit(executor, max(1, slurm_cfg.cpus_per_task), slurm_cfg.additional, max_running)
    workers = workers or max(cuda_devices(device), 1)
    return InProcess() if workers == 1 else LocalProcesses(workers, device)
