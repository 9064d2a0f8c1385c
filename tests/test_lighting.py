"""PCA lighting: AlexNet-basis RGB offsets on training images of the paper's ImageNet/Cityscapes pipelines."""

import pytest
import torch

import pretext
from conftest import random_image, write_png
from pretext.base import LIGHTING_EIGVAL, LIGHTING_EIGVEC
from unnas.config import DataConfig
from unnas.data import build_dataset
from unnas.engine.task_setup import build_task_for_data
from unnas.errors import ConfigError, TaskError


def test_offsets_follow_the_alexnet_basis():
    task = pretext.build_task("rotation", lighting=0.1)
    images = torch.rand(5, 3, 8, 8)
    offsets = task.lighting_offsets(images, torch.Generator().manual_seed(3))
    alpha = torch.randn(5, 3, generator=torch.Generator().manual_seed(3))
    for b in range(5):
        for c in range(3):  # rgb[c] = Σ_j eigvec[c][j] · α_j · 0.1 · eigval[j]
            expected = sum(LIGHTING_EIGVEC[c][j] * float(alpha[b, j]) * 0.1 * LIGHTING_EIGVAL[j] for j in range(3))
            assert float(offsets[b, c]) == pytest.approx(expected, abs=1e-7)


def test_rotation_adds_one_offset_per_image_in_training_only():
    plain = pretext.build_task("rotation")
    lit = pretext.build_task("rotation", lighting=0.1)
    images = torch.rand(3, 3, 8, 8)
    x0, t0 = plain.prepare(images, train=True, generator=torch.Generator().manual_seed(0))
    x1, t1 = lit.prepare(images, train=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(t0, t1)
    diff = (x1 - x0).view(3, 4, 3, -1)  # (image, rotation, channel, pixel)
    assert diff.abs().max() > 1e-3
    # One constant per image and channel: the same at every pixel and in all four rotations.
    torch.testing.assert_close(diff, diff[:, :1, :, :1].expand_as(diff), rtol=0, atol=1e-6)
    offsets = lit.lighting_offsets(images, torch.Generator().manual_seed(0))
    std = torch.tensor(lit.std)
    torch.testing.assert_close(diff[:, 0, :, 0], offsets / std, rtol=0, atol=1e-6)
    x_eval, _ = lit.prepare(images, train=False, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(x_eval, plain.prepare(images, train=False)[0])


def test_jigsaw_tiles_change_only_in_training():
    images = torch.rand(2, 3, 48, 48)
    plain = pretext.build_task("jigsaw", grid=2, gray_fraction=0.0)
    lit = pretext.build_task("jigsaw", grid=2, gray_fraction=0.0, lighting=0.5)
    for train, changed in ((True, True), (False, False)):
        a = plain.prepare(images, train=train, generator=torch.Generator().manual_seed(1))
        b = lit.prepare(images, train=train, generator=torch.Generator().manual_seed(1))
        assert torch.equal(a[1], b[1])  # same permutations: lighting draws come last
        assert (not torch.allclose(a[0], b[0], atol=1e-4)) == changed


def test_readers_carry_the_papers_default_and_the_config_overrides_it(tmp_path):
    for i in range(2):
        write_png(tmp_path / "train" / "n01" / f"n01_{i}.png", random_image(i))
    assert build_dataset(DataConfig(name="imagenet", root=str(tmp_path), crop_size=16)).lighting == 0.1
    assert build_dataset(DataConfig(name="demo")).lighting == 0.0
    off = build_dataset(DataConfig(name="imagenet", root=str(tmp_path), crop_size=16, lighting=0.0))
    assert off.lighting == 0.0
    with pytest.raises(ConfigError, match="data.lighting=-0.1"):
        build_dataset(DataConfig(name="demo", lighting=-0.1))


def test_tasks_take_the_datasets_lighting_except_colorization(tmp_path):
    for i in range(2):
        write_png(tmp_path / "train" / "n01" / f"n01_{i}.png", random_image(i))
    dataset = build_dataset(DataConfig(name="imagenet", root=str(tmp_path), crop_size=16))
    task, options = build_task_for_data("jigsaw", {"grid": 2}, dataset, "imagenet")
    assert task.lighting == 0.1 and options["lighting"] == 0.1
    task, options = build_task_for_data("rotation", {"lighting": 0.0}, dataset, "imagenet")
    assert task.lighting == 0.0
    task, options = build_task_for_data("colorization", {}, dataset, "imagenet")
    assert "lighting" not in options and task.lighting == 0.0  # the paper's colorization has none
    with pytest.raises(TaskError, match="lighting"):
        pretext.build_task("rotation", lighting=-1)
