"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A reader (or a resumed run after SIGKILL) sees either the old file or the new one, never a
half-written one. A full disk (ENOSPC, a file-size limit, or torch's short-write error) ends in
one :class:`~unnas.errors.DiskFullError` line and leaves the previous file intact. JSON is strict:
NaN or Infinity is a bug, never written.
"""

from __future__ import annotations

import errno
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from unnas.errors import DiskFullError

#: Name pattern of the temporary files; a killed write leaves one behind, see remove_stale_temps.
TEMP_GLOB = ".*.tmp"

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if _is_disk_full(exc):
            raise DiskFullError(f"no space left on device writing {path}; free some space and re-run the same "
                                "command (the previous file is intact)") from None
        raise
    return path


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    # torch's zip writer reports a short write as a RuntimeError ("unexpected pos …")
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("unexpected pos" in text or "file write failed" in text)


def remove_stale_temps(folder: str | Path) -> int:
    """Delete temporary files that killed writes left in ``folder``; call only while holding its lock."""
    removed = 0
    for tmp in Path(folder).glob(TEMP_GLOB):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def atomic_torch_save(path: str | Path, obj: Any) -> Path:
    return atomic_write(path, lambda f: torch.save(obj, f))


def atomic_savefig(path: str | Path, fig, **kwargs) -> Path:
    """Save a matplotlib figure atomically (format from the path's suffix)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, **kwargs))
