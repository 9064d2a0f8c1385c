"""The body of a local worker process, and its parent-death signal.

Kept free of heavy imports at module level: a spawned worker imports this module before it runs a
line of it, and it must ask for its parent-death signal first — importing torch and the readers
takes seconds, during which a dead parent would go unnoticed. The calls it runs arrive pickled and
are unpickled, like torch is imported, only afterwards.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the getppid checks remain
            pass
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(0)


def set_threads(threads: int) -> None:
    """torch takes ``threads`` cores (a worker's share of the machine, or a SLURM task's CPUs)."""
    import torch  # imported on use: see the module docstring

    torch.set_num_threads(threads)


def call_with_threads(fn, args: tuple, threads: int):
    """A SLURM task: ``fn(*args)`` on the task's CPUs, not every core of the node it shares."""
    set_threads(threads)
    return fn(*args)


def serve(conn, parent_pid: int, threads: int, gpu: int | None) -> None:
    """A pool worker: receive ``(task id, fn, args)``, send back ``(task id, ok, result or exception)``;
    until None, end-of-file or an orphaned parent."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)  # before torch touches CUDA
    set_threads(threads)
    from tqdm import tqdm  # after the parent-death signal, like torch

    # tqdm's default lock is a multiprocessing semaphore; a killed worker would leak it (and the
    # parent's resource tracker warns about it): a thread lock serves a worker's own bars
    tqdm.set_lock(threading.RLock())
    while os.getppid() == parent_pid:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        task_id, fn, args = message
        try:
            reply = (task_id, True, fn(*args))
        except Exception as exc:  # the caller decides what a raised exception means
            reply = (task_id, False, exc)
        conn.send(reply)
