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
from unnas.engine.rundir import read_metrics
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
    ("darts_v2", {"setting": "mnist"}, "setting='mnist' is invalid: must be one of cifar, imagenet, cityscapes"),
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


def test_train_reports_the_final_epoch_and_the_max_over_epochs_only_when_asked(cifar_root, tmp_path, cli):
    out = tmp_path / "plain"
    code, stdout, stderr = cli("train", "darts_v2", *cifar_args(cifar_root, out, **{"recipe.epochs": 2}))
    assert code == 0, stderr
    results = json.loads((out / "results.json").read_text())
    assert f"final (test): top1 {results['final']['top1']:.2f}" in stdout
    assert "max over epochs" not in stdout and "best" not in stdout
    assert results["splits"]["final"] == "test" and results["select"] == "final" and "test" not in results

    out = tmp_path / "asked"
    code, stdout, stderr = cli("train", "darts_v2", *cifar_args(cifar_root, out, **{"recipe.epochs": 2}),
                               "select=best_epoch")
    assert code == 0, stderr
    peak = json.loads((out / "results.json").read_text())["max_over_epochs"]
    assert (f"max over epochs on the test split — not a selection you may report: top1 {peak['top1']:.2f}"
            in stdout)


def test_train_with_a_validation_part_evaluates_the_test_split_once(cifar_root, tmp_path, cli):
    out = tmp_path / "val"
    code, stdout, stderr = cli("train", "darts_v2", *cifar_args(cifar_root, out, **{"recipe.epochs": 2}),
                               "data.val_fraction=0.2", "select=best_epoch")
    assert code == 0, stderr
    assert "(16 train / 4 holdout (of train) / 6 test images)" in stdout
    results = json.loads((out / "results.json").read_text())
    assert results["splits"] == {"final": "holdout", "best_epoch": "holdout", "max_over_epochs": "holdout",
                                 "test": "test"}
    assert results["images"] == {"train": 16, "holdout": 4, "test": 6}
    best = results["best_epoch"]["epoch"]
    assert results["test_epoch"] == best and results["test_model"] == "best_epoch"
    assert f"best epoch by holdout top1: {best}" in stdout
    assert f"test (test, evaluated once, model of epoch {best}): top1 {results['test']['top1']:.2f}" in stdout
    assert "not a selection you may report" not in stdout
    tests = [r for r in read_metrics(out / "metrics.jsonl") if r.get("event") == "test"]
    assert len(tests) == 1 and tests[0]["split"] == "test"


@pytest.mark.parametrize("extra, expected", [
    ({"data.val_fraction": 1.0}, "data.val_fraction=1.0 is invalid: must be in [0, 1)"),
    ({"data.val_fraction": 0.01}, "leaves 0 for validation and 20 for training"),
    ({"select": "best"}, "select='best' is invalid: must be one of final, best_epoch"),
])
def test_bad_selection_settings_are_one_line_and_write_nothing(extra, expected, cifar_root, tmp_path, cli):
    out = tmp_path / "never"
    code, _, err = cli("train", "darts_v2", *cifar_args(cifar_root, out, **extra))
    assert expected in one_line_error(code, err, "train")
    assert not out.exists()


def test_info_of_a_train_run_uses_its_network(cifar_root, tmp_path, cli):
    out = tmp_path / "run"
    code, _, stderr = cli("train", "darts_v1", *cifar_args(cifar_root, out, **{"model.width": 6}))
    assert code == 0, stderr
    code, stdout, stderr = cli("info", str(out))
    assert code == 0, stderr
    rec = json.loads(stdout)
    assert (rec["setting"], rec["width"], rec["cells"], rec["classes"], rec["aux"], rec["input_size"]) == \
        ("cifar", 6, 3, 10, True, [32, 32])
    assert rec["arch"] == str(out) and rec["run_task"] == "classification"
    with torch.device("meta"):
        from eval.networks import build_network
        from unnas.complexity import count_params

        assert rec["params"] == count_params(build_network("darts_v1", "cifar", width=6, cells=3, num_classes=10))
    # options on the command line still win
    code, stdout, _ = cli("info", str(out), "--width", "8", "--no-aux")
    assert code == 0 and (json.loads(stdout)["width"], json.loads(stdout)["aux"]) == (8, False)


def test_eval_of_a_search_run_says_to_train_it_first(tmp_path, cli):
    from conftest import tiny_search_overrides

    run = tmp_path / "search"
    code, _, stderr = cli("search", *tiny_search_overrides(run, **{"optim.epochs": 1, "optim.iters_per_epoch": 1,
                                                                     "data.length": 8}))
    assert code == 0, stderr
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.pt").is_file()
    code, _, err = cli("eval", str(run))
    line = one_line_error(code, err, "eval")
    assert f"{run} is a search run directory; train its genotype first: unnas train {run} cls/demo, " \
           "then unnas eval runs/train-demo" in line and "nodes" not in line


@pytest.mark.parametrize("config, arch, width", [
    ("seg/darts_v2.yaml", "darts_v2", 82), ("seg/darts_v2.yaml", "unnas_cityscapes_col", 86),
    ("seg/darts_v2.yaml", "unnas_imagenet22k_cls", 80), ("seg/darts_v2.yaml", "unnas_imagenet_rot", 78),
    ("seg/darts_v2.yaml", "pdarts", 82), ("cls/darts_v2.yaml", "unnas_imagenet_rot", 42),
])
def test_eval_config_width_follows_the_arch(config, arch, width, cli):
    cfg = resolve_train_config(load_config(TrainConfig, REPO / "configs/eval" / config, [f"arch={arch}"]))
    assert cfg.model.width == width
    setting = "cityscapes" if config.startswith("seg") else "imagenet"
    code, stdout, _ = cli("info", arch, "--setting", setting, "--cells", "2", "--input-size", "64", "64")
    assert code == 0 and json.loads(stdout)["width"] == width
