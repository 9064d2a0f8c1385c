"""FastSupernet computes exactly what the plain Supernet computes: outputs, gradients, BN statistics, steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import pretext
from conftest import tiny_search_overrides
from unnas.config import SearchConfig, load_config
from unnas.config.schema import OptimConfig
from unnas.errors import ConfigError
from unnas.search.darts import DartsSearch
from unnas.search.bilevel import BilevelStep
from unnas.spaces.darts.fast_supernet import FastSupernet
from unnas.spaces.darts.supernet import Supernet, split_parameters

#: (constructor kwargs, input side): both stems, one reduction, 1 input channel, 2 nodes, odd sides.
CASES = {
    "cifar": (dict(width=4, cells=3, stem="cifar"), 12),
    "imagenet": (dict(width=4, cells=3, stem="imagenet"), 32),
    "one_reduction_gray": (dict(width=4, cells=3, stem="imagenet", reductions="one", in_channels=1), 24),
    "two_nodes_odd": (dict(width=6, cells=3, stem="cifar", nodes=2), 11),
}


@pytest.fixture(autouse=True)
def float64():
    """float64 for tight tolerances (conftest already runs tests on one thread)."""
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(dtype)


def pair(kwargs: dict, seed: int = 0) -> tuple[Supernet, FastSupernet]:
    torch.manual_seed(seed)
    reference = Supernet(**kwargs)
    with torch.no_grad():  # non-trivial α and BN statistics, so a mix-up of edges or ops shows
        for a in reference.arch_parameters():
            a.normal_()
        for name, buf in reference.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                buf.normal_()
    fast = FastSupernet(**kwargs).load_from_reference(reference)
    # The pools' BN statistics are shared by all edges leaving a state (as training keeps them):
    # take the reference back from the fast net so that it holds them that way too.
    return fast.to_reference(), fast


def in_reference_layout(fast: FastSupernet, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fast-layout tensors (state or grads) re-keyed as the reference's (first link per key)."""
    out: dict[str, torch.Tensor] = {}
    for fast_key, index, ref_key in fast.reference_map():
        if fast_key in tensors and ref_key not in out:
            out[ref_key] = tensors[fast_key][index]
    return out


def assert_same_state(reference: Supernet, fast: FastSupernet, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    mine = in_reference_layout(fast, fast.state_dict())
    theirs = reference.state_dict()
    assert set(mine) == set(theirs)
    for key, value in theirs.items():
        torch.testing.assert_close(mine[key].to(value.dtype), value, rtol=rtol, atol=atol, msg=key)


@pytest.mark.parametrize("case", CASES)
def test_same_outputs_gradients_and_bn_statistics_in_train_mode(case):
    kwargs, side = CASES[case]
    reference, fast = pair(kwargs)
    x = torch.randn(3, kwargs.get("in_channels", 3), side, side)
    out_ref, out_fast = reference(x), fast(x)
    assert out_fast.shape == out_ref.shape and fast.out_channels == reference.out_channels == out_ref.shape[1]
    torch.testing.assert_close(out_fast, out_ref, rtol=1e-10, atol=1e-12)

    probe = torch.randn_like(out_ref)
    (out_ref * probe).sum().backward()
    (out_fast * probe).sum().backward()
    grads = in_reference_layout(fast, {n: p.grad for n, p in fast.named_parameters() if p.grad is not None})
    ref_grads = {n: p.grad for n, p in reference.named_parameters() if p.grad is not None}
    assert set(grads) == set(ref_grads)
    for name, g in ref_grads.items():
        torch.testing.assert_close(grads[name], g, rtol=1e-8, atol=1e-10, msg=name)
    assert_same_state(reference, fast)  # running statistics after one training forward


def test_same_outputs_in_eval_mode():
    reference, fast = pair(CASES["imagenet"][0])
    x = torch.randn(2, 3, 32, 32)
    reference(x), fast(x)  # one training forward moves the running statistics
    reference.eval(), fast.eval()
    torch.testing.assert_close(fast(x), reference(x), rtol=1e-10, atol=1e-12)


def test_reference_map_covers_both_states_and_round_trips():
    reference, fast = pair(CASES["one_reduction_gray"][0])
    links = fast.reference_map()
    assert {ref for _, _, ref in links} == set(reference.state_dict())
    covered = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in fast.state_dict().items()}
    for fast_key, index, _ in links:
        covered[fast_key][index] = True
    assert all(mask.all() for mask in covered.values()), [k for k, m in covered.items() if not m.all()]
    back = fast.to_reference().state_dict()
    assert all(torch.equal(back[k], v) for k, v in reference.state_dict().items())


def test_same_seed_gives_the_same_start_and_the_same_rng_afterwards():
    kwargs = CASES["cifar"][0]
    torch.manual_seed(5)
    reference, after_ref = Supernet(**kwargs), torch.rand(4)
    torch.manual_seed(5)
    fast, after_fast = FastSupernet(**kwargs), torch.rand(4)
    assert torch.equal(after_ref, after_fast)
    assert_same_state(reference, fast, rtol=0, atol=0)


def test_absent_cell_type_keeps_its_alpha_frozen():
    reference, fast = pair(dict(width=4, cells=1, stem="cifar"))  # the single cell is a reduction cell
    assert [a.requires_grad for a in fast.arch_parameters()] == [a.requires_grad for a in reference.arch_parameters()] == [False, True]
    model = pretext.TaskNetwork(fast, nn.Identity())
    weights, arch = split_parameters(model)
    assert [id(a) for a in arch] == [id(a) for a in fast.arch_parameters()]
    assert len(weights) + len(arch) == len(list(model.parameters()))
    assert fast.genotype() == reference.genotype()
    assert all(torch.equal(fast.alpha_weights()[k], reference.alpha_weights()[k]) for k in ("normal", "reduce"))


def test_search_steps_stay_equal():
    """The search's steps on the fast supernet equal the release's way on the reference one.

    Reference: every gradient in both backwards (as the release); fast: only the stepped
    parameters' gradients (as ``unnas search``), so this also covers the targeted backward.
    """
    task = pretext.build_task("rotation")
    nets = pair(CASES["imagenet"][0])
    models = [pretext.TaskNetwork(net, task.build_head(net.out_channels)) for net in nets]
    models[1].head.load_state_dict(models[0].head.state_dict())
    optim = OptimConfig(lr=0.1, weight_decay=3e-4, arch_lr=0.05)
    steps = [BilevelStep(models[0], task.loss, optim, targeted=False),
             BilevelStep(models[1], task.loss, optim, targeted=True)]
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        a_batch = task.prepare(torch.rand(2, 3, 32, 32, generator=gen))
        w_batch = task.prepare(torch.rand(2, 3, 32, 32, generator=gen))
        for step in steps:
            step.arch_step(*a_batch)
            step.weight_step(*w_batch)
    assert_same_state(nets[0], nets[1], rtol=1e-8, atol=1e-10)
    assert not torch.equal(nets[0].alpha_normal, pair(CASES["imagenet"][0])[0].alpha_normal)  # α did move


def test_search_with_fast_impl_matches_reference_impl(tmp_path):
    """model.impl picks the supernet and changes nothing else: in float32, as the search runs, the fast and
    the reference search start from the same weights and α, and the search's first weight step and α step
    give the same gradients up to float32 rounding (the float64 tests above check the mathematics tightly;
    several steps are not compared, since Adam's sign-like α steps amplify rounding differences)."""
    from conftest import random_image, write_png

    torch.set_default_dtype(torch.float32)  # the search runs in the default float32
    photos = tmp_path / "photos"
    for i in range(16):  # random pixels: no flat regions, whose exact ties rounding could break either way
        write_png(photos / f"noise_{i:02d}.png", random_image(i, 40, 40))
    searchers = {impl: DartsSearch(load_config(SearchConfig, None, [
        "data.name=folder", f"data.root={photos}", "data.lighting=0.0",
        *tiny_search_overrides(tmp_path / impl, **{"model.impl": impl, "model.cells": 3})])) for impl in ("reference", "fast")}
    reference, fast = searchers["reference"], searchers["fast"]
    assert isinstance(fast.trunk, FastSupernet) and type(reference.trunk) is Supernet
    assert_same_state(reference.trunk, fast.trunk, rtol=0, atol=0)  # the same start, exactly
    grads = {}
    for impl, s in searchers.items():
        s.weight_step(s.w_stream.next())
        w = {n: p.grad.clone() for n, p in s.trunk.named_parameters() if "alpha" not in n and p.grad is not None}
        s.arch_step()
        a = {n: p.grad.clone() for n, p in s.trunk.named_parameters() if "alpha" in n and p.grad is not None}
        grads[impl] = {**(in_reference_layout(s.trunk, w) if impl == "fast" else w), **a}
    assert grads["fast"].keys() == grads["reference"].keys() and {"alpha_normal", "alpha_reduce"} <= grads["fast"].keys()
    # Float32 tolerance: each gradient element sums up to N products (the 16 task inputs × the 16×16
    # positions of the stem's first map), in another order and grouping in each implementation; rounding
    # of such sums grows like ulp × sqrt(N) × their size: 8 ulps × sqrt(N) × the tensor's largest gradient
    # bounds it with room (measured: at most 1.3 ulps × sqrt(N)). A wrong edge, op or weight is off by far more.
    eps = torch.finfo(torch.float32).eps
    n_terms = 16 * 16 * 16
    for name, g in grads["reference"].items():
        tol = 8 * eps * math.sqrt(n_terms) * float(g.abs().max())
        assert float((grads["fast"][name] - g).abs().max()) <= tol, name


def test_unknown_impl_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="model.impl='turbo'"):  # refused as the config loads
        load_config(SearchConfig, None, tiny_search_overrides(tmp_path / "x", **{"model.impl": "turbo"}))
