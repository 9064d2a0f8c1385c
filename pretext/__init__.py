"""Pretext and supervised tasks behind one interface.

>>> import pretext
>>> task = pretext.build_task("rotation")
>>> inputs, targets = task.prepare(images)          # batched, on the images' device
>>> head = task.build_head(trunk.out_channels)

Add a task by subclassing :class:`pretext.Task` and decorating it with
:func:`pretext.register_task`, or expose it through the entry-point group ``unnas.tasks``.
"""

from .base import IMAGENET_MEAN, IMAGENET_STD, Task, TaskNetwork, topk_accuracy
from .registry import build_task, get_task_class, list_tasks, register_task, task_descriptions

# Built-in tasks register themselves on import.
from . import autoencoding, classification, colorization, jigsaw, rotation, segmentation  # noqa: E402,F401

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "Task", "TaskNetwork", "topk_accuracy",
    "build_task", "get_task_class", "list_tasks", "register_task", "task_descriptions",
]
