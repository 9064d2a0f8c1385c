"""Evaluation networks, their heads, drop-path and the complexity counters."""

import pytest
import torch
from torch import nn

from eval.heads import AuxiliaryHeadCIFAR, AuxiliaryHeadImageNet
from eval.networks import CifarNetwork, ImageNetNetwork, SegmentationNetwork, build_network
from unnas.complexity import count_madds, count_params
from unnas.errors import ConfigError, GenotypeError
from unnas.spaces.darts.cell import drop_path
from unnas.spaces.darts.genotype import load_genotype
from unnas.spaces.darts.ops import FactorizedReduce


def _main_params(net):
    return count_params(net) - (count_params(net.aux_head) if net.aux_head is not None else 0)


# ----------------------------------------------------------------------------- golden numbers
def test_darts_v2_cifar_params():
    """DARTS paper: 3.3M (the DARTS code prints 3.349342 MB, aux head excluded)."""
    with torch.device("meta"):
        net = CifarNetwork("darts_v2", width=36, cells=20, num_classes=10, aux=True)
    assert _main_params(net) == 3_349_342
    assert count_params(net) == 3_825_768


def test_darts_v2_imagenet_params_and_madds():
    """DARTS paper: 4.7M params, 574M multiply-adds; the UnNAS table (thop, which also counts BN
    as 2 per element) ≈538M. Our rule (convs and linears only) gives 530M."""
    with torch.device("meta"):
        net = ImageNetNetwork("darts_v2", width=48, cells=14, num_classes=1000, aux=True)
    assert _main_params(net) == 4_718_752
    assert count_params(net) == 5_979_528
    assert count_madds(net, (3, 224, 224)) == 529_911_552


# ----------------------------------------------------------------------------- complexity rule
def test_madds_counting_rule_by_hand():
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),  # 8*3*9 * 10*10 = 21600
        nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8),  # 8*1*9 * 5*5 = 1800
        nn.MaxPool2d(2, ceil_mode=True),  # 3x3, free
        nn.Flatten(), nn.Linear(72, 5),  # 360
    )
    net.train()
    before = [p.clone() for p in net.parameters()]
    assert count_madds(net, (3, 10, 10)) == 21600 + 1800 + 360
    # the module is untouched: still on CPU, same weights, same mode
    assert net.training and all(m.training for m in net.modules())
    assert all(p.device.type == "cpu" and torch.equal(p, b) for p, b in zip(net.parameters(), before))


def test_count_params_trainable_only():
    net = nn.Linear(4, 3)
    net.bias.requires_grad_(False)
    assert count_params(net) == 12
    assert count_params(net, trainable_only=False) == 15


def test_aux_head_is_not_in_madds():
    net = CifarNetwork("darts_v2", width=4, cells=3, aux=True)
    plain = CifarNetwork("darts_v2", width=4, cells=3, aux=False)
    assert count_madds(net, (3, 32, 32)) == count_madds(plain, (3, 32, 32))


# ----------------------------------------------------------------------------- forward shapes
def test_cifar_network_outputs_and_features():
    torch.manual_seed(0)
    net = CifarNetwork("darts_v2", width=4, cells=3, num_classes=7, aux=True)
    x = torch.randn(2, 3, 32, 32)
    logits, aux = net.train()(x)
    assert logits.shape == aux.shape == (2, 7)
    assert isinstance(net.aux_head, AuxiliaryHeadCIFAR)
    assert net.eval()(x).shape == (2, 7)
    feats = net.features(x)
    assert feats.shape == (2, net.trunk.out_channels, 8, 8) and net.trunk.out_channels == 4 * 16


def test_imagenet_network_with_aux_at_224():
    torch.manual_seed(0)
    net = ImageNetNetwork("darts_v2", width=4, cells=3, num_classes=5, aux=True, in_channels=1)
    assert isinstance(net.aux_head, AuxiliaryHeadImageNet)
    assert not any(isinstance(m, nn.BatchNorm2d) and m.num_features == 768 for m in net.aux_head.modules())
    logits, aux = net.train()(torch.randn(2, 1, 224, 224))
    assert logits.shape == aux.shape == (2, 5)
    # the first cell's input 0 comes from the stride-4 stem part, input 1 from stride 8
    assert isinstance(net.trunk.cells[0].preprocess0, FactorizedReduce)


def test_segmentation_network_output_stride_16():
    torch.manual_seed(0)
    net = SegmentationNetwork("darts_v2", width=4, cells=3, num_classes=19, aspp_channels=8).eval()
    x = torch.randn(1, 3, 129, 129)
    with torch.no_grad():
        assert net.features(x).shape[-2:] == (9, 9)
        assert net(x).shape == (1, 19, 129, 129)
    assert sum(c.reduction for c in net.trunk.cells) == 1
    with torch.device("meta"):
        big = SegmentationNetwork("darts_v2", width=4, cells=3, aspp_channels=8)
        assert big.features(torch.zeros(1, 3, 769, 769)).shape[-2:] == (49, 49)


# ----------------------------------------------------------------------------- drop-path
def test_drop_path_zeroes_whole_samples_and_rescales():
    torch.manual_seed(0)
    x = torch.ones(64, 2, 3, 3)
    y = drop_path(x, 0.5)
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()
    assert 0 < (per_sample[:, 0] == 0).sum() < 64


def test_drop_path_only_in_training():
    torch.manual_seed(0)
    net = CifarNetwork("darts_v2", width=4, cells=3, drop_path=0.3)
    x = torch.randn(4, 3, 16, 16)
    net.eval()
    with torch.no_grad():
        a, b = net(x), net(x)
        net.drop_prob = 0.0
        c = net(x)
    assert torch.equal(a, b) and torch.equal(a, c)
    net.train()
    net.drop_prob = 0.3
    with torch.no_grad():
        assert not torch.allclose(net(x), net(x))


# ----------------------------------------------------------------------------- build_network
def test_build_network_defaults():
    with torch.device("meta"):
        assert build_network("unnas_imagenet_cls", "imagenet").trunk.width == 44
        assert build_network("darts_v1", "imagenet").trunk.width == 48
        seg = build_network("darts_v2", "cityscapes")
        cifar = build_network("darts_v2", "cifar")
    assert (seg.trunk.width, len(seg.trunk.cells), seg.num_classes, seg.aux_head) == (82, 12, 19, None)
    assert (cifar.trunk.width, len(cifar.trunk.cells), cifar.num_classes) == (36, 20, 10)
    assert cifar.aux_head is not None


def test_build_network_accepts_list_form_and_files(tmp_path):
    g = build_network("darts_v2", "cifar", width=4, cells=2).trunk.cells[0]
    assert g.out_channels == 4 * 4 * 2  # four concat nodes, first cell reduces (2 cells: reductions at 0 and 1)
    path = tmp_path / "g.json"
    path.write_text(load_genotype("pdarts").to_json())
    net = build_network(str(path), "cifar", width=4, cells=3, aux=False)
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 10)
    listed = build_network(load_genotype("pdarts").to_list(), "cifar", width=4, cells=3, aux=False)
    assert count_params(listed) == count_params(net)


@pytest.mark.parametrize("kwargs", [
    {"setting": "imagenet", "width": 47},
    {"setting": "cityscapes", "width": 81},
    {"setting": "cifar", "width": 0},
    {"setting": "cifar", "width": -4},
    {"setting": "cifar", "cells": 1},
    {"setting": "cifar", "num_classes": 0},
    {"setting": "cityscapes", "aux": True},
    {"setting": "mnist"},
])
def test_bad_sizes_are_one_line_config_errors(kwargs):
    with pytest.raises(ConfigError) as info:
        build_network("darts_v2", **kwargs)
    assert "\n" not in str(info.value)


def test_invalid_genotype_is_a_genotype_error():
    g = [[["sep_conv_9x9", 0], ["sep_conv_3x3", 1]], [2], [["max_pool_3x3", 0], ["max_pool_3x3", 1]], [2]]
    with pytest.raises(GenotypeError):
        build_network(g, "cifar")
    g = [[["sep_conv_3x3", 0], ["sep_conv_3x3", 2]], [2], [["max_pool_3x3", 0], ["max_pool_3x3", 1]], [2]]
    with pytest.raises(GenotypeError):
        build_network(g, "cifar")
