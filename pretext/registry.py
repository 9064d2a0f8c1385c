"""The task registry: a plain dict of name → Task class.

Built-in tasks register on import of :mod:`pretext`; third-party tasks register through the
entry-point group ``unnas.tasks`` (each entry point names a Task subclass or a module that
calls :func:`register_task` on import). Entry points load once, on the first lookup.
"""

from __future__ import annotations

import inspect
from importlib import metadata
from typing import Any, Callable, TypeVar

from unnas.errors import TaskError

from .base import Task

ENTRY_POINT_GROUP = "unnas.tasks"

_TASKS: dict[str, type[Task]] = {}
_entry_points_loaded = False

T = TypeVar("T", bound=type[Task])


def register_task(cls: T) -> T:
    """Class decorator: register a Task subclass under ``cls.name``. Duplicate names are an error."""
    if not (inspect.isclass(cls) and issubclass(cls, Task)):
        raise TaskError(f"register_task expects a Task subclass, got {cls!r}")
    if not cls.name:
        raise TaskError(f"task class {cls.__qualname__} has no name; set the class attribute `name`")
    existing = _TASKS.get(cls.name)
    if existing is not None and existing is not cls:
        raise TaskError(
            f"task name {cls.name!r} is already registered by {existing.__module__}.{existing.__qualname__}; "
            "pick another name"
        )
    _TASKS[cls.name] = cls
    return cls


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plug-in must name itself, not crash the CLI obscurely
            raise TaskError(f"task plug-in {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
        if inspect.isclass(obj) and issubclass(obj, Task) and obj.name not in _TASKS:
            register_task(obj)


def reload_entry_points() -> None:
    """Scan the ``unnas.tasks`` entry points again (after installing a plug-in at run time)."""
    global _entry_points_loaded
    _entry_points_loaded = False
    _load_entry_points()


def get_task_class(name: str) -> type[Task]:
    _load_entry_points()
    try:
        return _TASKS[name]
    except KeyError:
        raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(sorted(_TASKS))} (see `unnas tasks`)") from None


def build_task(name: str, **options: Any) -> Task:
    """Instantiate a registered task; unknown options are an error naming them."""
    cls = get_task_class(name)
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not accepts_any:
        known = {n for n in params if n != "self"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TaskError(
                f"task {name!r} has no option(s) {', '.join(unknown)}; its options are: {', '.join(sorted(known)) or 'none'}"
            )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:  # a value of the wrong type (task_options.decoder_stages=abc)
        raise TaskError(f"task {name!r}: bad options {options}: {exc}; give each option a value of its type") from None


def list_tasks() -> list[str]:
    _load_entry_points()
    return sorted(_TASKS)


def task_descriptions() -> dict[str, str]:
    _load_entry_points()
    return {name: _TASKS[name].description for name in sorted(_TASKS)}


def unregister_task(name: str) -> None:
    """Remove a task (for plug-in authors' tests)."""
    _TASKS.pop(name, None)


TaskFactory = Callable[..., Task]
