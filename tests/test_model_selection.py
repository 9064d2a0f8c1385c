"""Honest model selection: final vs max over epochs, a seeded validation part, one test evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from test_trainer import classification_task, tiny_cifar_net, tiny_recipe, write_cifar
from unnas.config import TrainConfig, load_config
from unnas.data import build_dataset
from unnas.engine.rundir import read_metrics
from unnas.engine.train_setup import build_train_sets, holdout_indices, resolve_train_config
from unnas.engine.trainer import _Training, evaluate, train_and_evaluate
from unnas.errors import CheckpointError, ConfigError, DataError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    return write_cifar(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py", n_train=40, n_test=10)


def train_config(root: Path, *overrides: str) -> TrainConfig:
    base = ["arch=darts_v2", "setting=cifar", "data.name=cifar10", f"data.root={root}", "data.crop_size=32"]
    return resolve_train_config(load_config(TrainConfig, None, [*base, *overrides]))


class CountLoads(Dataset):
    """A real split that counts how many samples were read from it."""

    def __init__(self, dataset):
        self.dataset, self.loads = dataset, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        self.loads += 1
        return self.dataset[key]


def test_results_report_the_last_epoch_and_name_the_max_over_epochs(cifar_root):
    cfg = train_config(cifar_root)
    train, _ = build_train_sets(cfg)
    test = build_dataset(cfg.data, "test", train=False)
    training = _Training(tiny_cifar_net(), classification_task(train), train, test, tiny_recipe(epochs=3), CPU, 0)
    # what three evaluated epochs left in the history: top1 peaks at epoch 1, top5 at epoch 2
    training.history = [{"epoch": 0, "train_loss": 2.0, "top1": 50.0, "top5": 90.0},
                        {"epoch": 1, "train_loss": 1.5, "top1": 70.0, "top5": 80.0},
                        {"epoch": 2, "train_loss": 1.2, "top1": 60.0, "top5": 95.0}]
    training.epoch = 3
    out = training.results(resumed=False)
    assert out["final"] == {"top1": 60.0, "top5": 95.0} and out["final_epoch"] == 2
    assert out["best_epoch"] == {"epoch": 1, "metric": "top1", "top1": 70.0, "top5": 80.0}
    assert out["max_over_epochs"] == {"top1": 70.0, "top5": 95.0}  # each metric's own max: two epochs mixed
    assert out["splits"] == {"final": "test", "best_epoch": "test", "max_over_epochs": "test"}
    assert "best" not in out and "test" not in out  # no validation part: nothing is evaluated afterwards


def test_holdout_is_seeded_disjoint_and_complete():
    keep, held = holdout_indices(40, 0.25, seed=0)
    assert len(held) == 10 and len(keep) == 30
    assert not set(keep) & set(held) and sorted(keep + held) == list(range(40))
    assert holdout_indices(40, 0.25, seed=0) == (keep, held)
    assert holdout_indices(40, 0.25, seed=1)[1] != held
    assert held != list(range(30, 40)) and held != list(range(10))  # a random draw, not a slice


def test_holdout_sets_read_the_train_split_without_augmentation(cifar_root):
    cfg = train_config(cifar_root, "data.val_fraction=0.25", "data.val_seed=3")
    train, val = build_train_sets(cfg)
    keep, held = holdout_indices(40, 0.25, seed=3)
    assert (len(train), len(val)) == (30, 10)
    augmented = build_dataset(cfg.data, "train", train=True)
    plain = build_dataset(cfg.data, "train", train=False)
    for i in (0, 9):  # the validation part: the same images as the evaluation reader, any key seed
        assert torch.equal(val[(i, 5)][0], plain[(held[i], 5)][0]) and val[(i, 5)][1] == plain[(held[i], 5)][1]
        assert torch.equal(val[(i, 5)][0], val[(i, 6)][0])
    assert torch.equal(train[(4, 11)][0], augmented[(keep[4], 11)][0])
    assert train.num_classes == augmented.num_classes and train.mean == augmented.mean
    none_cfg = train_config(cifar_root)
    assert build_train_sets(none_cfg)[1] is None and len(build_train_sets(none_cfg)[0]) == 40


@pytest.mark.parametrize("fraction, error, expected", [
    (1.0, ConfigError, "data.val_fraction=1.0 is invalid: must be in [0, 1)"),
    (-0.1, ConfigError, "data.val_fraction=-0.1 is invalid"),
    (0.01, DataError, "leaves 0 for validation and 40 for training"),
    (0.99, DataError, "leaves 40 for validation and 0 for training"),
])
def test_bad_val_fraction_is_one_line(cifar_root, fraction, error, expected):
    with pytest.raises(error) as info:
        build_train_sets(train_config(cifar_root, f"data.val_fraction={fraction}"))
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_with_a_holdout_epochs_evaluate_it_and_the_test_split_once(cifar_root, tmp_path):
    cfg = train_config(cifar_root, "data.val_fraction=0.25")
    train, val = build_train_sets(cfg)
    test = CountLoads(build_dataset(cfg.data, "test", train=False))
    task = classification_task(train)
    recipe = tiny_recipe(epochs=2, max_iters_per_epoch=2)

    def run():
        model = tiny_cifar_net(seed=2)
        out = train_and_evaluate(model, task, train, test, recipe, run_dir=tmp_path / "run", device=CPU, seed=4,
                                 progress=False, val_set=val, split_names=("holdout", "test"))
        return model, out

    model, out = run()
    assert test.loads == len(test)  # every test image read once: one evaluation, at the end
    assert out["final"] == evaluate(model, task, val, batch_size=16, device=CPU, seed=4)
    assert out["test"] == evaluate(model, task, test.dataset, batch_size=16, device=CPU, seed=4)
    assert (out["test_epoch"], out["test_model"]) == (1, "final")
    assert out["splits"] == {"final": "holdout", "best_epoch": "holdout", "max_over_epochs": "holdout",
                             "test": "test"}
    assert out["images"] == {"train": 30, "holdout": 10, "test": 10}
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r["eval_split"] for r in records if r.get("event") == "epoch_end"] == ["holdout", "holdout"]
    assert [r["eval"] for r in records if r.get("event") == "test"] == [out["test"]]
    # re-running the finished run reads the kept test result: still one evaluation in all
    _, again = run()
    assert again["resumed"] and again["test"] == out["test"] and test.loads == len(test)
    assert len([r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r.get("event") == "test"]) == 1


def test_best_epoch_on_the_holdout_is_the_model_the_test_split_sees(cifar_root, tmp_path):
    cfg = train_config(cifar_root, "data.val_fraction=0.25")
    train, val = build_train_sets(cfg)
    test = CountLoads(build_dataset(cfg.data, "test", train=False))
    task = classification_task(train)
    recipe = tiny_recipe(epochs=4, max_iters_per_epoch=2, lr=0.3)
    # The swap of the kept weights is only exercised when the best holdout epoch is not the last one, which
    # is a training outcome: it held at 9 of 12 seeds here (the first one tried among them), so the first
    # of several seeds where it holds is used, whatever this machine's rounding makes of each run.
    for seed in range(5, 11):
        run_dir = tmp_path / f"best{seed}"
        test.loads = 0
        out = train_and_evaluate(tiny_cifar_net(seed=3), task, train, test, recipe, run_dir=run_dir, device=CPU,
                                 seed=seed, progress=False, val_set=val, select="best_epoch",
                                 split_names=("holdout", "test"))
        top1 = [h["top1"] for h in out["history"]]
        best = top1.index(max(top1))  # the first epoch with the best holdout top1
        if best != len(top1) - 1:  # the kept weights are not the last epoch's: the swap is exercised
            break
    assert best != len(top1) - 1, "no seed left the best holdout epoch before the last"
    assert test.loads == len(test)
    assert out["best_epoch"]["epoch"] == out["test_epoch"] == best and out["test_model"] == "best_epoch"
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
    assert state["best"]["epoch"] == best
    kept = tiny_cifar_net()
    kept.load_state_dict(state["best"]["model"])
    assert evaluate(kept, task, val, batch_size=16, device=CPU, seed=seed)["top1"] == top1[best]
    assert out["test"] == evaluate(kept, task, test.dataset, batch_size=16, device=CPU, seed=seed)
    # the kept weights decide what the test split saw: another selection cannot resume this run
    with pytest.raises(CheckpointError) as info:
        train_and_evaluate(tiny_cifar_net(seed=3), task, train, test, recipe, run_dir=run_dir, device=CPU, seed=seed,
                           progress=False, val_set=val, select="final", split_names=("holdout", "test"))
    assert "select=best_epoch" in str(info.value) and "\n" not in str(info.value)
    json.dumps(out["best_epoch"], allow_nan=False)  # strict JSON
