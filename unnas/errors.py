"""User-facing errors and their one-line formatting (the library never imports the CLI).

Every mistake a user can make (bad config, bad data, bad genotype) raises a subclass of
:class:`UnnasError` whose message is one line: what is wrong, where, and how to fix it.
The CLI prints that line and exits non-zero without a traceback.
"""

from __future__ import annotations


class UnnasError(Exception):
    """A user mistake, reported as one line."""

    exit_code = 2


class ConfigError(UnnasError):
    """Unknown config key, wrong value type or an invalid value."""


class DataError(UnnasError):
    """Missing, empty or malformed data on disk."""


class GenotypeError(UnnasError):
    """A genotype that does not parse or does not describe a valid cell."""


class TaskError(UnnasError):
    """An unknown task, bad task options, or input a task cannot handle."""


class CheckpointError(UnnasError):
    """A checkpoint that does not belong to this run or cannot be read."""


class DivergedError(UnnasError):
    """A loss, weight, α, batch-norm statistic or evaluation output became NaN/Inf: the run is a
    failure, never a result (:class:`unnas.engine.divergence.FiniteGuard`).

    ``step`` is the global step at which the non-finite value was noticed; the last good
    checkpoint is kept as it was.
    """

    exit_code = 3

    def __init__(self, message: str, step: int | None = None):
        super().__init__(message)
        self.step = step


class NoResultError(UnnasError):
    """A search in which no candidate got a result (each failed, or some failed and the rest diverged).
    Exit code 2 like every other run that produced nothing; when every candidate diverged the search
    raises :class:`DivergedError` (exit 3) instead."""


class RunDirBusy(UnnasError):
    """Another live process holds the run (or study) directory's lock."""


class DiskFullError(UnnasError):
    """No space left on the device while writing a file; earlier files are intact."""


def one_line(exc: BaseException) -> str:
    """The user-facing line of an error, also when it was re-raised from a DataLoader worker."""
    text = str(exc).strip()
    if "Original Traceback" in text:  # DataLoader re-raises worker errors with the worker's traceback
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        text = last.split(": ", 1)[1] if ": " in last else last
    return text.splitlines()[0] if text else type(exc).__name__
