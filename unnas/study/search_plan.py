"""The plan of a search-based study: search jobs, the train jobs of their genotypes, random genotypes.

Jobs (plain dicts, as the sample kind's) in the order the pool should take them: every search
first (the long jobs), then the trains of searched genotypes grouped by search (so a search's
trains are the first ready jobs once it is done), then the random genotypes' trains. A train of
a searched genotype has ``arch: null`` and ``depends_on`` naming its search; the genotype is read
from that search's row when the train starts (:mod:`.search_jobs`).

Every job carries ``source`` (``search`` or ``random``), ``search_task`` (the label of the search
that chose the cell: its task, or its ``search.variants`` name; None for random ones) and ``group``
(what ``study status`` counts by). Ids and groups use the label; a search job's ``task`` is the task
it really searches. When a search discretises by sampling (``arch.discretization: sample``), its
trains use the first sampled genotype, and its jobs say so in ``genotype_from``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pretext
from unnas.config import SearchConfig, load_config, resolve_config_path
from unnas.errors import ConfigError, UnnasError
from unnas.trials.darts_sampler import WINDOW, sample_architectures
from unnas.trials.rows import read_plan

from .fingerprint import fingerprint
from .jobs import data_config, recipe_for

SEARCHES_DIR = "searches"
RANDOM = "random"
#: The genotype a search with arch.discretization=sample hands to its trains (else genotype.json, the argmax).
SAMPLED_GENOTYPE = "genotypes_sampled.json[0]"
ARGMAX_GENOTYPE = "genotype.json"


# ----------------------------------------------------------------------------- ids
def search_job_id(task: str, seed: int) -> str:
    return f"search-{task}-s{seed}"


def searched_arch_id(task: str, seed: int) -> str:
    return f"{task}-s{seed}"


def train_job_id(arch_id: str, target: str, seed: int) -> str:
    return f"{arch_id}-{target}-t{seed}"


def search_run_dir(study_dir: str | Path, job_id: str) -> Path:
    """Where a search job's ``unnas search`` run directory lives inside the study."""
    return Path(study_dir) / SEARCHES_DIR / job_id


# ----------------------------------------------------------------------------- search configs
def flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``{optim: {epochs: 1}}`` → ``["optim.epochs=1"]`` (values JSON-encoded: YAML reads them back)."""
    items = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            items += flatten(value, f"{name}.")
        else:
            items.append(f"{name}={json.dumps(value if not isinstance(value, Mapping) else {})}")
    return items


def search_task_of(cfg, label: str) -> str:
    """The task a ``search_tasks`` entry searches: its variant's task, else the entry itself."""
    variant = cfg.search.variants.get(label)
    return variant.task if variant is not None else label


def _search_name(cfg, label: str) -> str:
    """How errors name a search: ``search of task 'rotation'`` or ``search variant 'dd' (task 'rotation')``."""
    if label in cfg.search.variants:
        return f"search variant {label!r} (task {search_task_of(cfg, label)!r})"
    return f"search of task {label!r}"


def _dotted(mapping: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``{arch: {relaxation: gumbel}}`` → ``[("arch.relaxation", "gumbel")]``."""
    return [(key, json.loads(value)) for key, _, value in (item.partition("=") for item in flatten(mapping))]


def search_config(cfg, label: str, seed: int, out_dir: str | Path):
    """The :class:`~unnas.config.SearchConfig` of one search of ``label`` (a task or a variant name): the
    preset ← the study's ``task_options[task]`` ← ``search.overrides`` ← ``search.task_overrides[task]``
    (a search may differ from the training, e.g. no label smoothing) ← the variant's ``overrides``
    ← task, seed, run directory."""
    task, variant = search_task_of(cfg, label), cfg.search.variants.get(label)
    preset = cfg.search.configs.get(task, cfg.search.config)
    overrides = flatten({"task_options": dict(cfg.task_options.get(task, {}))})
    overrides += flatten(cfg.search.overrides) + flatten(cfg.search.task_overrides.get(task, {}))
    overrides += flatten(variant.overrides) if variant is not None else []
    overrides += [f"task={json.dumps(task)}", f"seed={int(seed)}", f"out_dir={json.dumps(str(out_dir))}",
                  "progress=false", f"device={json.dumps(cfg.device)}"]
    where = "search.configs / search.overrides" + (f" / search.variants.{label}.overrides" if variant else "")
    try:
        path = resolve_config_path(preset, "search") if preset else None
        return load_config(SearchConfig, path, overrides)
    except UnnasError as exc:
        raise ConfigError(f"{_search_name(cfg, label)} ({where}): {exc}") from None


def genotype_from(scfg) -> str:
    """Which of a search's genotypes its trains use: the argmax one, or the first sampled one."""
    return SAMPLED_GENOTYPE if scfg.arch.discretization == "sample" else ARGMAX_GENOTYPE


def check_search_settings(cfg, labels: list[str]) -> dict:
    """Resolve every search's config and build its task, so mistakes surface before any job runs;
    returns ``{label: SearchConfig}`` (of the first search seed)."""
    configs = {}
    for label in labels:
        task = search_task_of(cfg, label)
        scfg = configs[label] = search_config(cfg, label, cfg.search_seeds[0],
                                              Path(cfg.out_dir) / SEARCHES_DIR / "check")
        try:  # the search config itself was checked as it loaded
            pretext.build_task(task, **dict(scfg.task_options))
        except UnnasError as exc:
            raise ConfigError(f"{_search_name(cfg, label)}: {exc}") from None
        if getattr(pretext.get_task_class(task), "needs_color", False) and scfg.data.name in GRAY_READERS:
            raise ConfigError(f"search task {task!r} needs colour images but its search data.name={scfg.data.name!r} "
                              "is grayscale; drop it from search_tasks or search it on colour data "
                              f"(search.task_overrides.{task}.data)")
    return configs


#: Readers whose images are grayscale (a colour task cannot search on them).
GRAY_READERS = ("fashion_mnist", "mnist")


def check_names(cfg) -> None:
    known, variants = pretext.list_tasks(), cfg.search.variants
    for name, variant in variants.items():
        if name in known:
            raise ConfigError(f"search.variants.{name}: {name!r} is a task's name; give the variant its own name, "
                              f"e.g. {name}_{variant.task}")
        if variant.task not in known:
            raise ConfigError(f"search.variants.{name}.task: unknown task {variant.task!r}; tasks: {', '.join(known)}")
    for name in cfg.search_tasks:
        if name not in known and name not in variants:
            also = f" nor a search.variants name ({', '.join(variants)})" if variants else ""
            raise ConfigError(f"search_tasks: unknown task {name!r}{also}; tasks: {', '.join(known)}")
    if cfg.target not in known:
        raise ConfigError(f"target: unknown task {cfg.target!r}; tasks: {', '.join(known)}")
    for key, mapping in (("task_options", cfg.task_options), ("recipes", cfg.recipes), ("task_data", cfg.task_data),
                         ("search.configs", cfg.search.configs), ("search.task_overrides", cfg.search.task_overrides)):
        stray = sorted(set(mapping) - set(known))
        if stray:
            raise ConfigError(f"{key}.{stray[0]}: {stray[0]!r} is not a task; tasks: {', '.join(known)}")


# ----------------------------------------------------------------------------- random genotypes
def random_genotypes(cfg) -> list[tuple[str, list]]:
    """``[(arch_id, list-form genotype)]``: the first ``random_genotypes`` draws of ``sample_seed``
    (inside the sampler's ResNet-56 window unless ``random_match: none``); seeded, so reproducible."""
    if not cfg.random_genotypes:
        return []
    saved = _saved_random(cfg)
    if len(saved) >= cfg.random_genotypes:  # the sampler's stream is prefix-stable: its first N draws
        return saved[:cfg.random_genotypes]
    if cfg.random_match == "window":
        samples = sample_architectures(cfg.random_genotypes, seed=cfg.sample_seed, window=WINDOW)
    else:  # every draw is kept: no complexity to count
        samples = sample_architectures(cfg.random_genotypes, seed=cfg.sample_seed, window=(0.0, float("inf")),
                                       complexity_fn=lambda _genotype: (0, 0))
    return [(f"{RANDOM}-{s.id}", s.genotype.to_list()) for s in samples]


def _saved_random(cfg) -> list[tuple[str, list]]:
    """The random genotypes of this study's ``plan.json`` (same fingerprint: same seed and window),
    so that status and analyze do not count every draw's complexity again."""
    try:
        old = read_plan(cfg.out_dir)
    except UnnasError:
        return []
    if not old or old.get("fingerprint") != fingerprint(cfg):
        return []
    archs = old.get("archs_by_id") or {}
    return sorted((a, g) for a, g in archs.items() if str(a).startswith(f"{RANDOM}-"))


# ----------------------------------------------------------------------------- plan
def _train(arch_id: str, arch, cfg, seed: int, **extra) -> dict:
    return {"job_id": train_job_id(arch_id, cfg.target, seed), "arch_id": arch_id, "arch": arch, "task": cfg.target,
            "kind": "train", "seed": int(seed), **extra}


def build_search_plan(cfg) -> dict:
    """The plan of a search study (nothing is written); every setting is checked first."""
    check_names(cfg)
    pretext.build_task(cfg.target, **dict(cfg.task_options.get(cfg.target, {})))
    recipe_for(cfg, cfg.target)
    data_config(cfg, cfg.target)
    configs = check_search_settings(cfg, cfg.search_tasks)
    searches, searched, randoms = [], [], []
    for label in cfg.search_tasks:  # a task, or a variant's name
        task = search_task_of(cfg, label)
        chosen = genotype_from(configs[label])
        pick = {} if chosen == ARGMAX_GENOTYPE else {"genotype_from": chosen}  # plain plans stay as they were
        for seed in cfg.search_seeds:
            sid, arch_id = search_job_id(label, seed), searched_arch_id(label, seed)
            searches.append({"job_id": sid, "arch_id": arch_id, "arch": None, "task": task, "kind": "search",
                             "seed": int(seed), "source": "search", "search_task": label, "search_seed": int(seed),
                             "group": f"search {label}", **pick})
            searched += [_train(arch_id, None, cfg, t, depends_on=sid, source="search", search_task=label,
                                search_seed=int(seed), group=f"train {label}-searched", **pick)
                         for t in cfg.train_seeds]
    for arch_id, arch in random_genotypes(cfg):
        randoms += [_train(arch_id, arch, cfg, t, source=RANDOM, search_task=None, search_seed=None,
                           group=f"train {RANDOM}") for t in cfg.train_seeds]
    jobs = searches + searched + randoms
    plan = {"study": cfg.name, "kind": "search", "fingerprint": fingerprint(cfg), "space": cfg.space,
            "archs": len(searches) + cfg.random_genotypes, "tasks": [cfg.target], "proxies": [],
            "seeds": [int(s) for s in cfg.train_seeds], "search_tasks": list(cfg.search_tasks),
            "search_seeds": [int(s) for s in cfg.search_seeds], "random_genotypes": cfg.random_genotypes,
            "target": cfg.target, "jobs": jobs}
    used = {label: cfg.search.variants[label] for label in cfg.search_tasks if label in cfg.search.variants}
    if used:  # what each searched variant is, for the report
        plan["variants"] = {label: {"task": v.task, "overrides": dict(_dotted(v.overrides))}
                            for label, v in used.items()}
    return plan


def describe_search_plan(plan: dict) -> str:
    n_search = len(plan["search_tasks"]) * len(plan["search_seeds"])
    n_train = sum(j["kind"] == "train" for j in plan["jobs"])
    return (f"{len(plan['search_tasks'])} search tasks ({', '.join(plan['search_tasks']) or 'none'}) × "
            f"{len(plan['search_seeds'])} search seeds = {n_search} search jobs; ({n_search} searched + "
            f"{plan['random_genotypes']} random genotypes) × {len(plan['seeds'])} train seeds on {plan['target']} = "
            f"{n_train} training jobs; {len(plan['jobs'])} jobs in all")
