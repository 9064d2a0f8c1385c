"""User-facing errors.

Every mistake a user can make (bad config, bad data, bad genotype) raises a subclass of
:class:`UnnasError` whose message is one line: what is wrong, where, and how to fix it.
The CLI prints that line and exits non-zero without a traceback.
"""


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
