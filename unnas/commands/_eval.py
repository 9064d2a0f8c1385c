"""The body of ``unnas eval`` (see :mod:`unnas.commands.eval`)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from unnas.config import TrainConfig, load_config
from unnas.engine.device import resolve_device
from unnas.engine.run_kind import run_kind
from unnas.engine.rundir import RunDir, finite_or_null
from unnas.engine.train_setup import build_model, build_task, build_test_set, resolve_train_config
from unnas.engine.trainer import evaluate
from unnas.errors import CheckpointError


def evaluate_run(run_dir, split: str | None = None, overrides: list[str] = ()) -> dict:
    rd = RunDir(run_dir)
    if run_kind(rd.path) == "search":
        raise CheckpointError(f"{rd.path} is a search run directory; train its genotype first: "
                              f"unnas train {rd.path} cls/demo, then unnas eval runs/train-demo")
    if not rd.config_file.is_file() or not rd.has_checkpoint():
        raise CheckpointError(f"{rd.path} is not a trained run (needs config.yaml and checkpoints/last.pt); "
                              "pass a directory written by `unnas train`")
    cfg = resolve_train_config(load_config(TrainConfig, rd.config_file, list(overrides)))
    arch_overridden = any(o.startswith("arch=") for o in overrides)
    if not arch_overridden and rd.file("genotype.json").is_file():
        cfg.arch = str(rd.file("genotype.json"))  # survives the original genotype file moving
    split = split or cfg.data.test_split
    device = resolve_device(cfg.device)
    dataset = build_test_set(cfg, split)
    task = build_task(cfg, dataset)
    model = build_model(cfg, task).to(device)
    try:
        state = torch.load(rd.checkpoint, map_location="cpu", weights_only=False)
        weights = state["model"]
    except Exception as exc:
        raise CheckpointError(f"{rd.path}: cannot read {rd.checkpoint} ({type(exc).__name__}: {exc})") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{rd.path}: the checkpoint belongs to another architecture than config.yaml builds "
                              f"({str(exc).splitlines()[0][:120]})") from None
    metrics = evaluate(model, task, dataset, batch_size=cfg.recipe.test_batch_size, device=device, seed=cfg.seed,
                       num_workers=cfg.recipe.num_workers)
    out = {"run_dir": str(Path(rd.path)), "arch": cfg.arch, "split": split, "images": len(dataset),
           "epoch": int(state.get("epoch", 0))}
    per_class = {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith("iou/")}
    out.update({k: v for k, v in metrics.items() if not k.startswith("iou/")})
    if per_class:
        names = getattr(dataset, "classes", None)
        out["per_class_iou"] = {(names[int(k)] if names and int(k) < len(names) else k): v
                                for k, v in per_class.items()}
    return out


def main(args) -> int:
    print(json.dumps(finite_or_null(evaluate_run(args.run_dir, args.split, args.overrides)),
                     allow_nan=False))  # a diverged model's NaN loss prints as null
    return 0
