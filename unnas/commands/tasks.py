"""``unnas tasks``: list the registered tasks (built-in and plug-ins) with one-line descriptions."""

from __future__ import annotations

NAME = "tasks"
HELP = "list the registered pretext and supervised tasks"


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    import pretext

    descriptions = pretext.task_descriptions()
    width = max(len(n) for n in descriptions)
    for name, text in descriptions.items():
        print(f"{name:<{width}}  {text}")
    return 0
