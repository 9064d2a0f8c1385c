"""The autoencoding task: loss and metric by hand, the decoder at several strides, search and train end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import pretext
from conftest import tiny_search_overrides
from pretext.heads import ReconstructionDecoder
from test_train_cli import cifar_args, one_line_error
from test_trainer import write_cifar
from unnas.engine.rundir import read_metrics
from unnas.errors import TaskError
from unnas.spaces.darts.genotype import load_genotype


def pixels(seed: int, shape=(2, 3, 16, 16)) -> torch.Tensor:
    """Images already on the 8-bit grid, so the uint8 targets hold them exactly."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g).float() / 255.0


def test_targets_are_the_unnormalised_pixels_and_inputs_are_normalised():
    task = pretext.build_task("autoencoding", mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.5])
    images = pixels(0)
    inputs, targets = task.prepare(images)
    assert targets.dtype == torch.uint8 and torch.equal(targets.float() / 255.0, images)
    expected = (images[:, 1] - 0.4) / 0.25
    assert torch.allclose(inputs[:, 1], expected)


def test_l1_loss_matches_a_hand_computation():
    task = pretext.build_task("autoencoding")
    images = pixels(1, (1, 3, 4, 4))
    _, targets = task.prepare(images)
    outputs = torch.full_like(images, 0.5)
    by_hand = sum(abs(0.5 - int(v) / 255.0) for v in targets.flatten().tolist()) / targets.numel()
    assert task.loss(outputs, targets).item() == pytest.approx(by_hand, abs=1e-6)
    assert task.metrics(outputs, targets)["l1"].item() == pytest.approx(by_hand, abs=1e-6)


def test_ssim_is_one_for_identical_images_and_matches_the_formula_for_flat_ones():
    task = pretext.build_task("autoencoding")
    images = pixels(2)
    _, targets = task.prepare(images)
    same = task.summarize(task.metric_sums(images.clone(), targets))
    assert same["ssim"] == pytest.approx(1.0, abs=1e-5) and same["l1"] == pytest.approx(0.0, abs=1e-7)
    # flat images a and b: zero variances, so SSIM = (2ab + C1) / (a² + b² + C1) with C1 = (0.01 · 1)²
    a, b = 51 / 255.0, 153 / 255.0
    flat_target = torch.full((1, 3, 12, 12), b)
    _, flat_targets = task.prepare(flat_target)
    c1 = 0.01 ** 2
    by_hand = (2 * a * b + c1) / (a * a + b * b + c1)
    got = task.metrics(torch.full((1, 3, 12, 12), a), flat_targets)["ssim"].item()
    assert got == pytest.approx(by_hand, rel=1e-4)
    noisy = (images + 0.3 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert task.metrics(noisy, targets)["ssim"].item() < 0.9, "a worse reconstruction scores lower"


@pytest.mark.parametrize("size", [20, 28, 32, 64])
@pytest.mark.parametrize("stride", [1, 2, 4, 8, 32])
def test_decoder_reconstructs_the_input_size_at_every_stride(size, stride):
    torch.manual_seed(0)
    decoder = ReconstructionDecoder(24, out_channels=3, stages=5)
    side = max(1, size // stride)
    features = torch.randn(2, 24, side, side)
    out = decoder(features, (size, size))
    assert out.shape == (2, 3, size, size)
    assert ((out > 0) & (out < 1)).all()
    expected_ups = min(5, round(math.log2(size / side)))
    assert decoder.upsamplings((side, side), (size, size)) == expected_ups
    out.mean().backward()
    assert all(p.grad is not None for p in decoder.parameters()), "every weight is used at every stride"


def test_decoder_upsamples_exactly_when_the_stride_is_a_power_of_two():
    decoder = ReconstructionDecoder(8, stages=3)
    x = torch.randn(1, 8, 7, 7)
    sizes = []
    hook = decoder.out.register_forward_pre_hook(lambda m, args: sizes.append(tuple(args[0].shape[-2:])))
    decoder(x, (28, 28))
    hook.remove()
    assert sizes == [(28, 28)], "28 → 7 needs two ×2 stages and no resize"


def test_bad_options_are_refused_in_one_line():
    with pytest.raises(TaskError, match="gan_weight=0.01 .*not implemented.*set task_options.gan_weight=0") as e:
        pretext.build_task("autoencoding", gan_weight=0.01)
    assert "\n" not in str(e.value)
    with pytest.raises(TaskError, match=r"gan_weight must be in \[0, 1\)"):
        pretext.build_task("autoencoding", gan_weight=1.5)
    with pytest.raises(TaskError, match="decoder_stages"):
        pretext.build_task("autoencoding", decoder_stages=0)


def test_tasks_lists_it_as_label_free(cli):
    code, out, _ = cli("tasks")
    assert code == 0
    line = next(l for l in out.splitlines() if l.startswith("autoencoding "))
    assert "label-free" in line
    assert pretext.get_task_class("autoencoding").needs_labels is None


def test_a_tiny_search_reconstructs_and_writes_a_genotype(tmp_path, cli):
    out = tmp_path / "run"
    code, stdout, stderr = cli("search", *tiny_search_overrides(out, task="autoencoding"))
    assert code == 0, stderr
    genotype = load_genotype(out / "genotype.json")
    assert genotype.nodes == 4
    records = read_metrics(out / "metrics.jsonl")
    steps = [r for r in records if "loss" in r]
    assert steps and {"ssim", "l1"} <= set(steps[0])
    assert all(-1.0 <= r["ssim"] <= 1.0 and 0.0 <= r["l1"] <= 1.0 for r in steps)


def test_a_tiny_train_run_reports_ssim(tmp_path, cli):
    root = write_cifar(tmp_path / "cifar" / "cifar-10-batches-py", n_train=16, n_test=4)
    out = tmp_path / "train"
    code, stdout, stderr = cli("train", "darts_v2", *cifar_args(root, out, task="autoencoding"))
    assert code == 0, stderr
    results = json.loads((out / "results.json").read_text())
    assert set(results["final"]) == {"ssim", "l1"}
    assert -1.0 <= results["final"]["ssim"] <= 1.0 and 0.0 <= results["final"]["l1"] <= 1.0
    code, _, err = cli("train", "darts_v2", *cifar_args(root, tmp_path / "gan", task="autoencoding",
                                                          **{"task_options.gan_weight": 0.01}))
    assert "gan_weight" in one_line_error(code, err, "train")


def test_a_tiny_study_ranks_archs_by_ssim(tmp_path, cli):
    from test_study_plan import write_tiny_study

    config = str(write_tiny_study(tmp_path, tasks=["autoencoding"], proxies=[], count=2,
                                     target="autoencoding"))
    code, out, err = cli("study", "run", config, "--workers", "1")
    assert code == 0, err + out
    rows = [json.loads(line) for line in (tmp_path / "study" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
    assert all(r["metric_name"] == "final test ssim" and -1.0 <= r["metric"] <= 1.0 for r in rows)


def test_best_epoch_selection_ranks_autoencoding_by_ssim():
    from unnas.engine.trainer import primary_metric

    assert primary_metric({"l1": 0.2, "ssim": 0.4, "loss": 0.2}) == "ssim"
