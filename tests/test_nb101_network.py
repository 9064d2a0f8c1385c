"""The NAS-Bench-101 network: the benchmark's channel rule, parameter counts, shapes."""

import numpy as np
import pytest
import torch

from unnas.errors import GenotypeError
from unnas.spaces.nasbench101.network import NB101Network, vertex_channels
from unnas.spaces.nasbench101.spec import ModelSpec

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
INCEPTION = ModelSpec([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
                       [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
                      ["input", C1, C3, C3, C3, MP, "output"])
INCEPTION_STORED = ModelSpec([[0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                              [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1],
                              [0, 0, 0, 0, 0, 0, 0]], ["input", C3, C1, MP, C3, C3, "output"])
# Output fed by 2, 3, 4 (uneven split), vertex 3 feeds the narrower vertex 4 (truncation), input→output.
UNEVEN = ModelSpec([[0, 1, 0, 0, 1, 1], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 1],
                    [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]], ["input", C3, MP, C1, C3, "output"])


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_vertex_channel_rule():
    assert vertex_channels(128, 128, INCEPTION.matrix) == [128, 32, 32, 32, 32, 32, 128]
    # 256 = 86 + 85 + 85 (remainder to the first), vertex 1 takes the widest successor
    assert vertex_channels(128, 256, UNEVEN.matrix) == [128, 86, 86, 85, 85, 256]
    assert vertex_channels(64, 128, np.array([[0, 1], [0, 0]])) == [64, 128]


def test_parameter_count_matches_the_benchmark():
    # The benchmark reports 2,694,282 trainable parameters for its Inception-like example
    # (CIFAR network, stem 128, 3 stacks × 3 modules, 10 classes); both labellings agree.
    assert n_params(NB101Network(INCEPTION)) == 2_694_282
    assert n_params(NB101Network(INCEPTION_STORED)) == 2_694_282


@pytest.mark.parametrize("spec", [INCEPTION, UNEVEN, ModelSpec([[0, 1], [0, 0]], ["input", "output"])])
def test_cifar_forward_shapes(spec):
    net = NB101Network(spec, "cifar", num_classes=10, stem_width=8)
    x = torch.randn(2, 3, 32, 32)
    f = net.features(x)
    assert net.out_channels == 32 and f.shape == (2, 32, 8, 8)
    y = net(x)
    assert y.shape == (2, 10)
    if spec is UNEVEN:  # gradients reach every weight through the truncated sums
        y.sum().backward()
        assert all(p.grad is not None for p in net.parameters())


def test_imagenet_stem_gray_input_and_trunk_mode():
    net = NB101Network(UNEVEN, "imagenet", num_classes=None, stem_width=8, in_channels=1)
    assert len(net.stacks) == 4 * 3 + 2  # 4 modules per stack, 2 pools
    out = net(torch.randn(2, 1, 64, 64))  # stride 8 stem, then two 2×2 pools
    assert out.shape == (2, net.out_channels, 2, 2) and net.out_channels == 32
    assert [blk[0].out_channels for blk in net.stem] == [4, 8, 8]
    assert [blk[0].stride for blk in net.stem] == [(2, 2)] * 3


def test_bad_settings_are_one_line_errors():
    with pytest.raises(GenotypeError, match="unknown setting 'mnist'"):
        NB101Network(INCEPTION, "mnist")
    with pytest.raises(GenotypeError, match="modules_per_stack must be at least 1"):
        NB101Network(INCEPTION, modules_per_stack=0)
