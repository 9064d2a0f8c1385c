"""Measure one architecture once: train it under a recipe (or score it with a zero-cost proxy) → a result.

:func:`run_trial` never raises for the trial's own failure: the result says ``failed`` and holds
the error, so one bad architecture never stops a study or a search. A run whose loss, weights,
buffers or outputs became NaN/Inf (:class:`~unnas.errors.DivergedError`, or a non-finite number in
the result) says ``diverged``: a fact about that architecture and recipe, never a score.

Training is :func:`unnas.engine.trainer.train_and_evaluate`; proxies score the classification
network at initialisation on one seeded training batch (:mod:`unnas.trials.proxies`).
"""

from __future__ import annotations

import time
import traceback

import torch

import pretext
from unnas.engine.device import resolve_device
from unnas.engine.rng import seed_everything
from unnas.engine.task_setup import build_task_for_data
from unnas.engine.trainer import train_and_evaluate
from unnas.errors import ConfigError, DivergedError, TaskError, one_line

from .data import proxy_batch, train_images, trial_datasets
from .models import build_model, cached_complexity
from .proxies import compute_proxy, label_free_proxies, needs_labels
from .rows import finite_only
from .spec import TrialSpec

#: Keys of the trainer's metrics used for ranking, in order of preference.
METRIC_KEYS = ("top1", "miou", "ssim")


def build_task(name: str, options: dict, data_name: str, dataset):
    """The task, with the data's normalisation and class count unless ``options`` set them (as ``unnas train``)."""
    return build_task_for_data(name, options, dataset, data_name)[0]


def _train(spec: TrialSpec, device: torch.device) -> dict:
    train_set, test_set, split = trial_datasets(spec)
    task = build_task(spec.task, spec.task_options, spec.data.name, train_set)
    seed_everything(spec.seed)  # the initial weights depend on the seed only
    model = build_model(spec.space, spec.arch, task, train_set.num_classes, spec.network)
    params, madds = cached_complexity(spec, model, task, spec.data.crop_size)
    out = train_and_evaluate(model, task, train_set, test_set, spec.recipe, run_dir=None, device=device,
                             seed=spec.seed, progress=False)
    final, peak = out.get("final") or {}, out.get("max_over_epochs") or {}
    # the paper's study ranks by the last epoch; the max over epochs picks epochs on the test split itself
    chosen = peak if spec.rank_by == "best_epoch_on_test" else final
    key = next((k for k in METRIC_KEYS if k in chosen), None)
    if key is None:
        raise TaskError(f"the trainer's metrics {sorted(chosen)} hold none of {', '.join(METRIC_KEYS)}")
    name = f"max over epochs on {split} {key}" if spec.rank_by == "best_epoch_on_test" else f"final {split} {key}"
    return {"metric": float(chosen[key]), "metric_name": name, "rank_by": spec.rank_by, "final": final,
            "max_over_epochs": peak, "epochs": out.get("epochs"), "train_wall_clock_s": out.get("wall_clock_s"),
            "params": params, "madds": madds}


def _proxy(spec: TrialSpec, device: torch.device) -> dict:
    """Score the classification network at initialisation. Label-free proxies also run on readers
    without class labels (the network then gets 10 outputs); label-needing ones refuse them."""
    train_set = train_images(spec)  # a proxy never reads the evaluation split
    images, labels = proxy_batch(train_set, spec.proxy_batch_size, spec.seed)
    if labels is not None:
        task = build_task("classification", spec.task_options, spec.data.name, train_set)
        inputs, targets = task.prepare(images, labels, train=False)
    elif needs_labels(spec.task):
        raise ConfigError(f"proxy {spec.task!r} needs class labels but data.name={spec.data.name!r} has no "
                          "class labels; drop it from proxies or use a label-free proxy "
                          f"({', '.join(label_free_proxies())})")
    else:
        stats = {"mean": [float(m) for m in train_set.mean], "std": [float(s) for s in train_set.std]}
        task = pretext.build_task("classification", **{**stats, **dict(spec.task_options)})
        task.check_images(images)
        inputs, targets = task.normalize(images, train=False), None
    seed_everything(spec.seed)
    model = build_model(spec.space, spec.arch, task, train_set.num_classes if labels is not None else None,
                        spec.network)
    params, madds = cached_complexity(spec, model, task, spec.data.crop_size)
    score = compute_proxy(spec.task, model.to(device), inputs.to(device),
                          None if targets is None else targets.to(device))
    return {"metric": score, "metric_name": f"{spec.task} score", "final": None, "max_over_epochs": None,
            "epochs": 0, "params": params, "madds": madds}


def run_trial(spec: TrialSpec, device: torch.device | str | None = None) -> dict:
    """Measure ``spec``: ``{status: ok | diverged | failed, metric, metric_name, params, madds, final, …,
    device, error, wall_clock_s}``; never raises for the trial. Non-finite numbers are stored as null."""
    start = time.time()
    row: dict = {}
    try:
        dev = torch.device(device) if device is not None else resolve_device(spec.device)
        row["device"] = str(dev)
        result = _proxy(spec, dev) if spec.kind == "proxy" else _train(spec, dev)
        result, bad = finite_only(result)
        if bad:  # a NaN/Inf metric is no ranking: the run diverged even if nothing raised
            row.update(result, status="diverged", metric=None,
                       error=f"non-finite {', '.join(bad)} (NaN/Inf): the run diverged")
        else:
            row.update(status="ok", error=None, **result)
    except DivergedError as exc:
        row.update(status="diverged", metric=None, error=f"DivergedError: {one_line(exc)}")
    except Exception as exc:  # a trial's failure is data for the table, not the end of the study or search
        row.update(status="failed", metric=None, error=f"{type(exc).__name__}: {one_line(exc)}",
                   traceback=traceback.format_exc(limit=-8))
    row["wall_clock_s"] = round(time.time() - start, 3)
    return row
