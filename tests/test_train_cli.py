"""`unnas train` and `unnas eval` end to end through unnas.cli.main, on tiny real data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import REPO
from test_cityscapes_reader import block_label, write_pair
from test_trainer import write_cifar
from unnas.config import TrainConfig, load_config
from unnas.engine.train_setup import build_model, resolve_train_config
from unnas.spaces.darts.genotype import load_genotype

EVAL_CONFIGS = sorted((REPO / "configs" / "eval").rglob("*.yaml"))


def cifar_args(root: Path, out: Path, **extra) -> list[str]:
    base = {"setting": "cifar", "data.name": "cifar10", "data.root": root, "model.width": 4, "model.cells": 3,
            "recipe.epochs": 1, "recipe.batch_size": 8, "recipe.max_iters_per_epoch": 2, "recipe.test_batch_size": 4,
            "out_dir": out, "progress": "false", "device": "cpu"}
    return [f"{k}={v}" for k, v in {**base, **extra}.items()]


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    return write_cifar(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py", n_train=20, n_test=6)


def one_line_error(code: int, err: str, command: str) -> str:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"unnas {command}: error: "), err
    return lines[0]


def test_train_then_eval_round_trip_with_a_genotype_file(cifar_root, tmp_path, cli):
    arch = tmp_path / "cell.yaml"  # the paper's list form
    arch.write_text(json.dumps(load_genotype("darts_v1").to_list()))
    out = tmp_path / "run"
    code, stdout, stderr = cli("train", str(arch), *cifar_args(cifar_root, out))
    assert code == 0, stderr
    assert "new run" in stdout and str(out) in stdout
    for name in ("config.yaml", "metrics.jsonl", "checkpoints/last.pt", "genotype.json", "results.json"):
        assert (out / name).is_file(), name
    assert load_genotype(out / "genotype.json") == load_genotype("darts_v1")
    results = json.loads((out / "results.json").read_text())
    assert set(results["final"]) == {"top1", "top5"} and results["epochs"] == 1

    code, stdout, stderr = cli("eval", str(out))
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["split"] == "test" and report["images"] == 6 and report["epoch"] == 1
    assert report["top1"] == pytest.approx(results["final"]["top1"]) and "top5" in report
    code, stdout, _ = cli("eval", str(out), "--split", "train", "recipe.test_batch_size=7")
    assert code == 0 and json.loads(stdout)["images"] == 20

    # the same command again resumes the finished run: nothing to train
    code, stdout, _ = cli("train", str(arch), *cifar_args(cifar_root, out))
    assert code == 0 and "resumed run" in stdout
    # another recipe in the same run directory is refused before anything is written
    code, _, err = cli("train", str(arch), *cifar_args(cifar_root, out, **{"recipe.lr": 0.5}))
    assert "recipe.lr" in one_line_error(code, err, "train")

    # a checkpoint from another architecture: one line naming the run directory
    other = tmp_path / "other"
    shutil.copytree(out, other)
    cfg = resolve_train_config(load_config(TrainConfig, other / "config.yaml", ["arch=darts_v2", "model.width=6"]))
    import pretext

    wrong = build_model(cfg, pretext.build_task("classification", num_classes=10))
    torch.save({"model": wrong.state_dict(), "epoch": 1}, other / "checkpoints" / "last.pt")
    code, _, err = cli("eval", str(other))
    line = one_line_error(code, err, "eval")
    assert str(other) in line and "another architecture" in line


def test_train_then_eval_segmentation(tmp_path, cli):
    root = tmp_path / "cityscapes"
    for split in ("train", "val"):
        for i in range(2):
            write_pair(root, split, "ulm", f"ulm_{i:06d}_000019", block_label(i + (split == "val")))
    out = tmp_path / "seg"
    args = [f"data.root={root}", "setting=cityscapes", "data.name=cityscapes", "data.crop_size=32",
            "data.base_size=48", "model.width=4", "model.cells=2", "model.aspp_channels=8", "recipe.batch_size=2",
            "recipe.epochs=2", "recipe.test_batch_size=2", f"out_dir={out}", "progress=false", "device=cpu"]
    code, stdout, stderr = cli("train", "darts_v2", *args)
    assert code == 0, stderr
    assert "(cityscapes, segmentation)" in stdout
    results = json.loads((out / "results.json").read_text())
    code, stdout, stderr = cli("eval", str(out))
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["images"] == 2 and report["split"] == "val"
    assert report["miou"] == pytest.approx(results["final"]["miou"])
    assert report["pixel_acc"] == pytest.approx(results["final"]["pixel_acc"])
    assert list(report["per_class_iou"])[:2] == ["road", "sidewalk"] and len(report["per_class_iou"]) == 19


def _genotype_file(tmp_path: Path, edit) -> Path:
    cell = load_genotype("darts_v2").to_dict()
    edit(cell)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cell))
    return path


@pytest.mark.parametrize("arch, extra, expected", [
    ("no_such_arch", {}, "'no_such_arch' is neither a file nor a published name"),
    ("op", {}, "unknown op 'conv_9x9'"),
    ("input", {}, "input 7 is not an earlier state"),
    ("darts_v2", {"setting": "imagenet", "model.width": 5}, "width 5 is odd"),
    ("darts_v2", {"setting": "mnist"}, "setting='mnist' is unknown"),
    ("darts_v2", {"recipe.epochs": 0}, "recipe.epochs=0 is invalid"),
])
def test_bad_input_is_one_line_and_writes_nothing(arch, extra, expected, cifar_root, tmp_path, cli):
    if arch == "op":
        arch = str(_genotype_file(tmp_path, lambda c: c["normal"].__setitem__(0, ["conv_9x9", 0])))
    elif arch == "input":
        arch = str(_genotype_file(tmp_path, lambda c: c["reduce"].__setitem__(3, ["max_pool_3x3", 7])))
    out = tmp_path / "never"
    code, _, err = cli("train", arch, *cifar_args(cifar_root, out, **extra))
    assert expected in one_line_error(code, err, "train")
    assert not out.exists()


def test_eval_of_a_directory_that_is_not_a_run(tmp_path, cli):
    code, _, err = cli("eval", str(tmp_path))
    assert "is not a trained run" in one_line_error(code, err, "eval")


@pytest.mark.parametrize("path", EVAL_CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_eval_configs_load(path: Path, cli):
    cfg = resolve_train_config(load_config(TrainConfig, path, ["arch=darts_v2"]))
    assert cfg.recipe.epochs >= 1 and cfg.task in ("classification", "segmentation")
    short = str(path.relative_to(REPO / "configs" / "eval"))[: -len(".yaml")]
    code, stdout, _ = cli("train", "darts_v2", short, "--print-config")
    assert code == 0 and f"setting: {cfg.setting}" in stdout


def test_paper_recipes():
    def load(name):
        return resolve_train_config(load_config(TrainConfig, REPO / "configs/eval" / name, ["arch=darts_v2"]))

    c = load("cls/darts_v2.yaml")  # ImageNet mobile, B.7
    r = c.recipe
    assert (c.setting, c.model.width, c.model.cells, c.model.aux, c.data.crop_size, c.data.resize_size) == \
        ("imagenet", 48, 14, True, 224, 256)
    assert (r.epochs, r.batch_size * 8, r.lr, r.warmup_epochs, r.warmup_factor, r.nesterov, r.weight_decay,
            r.aux_weight, c.task_options["label_smoothing"]) == (250, 1024, 0.5, 5, 0.1, True, 3e-5, 0.4, 0.1)
    c = load("cls/cifar_darts_v2.yaml")  # DARTS CIFAR recipe
    r = c.recipe
    assert (c.setting, c.model.width, c.model.cells, c.model.aux, c.data.test_split) == ("cifar", 36, 20, True, "test")
    assert (r.epochs, r.batch_size, r.lr, r.weight_decay, r.drop_path, r.aux_weight, r.grad_clip, r.nesterov) == \
        (600, 96, 0.025, 3e-4, 0.2, 0.4, 5.0, False)
    c = load("seg/darts_v2.yaml")  # Cityscapes, B.7
    r = c.recipe
    assert (c.setting, c.task, c.model.width, c.model.cells, c.model.aux, c.data.crop_size, c.data.base_size,
            c.sync_bn) == ("cityscapes", "segmentation", 82, 12, False, 769, 1024, True)
    assert (r.epochs, r.batch_size * 8, r.lr, r.nesterov, r.weight_decay, r.warmup_epochs) == \
        (2700, 64, 0.1, True, 1e-4, 0)
    c = load("cls/demo.yaml")
    assert (c.model.width, c.model.cells, c.recipe.epochs) == (8, 5, 1) and c.recipe.max_iters_per_epoch <= 50
