"""``unnas tasks``: list the registered tasks (built-in and plug-ins) with one-line descriptions,
then the zero-cost proxies a study can list under ``proxies`` and whether they need class labels.
"""

from __future__ import annotations

NAME = "tasks"
HELP = "list the registered pretext and supervised tasks, and the zero-cost proxies"


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    from ._tasks import main  # imported on use: `unnas --help` must not import torch

    return main(args)
