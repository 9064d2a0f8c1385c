"""Rotation targets: every image in all four rotations, labels 0..3, content actually rotated."""

import pytest
import torch

import pretext
from unnas.errors import TaskError


def test_rotation_stacks_four_rotations_per_image():
    task = pretext.build_task("rotation", mean=(0, 0, 0), std=(1, 1, 1))
    images = torch.rand(3, 3, 8, 8)
    inputs, targets = task.prepare(images)
    assert inputs.shape == (12, 3, 8, 8)
    assert targets.tolist() == [0, 1, 2, 3] * 3
    for b in range(3):
        for k in range(4):
            expected = torch.rot90(images[b], k, dims=(1, 2))
            assert torch.equal(inputs[4 * b + k], expected)
    # 90° counter-clockwise: the top row becomes the left column read bottom-up
    assert torch.equal(inputs[1][:, :, 0], images[0][:, 0, :].flip(-1))


def test_rotation_normalises_with_given_stats():
    task = pretext.build_task("rotation", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    inputs, _ = task.prepare(torch.full((1, 3, 4, 4), 0.75))
    assert torch.allclose(inputs, torch.ones_like(inputs))


def test_rotation_rejects_bad_input():
    task = pretext.build_task("rotation")
    with pytest.raises(TaskError, match="square"):
        task.prepare(torch.rand(1, 3, 8, 6))
    with pytest.raises(TaskError, match="3-channel"):
        task.prepare(torch.rand(1, 1, 8, 8))
    with pytest.raises(TaskError, match="unknown task"):
        pretext.build_task("rotate")
    with pytest.raises(TaskError, match="no option"):
        pretext.build_task("rotation", angles=3)


def test_normalisation_constants_are_copied_to_the_device_once_and_follow_reassignment():
    task = pretext.build_task("rotation")
    x = torch.rand(2, 3, 8, 8)
    first = task.device_constant("mean", task.mean, x)
    assert task.device_constant("mean", task.mean, x) is first  # no new copy per batch
    assert task.device_constant("mean", task.mean, x.double()).dtype == torch.float64
    task.mean = (0.5, 0.5, 0.5)
    std = torch.tensor(task.std).view(1, 3, 1, 1)
    torch.testing.assert_close(task.normalize(x), (x - 0.5) / std)
