"""Build a task for a dataset: data-dependent defaults and the checks that task and data fit.

Search, training and studies all build tasks this way, so a task always normalises with its
dataset's statistics and a labelled task always sees labels of the kind it needs.
"""

from __future__ import annotations

import inspect
from typing import Any

import pretext
from unnas.errors import TaskError


def build_task_for_data(name: str, options: dict[str, Any], dataset, data_name: str) -> tuple[pretext.Task, dict]:
    """The task ``name`` with ``options``; mean/std, PCA lighting and num_classes default to the dataset's.

    Returns the task and the resolved options (what a run directory should record).
    """
    options = dict(options)
    params = inspect.signature(pretext.get_task_class(name).__init__).parameters
    if "mean" in params and "mean" not in options:
        options["mean"], options["std"] = [float(m) for m in dataset.mean], [float(s) for s in dataset.std]
    stats = getattr(dataset, "luminance_stats", None)
    if "l_mean" in params and stats and "l_mean" not in options and "l_std" not in options:
        options["l_mean"], options["l_std"] = float(stats[0]), float(stats[1])
    if "lighting" in params and "lighting" not in options:
        options["lighting"] = float(getattr(dataset, "lighting", 0.0))
    if "num_classes" in params and "num_classes" not in options and dataset.num_classes:
        options["num_classes"] = int(dataset.num_classes)
    task = pretext.build_task(name, **options)
    check_task_fits_data(task, dataset, data_name)
    return task, options


def check_task_fits_data(task: pretext.Task, dataset, data_name: str) -> None:
    """One-line errors for a task the data cannot serve (labels, colour, class count)."""
    if task.needs_labels and dataset.label_kind != task.needs_labels:
        raise TaskError(f"task {task.name!r} needs {task.needs_labels} labels but data.name={data_name!r} has "
                        f"{dataset.label_kind or 'no labels'}; use a labelled reader or a label-free task such as rotation")
    if task.needs_color and not dataset.is_color:
        raise TaskError(f"task {task.name!r} needs colour images but data.name={data_name!r} is grayscale")
    n_task = getattr(task, "num_classes", None)
    if task.needs_labels == "class" and dataset.num_classes and n_task is not None and n_task < dataset.num_classes:
        raise TaskError(f"task_options.num_classes={n_task} but the data has {dataset.num_classes} classes")
