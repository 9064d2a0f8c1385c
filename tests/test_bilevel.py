"""The search's two steps compute only the gradients they use, and that changes no update."""

from __future__ import annotations

import torch

import pretext
from unnas.config.schema import OptimConfig
from unnas.search.bilevel import BilevelStep
from unnas.spaces.darts.fast_supernet import FastSupernet


def build(targeted: bool) -> tuple[BilevelStep, pretext.Task]:
    task = pretext.build_task("rotation")
    torch.manual_seed(0)
    trunk = FastSupernet(width=4, cells=3, stem="cifar")
    model = pretext.TaskNetwork(trunk, task.build_head(trunk.out_channels))
    return BilevelStep(model, task.loss, OptimConfig(lr=0.1, arch_lr=0.05), targeted=targeted), task


def test_each_step_computes_only_its_own_gradients():
    step, task = build(targeted=True)
    gen = torch.Generator().manual_seed(0)
    step.arch_step(*task.prepare(torch.rand(2, 3, 16, 16, generator=gen)))
    assert all(p.grad is None for p in step.w_params)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in step.a_params)
    a_grads = [p.grad.clone() for p in step.a_params]
    step.weight_step(*task.prepare(torch.rand(2, 3, 16, 16, generator=gen)))
    assert sum(p.grad is not None for p in step.w_params) == len(step.w_params)
    assert all(torch.equal(p.grad, g) for p, g in zip(step.a_params, a_grads))  # α's untouched


def test_targeted_backward_gives_the_same_updates_as_the_full_one():
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        (full, task), (targeted, _) = build(targeted=False), build(targeted=True)
        gen = torch.Generator().manual_seed(1)
        for _ in range(3):
            a_batch = task.prepare(torch.rand(2, 3, 16, 16, generator=gen))
            w_batch = task.prepare(torch.rand(2, 3, 16, 16, generator=gen))
            losses = [(s.arch_step(*a_batch), *s.weight_step(*w_batch)) for s in (full, targeted)]
            for a, b in zip(*losses):
                torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
        for (name, a), b in zip(full.model.state_dict().items(), targeted.model.state_dict().values()):
            torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12, msg=name)
        assert all(p.grad is not None for p in full.w_params)  # the full backward filled them
    finally:
        torch.set_default_dtype(dtype)
