"""The body of a local pool worker process, and :func:`execute` (run one job, store its row).

Kept free of heavy imports at module level: a spawned worker imports this module (and unpickles
its arguments) before it runs a line of it, and it must ask for its parent-death signal first —
importing torch and the readers takes seconds, during which a dead parent would go unnoticed.
So the study config travels pickled and is unpickled, like torch is imported, only afterwards.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1


def execute(job: dict, cfg, study_dir: str) -> dict:
    """Run one job and store its row in the study directory; returns the row."""
    if getattr(cfg, "kind", "sample") == "search":
        from .search_jobs import execute_search_study_job

        return execute_search_study_job(job, cfg, study_dir)
    from .job import run_job  # imported on first use, see the module docstring
    from .results import write_row

    row = run_job(job, cfg)
    write_row(study_dir, row)
    return row


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the getppid checks remain
            pass
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(0)


def serve(conn, parent_pid: int, threads: int, gpu: int | None, cfg_pickle: bytes, study_dir: str) -> None:
    """A pool worker: receive a job, run it, send its row back; until None, end-of-file or an orphaned parent."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)  # before torch touches CUDA
    import torch
    from tqdm import tqdm

    torch.set_num_threads(threads)
    # tqdm's default lock is a multiprocessing semaphore; a killed worker would leak it (and the
    # parent's resource tracker warns about it): a thread lock serves a worker's own bars
    tqdm.set_lock(threading.RLock())
    cfg = pickle.loads(cfg_pickle)
    while os.getppid() == parent_pid:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if job is None:
            return
        conn.send(execute(job, cfg, study_dir))
