"""The body of ``unnas train`` (see :mod:`unnas.commands.train`)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from unnas.atomic import atomic_write_json
from unnas.config import TrainConfig, config_to_yaml, defaults_yaml, load_config, resolve_config_path
from unnas.engine import distributed
from unnas.engine.device import resolve_device, set_determinism
from unnas.engine.rng import seed_everything
from unnas.engine.train_setup import (
    HOLDOUT,
    build_model,
    build_task,
    build_test_set,
    build_train_sets,
    resolve_train_config,
)
from unnas.engine.trainer import train_and_evaluate, validate_recipe
from unnas.spaces.darts.genotype import load_genotype

from ._parsing import split_config_args


def load_train_config(arch: str, args: list[str]):
    config, overrides = split_config_args(args)
    path = resolve_config_path(config, "eval") if config else None
    cfg = load_config(TrainConfig, path, overrides)
    cfg.arch = arch
    return resolve_train_config(cfg)


def _summary(metrics: dict) -> str:
    shown = {k: v for k, v in metrics.items() if not k.startswith("iou/") and k not in ("epoch", "metric")}
    return ", ".join(f"{k} {v:.2f}" for k, v in shown.items())


def result_lines(result: dict) -> list[str]:
    """The numbers of a finished run, each labelled with its split and how its epoch was chosen.

    The last epoch's numbers come first; the max over epochs on the test split is printed only with
    ``select=best_epoch`` and says that it is no selection one may report.
    """
    splits, lines = result["splits"], []
    final = f"final ({splits['final']}"
    lines.append(f"{final}, epoch {result['final_epoch']}): {_summary(result['final'])}" if "test" in result
                 else f"{final}): {_summary(result['final'])}")
    if result["select"] == "best_epoch" and result.get("best_epoch"):
        best = result["best_epoch"]
        if "test" in result:
            lines.append(f"best epoch by {splits['best_epoch']} {best['metric']}: {best['epoch']} "
                         f"({_summary(best)})")
        else:
            lines.append(f"max over epochs on the {splits['max_over_epochs']} split — not a selection you may "
                         f"report: {_summary(result['max_over_epochs'])}")
    if "test" in result:
        lines.append(f"test ({splits['test']}, evaluated once, model of epoch {result['test_epoch']}): "
                     f"{_summary(result['test'])}")
    return lines


def main(args) -> int:
    cfg = load_train_config(args.arch, args.args)
    if args.print_config:
        print(config_to_yaml(cfg), end="")
        return 0
    genotype = load_genotype(cfg.arch)  # a bad ARCH fails before any data is read
    validate_recipe(cfg.recipe)
    try:
        dist = distributed.setup(cfg.device)
        device = resolve_device(cfg.device, dist.local_rank if dist.enabled else None)
        set_determinism(cfg.deterministic, device)
        seed_everything(cfg.seed)
        train_set, val_set = build_train_sets(cfg)
        test_set = build_test_set(cfg)
        task = build_task(cfg, train_set)
        model = build_model(cfg, task, genotype)
        if cfg.sync_bn and dist.enabled and device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if dist.is_main:
            world = f" × {dist.world_size} processes" if dist.enabled else ""
            held = f" / {len(val_set)} {HOLDOUT} (of {cfg.data.split})" if val_set is not None else ""
            print(f"unnas train: {cfg.arch} ({cfg.setting}, {cfg.task}) on {cfg.data.name} "
                  f"({len(train_set)} train{held} / {len(test_set)} {cfg.data.test_split} images), "
                  f"{cfg.recipe.epochs} epochs on {device}{world}; run dir {cfg.out_dir}", flush=True)
        result = train_and_evaluate(model, task, train_set, test_set, cfg.recipe, run_dir=cfg.out_dir, device=device,
                                    seed=cfg.seed, progress=cfg.progress and dist.is_main,
                                    config_yaml=config_to_yaml(cfg), config_defaults=defaults_yaml(cfg),
                                    val_set=val_set, select=cfg.select,
                                    split_names=(HOLDOUT, cfg.data.test_split))
    finally:
        distributed.teardown()
    if dist.is_main:
        out = Path(cfg.out_dir)
        atomic_write_json(out / "genotype.json", genotype.to_dict())
        atomic_write_json(out / "results.json", {k: v for k, v in result.items() if k != "history"})
        state = "resumed" if result["resumed"] else "new"
        print(f"{state} run, {result['epochs']} epochs, {result['params']:,} parameters, "
              f"{result['wall_clock_s']:.1f} s")
        print("\n".join(result_lines(result)))
        print(f"run directory: {out}")
    return 0
