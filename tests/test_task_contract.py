"""Every registered task (built-in or plug-in) honours the Task contract on every available device."""

from __future__ import annotations

import math

import numpy as np
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


#: One small network per space (every space the registry names), and an architecture of it.
SPACE_NETWORKS = {
    "darts": {"width": 4, "cells": 3}, "nasbench101": {"stem_width": 4, "num_stacks": 2, "modules_per_stack": 1},
    "mr": {}, "nasbench201": {"width": 4, "cells_per_stage": 1}, "transnas_micro": {"base_channels": 4},
    "transnas_macro": {"base_channels": 4},
}


def small_mr_arch():
    from unnas.spaces.mr import MRArch

    return MRArch([8, 8, 1, 1, 8, 1, 1, 1, 8, 8, 1, 1, 1, 1, 8, 8, 8, 1, 1, 1, 1, 1, 8, 8, 8, 8, 8]).to_json()


def test_every_registered_space_has_a_network_here():
    from unnas.trials.spaces import space_names

    assert sorted(SPACE_NETWORKS) == sorted(space_names())


@pytest.mark.parametrize("space_name", sorted(SPACE_NETWORKS))
@pytest.mark.parametrize("name", pretext.list_tasks())
def test_every_task_head_trains_on_every_space(name, space_name):
    """The study's and the fitness's network (unnas.trials.models.build_model): the space's classifier for
    classification, its trunk plus the task's head otherwise; one step gives finite gradients everywhere."""
    from unnas.config.study_schema import StudyNetworkConfig
    from unnas.trials.models import build_model
    from unnas.trials.spaces import get_space

    torch.manual_seed(0)
    space = get_space(space_name)
    sample = small_mr_arch() if space_name == "mr" else space.to_json(space.view().sample(np.random.default_rng(1)))
    task = make_task(name)
    images, labels = make_batch(task, "cpu")
    if space_name.startswith("transnas") or space_name == "mr":  # their stems divide by 4 before the head
        images = torch.nn.functional.interpolate(images, size=64)
        labels = None if labels is None else (labels if labels.dim() == 1 else
                                              torch.nn.functional.interpolate(labels[:, None].float(), size=64,
                                                                              mode="nearest")[:, 0].long())
    inputs, targets = prepare(task, images, labels, seed=3)
    net = build_model(space.name, sample, task, getattr(task, "num_classes", 10),
                      StudyNetworkConfig(**SPACE_NETWORKS[space_name]))
    outputs = net(inputs)
    outputs = outputs[0] if isinstance(outputs, tuple) else outputs
    assert outputs.shape[0] == targets.shape[0]
    loss = task.loss(outputs, targets)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in net.parameters())
