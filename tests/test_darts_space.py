"""DARTS search space: supernet shapes and gradients, genotype validation, formats and derivation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import pretext
from unnas.errors import GenotypeError
from unnas.spaces.darts.genotype import Genotype, derive_cell, derive_genotype, load_genotype
from unnas.spaces.darts.ops import PRIMITIVES
from unnas.spaces.darts.supernet import Supernet, split_parameters

DARTS_V2 = Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=[2, 3, 4, 5],
)


def test_primitives_in_standard_order():
    assert PRIMITIVES == ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                          "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


@pytest.mark.parametrize("stem,size,expected_hw", [("cifar", 16, 4), ("imagenet", 64, 2)])
def test_supernet_feature_shapes(stem, size, expected_hw):
    net = Supernet(width=4, cells=3, stem=stem)
    feats = net(torch.rand(2, 3, size, size))
    # channels double at each of the two reductions; a cell outputs 4 nodes × C
    assert feats.shape == (2, 4 * 4 * 4, expected_hw, expected_hw)
    assert net.out_channels == feats.shape[1]
    assert net.alpha_normal.shape == (14, 8) and net.alpha_reduce.shape == (14, 8)


def test_single_reduction_keeps_output_stride_16():
    net = Supernet(width=4, cells=3, stem="imagenet", reductions="one")
    assert net(torch.rand(1, 3, 64, 64)).shape[-1] == 4  # 64 / 8 (stem) / 2 (one reduction)


def test_gradients_reach_alpha_and_weights():
    net = Supernet(width=4, cells=3, stem="cifar")
    task = pretext.build_task("rotation")
    model = pretext.TaskNetwork(net, task.build_head(net.out_channels))
    inputs, targets = task.prepare(torch.rand(2, 3, 16, 16))
    task.loss(model(inputs), targets).backward()
    weights, arch = split_parameters(model)
    assert [p.shape for p in arch] == [(14, 8), (14, 8)]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in arch)
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert len(weights) + len(arch) == len(list(model.parameters()))


def test_supernet_one_input_channel():
    net = Supernet(width=4, cells=2, in_channels=1, stem="cifar")
    assert net(torch.rand(2, 1, 8, 8)).shape[0] == 2


def test_derive_cell_from_hand_made_weights():
    w = np.full((14, 8), 0.01)
    # node 0 (edges 0,1): strongest non-none op on edge 1 = sep5, edge 0 = max3
    w[0, 1] = 0.5
    w[1, 5] = 0.9
    # node 1 (edges 2,3,4): `none` is huge on edge 2 and must be ignored; edges 3 and 4 win
    w[2, 0] = 5.0
    w[3, 6] = 0.3
    w[4, 3] = 0.4
    # node 2 (edges 5..8) / node 3 (edges 9..13)
    w[8, 7] = 0.8
    w[6, 2] = 0.2
    w[13, 4] = 0.7
    w[9, 4] = 0.6
    pairs = derive_cell(w)
    assert pairs[:2] == [("sep_conv_5x5", 1), ("max_pool_3x3", 0)]  # strongest edge first
    assert pairs[2:4] == [("skip_connect", 2), ("dil_conv_3x3", 1)]
    assert pairs[4:6] == [("dil_conv_5x5", 3), ("avg_pool_3x3", 1)]
    assert pairs[6:8] == [("sep_conv_3x3", 4), ("sep_conv_3x3", 0)]


def test_derive_genotype_applies_softmax_and_is_valid():
    rng = np.random.default_rng(0)
    g = derive_genotype(rng.normal(size=(14, 8)), rng.normal(size=(14, 8)))
    assert g.nodes == 4 and g.normal_concat == (2, 3, 4, 5)
    assert all(op != "none" for op, _ in g.normal + g.reduce)


def test_genotype_round_trips(tmp_path):
    assert Genotype.from_obj(DARTS_V2.to_dict()) == DARTS_V2
    assert Genotype.from_obj(DARTS_V2.to_list()) == DARTS_V2
    assert Genotype.from_obj(json.loads(DARTS_V2.to_json())) == DARTS_V2
    j = tmp_path / "g.json"
    j.write_text(DARTS_V2.to_json())
    y = tmp_path / "g.yaml"
    y.write_text("- " + json.dumps(DARTS_V2.to_list()[0]) + "\n- [2, 3, 4, 5]\n- "
                 + json.dumps(DARTS_V2.to_list()[2]) + "\n- [2, 3, 4, 5]\n")
    r = tmp_path / "g.txt"
    r.write_text("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
                 "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
                 "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
                 "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
                 "('max_pool_3x3', 1)], reduce_concat=range(2, 6))")
    r2 = tmp_path / "g_repr.txt"
    r2.write_text(r.read_text().replace("range(2, 6)", "[2, 3, 4, 5]"))
    for path in (j, y, r2):
        assert load_genotype(path) == DARTS_V2
    assert "n5=skip(0)+dil3(2)" in str(DARTS_V2)
    with pytest.raises(GenotypeError):
        load_genotype(r)  # range(...) is not a literal


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d["normal"].__setitem__(0, ["conv_9x9", 0]), "unknown op"),
    (lambda d: d["normal"].__setitem__(2, ["sep_conv_3x3", 3]), "not an earlier state"),
    (lambda d: d["normal"].pop(), r"two \[op, input\] pairs"),
    (lambda d: d.__setitem__("reduce_concat", [2, 2]), "repeated"),
    (lambda d: d.__setitem__("normal_concat", [7]), "not a state"),
    (lambda d: d.pop("reduce"), "missing key"),
    (lambda d: d["normal"].__setitem__(0, ["sep_conv_3x3", "zero"]), "integer"),
])
def test_genotype_validation_errors(mutate, needle):
    d = DARTS_V2.to_dict()
    mutate(d)
    with pytest.raises(GenotypeError, match=needle):
        Genotype.from_obj(d)


def test_malformed_genotype_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(GenotypeError, match="not valid JSON"):
        load_genotype(bad)
    with pytest.raises(GenotypeError, match="neither a file nor a published name"):
        load_genotype(tmp_path / "nope.json")
