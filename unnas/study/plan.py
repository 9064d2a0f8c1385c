"""Expand a study config into jobs and keep them in ``<out_dir>/plan.json``.

A job is a plain JSON-able dict ``{job_id, arch_id, arch, task, kind, seed}``: ``kind`` is
``train`` (arch × task × seed) or ``proxy`` (arch × zero-cost proxy, scored once with the first
seed). ``arch`` is the architecture itself (DARTS list form, NB101 ``{matrix, ops}`` or MR
``{space: mr, code}``), so a job runs anywhere (a pool worker, a SLURM node) without
re-reading the sample source.

The plan carries the study's **fingerprint** (:mod:`.fingerprint`): a study can grow and keep
its finished jobs, while a changed recipe in the same directory is refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pretext
from unnas.atomic import atomic_write_json
from unnas.errors import ConfigError, DataError, UnnasError
from unnas.trials.proxies import PROXIES
from unnas.trials.rows import PLAN_FILE, read_plan
from unnas.trials.spaces import Space, get_space
from unnas.trials.tables import read_table

from .fingerprint import DATA_NOT_FINGERPRINTED, NOT_FINGERPRINTED, check_fingerprint, fingerprint
from .jobs import data_config, recipe_for
from .samples import load_paper_samples
from .search_plan import build_search_plan, describe_search_plan

__all__ = ["PLAN_FILE", "NOT_FINGERPRINTED", "DATA_NOT_FINGERPRINTED", "fingerprint", "check_fingerprint",
           "safe_id", "load_archs", "split_tasks", "check_task_settings", "job_id", "build_plan", "read_plan",
           "write_plan", "describe_plan"]


def safe_id(text: str) -> str:
    """A file-name-safe job id part (architecture ids of user sample files may hold any character)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "_", str(text))


# ----------------------------------------------------------------------------- architectures
def archs_from_run_dirs(directory: Path, space: Space) -> list[tuple[str, Any]]:
    """The architectures found by searches: every subdirectory of ``directory`` (sorted by name, which
    becomes the id) holding its space's result file (``genotype.json``, ``spec.json`` or ``arch.json``).

    This is how the winners of several searches are trained under one study recipe without
    hand-writing a samples file; subdirectories without the file are skipped, none at all is an error.
    """
    archs = [(run.name, space.load(run / space.arch_file)) for run in sorted(p for p in directory.iterdir() if p.is_dir())
             if (run / space.arch_file).is_file()]
    if not archs:
        raise ConfigError(f"archs={str(directory)!r} is a directory without subdirectories holding "
                          f"{space.arch_file}; pass search run directories' parent (space={space.name})")
    return archs


def archs_from_file(path: Path, space: Space) -> list[tuple[str, Any]]:
    """A samples JSON file (``unnas draw``'s, the paper's layout, a space sampler's), or a text file with one
    architecture per line (the space's string; a NAS-Bench-201 index), ``#`` starting a comment."""
    if path.suffix != ".json" and space.ident is not None:
        lines = [(n, line.split("#")[0].strip()) for n, line in enumerate(path.read_text().splitlines(), 1)]
        archs = []
        for n, text in lines:
            if text:
                try:
                    arch = space.load(text)
                except UnnasError as exc:
                    raise DataError(f"{path}:{n}: {exc}") from None
                archs.append((space.ident(arch), arch))
        return archs
    if space.read_samples is None:
        raise ConfigError(f"archs={str(path)!r}: space={space.name} has no samples file format")
    return space.read_samples(path)


def load_archs(cfg) -> list[tuple[str, Any]]:
    """``[(arch_id, JSON-able arch)]`` from ``cfg.archs``, the first ``cfg.count`` of them."""
    source, space = cfg.archs, get_space(cfg.space)
    if source == "paper":
        archs = load_paper_samples(space.name)
    elif source == "sample":
        if space.samples is None:
            raise ConfigError(f"archs=sample has no sampler for space={space.name}; use archs=paper or a samples "
                              "JSON file (unnas draw)")
        archs = space.samples(cfg.count, cfg.sample_seed)
    elif source == "all":
        if space.enumerate is None:
            raise ConfigError(f"archs=all enumerates only the benchmark spaces (nasbench201, transnas_micro, "
                              f"transnas_macro); space={space.name} is too large: use archs=sample with count")
        archs = space.enumerate()
    elif Path(source).is_dir():
        archs = archs_from_run_dirs(Path(source), space)
    elif Path(source).is_file():
        archs = archs_from_file(Path(source), space)
    else:
        raise ConfigError(f"archs={source!r} is neither paper, sample, all, an existing samples file nor a "
                          "directory of search runs")
    archs = [(str(i), space.to_json(a)) for i, a in archs]
    archs = archs[:cfg.count] if cfg.count is not None else archs
    if cfg.count is not None and len(archs) < cfg.count:
        raise ConfigError(f"count={cfg.count} but archs={source!r} holds only {len(archs)} architectures; lower count")
    seen: set[str] = set()
    for arch_id, _ in archs:
        if safe_id(arch_id) in seen:
            raise DataError(f"architecture id {arch_id!r} appears twice in archs={source!r}; ids must be unique")
        seen.add(safe_id(arch_id))
    return archs


# ----------------------------------------------------------------------------- tasks
def split_tasks(cfg) -> tuple[list[str], list[str]]:
    """(trained tasks, proxies) with every name checked against the task registry and PROXIES."""
    known = pretext.list_tasks()
    trained, proxies = [], []
    for key, names in (("tasks", cfg.tasks), ("proxies", cfg.proxies)):
        for name in names:
            if name in PROXIES:
                proxies.append(name)
            elif name in known and key == "tasks":
                trained.append(name)
            else:
                where = f"{key} of study {cfg.name!r}"
                raise ConfigError(f"unknown task {name!r} in {where}; tasks: {', '.join(known)}; "
                                  f"zero-cost proxies: {', '.join(PROXIES)}")
    everything = trained + proxies
    dup = next((n for n in everything if everything.count(n) > 1), None)
    if dup is not None:
        raise ConfigError(f"task {dup!r} is listed twice in study {cfg.name!r}; list each task once")
    # settings of known tasks the study does not run are fine (a preset may be run with fewer tasks)
    for key, mapping in (("task_options", cfg.task_options), ("recipes", cfg.recipes), ("task_data", cfg.task_data)):
        stray = sorted(set(mapping) - set(known))
        if stray:
            raise ConfigError(f"{key}.{stray[0]}: {stray[0]!r} is not a task; tasks: {', '.join(known)}")
    if isinstance(cfg.target, dict):  # a benchmark table: read and checked once, before anything runs
        read_table(cfg.target["table"], cfg.space).check_metric(cfg.target["metric"], "target.metric")
    elif cfg.target not in everything:
        raise ConfigError(f"target={cfg.target!r} is not a task of study {cfg.name!r}; set target to one of: "
                          f"{', '.join(everything)}")
    return trained, proxies


def check_task_settings(cfg, trained: list[str]) -> None:
    """Build each task with its options and resolve its recipe, so mistakes surface before any job runs."""
    for name in trained:
        pretext.build_task(name, **dict(cfg.task_options.get(name, {})))
        recipe_for(cfg, name)
        data_config(cfg, name)


# ----------------------------------------------------------------------------- plan
def job_id(arch_id: str, task: str, seed: int) -> str:
    return f"{safe_id(arch_id)}-{task}-s{seed}"


def build_plan(cfg) -> dict:
    """The plan of a study: fingerprint, counts and the job list (nothing is written)."""
    if getattr(cfg, "kind", "sample") == "search":
        return build_search_plan(cfg)
    trained, proxies = split_tasks(cfg)
    check_task_settings(cfg, trained)
    archs = load_archs(cfg)
    jobs = []
    for arch_id, arch in archs:
        for task in trained:
            for seed in cfg.seeds:
                jobs.append({"job_id": job_id(arch_id, task, seed), "arch_id": str(arch_id), "arch": arch,
                             "task": task, "kind": "train", "seed": int(seed)})
        for proxy in proxies:
            seed = int(cfg.seeds[0])
            jobs.append({"job_id": job_id(arch_id, proxy, seed), "arch_id": str(arch_id), "arch": arch,
                         "task": proxy, "kind": "proxy", "seed": seed})
    return {"study": cfg.name, "fingerprint": fingerprint(cfg), "space": cfg.space, "archs": len(archs),
            "tasks": trained, "proxies": proxies, "seeds": [int(s) for s in cfg.seeds], "jobs": jobs}


def write_plan(cfg, plan: dict) -> Path:
    """Write ``plan.json`` atomically into ``cfg.out_dir``, refusing a directory of another study.

    On disk each architecture is stored once (``archs_by_id``) and jobs name it by ``arch_id``.
    """
    study_dir = Path(cfg.out_dir)
    old = read_plan(study_dir)
    if old is not None:
        check_fingerprint(old.get("fingerprint"), plan["fingerprint"], study_dir / PLAN_FILE)
    archs = {j["arch_id"]: j["arch"] for j in plan["jobs"] if j["arch"] is not None}  # searched ones: after search
    jobs = [{k: v for k, v in j.items() if k != "arch"} for j in plan["jobs"]]
    return atomic_write_json(study_dir / PLAN_FILE, {**plan, "jobs": jobs, "archs_by_id": archs})


def describe_plan(plan: dict) -> str:
    if plan.get("kind") == "search":
        return describe_search_plan(plan)
    trained, proxies = plan["tasks"], plan["proxies"]
    n_train = plan["archs"] * len(trained) * len(plan["seeds"])
    text = (f"{plan['archs']} archs × {len(trained)} tasks ({', '.join(trained) or 'none'}) × "
            f"{len(plan['seeds'])} seeds = {n_train} training jobs")
    if proxies:
        text += f"; {plan['archs']} archs × {len(proxies)} proxies ({', '.join(proxies)}) = {plan['archs'] * len(proxies)} proxy jobs"
    return text + f"; {len(plan['jobs'])} jobs in all"
