"""Relaxation (softmax | Gumbel), temperature schedule, entropy term, and the defaults computing plain DARTS."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_search_overrides
from unnas.config.loader import load_config
from unnas.config.schema import ArchConfig, SearchConfig
from unnas.errors import ConfigError
from unnas.search.darts import DartsSearch
from unnas.search.relaxation import Relaxation, gumbel_weights, mean_entropy, tau_at, validate_arch

def test_gumbel_weights_match_a_hand_computation():
    alpha = torch.tensor([[0.5, -1.0, 2.0]])
    u = torch.rand((1, 3), generator=torch.Generator().manual_seed(3))
    tau = 0.7
    logits = [(a - math.log(-math.log(x))) / tau for a, x in zip(alpha[0].tolist(), u[0].tolist())]
    z = sum(math.exp(v) for v in logits)
    expected = [math.exp(v) / z for v in logits]
    got = gumbel_weights(alpha, tau, torch.Generator().manual_seed(3))
    assert got[0].tolist() == pytest.approx(expected, rel=1e-5)
    hard = gumbel_weights(alpha.requires_grad_(), tau, torch.Generator().manual_seed(3), hard=True)
    assert hard[0].tolist() == [1.0 if i == max(range(3), key=expected.__getitem__) else 0.0 for i in range(3)]
    hard[0, 2].backward()  # straight-through: the soft sample's gradient reaches α
    assert alpha.grad.abs().sum() > 0


def test_tau_schedules():
    exp = ArchConfig(relaxation="gumbel", tau_start=1.0, tau_end=0.01)
    assert tau_at(exp, 0.0) == 1.0 and tau_at(exp, 0.5) == pytest.approx(0.1) and tau_at(exp, 1.0) == pytest.approx(0.01)
    lin = ArchConfig(relaxation="gumbel", tau_start=2.0, tau_end=1.0, tau_schedule="linear")
    assert tau_at(lin, 0.25) == pytest.approx(1.75) and tau_at(lin, 3.0) == pytest.approx(1.0)
    relax = Relaxation(lin)
    relax.progress = 0.5
    assert relax.tau == pytest.approx(1.5)
    # evaluation: plain softmax, no noise
    assert torch.equal(Relaxation(ArchConfig(relaxation="gumbel"))(torch.zeros(2, 3), training=False),
                       torch.full((2, 3), 1 / 3))


def test_entropy_value_and_gradient_on_two_edges():
    a = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]], requires_grad=True)
    h = mean_entropy([a])
    # edge 1: uniform (normalised entropy 1); edge 2: p = (3/4, 1/4)
    h2 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert float(h.detach()) == pytest.approx((1 + h2) / 2, rel=1e-6)
    h.backward()
    assert a.grad[0].abs().max() < 1e-7  # uniform is a stationary point
    # dH/dα₀ for p = σ(α₀ - α₁): -p(1-p)·log(p/(1-p)) / log 2, halved by the mean over edges
    p = 0.75
    g = -p * (1 - p) * math.log(p / (1 - p)) / math.log(2) / 2
    assert a.grad[1].tolist() == pytest.approx([g, -g], rel=1e-5)
    penalty = Relaxation(ArchConfig(entropy_weight=0.5, entropy_schedule="linear"))
    penalty.progress = 0.5
    assert float(penalty.penalty([a]).detach()) == pytest.approx(0.25 * float(h.detach()))
    assert Relaxation(ArchConfig()).penalty([a]) is None


def test_entropy_without_none_ignores_the_none_column():
    """entropy_ops=no_none: the entropy of the 7 real ops renormalised; `none`'s logit gets no gradient."""
    a = torch.zeros(1, 8)
    a[0, 0] = 5.0  # `none` dominant, the 7 real ops uniform
    a.requires_grad_(True)
    relax = Relaxation(ArchConfig(entropy_weight=1.0, entropy_ops="no_none"))
    h = relax.penalty([a])
    assert float(h.detach()) == pytest.approx(1.0, abs=1e-6)  # uniform over the real ops: normalised entropy 1
    h.backward()
    assert a.grad[0, 0] == 0 and a.grad.abs().max() < 1e-6  # uniform is stationary; none untouched
    full = Relaxation(ArchConfig(entropy_weight=1.0)).penalty([a.detach()])
    assert float(full) < 0.5  # over all ops, the dominant `none` already makes the entropy low
    with pytest.raises(ConfigError, match="arch.entropy_ops"):
        validate_arch(ArchConfig(entropy_ops="real"))


def test_bad_arch_values_are_config_errors():
    with pytest.raises(ConfigError, match="arch.relaxation"):
        validate_arch(ArchConfig(relaxation="concrete"))
    with pytest.raises(ConfigError, match="arch.tau_start"):
        validate_arch(ArchConfig(tau_start=0.0))


def _plain_softmax(alpha: torch.Tensor, training: bool = True) -> torch.Tensor:
    """DARTS's op weights written out: softmax over each edge's ops, the same in training and evaluation."""
    return torch.softmax(alpha, dim=-1)


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_default_search_is_plain_softmax_darts(tmp_path, impl):
    """The defaults (relaxation=softmax, entropy_weight=0, discretization=argmax) are DARTS as before the
    relaxation options: in one process, a default search and the same search with its op weights replaced
    by a plain softmax and no α regulariser end with bit-identical α (3 α steps at the demo's α lr, so α
    moves), the genotype is the argmax rule on those α, nothing is sampled and no Gumbel state is kept."""
    from unnas.spaces.darts.genotype import derive_genotype

    def build(name: str) -> DartsSearch:
        return DartsSearch(load_config(SearchConfig, None, tiny_search_overrides(
            tmp_path / name, **{"optim.epochs": 1, "optim.iters_per_epoch": 3, "model.cells": 3, "model.impl": impl})))

    default = build("default")
    start = [a.detach().clone() for a in default.trunk.arch_parameters()]
    default.run()
    plain = build("plain")
    plain.trunk.op_weights = _plain_softmax
    plain.step.regulariser = None
    plain.run()
    for a, b, before in zip(default.trunk.arch_parameters(), plain.trunk.arch_parameters(), start):
        assert not torch.equal(a.detach(), before)
        assert torch.equal(a.detach(), b.detach())
    out = tmp_path / "default"
    alphas = [a.detach().numpy() for a in default.trunk.arch_parameters()]
    assert json.loads((out / "genotype.json").read_text()) == derive_genotype(*alphas).to_dict()
    assert not (out / "genotypes_sampled.json").exists()
    assert "gumbel" not in torch.load(out / "checkpoints" / "last.pt", weights_only=False)["rng"]["generators"]


def test_sampled_genotypes_are_reproducible_and_valid():
    from unnas.spaces.darts.genotype import Genotype, sample_genotypes

    g = torch.Generator().manual_seed(0)
    a_n, a_r = (torch.randn(14, 8, generator=g).numpy() for _ in range(2))
    first = sample_genotypes(a_n, a_r, 4, 20, seed=5)
    assert [x.to_dict() for x in first] == [x.to_dict() for x in sample_genotypes(a_n, a_r, 4, 20, seed=5)]
    assert len({str(x) for x in first}) > 1  # they are draws, not one argmax repeated
    for x in first:
        Genotype.from_obj(x.to_dict())  # validated on construction
        for cell in (x.normal, x.reduce):
            assert all(op != "none" for op, _ in cell)
            assert all(cell[2 * i][1] != cell[2 * i + 1][1] for i in range(4))  # two distinct inputs per node


def test_gumbel_search_with_sampling_writes_its_outputs(tmp_path):
    out = tmp_path / "run"
    s = DartsSearch(load_config(SearchConfig, None, tiny_search_overrides(out, **{
        "optim.epochs": 2, "optim.iters_per_epoch": 2, "arch.relaxation": "gumbel", "arch.hard": True,
        "arch.discretization": "sample", "arch.samples": 3, "arch.entropy_weight": 0.1})))
    s.run()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    taus = [r["tau"] for r in records if r.get("event") == "epoch_end"]
    assert len(taus) == 2 and 1.0 > taus[0] > taus[1] >= 0.03
    sampled = json.loads((out / "genotypes_sampled.json").read_text())
    assert len(sampled["genotypes"]) == 3 and sampled["seed"] == [s.cfg.seed, 0]
    result = json.loads((out / "result.json").read_text())
    assert set(result["discretization_gap"]["child_minus_supernet"]) >= {"loss"}
    assert (out / "alphas_hist.png").read_bytes()[:4] == b"\x89PNG"
    assert "gumbel" in torch.load(out / "checkpoints" / "last.pt", weights_only=False)["rng"]["generators"]


def _imagenet_tree(root: Path) -> dict:
    from conftest import random_image, write_png

    for c, wnid in enumerate(("n01000001", "n01000002")):
        for i in range(6):
            write_png(root / "train" / wnid / f"{wnid}_{i}.png", random_image(10 * c + i, 48, 48))
    return {"task": "classification", "data.name": "imagenet", "data.root": str(root)}


def _cityscapes_tree(root: Path) -> dict:
    from test_cityscapes_reader import block_label, write_pair

    for i in range(8):
        write_pair(root, "train", "aachen", f"aachen_{i:06d}_000019", block_label(i))
    return {"task": "segmentation", "data.name": "cityscapes", "data.root": str(root), "data.base_size": 48,
            "model.reductions": "one", "model.cells": 3}


SWITCH_SETTINGS = {
    "rotation": lambda root: {"task": "rotation"},
    "colorization": lambda root: {"task": "colorization"},
    "jigsaw": lambda root: {"task": "jigsaw", "task_options.grid": 2},
    "autoencoding": lambda root: {"task": "autoencoding"},
    "imagenet_classification": _imagenet_tree,
    "cityscapes_segmentation": _cityscapes_tree,
}


@pytest.mark.parametrize("setting", sorted(SWITCH_SETTINGS))
def test_all_three_switches_on_every_task_and_the_preset_code_paths(tmp_path, setting):
    """Gumbel (hard) relaxation, the entropy term and sampled discretisation together, at toy size, on
    every search task and on the ImageNet-reader classification and Cityscapes one-reduction
    segmentation paths of the imagenet/cityscapes presets: the run ends with valid sampled genotypes,
    a finite discretisation gap and the α histogram."""
    from unnas.spaces.darts.genotype import Genotype

    extra = SWITCH_SETTINGS[setting](tmp_path / "data")
    out = tmp_path / "run"
    s = DartsSearch(load_config(SearchConfig, None, tiny_search_overrides(out, **{
        "optim.epochs": 1, "optim.iters_per_epoch": 2, "arch.relaxation": "gumbel", "arch.hard": True,
        "arch.entropy_weight": 1.0, "arch.discretization": "sample", "arch.samples": 2, **extra})))
    s.run()
    sampled = json.loads((out / "genotypes_sampled.json").read_text())["genotypes"]
    assert len(sampled) == 2 and all(Genotype.from_obj(g).nodes == 4 for g in sampled)
    gap = json.loads((out / "result.json").read_text())["discretization_gap"]["child_minus_supernet"]
    assert math.isfinite(gap["loss"])
    assert (out / "alphas_hist.png").read_bytes()[:4] == b"\x89PNG"


def test_sampling_seed_includes_the_search_seed():
    """With α at uniform the draws depend only on the seed: two search seeds must not share them."""
    from unnas.spaces.darts.genotype import sample_genotypes

    uniform = np.zeros((14, 8))
    one, two = (sample_genotypes(uniform, uniform, 4, 3, [seed, 0]) for seed in (1, 2))
    assert [str(g) for g in one] != [str(g) for g in two]
    assert [str(g) for g in one] == [str(g) for g in sample_genotypes(uniform, uniform, 4, 3, [1, 0])]


def _entropy_gradient_by_hand(alphas: list[torch.Tensor], keep: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """d/dα of the mean over all edges of H(softmax(α[keep])) / log(len(keep)), in float64, and the size of the
    terms it is the difference of: for one edge, dH/dα_k = -q_k (log q_k + H) on the kept ops, 0 on the others."""
    rows = sum(a.shape[0] for a in alphas)
    grads, scales = [], []
    for a in alphas:
        x = a.detach().double().numpy()[:, keep]
        q = np.exp(x - x.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
        h = -(q * np.log(q)).sum(axis=1, keepdims=True)
        grad, scale = np.zeros(a.shape), np.zeros(a.shape)
        grad[:, keep] = -q * (np.log(q) + h) / (rows * math.log(len(keep)))
        scale[:, keep] = q * (np.abs(np.log(q)) + h) / (rows * math.log(len(keep)))
        grads.append(grad)
        scales.append(scale)
    return grads, scales


@pytest.mark.parametrize("ops", ["all", "no_none"])
def test_entropy_term_adds_its_hand_computed_gradient_to_the_alpha_step(tmp_path, ops):
    """The mechanism behind "the entropy term sharpens α", checked deterministically in one process: two
    searches that differ only in arch.entropy_weight (0 and 10, linear schedule, half-way: weight 5) take
    their first α step on the same batch from the same α (drawn away from uniform, as mid-search); the
    difference of their α gradients is 5 × the gradient of the mean normalised entropy computed by hand
    (over all ops, or over the real ops with `none` untouched): minus it is the direction in which every
    edge's entropy falls. Whether that shrinks the discretisation gap is an empirical question of full-size
    searches (benchmarks/RESULTS.md), not something a toy run can show: at one seed and toy size the sign of
    the gap difference changed between machines."""
    from unnas.spaces.darts.ops import PRIMITIVES

    grads = {}
    for w in (0.0, 10.0):
        s = DartsSearch(load_config(SearchConfig, None, tiny_search_overrides(tmp_path / f"w{w}", **{
            "model.cells": 3, "arch.entropy_weight": w, "arch.entropy_schedule": "linear", "arch.entropy_ops": ops})))
        s.relax.progress = 0.5
        alphas = list(s.trunk.arch_parameters())
        assert all(a.requires_grad for a in alphas)  # three cells: a normal and a reduction cell
        gen = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for a in alphas:
                a.copy_(torch.randn(a.shape, generator=gen))
        start = [a.detach().clone() for a in alphas]
        s.arch_step()
        grads[w] = [a.grad.clone() for a in alphas]
    keep = [k for k, name in enumerate(PRIMITIVES) if ops == "all" or name != "none"]
    hand, scales = _entropy_gradient_by_hand(start, keep)
    eps = torch.finfo(torch.float32).eps
    for plain, with_term, g, scale in zip(grads[0.0], grads[10.0], hand, scales):
        g, scale = 5.0 * torch.from_numpy(g).float(), 5.0 * torch.from_numpy(scale).float()
        # float32 rounding, element by element: autograd's entropy gradient is a difference of terms of
        # size `scale` (a few ulps of them), and it is added to the task loss's gradient (an ulp of the
        # sum); 16 ulps of both bound that with room (measured: at most 0.09 of this bound).
        tol = 16 * eps * (scale + plain.abs() + with_term.abs())
        assert ((with_term - plain - g).abs() <= tol).all(), float(((with_term - plain - g).abs() / tol).max())
        assert (g.abs() > 100 * tol).float().mean() > 0.5  # the term is far above the rounding it is checked to
        if ops == "no_none":
            assert torch.equal(with_term[:, 0], plain[:, 0])  # `none`'s logit gets nothing from the term
