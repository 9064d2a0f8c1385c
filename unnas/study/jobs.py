"""A study's jobs as trials: each planned job becomes a :class:`~unnas.trials.spec.TrialSpec`, its
result a row in the study directory.

A job is a plain JSON-able dict ``{job_id, arch_id, arch, task, kind, seed}`` (plan.json). The
study's settings for it — ``task_data`` overrides of the data, ``recipe`` ← ``recipes[task]``, the
task's options, the network — are turned into the trial's own spec here; the trial itself knows
nothing of studies. A search study's jobs are in :mod:`unnas.study.search_jobs`; both kinds are run
(and their rows stored) by :func:`unnas.study.runner.execute`.
"""

from __future__ import annotations

import dataclasses

from unnas.config.rules import check_batch_for_task
from unnas.errors import ConfigError, one_line
from unnas.trials.run import run_trial
from unnas.trials.spaces import get_space
from unnas.trials.spec import TrialSpec, merge_recipe

from .fingerprint import fingerprint


def recipe_for(cfg, task: str):
    """The trainer's Recipe for ``task``: its defaults ← ``cfg.recipe`` ← ``cfg.recipes[task]``."""
    recipe = merge_recipe(("recipe", cfg.recipe), (f"recipes.{task}", cfg.recipes.get(task, {})))
    check_batch_for_task(recipe.batch_size, task, f"recipes.{task}.batch_size")
    return recipe


def data_config(cfg, task: str):
    """The study's data config with the task's ``task_data`` overrides applied."""
    overrides = dict(cfg.task_data.get(task, {}))
    known = {f.name for f in dataclasses.fields(cfg.data)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"task_data.{task}.{unknown[0]} is not a data setting; known: {', '.join(sorted(known))}")
    return dataclasses.replace(cfg.data, **overrides)


def trial_spec(job: dict, cfg) -> TrialSpec:
    """The trial a job runs. A proxy scores the classification network on the study's own data (no
    ``task_data`` of its own) with classification's options."""
    proxy = job["kind"] == "proxy"
    options_of = "classification" if proxy else job["task"]
    network = cfg.network
    if proxy and getattr(network, "proxy_variant", None):  # NAS-Bench-201: the zero-cost papers' network for proxies
        network = dataclasses.replace(network, variant=network.proxy_variant)
    return TrialSpec(space=cfg.space, arch=job["arch"], task=job["task"], kind=job["kind"], seed=job["seed"],
                     task_options=dict(cfg.task_options.get(options_of, {})),
                     data=cfg.data if proxy else data_config(cfg, job["task"]), network=network,
                     recipe=None if proxy else recipe_for(cfg, job["task"]),
                     proxy_batch_size=getattr(cfg, "proxy_batch_size", 64),
                     rank_by=getattr(cfg, "rank_by", "final"), device=cfg.device)


def base_row(job: dict, cfg) -> dict:
    """The fields every row carries: which job, and which study it belongs to."""
    return {**{k: job[k] for k in ("job_id", "arch_id", "task", "kind", "seed")}, "fingerprint": fingerprint(cfg)}


def run_job(job: dict, cfg, device=None) -> dict:
    """Run one planned job and return its row (status ``ok``, ``diverged`` or ``failed``; never raises for
    the job). The row names the architecture by its canonical string (``arch_str``)."""
    row = base_row(job, cfg)
    try:
        row["arch_str"] = get_space(cfg.space).canonical(job["arch"])
        spec = trial_spec(job, cfg)
    except Exception as exc:  # a job's bad setting is a failed row, as a failed training is
        return {**row, "status": "failed", "metric": None, "error": f"{type(exc).__name__}: {one_line(exc)}",
                "wall_clock_s": 0.0}
    row.update(run_trial(spec, device))
    return row
