"""Label-free fitness of one architecture: a study job on a seeded held-out split of the training images.

Black-box strategies and the study share this evaluator: a proxy (``fitness.proxy``: synflow,
naswot, jacob_cov) scores the untrained network on one seeded training batch through
:func:`unnas.study.job.run_job`; otherwise the architecture is trained on ``fitness.task`` under
``fitness.recipe`` with the study's helpers and :func:`unnas.engine.trainer.train_and_evaluate`,
on ``fitness.train_images`` training images and measured on ``fitness.holdout_images`` *other*
training images (a seeded split of the training split; the test split is never read).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import torch

from unnas.errors import ConfigError, DivergedError, one_line


def study_config(cfg):
    """The :class:`StudyConfig` the study's job functions read, built from a search config."""
    from unnas.config.study_schema import StudyConfig, StudyDataConfig, StudyNetworkConfig

    fit = cfg.fitness
    known = {f.name for f in dataclasses.fields(StudyNetworkConfig)}
    unknown = sorted(set(fit.network) - known)
    if unknown:
        raise ConfigError(f"fitness.network.{unknown[0]} is not a network setting; known: {', '.join(sorted(known))}")
    data = StudyDataConfig(**{**dataclasses.asdict(cfg.data), "test_split": cfg.data.split})
    task = fit.proxy or fit.task
    return StudyConfig(space=fit.space, tasks=[fit.task], proxies=[fit.proxy] if fit.proxy else [],
                       task_options={fit.task: dict(cfg.task_options)}, proxy_batch_size=fit.proxy_batch_size,
                       data=data, network=StudyNetworkConfig(**dict(fit.network)), recipe=dict(fit.recipe),
                       out_dir="unused", device=cfg.device, name=f"fitness-{task}")


def holdout_split(train_reader, eval_reader, train_images: int, holdout_images: int, seed: int):
    """Disjoint seeded subsets of one training split: (images to train on, held-out images to score on)."""
    from unnas.study.job import SubsetImages

    n = len(train_reader)
    if train_images + holdout_images > n:
        raise ConfigError(f"fitness.train_images + fitness.holdout_images = {train_images + holdout_images} but the "
                          f"training split holds {n} images; lower them")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return (SubsetImages(train_reader, sorted(order[:train_images])),
            SubsetImages(eval_reader, sorted(order[train_images:train_images + holdout_images])))


class Fitness:
    """``fitness(arch_json, seed) -> {"fitness", "params", "flops", "seconds", "status", "error"}``; never raises for
    the architecture's own failure (a failed or diverged one gets ``fitness: None``)."""

    def __init__(self, cfg):
        from unnas.study.proxies import label_free_proxies

        self.cfg, self.fit = cfg, cfg.fitness
        if self.fit.proxy and self.fit.proxy not in label_free_proxies():
            raise ConfigError(f"fitness.proxy={self.fit.proxy!r} is not a label-free proxy; choose one of "
                              f"{', '.join(label_free_proxies())} or set fitness.proxy=null to train fitness.task")
        self.study = study_config(cfg)
        if not self.fit.proxy:
            from unnas.study.job import recipe_for

            recipe_for(self.study, self.fit.task)  # a bad recipe fails now, in one line, not per architecture

    @property
    def name(self) -> str:
        return f"{self.fit.proxy} score" if self.fit.proxy else f"held-out {self.fit.task}"

    def __call__(self, arch: Any, seed: int) -> dict:
        from unnas.study.job import run_job

        start = time.perf_counter()
        if self.fit.proxy:
            job = {"job_id": "fitness", "arch_id": "candidate", "arch": arch, "task": self.fit.proxy,
                   "kind": "proxy", "seed": seed}
            row = run_job(job, self.study)
            out = {"fitness": row.get("metric"), "params": row.get("params"), "flops": row.get("madds"),
                   "status": row["status"], "error": row.get("error")}
        else:
            out = self._trained(arch, seed)
        out["seconds"] = round(time.perf_counter() - start, 3)
        return out

    def _trained(self, arch: Any, seed: int) -> dict:
        from unnas.engine.device import resolve_device
        from unnas.engine.rng import seed_everything
        from unnas.engine.trainer import train_and_evaluate
        from unnas.study.job import (METRIC_KEYS, _reader, build_model, build_study_task, cached_complexity,
                                     data_config, recipe_for)

        task_name, study = self.fit.task, self.study
        params = madds = None
        try:
            data_cfg = data_config(study, task_name)
            train_set, held_out = holdout_split(_reader(data_cfg, data_cfg.split, True),
                                                _reader(data_cfg, data_cfg.split, False),
                                                self.fit.train_images, self.fit.holdout_images, self.fit.split_seed)
            task = build_study_task(task_name, study.task_options.get(task_name, {}), data_cfg, train_set)
            seed_everything(seed)
            model = build_model(study, arch, task, train_set.num_classes)
            params, madds = cached_complexity(study, {"arch": arch}, model, task, data_cfg.crop_size)
            result = train_and_evaluate(model, task, train_set, held_out, recipe_for(study, task_name), run_dir=None,
                                        device=resolve_device(self.cfg.device), seed=seed, progress=False)
            final = result.get("final") or {}
            key = next((k for k in METRIC_KEYS if k in final), None)
            if key is None:
                return {"fitness": None, "params": params, "flops": madds, "status": "failed",
                        "error": f"no {'/'.join(METRIC_KEYS)} in the trainer's metrics {sorted(final)}"}
            value = float(final[key])
            if not math.isfinite(value):  # the trainer's check raises first; a NaN score is never a fitness
                raise DivergedError(f"training diverged: the held-out {key} is {value}")
            return {"fitness": value, "params": params, "flops": madds, "status": "ok", "error": None}
        except DivergedError as exc:  # never a fitness, never a "best"
            return {"fitness": None, "params": params, "flops": madds, "status": "diverged", "error": one_line(exc)}
        except ConfigError:
            raise
        except Exception as exc:  # one architecture's failure is a result, not the end of the search
            return {"fitness": None, "params": None, "flops": None, "status": "failed",
                    "error": f"{type(exc).__name__}: {one_line(exc)}"}
