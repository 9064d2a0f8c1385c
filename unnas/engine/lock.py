"""One writer per run (or study) directory: an exclusive OS-level lock held for the whole run.

``fcntl.flock`` on ``<dir>/.lock``: the kernel drops the lock when the holding process exits
for any reason (even SIGKILL), so a killed run never leaves a stale lock behind. The file keeps
the holder's pid only so the refusal can name it.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from unnas.errors import CheckpointError, RunDirBusy

LOCK_NAME = ".lock"


class DirLock:
    """``with DirLock(path):`` — refuse at once (:class:`RunDirBusy`) if a live process holds ``path``.

    Creates ``path`` (and its parents) if needed: the lock must exist before anything else is
    written there. Re-entrant within one process (a nested lock on the same directory is a no-op),
    so a library call that locks may run inside a command that already did.
    """

    _held: dict[str, int] = {}

    def __init__(self, path: str | Path, what: str = "run directory"):
        self.path = Path(path)
        self.what = what
        self.fd: int | None = None
        self.nested = False

    def acquire(self) -> "DirLock":
        if self.path.exists() and not self.path.is_dir():
            raise CheckpointError(f"{self.what} {self.path} exists and is not a directory; choose another out_dir")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only file system, no permission, a parent that is a file
            raise CheckpointError(f"cannot create {self.what} {self.path}: {exc.strerror or exc}; choose a writable "
                                  "out_dir") from None
        key = str(self.path.resolve())
        if key in DirLock._held:
            os.close(fd)
            self.nested = True
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunDirBusy(f"{self.what} {self.path} is in use by another unnas process (pid {holder}); "
                                 "wait for it to finish or choose another out_dir") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        DirLock._held[key] = fd
        return self

    def release(self) -> None:
        if self.nested or self.fd is None:
            return
        DirLock._held.pop(str(self.path.resolve()), None)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "DirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
