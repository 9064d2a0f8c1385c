"""One study job: train an architecture on a task (or score it with a zero-cost proxy) → one row.

The trunk comes from the space (DARTS cells via :func:`eval.networks.build_network`, a
NAS-Bench-101 network or a NAS-Bench-MR network); supervised classification keeps the network's
own classifier, every other task puts its head on the same trunk. Training is
:func:`unnas.engine.trainer.train_and_evaluate` with the study's recipe for the task. Proxies
score the classification network at initialisation on one seeded training batch.

:func:`run_job` never raises for a job's own failure: the row says ``failed`` and holds the
error, so one bad architecture or task never stops the rest of a study. A run whose loss, weights,
BN statistics or evaluation outputs became NaN/Inf (:class:`~unnas.errors.DivergedError` from the
trainer's finiteness check, or a non-finite metric) says ``diverged`` with a null metric: a result
about that architecture and recipe, kept out of the correlations.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from typing import Any

import torch
from torch import nn

from unnas.data import ImageDataset, build_dataset
from unnas.errors import ConfigError, DivergedError, TaskError, one_line

from .fingerprint import fingerprint
from .results import finite_only

#: Keys of the trainer's metrics used for ranking, in order of preference.
METRIC_KEYS = ("top1", "miou", "ssim")

_READERS: dict[tuple, Any] = {}
_MAX_READERS = 4
_NOT_READER_SETTINGS = {"split", "test_split", "train_limit", "test_limit", "subset_seed"}
_MADDS: dict[tuple, int] = {}


# ----------------------------------------------------------------------------- recipes
def recipe_for(cfg, task: str):
    """The trainer's Recipe for ``task``: its defaults ← ``cfg.recipe`` ← ``cfg.recipes[task]``.

    Merged through the typed schema, so unknown keys fail naming them and YAML strings such as
    ``5e-4`` (not a float to YAML 1.1) become numbers.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from unnas.engine.trainer import Recipe, validate_recipe

    merged = OmegaConf.structured(Recipe)
    for where, overrides in (("recipe", cfg.recipe), (f"recipes.{task}", cfg.recipes.get(task, {}))):
        try:
            merged = OmegaConf.merge(merged, dict(overrides))
        except OmegaConfBaseException as exc:
            key = getattr(exc, "full_key", None) or "?"
            raise ConfigError(f"{where}.{key}: {str(exc).splitlines()[0]}") from None
    recipe = OmegaConf.to_object(merged)
    validate_recipe(recipe)
    return recipe


# ----------------------------------------------------------------------------- data
class SubsetImages(ImageDataset):
    """A fixed subset of a reader that keeps its attributes (statistics, labels, colour)."""

    def __init__(self, base: ImageDataset, indices: list[int]):
        self.base, self.indices = base, list(indices)
        for attr in ("mean", "std", "label_kind", "num_classes", "is_color"):
            setattr(self, attr, getattr(base, attr))

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, index: int, generator: torch.Generator):
        return self.base.load(self.indices[index], generator)


def seeded_subset(dataset, limit: int | None, seed: int):
    """The first ``limit`` images of a seeded permutation (in file order), or the whole dataset."""
    if limit is None or limit >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:limit]
    return SubsetImages(dataset, sorted(order.tolist()))


def data_config(cfg, task: str):
    """The study's data config with the task's ``task_data`` overrides applied."""
    overrides = dict(cfg.task_data.get(task, {}))
    known = {f.name for f in dataclasses.fields(cfg.data)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"task_data.{task}.{unknown[0]} is not a data setting; known: {', '.join(sorted(known))}")
    return dataclasses.replace(cfg.data, **overrides)


def _reader(data_cfg, split: str, train: bool):
    """A reader, cached per process (a worker decodes its files once for all its jobs); subsets
    and the split names do not change what a reader holds, so they are not part of the key."""
    settings = {k: v for k, v in dataclasses.asdict(data_cfg).items() if k not in _NOT_READER_SETTINGS}
    key = (json.dumps(settings, sort_keys=True, default=str), split, train)
    if key not in _READERS:
        if len(_READERS) >= _MAX_READERS:
            _READERS.pop(next(iter(_READERS)))
        _READERS[key] = build_dataset(data_cfg, split, train=train)
    return _READERS[key]


def study_datasets(data_cfg) -> tuple[Any, Any]:
    """(train, test) datasets of a job: the readers' seeded subsets."""
    train = _reader(data_cfg, data_cfg.split, True)
    test = _reader(data_cfg, data_cfg.test_split, False)
    return (seeded_subset(train, data_cfg.train_limit, data_cfg.subset_seed),
            seeded_subset(test, data_cfg.test_limit, data_cfg.subset_seed))


# ----------------------------------------------------------------------------- tasks and models
def build_study_task(name: str, options: dict, data_cfg, dataset):
    """The task, with the data's normalisation and class count unless ``options`` set them (as ``unnas train``)."""
    from unnas.engine.task_setup import build_task_for_data

    return build_task_for_data(name, options, dataset, data_cfg.name)[0]


def build_model(cfg, arch: Any, task, num_classes: int | None) -> nn.Module:
    """Classification: the space's network with its own classifier. Other tasks: its trunk + the task head."""
    import pretext

    net_cfg, classify = cfg.network, task.name == "classification"
    classes = num_classes or 10
    if cfg.space == "darts":
        from eval.networks import build_network

        net = build_network(arch, net_cfg.setting, width=net_cfg.width, cells=net_cfg.cells, num_classes=classes,
                            aux=False, in_channels=task.input_channels)
        trunk = net.trunk
    elif cfg.space == "mr":
        from unnas.spaces.mr import MRArch, MRNetwork

        arch = MRArch.from_json(arch, where="study architecture")
        net = trunk = MRNetwork(arch, classes if classify else None, task.input_channels)
    else:
        from unnas.spaces.nasbench101 import ModelSpec, NB101Network

        spec = ModelSpec.from_dict(arch, where="study architecture")
        net = trunk = NB101Network(spec, net_cfg.setting, classes if classify else None, net_cfg.stem_width,
                                   net_cfg.num_stacks, net_cfg.modules_per_stack, task.input_channels)
    if classify:
        return net
    return pretext.TaskNetwork(trunk, task.build_head(trunk.out_channels))


class _FeaturesOnly(nn.Module):
    """A classification network without its classifier (NB101 and MR have no separate trunk module)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.features(x)


def complexity(model: nn.Module, task, crop: int) -> tuple[int, int]:
    """(trainable parameters of the whole network, multiply-adds of its trunk on one crop-size input).

    The trunk alone is counted because heads differ in what one input is (a jigsaw head needs a
    whole image's tiles); the trunk's cost is what separates the architectures.
    """
    from unnas.complexity import count_madds, count_params

    trunk = model.trunk if hasattr(model, "trunk") else _FeaturesOnly(model)
    return count_params(model), count_madds(trunk, (task.input_channels, crop, crop))


def cached_complexity(cfg, job: dict, model: nn.Module, task, crop: int) -> tuple[int, int]:
    """:func:`complexity`, with the trunk's multiply-adds counted once per architecture and input shape
    in this process (the count, a shape-only pass, costs as much as a tiny training job)."""
    from unnas.complexity import count_params

    key = (json.dumps(job["arch"], sort_keys=True), json.dumps(dataclasses.asdict(cfg.network), sort_keys=True),
           cfg.space, task.input_channels, crop)
    if key not in _MADDS:
        _MADDS[key] = complexity(model, task, crop)[1]
    return count_params(model), _MADDS[key]


# ----------------------------------------------------------------------------- jobs
def _train(job: dict, cfg, device: torch.device) -> dict:
    from unnas.engine.rng import seed_everything
    from unnas.engine.trainer import train_and_evaluate

    data_cfg = data_config(cfg, job["task"])
    train_set, test_set = study_datasets(data_cfg)
    task = build_study_task(job["task"], cfg.task_options.get(job["task"], {}), data_cfg, train_set)
    recipe = recipe_for(cfg, job["task"])
    seed_everything(job["seed"])  # the initial weights depend on the seed only
    model = build_model(cfg, job["arch"], task, train_set.num_classes)
    params, madds = cached_complexity(cfg, job, model, task, data_cfg.crop_size)
    out = train_and_evaluate(model, task, train_set, test_set, recipe, run_dir=None, device=device,
                             seed=job["seed"], progress=False)
    final, peak = out.get("final") or {}, out.get("max_over_epochs") or {}
    rank_by = getattr(cfg, "rank_by", "final")
    # the paper's study ranks by the last epoch; the max over epochs picks epochs on the test split itself
    chosen = peak if rank_by == "best_epoch_on_test" else final
    key = next((k for k in METRIC_KEYS if k in chosen), None)
    if key is None:
        raise TaskError(f"the trainer's metrics {sorted(chosen)} hold none of {', '.join(METRIC_KEYS)}")
    split = data_cfg.test_split
    name = f"max over epochs on {split} {key}" if rank_by == "best_epoch_on_test" else f"final {split} {key}"
    return {"metric": float(chosen[key]), "metric_name": name, "rank_by": rank_by, "final": final,
            "max_over_epochs": peak, "epochs": out.get("epochs"), "train_wall_clock_s": out.get("wall_clock_s"),
            "params": params, "madds": madds}


def proxy_batch(dataset, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``size`` training images (augmented) chosen and augmented by ``seed`` alone, with their class
    labels (None when the reader has no class labels)."""
    g = torch.Generator().manual_seed(seed)
    picks = torch.randperm(len(dataset), generator=g)[:size].tolist()
    items = [dataset[(i, seed * 1_000_003 + pos)] for pos, i in enumerate(picks)]
    labels = torch.tensor([int(lab) for _, lab in items]) if dataset.label_kind == "class" else None
    return torch.stack([im for im, _ in items]), labels


def _proxy(job: dict, cfg, device: torch.device) -> dict:
    """Score the classification network at initialisation. Label-free proxies also run on readers
    without class labels (the network then gets 10 outputs); label-needing ones refuse them."""
    import pretext
    from unnas.engine.rng import seed_everything

    from .proxies import compute_proxy, label_free_proxies, needs_labels

    train_set, _test = study_datasets(cfg.data)
    options = cfg.task_options.get("classification", {})
    images, labels = proxy_batch(train_set, cfg.proxy_batch_size, job["seed"])
    if labels is not None:
        task = build_study_task("classification", options, cfg.data, train_set)
        inputs, targets = task.prepare(images, labels, train=False)
    elif needs_labels(job["task"]):
        raise ConfigError(f"proxy {job['task']!r} needs class labels but data.name={cfg.data.name!r} has no "
                          "class labels; drop it from proxies or use a label-free proxy "
                          f"({', '.join(label_free_proxies())})")
    else:
        stats = {"mean": [float(m) for m in train_set.mean], "std": [float(s) for s in train_set.std]}
        task = pretext.build_task("classification", **{**stats, **dict(options)})
        task.check_images(images)
        inputs, targets = task.normalize(images, train=False), None
    seed_everything(job["seed"])
    model = build_model(cfg, job["arch"], task, train_set.num_classes if labels is not None else None)
    params, madds = cached_complexity(cfg, job, model, task, cfg.data.crop_size)
    score = compute_proxy(job["task"], model.to(device), inputs.to(device),
                          None if targets is None else targets.to(device))
    return {"metric": score, "metric_name": f"{job['task']} score", "final": None, "max_over_epochs": None, "epochs": 0,
            "params": params, "madds": madds}


def base_row(job: dict, cfg) -> dict:
    """The fields every row carries: which job, and which study it belongs to."""
    return {**{k: job[k] for k in ("job_id", "arch_id", "task", "kind", "seed")}, "fingerprint": fingerprint(cfg)}


def run_job(job: dict, cfg, device: torch.device | str | None = None) -> dict:
    """Run one planned job and return its results row (status ``ok``, ``diverged`` or ``failed``; never
    raises for the job). Non-finite numbers are stored as null (the row is strict JSON)."""
    from unnas.engine.device import resolve_device

    start = time.time()
    row = base_row(job, cfg)
    try:
        dev = torch.device(device) if device is not None else resolve_device(cfg.device)
        row["device"] = str(dev)
        result = _proxy(job, cfg, dev) if job["kind"] == "proxy" else _train(job, cfg, dev)
        result, bad = finite_only(result)
        if bad:  # a NaN/Inf metric is no ranking: the run diverged even if nothing raised
            row.update(result, status="diverged", metric=None,
                       error=f"non-finite {', '.join(bad)} (NaN/Inf): the run diverged")
        else:
            row.update(status="ok", error=None, **result)
    except DivergedError as exc:
        row.update(status="diverged", metric=None, error=f"DivergedError: {one_line(exc)}")
    except Exception as exc:  # a job's failure is data for the table, not the end of the study
        row.update(status="failed", metric=None, error=f"{type(exc).__name__}: {one_line(exc)}",
                   traceback=traceback.format_exc(limit=-8))
    row["wall_clock_s"] = round(time.time() - start, 3)
    return row
