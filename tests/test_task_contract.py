"""Every registered task (built-in or plug-in) honours the Task contract on every available device."""

from __future__ import annotations

import math

import pytest
import torch

import pretext
from unnas.spaces.darts.supernet import Supernet

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: Options that fit a 32-px test; tasks not listed are built with their defaults.
SMALL_OPTIONS = {"jigsaw": {"grid": 2}, "classification": {"num_classes": 10}}
BATCH, SIZE = 2, 32


def make_task(name: str) -> pretext.Task:
    return pretext.build_task(name, **SMALL_OPTIONS.get(name, {}))


def make_batch(task: pretext.Task, device: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(123)
    images = torch.rand(BATCH, 3, SIZE, SIZE, generator=g).to(device)
    labels = None
    if task.needs_labels == "class":
        labels = torch.randint(task.num_classes, (BATCH,), generator=g)
    elif task.needs_labels == "mask":
        labels = torch.randint(task.num_classes, (BATCH, SIZE, SIZE), generator=g)
        labels[:, :4] = getattr(task, "ignore_index", 255)  # some ignored pixels, as in real masks
    return images, None if labels is None else labels.to(device)


def prepare(task, images, labels, seed: int):
    return task.prepare(images, labels, train=True, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", pretext.list_tasks())
def test_prepare_shapes_dtypes_device_and_determinism(name, device):
    task = make_task(name)
    images, labels = make_batch(task, device)
    inputs, targets = prepare(task, images, labels, seed=7)

    assert inputs.device == images.device and targets.device == images.device
    assert inputs.is_floating_point() and inputs.dim() == 4 and inputs.shape[1] == task.input_channels
    assert not targets.is_floating_point() and not targets.is_complex() and targets.dtype != torch.bool
    assert inputs.shape[0] % BATCH == 0 and targets.shape[0] % BATCH == 0
    assert torch.isfinite(inputs).all()

    again = prepare(task, images, labels, seed=7)
    assert torch.equal(inputs, again[0]) and torch.equal(targets, again[1])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", pretext.list_tasks())
def test_one_training_step_on_a_supernet(name, device):
    torch.manual_seed(0)
    task = make_task(name)
    images, labels = make_batch(task, device)
    inputs, targets = prepare(task, images, labels, seed=3)

    trunk = Supernet(width=4, cells=3, in_channels=task.input_channels, stem="cifar")
    net = pretext.TaskNetwork(trunk, task.build_head(trunk.out_channels)).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    outputs = net(inputs)
    assert outputs.shape[0] == targets.shape[0], "one prediction row per target row"
    loss = task.loss(outputs, targets)
    assert loss.dim() == 0 and torch.isfinite(loss)
    opt.zero_grad()
    loss.backward()
    for pname, p in net.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: no gradient for {pname}"
            assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"
    opt.step()

    with torch.no_grad():
        outputs = net(inputs)
    summary = task.summarize(task.metric_sums(outputs, targets))
    assert summary and all(isinstance(v, float) and math.isfinite(v) for v in summary.values())
