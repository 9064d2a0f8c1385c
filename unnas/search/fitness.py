"""Label-free fitness of one architecture: a trial (:mod:`unnas.trials`) on a seeded held-out split.

A proxy (``fitness.proxy``: synflow, naswot, jacob_cov) scores the untrained network on one seeded
training batch; otherwise the architecture is trained on ``fitness.task`` under ``fitness.recipe``
on ``fitness.train_images`` training images and measured on ``fitness.holdout_images`` *other*
training images (a seeded split of the training split; the test split is never read).

:class:`Fitness` builds the trial spec once from the search config, and :meth:`Fitness.check`
builds the data split and the task once, before the run directory exists: a wrong setting stops
there in one line instead of failing every candidate (whose failures would then be recorded in
``history.jsonl`` and refuse the corrected command's resume).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pretext
from unnas.config.rules import check_batch_for_task
from unnas.config.study_schema import StudyDataConfig
from unnas.errors import ConfigError
from unnas.trials.data import train_images
from unnas.trials.proxies import label_free_proxies
from unnas.trials.run import build_task, run_trial
from unnas.trials.spaces import get_space
from unnas.trials.spec import Holdout, TrialSpec, merge_recipe, network_settings
from unnas.trials.tables import read_table


class TableFitness:
    """``fitness.table``: the architecture's ``fitness.metric`` in a benchmark table (a query, no training); an
    architecture the table lacks gets no fitness (status ``failed``, never a score)."""

    def __init__(self, cfg):
        fit = cfg.fitness
        self.table, self.metric = read_table(fit.table, fit.space), fit.metric
        self.table.check_metric(self.metric, "fitness.metric")

    @property
    def name(self) -> str:
        return f"{self.metric} of {self.table.path.name}"

    def check(self) -> None:
        """Nothing to build: the table was read and checked on construction."""

    def __call__(self, arch: Any, seed: int) -> dict:
        value = self.table.value(arch, self.metric)
        if value is None:
            return {"fitness": None, "params": None, "flops": None, "status": "failed", "seconds": 0.0,
                    "error": f"not in {self.table.path} (or no {self.metric} recorded for it)"}
        return {"fitness": value, "params": None, "flops": None, "status": "ok", "seconds": 0.0, "error": None}


def build_fitness(cfg):
    """The fitness a black-box search config asks for: a table lookup, a proxy or a trained task."""
    return TableFitness(cfg) if cfg.fitness.table else Fitness(cfg)


class Fitness:
    """``fitness(arch_json, seed) -> {"fitness", "params", "flops", "seconds", "status", "error"}``; never raises
    for the architecture's own failure (a failed or diverged one gets ``fitness: None``)."""

    def __init__(self, cfg):
        fit = cfg.fitness
        self.proxy = fit.proxy
        space = get_space(fit.space, "fitness.space")
        if fit.proxy and fit.proxy not in label_free_proxies():
            raise ConfigError(f"fitness.proxy={fit.proxy!r} is not a label-free proxy; choose one of "
                              f"{', '.join(label_free_proxies())} or set fitness.proxy=null to train fitness.task")
        if not fit.proxy and fit.task not in pretext.list_tasks():
            raise ConfigError(f"fitness.task={fit.task!r} is not a task; choose one of {', '.join(pretext.list_tasks())}")
        recipe = None if fit.proxy else merge_recipe(("fitness.recipe", fit.recipe), prefix="fitness.recipe.")
        if recipe is not None:
            check_batch_for_task(recipe.batch_size, fit.task, "fitness.recipe.batch_size")
        data = StudyDataConfig(**{**dataclasses.asdict(cfg.data), "test_split": cfg.data.split})
        options = {} if fit.proxy else dict(cfg.task_options)  # a proxy scores the classification network
        self.template = TrialSpec(
            space=space.name, arch=None, task=fit.proxy or fit.task, kind="proxy" if fit.proxy else "train",
            task_options=options, data=data, network=network_settings(fit.network, "fitness.network"),
            holdout=None if fit.proxy else Holdout(fit.train_images, fit.holdout_images, fit.split_seed),
            recipe=recipe, proxy_batch_size=fit.proxy_batch_size, device=cfg.device)

    @property
    def name(self) -> str:
        return f"{self.proxy} score" if self.proxy else f"held-out {self.template.task}"

    def check(self) -> None:
        """Build the data split (and the trained task) once, as every candidate will: one-line errors, nothing
        written."""
        spec = self.template
        train_set = train_images(spec)
        if spec.kind == "proxy":  # the proxy's network and batch come from the data (labels or not)
            if len(train_set) < spec.proxy_batch_size:
                raise ConfigError(f"fitness.proxy_batch_size={spec.proxy_batch_size} but the training split holds "
                                  f"{len(train_set)} images; lower it")
            return
        build_task(spec.task, spec.task_options, spec.data.name, train_set)

    def __call__(self, arch: Any, seed: int) -> dict:
        start = time.perf_counter()
        row = run_trial(dataclasses.replace(self.template, arch=arch, seed=seed))
        ok = row["status"] == "ok"
        return {"fitness": row.get("metric") if ok else None, "params": row.get("params"), "flops": row.get("madds"),
                "status": row["status"], "error": row.get("error"),
                "seconds": round(time.perf_counter() - start, 3)}
