"""A diverged run is a failure on every training path, never a result (issue #24 §1).

With a huge lr, BatchNorm's running statistics go Inf while the weights are still finite, and an
evaluation on them scores NaN activations at chance. Every run here trains 2 iterations per epoch:
the searches are shorter than one log interval (log_every=5), and the trainer's log steps look at
the loss alone, which stays finite — so only the end-of-epoch and before-write checks can catch it.
None depends on the step at which the run diverges.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import tiny_search_overrides
from test_search_study import write_search_study
from test_study_plan import write_tiny_study
from test_trainer import (  # noqa: F401
    cifar_root,
    cifar_sets,
    classification_task,
    tiny_cifar_net,
    tiny_recipe,
)

from unnas.engine.divergence import FiniteGuard
from unnas.engine.trainer import train_and_evaluate
from unnas.errors import DivergedError

CPU = torch.device("cpu")


def _one_line(code: int, err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert code == 3 and len(lines) == 1 and lines[0].startswith(f"unnas {command}: error: "), (code, err)
    assert "diverged" in lines[0] and "NaN/Inf" in lines[0]
    return lines[0]


def _files(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # the lock file aside


def _finite_state(path: Path) -> bool:
    state = torch.load(path, weights_only=False)["model"]
    return all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point())


# ----------------------------------------------------------------------------- the shared check
def test_the_guard_covers_buffers_outputs_and_metrics_with_one_line():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    guard = FiniteGuard(CPU, "training", "recipe.lr=1e8")
    guard.check(4, 0, net, metrics={"top1": 25.0, "iou": [0.5, torch.tensor(0.2)]})  # all finite: silent
    net[1].running_var[2] = float("inf")  # the weights stay finite
    with pytest.raises(DivergedError) as info:
        guard.check(7, 1, net)
    msg = str(info.value)
    assert "\n" not in msg and "at step 7 (epoch 1)" in msg and "recipe.lr=1e8" in msg
    assert "batch-norm running statistic (1.running_var)" in msg and info.value.step == 7
    net[1].running_var.fill_(1.0)
    for bad in ({"top1": float("nan")}, {"iou": [torch.tensor(float("inf"))]}):
        with pytest.raises(DivergedError, match="an evaluation metric"):
            guard.check(1, 0, net, metrics=bad)
    guard.observe_outputs((torch.zeros(2), torch.tensor([1.0, float("nan")])))
    with pytest.raises(DivergedError, match="an evaluation output"):
        guard.check(1, 0, net)


# ----------------------------------------------------------------------------- trainer (study jobs, fitness, train)
def test_training_whose_bn_statistics_overflow_while_weights_stay_finite_is_diverged(cifar_root):  # noqa: F811
    """The case the loss-and-weights guard missed: after 2 steps at lr 1e8 the loss and every weight
    are finite, a BN running variance is not, and the evaluation would have scored chance."""
    train, test = cifar_sets(cifar_root)
    model = tiny_cifar_net()
    with pytest.raises(DivergedError, match="recipe.lr") as info:
        train_and_evaluate(model, classification_task(train), train, test,
                           tiny_recipe(lr=1e8, max_iters_per_epoch=2), run_dir=None, device=CPU, seed=0,
                           progress=False)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    assert not all(bool(torch.isfinite(b).all()) for b in model.buffers() if b.is_floating_point())
    assert "batch-norm running statistic" in str(info.value)


def test_unnas_train_diverged_keeps_the_last_good_checkpoint_and_writes_no_result(tmp_path, cli):
    from test_train_cli import cifar_args, write_cifar

    root = write_cifar(tmp_path / "cifar-10-batches-py", n_train=20, n_test=6)
    out = tmp_path / "run"
    # epoch 0 warms up at lr 1e8 × 1e-12 (fine, checkpointed); epoch 1 runs at 5e7 for 2 iterations
    args = cifar_args(root, out, **{"recipe.epochs": 2, "recipe.lr": 1e8, "recipe.warmup_epochs": 1,
                                    "recipe.warmup_factor": 1e-12})
    code, _, err = cli("train", "darts_v2", *args)
    line = _one_line(code, err, "train")
    assert "training diverged at step" in line and "recipe.lr" in line and "(epoch 1)" in line
    ckpt = out / "checkpoints" / "last.pt"
    good = ckpt.read_bytes()
    assert torch.load(ckpt, weights_only=False)["epoch"] == 1 and _finite_state(ckpt)
    assert not (out / "results.json").exists() and not (out / "genotype.json").exists()
    for line in (out / "metrics.jsonl").read_text().splitlines():  # the diverged epoch left no epoch_end record
        assert json.loads(line).get("event") != "epoch_end" or json.loads(line)["epoch"] == 0
    code, _, err = cli("train", "darts_v2", *args)  # re-running resumes from the good state and stops again
    _one_line(code, err, "train")
    assert ckpt.read_bytes() == good and not (out / "results.json").exists()


# ----------------------------------------------------------------------------- DARTS search
def test_darts_search_shorter_than_a_log_interval_writes_nothing(tmp_path, cli):
    out = tmp_path / "run"
    overrides = tiny_search_overrides(out, **{"optim.lr": 1e8, "optim.epochs": 1, "optim.iters_per_epoch": 2,
                                              "log_every": 5})
    code, _, err = cli("search", *overrides)
    line = _one_line(code, err, "search")
    assert "search diverged at step" in line and "optim.lr" in line
    assert _files(out) == ["config.yaml", "metrics.jsonl"]  # no genotype, α, result, ckpt
    code, _, err = cli("search", *overrides)  # re-running stops the same way: one line, nothing written
    _one_line(code, err, "search")
    assert _files(out) == ["config.yaml", "metrics.jsonl"]


def test_darts_search_with_only_bn_statistics_diverged_keeps_the_last_good_epoch(tmp_path, cli, monkeypatch):
    """The weights and α stay finite, one BN running variance goes Inf in epoch 1: the epoch-0
    checkpoint and genotype stay as they were; no result.json; a clean re-run resumes from them."""
    from unnas.search.darts import DartsSearch

    run_epoch = DartsSearch._run_epoch
    kept: dict[str, bytes] = {}

    def poisoned(self, bar):
        run_epoch(self, bar)
        if self.epoch == 1:  # inside epoch 1, after its steps: the epoch-0 files are the last good ones
            kept.update({n: (self.run_dir.path / n).read_bytes() for n in ("checkpoints/last.pt", "genotype.json")})
            next(b for n, b in self.model.named_buffers() if n.endswith("running_var")).fill_(float("inf"))

    monkeypatch.setattr(DartsSearch, "_run_epoch", poisoned)
    out = tmp_path / "run"
    overrides = tiny_search_overrides(out, **{"optim.iters_per_epoch": 2, "log_every": 5})
    code, _, err = cli("search", *overrides)
    line = _one_line(code, err, "search")
    assert "batch-norm running statistic" in line and "(epoch 1)" in line
    assert kept and all((out / n).read_bytes() == b for n, b in kept.items())
    assert not (out / "result.json").exists() and _finite_state(out / "checkpoints" / "last.pt")
    monkeypatch.setattr(DartsSearch, "_run_epoch", run_epoch)
    code, stdout, err = cli("search", *overrides)
    assert code == 0 and "resumed run" in stdout, err
    assert (out / "result.json").exists()


# ----------------------------------------------------------------------------- black-box fitness and search
def test_blackbox_search_whose_candidates_all_diverge_exits_3_without_a_best(tmp_path, cli):
    out = tmp_path / "run"
    code, stdout, err = cli("search", "strategy=random", "fitness.budget=2", "fitness.train_images=16",
                            "fitness.holdout_images=8", "fitness.recipe.epochs=1",
                            "fitness.recipe.max_iters_per_epoch=2", "fitness.recipe.batch_size=4",
                            "fitness.recipe.lr=1e8", "fitness.network.width=4", "fitness.network.cells=2",
                            "data.crop_size=32", "data.resize_size=36", "data.length=24", f"out_dir={out}",
                            "progress=false")
    line = _one_line(code, err, "search")
    assert "2 diverged of 2 evaluated" in line and "no best" in line and str(out / "history.jsonl") in line
    assert stdout == ""
    records = [json.loads(r) for r in (out / "history.jsonl").read_text().splitlines()]
    assert len(records) == 2
    assert all(r["status"] == "diverged" and r["fitness"] is None and "recipe.lr" in r["error"] for r in records)
    assert _files(out) == ["config.yaml", "history.jsonl"]  # no genotype.json, result.json


def test_blackbox_search_with_no_scored_candidate_says_how_each_ended():
    from unnas.errors import NoResultError
    from unnas.search.blackbox import BlackBoxRun, no_result, write_results

    class Space:
        def key(self, arch):
            return str(arch)

        def to_json(self, arch):
            return arch

    answers = iter([{"fitness": None, "status": "diverged", "error": "training diverged at step 2"},
                    {"fitness": None, "status": "failed", "error": "GenotypeError: bad"}])
    run = BlackBoxRun(Space(), lambda arch, seed: next(answers), budget=2)
    run.evaluate(1)
    assert isinstance(no_result(run), DivergedError)  # every one diverged: exit 3
    run.evaluate(2)
    error = no_result(run)
    assert type(error) is NoResultError and error.exit_code == 2
    assert "1 diverged, 1 failed of 2 evaluated" in str(error) and "training diverged at step 2" in str(error)
    with pytest.raises(NoResultError):
        write_results(run, {})


# ----------------------------------------------------------------------------- studies
def test_sample_study_jobs_diverge_and_stay_out_of_the_analysis(tmp_path, cli):
    path = write_tiny_study(tmp_path, count=2, proxies=[], recipe={"epochs": 1, "max_iters_per_epoch": 2,
                                                                    "batch_size": 4, "test_batch_size": 8, "lr": 1e8})
    code, out, err = cli("study", "run", str(path), "--workers", "1")
    assert "0 ok, 0 failed, 4 diverged" in out, (code, out, err)
    study = Path(yaml.safe_load(path.read_text())["out_dir"])
    rows = [json.loads(p.read_text()) for p in sorted((study / "results").glob("*.json"))]
    assert len(rows) == 4
    for row in rows:
        assert row["status"] == "diverged" and row["metric"] is None and "recipe.lr" in row["error"]
        assert not row.get("final")  # no score from the diverged state
    from unnas.study.analysis import per_seed

    assert per_seed(rows) == {}  # nothing enters the correlations


def test_search_study_search_diverged_is_recorded_so_and_leaves_no_genotype(tmp_path):
    import argparse

    from unnas.commands._study import load_study
    from unnas.study.plan import build_plan
    from unnas.study.search_jobs import execute_search_study_job

    path = write_search_study(tmp_path, search_tasks=["rotation"], search={"overrides": {
        "model": {"width": 4, "cells": 2}, "optim": {"batch_size": 4, "epochs": 1, "lr": 1e8, "iters_per_epoch": 2},
        "data": {"crop_size": 32, "resize_size": 36, "length": 16}, "eval_batches": 1, "log_every": 5}})
    cfg = load_study(argparse.Namespace(args=[str(path)]))
    jobs = build_plan(cfg)["jobs"]
    search = next(j for j in jobs if j["kind"] == "search")
    row = execute_search_study_job(search, cfg, cfg.out_dir)
    assert row["status"] == "diverged" and row["metric"] is None and "search diverged" in row["error"], row
    assert "genotype" not in row
    run_dir = Path(cfg.out_dir) / row["run_dir"]
    for name in ("genotype.json", "alphas.json", "alphas.png", "result.json", "genotypes_sampled.json",
                 "checkpoints"):
        assert not (run_dir / name).exists(), name
    train = next(j for j in jobs if j.get("depends_on") == search["job_id"])
    assert execute_search_study_job(train, cfg, cfg.out_dir)["status"] == "blocked"  # its cell is never trained
