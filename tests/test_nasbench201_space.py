"""The NAS-Bench-201 space: strings, the official index order, connectivity, codes, sampling,
mutation, the benchmark network (both variants), its published costs and the cell picture."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from unnas.errors import GenotypeError
from unnas.spaces.nasbench201 import (CODE_OPS, EDGES, NUM_ARCHS, OPS, NB201Arch, NB201Code, NB201Network,
                                      NB201Space, all_archs, arch_at, benchmark_cost, index_of, is_connected,
                                      load_arch, load_samples, sample_architectures, save_samples)
from unnas.spaces.nasbench201.network import NB201Cell, ResNetBasicBlock


def cell(*ops: str) -> str:
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


#: index → string: the three anchors asserted by the benchmark's own code, then indices derived from its meta list.
KNOWN = {
    0: "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    9: "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
    123: "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|",
    1462: cell(*["nor_conv_3x3"] * 6),
    11472: "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
    1835: cell(*["skip_connect"] * 6),
    1651: cell(*["none"] * 6),
    7581: cell(*["avg_pool_3x3"] * 6),
    4317: cell(*["nor_conv_1x1"] * 6),
    9930: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    15474: "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    81: "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    1: "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
}


@pytest.mark.parametrize("index", sorted(KNOWN))
def test_official_index_order(index):
    assert str(arch_at(index)) == KNOWN[index]
    assert index_of(KNOWN[index]) == index == NB201Arch.parse(KNOWN[index]).index


def test_private_shuffle_is_the_official_global_one_and_leaves_the_global_rng_alone():
    saved = random.getstate()
    try:
        a, b = list(range(500)), list(range(500))
        random.seed(88)
        random.shuffle(a)
        random.Random(88).shuffle(b)
        assert a == b
        random.seed(5)
        before = random.random()
        random.seed(5)
        import unnas.spaces.nasbench201.arch as arch_module

        arch_module._INDEX = None  # rebuild the table: it must not draw from the global generator
        arch_at(3)
        assert random.random() == before
    finally:
        random.setstate(saved)


def test_every_cell_round_trips_through_string_index_json_and_code():
    archs = all_archs()
    assert len(archs) == NUM_ARCHS == 15625 == len(set(archs))
    assert archs[0].ops == ("none",) * 6 and archs[1].ops == ("none",) * 5 + ("skip_connect",)  # e(3←2) fastest
    assert archs[5].ops == ("none",) * 4 + ("skip_connect", "none")
    cs = NB201Code()
    indices = []
    for a in archs:
        s = str(a)
        assert NB201Arch.parse(s) == a == NB201Arch.from_json(json.loads(json.dumps(a.to_json())))
        i = index_of(a)
        assert arch_at(i) == a
        indices.append(i)
        code = cs.encode(a)
        assert cs.decode(code) == a == cs.project(code)
    assert sorted(indices) == list(range(NUM_ARCHS))
    assert sum(is_connected(a) for a in archs) == 15284


def test_connectivity_rule():
    assert not is_connected(NB201Arch.parse(cell(*["none"] * 6)))
    assert is_connected(NB201Arch.parse(cell("none", "none", "none", "skip_connect", "none", "none")))
    # node 2 fed only from the input, output only from node 2
    assert is_connected(NB201Arch.parse(cell("none", "avg_pool_3x3", "none", "none", "none", "nor_conv_1x1")))
    # node 1 is cut off from the input, so its path to the output does not count
    assert not is_connected(NB201Arch.parse(cell("none", "none", "none", "none", "nor_conv_3x3", "none")))


def test_json_forms_and_load_arch(tmp_path):
    a = arch_at(123)
    assert a.to_json() == {"space": "nasbench201", "arch": KNOWN[123]}
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(a.to_json()))
    for spec in (a, KNOWN[123], 123, "123", f"  {KNOWN[123]} ", a.to_json(), {"arch": KNOWN[123]}, str(path), path):
        assert load_arch(spec) == a
    with pytest.raises(GenotypeError, match="not 'nasbench201'"):
        load_arch({"space": "mr", "arch": KNOWN[0]})
    with pytest.raises(GenotypeError, match="no \"arch\""):
        load_arch({"space": "nasbench201"})
    with pytest.raises(GenotypeError, match=r"\[0, 15624\]"):
        load_arch(15625)
    with pytest.raises(GenotypeError, match="not found"):
        load_arch(str(tmp_path / "missing.json"))
    with pytest.raises(GenotypeError):
        load_arch(True)


@pytest.mark.parametrize("text, message", [
    ("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "edge 1<-0: unknown op 'nor_conv_5x5'"),
    ("|none~0|+|none~0|none~1|", "2 '\\+'-separated node groups"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 has 1 inputs"),
    ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "node 2 input 'none~2' must be op~1"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end with '\\|'"),
    ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "must be op~0"),
    ("", "node groups"),
])
def test_bad_strings_give_one_line_errors(text, message):
    with pytest.raises(GenotypeError, match=message) as info:
        NB201Arch.parse(text)
    assert "\n" not in str(info.value)
    if "unknown op" in message:
        assert all(op in str(info.value) for op in OPS)


def test_bad_op_tuples():
    with pytest.raises(GenotypeError, match="6 ops"):
        NB201Arch(("none",) * 5)
    with pytest.raises(GenotypeError, match="edge 3<-2: unknown op 'conv'.*none, skip_connect"):
        NB201Arch(("none",) * 5 + ("conv",))
    with pytest.raises(GenotypeError, match="6 ops"):
        NB201Arch("none")


# ---------------------------------------------------------------------- published costs (NATS-Bench records)
@pytest.mark.parametrize("index, dataset, params, flops", [
    (0, "cifar10", "0.129306", "15.64737"), (0, "cifar100", "0.135156", "15.65322"),
    (0, "ImageNet16-120", "0.136456", "3.91948"),
    (11, "cifar10", "0.802426", "113.95137"), (11, "cifar100", "0.808276", "113.95722"),
    (11, "ImageNet16-120", "0.809576", "28.49548"),
    (284, "cifar10", "0.101306", "11.71521"), (284, "cifar100", "0.107156", "11.72106"),
    (284, "ImageNet16-120", "0.108456", "2.93644"),
    (1462, "cifar10", "1.531546", None),  # the largest cell
    (1651, "cifar10", "0.073306", None),  # the smallest: any cell without convolutions
    (1835, "cifar10", "0.073306", None),
    (7581, "cifar10", "0.073306", None),
])
def test_benchmark_cost_matches_published_records(index, dataset, params, flops):
    cost = benchmark_cost(index, dataset)
    decimals = len(params.split(".")[1])
    assert f"{cost['params_M']:.{decimals}f}" == params and cost["params"] == round(float(params) * 1e6)
    if flops is not None:
        assert f"{cost['flops_M']:.{len(flops.split('.')[1])}f}" == flops
    assert isinstance(cost["params"], int) and isinstance(cost["flops"], int)


def test_benchmark_cost_counts_the_zero_cost_variant_biases_and_rejects_unknown_datasets():
    bench, proxy = benchmark_cost(11472), benchmark_cost(11472, variant="zero_cost")
    # two conv3x3 edges per cell, 5 cells per stage at 16, 32, 64 channels: biases replace BN affine parameters
    assert proxy["params"] - bench["params"] == 5 * 2 * (16 + 32 + 64) - 5 * 2 * 2 * (16 + 32 + 64)
    assert proxy["flops"] - bench["flops"] == 5 * 2 * (16 * 32 * 32 + 32 * 16 * 16 + 64 * 8 * 8)
    with pytest.raises(GenotypeError, match="unknown dataset 'svhn'"):
        benchmark_cost(0, "svhn")


# ---------------------------------------------------------------------- networks
@pytest.mark.parametrize("variant", ["benchmark", "zero_cost"])
@pytest.mark.parametrize("side", [16, 32])
def test_network_forward_shapes(variant, side):
    torch.manual_seed(0)
    x = torch.randn(2, 3, side, side)
    net = NB201Network(KNOWN[9930], num_classes=7, C=4, N=1, variant=variant)
    assert net(x).shape == (2, 7) and net.out_channels == 16
    assert net.features(x).shape == (2, 16, side // 4, side // 4)
    assert (net.features(x) >= 0).all()  # after the head's BN-ReLU
    trunk = NB201Network(0, num_classes=None, C=4, N=1, variant=variant, in_channels=1)
    assert trunk(torch.randn(2, 1, side, side)).shape == (2, 16, side // 4, side // 4) and trunk.classifier is None
    assert NB201Network(0, num_classes=0, C=4, N=1).classifier is None


def test_network_structure_follows_the_benchmark():
    net = NB201Network(KNOWN[0], C=4, N=2)
    stem_conv, stem_bn = net.stem
    assert stem_conv.bias is None and stem_conv.kernel_size == (3, 3) and isinstance(stem_bn, nn.BatchNorm2d)
    assert len(net.stem) == 2  # no ReLU in the stem
    kinds = [type(m).__name__ for m in net.cells]
    cells, red = ["NB201Cell"] * 2, ["ResNetBasicBlock"]
    assert kinds == cells + red + cells + red + cells
    red = net.cells[2]
    pool, conv = red.shortcut
    assert isinstance(pool, nn.AvgPool2d) and conv.bias is None and conv.kernel_size == (1, 1)
    pools = [m for m in net.modules() if isinstance(m, nn.AvgPool2d) and m.kernel_size == 3]
    assert pools and all(not p.count_include_pad for p in pools)
    assert type(net.cells[0].edges[0]).__name__ == "AvgPool2d" and type(net.cells[0].edges[2]).__name__ == "Identity"
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.affine and m.track_running_stats and m.eps == 1e-5 and m.momentum == 0.1
        if isinstance(m, nn.Conv2d):
            assert m.bias is None
    # none contributes zeros: a cell of only none edges outputs exactly zero
    zero = NB201Cell(NB201Arch(("none",) * 6), 4)
    assert torch.equal(zero(torch.randn(1, 4, 5, 5)), torch.zeros(1, 4, 5, 5))


def test_zero_cost_variant_changes_only_the_searched_cells():
    net = NB201Network(KNOWN[1462], C=4, N=1, variant="zero_cost")
    cells = [m for m in net.cells if isinstance(m, NB201Cell)]
    for c in cells:
        for m in c.modules():
            if isinstance(m, nn.BatchNorm2d):
                assert not m.affine and not m.track_running_stats and m.weight is None and m.running_mean is None
            if isinstance(m, nn.Conv2d):
                assert m.bias is not None
    for block in (m for m in net.cells if isinstance(m, ResNetBasicBlock)):
        for m in block.modules():
            if isinstance(m, nn.BatchNorm2d):
                assert m.affine and m.track_running_stats
            if isinstance(m, nn.Conv2d):
                assert m.bias is None
    assert net.stem[1].affine and net.lastact[0].affine
    net.eval()  # cell BN without running stats still normalises with the batch's statistics in eval mode
    assert torch.isfinite(net(torch.randn(3, 3, 16, 16))).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(C=0), "C must be an integer of at least 1"), (dict(N=0), "N must be"),
    (dict(in_channels=0), "in_channels must be"), (dict(variant="proxy"), "unknown variant 'proxy'"),
    (dict(num_classes=-1), "num_classes must be"),
])
def test_network_rejects_bad_settings(kwargs, message):
    with pytest.raises(GenotypeError, match=message) as info:
        NB201Network(0, **kwargs)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------- code
def test_code_layout_is_ncps():
    cs = NB201Code()
    assert cs.dim == 30 and CODE_OPS == ("avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
    assert cs.groups[0] == ("e1<-0", 0, 5, "onehot") and cs.groups[-1] == ("e3<-2", 25, 30, "onehot")
    assert [g[0] for g in cs.groups] == [f"e{t}<-{f}" for t, f in EDGES]
    assert len(cs.labels()) == 30 and cs.labels()[0] == "e1<-0=avg_pool_3x3"
    # arch 0 = avgpool | conv1x1 skip | conv1x1 skip skip, in NCP's one-hot positions
    expect = np.zeros(30, dtype=np.float32)
    for k, pos in enumerate([0, 3, 2, 3, 2, 2]):
        expect[5 * k + pos] = 1
    assert np.array_equal(cs.encode(arch_at(0)), expect)
    assert cs.default() == arch_at(11472) and cs.load(11472) == cs.default()
    assert cs.to_json(cs.default()) == cs.default().to_json() and cs.describe(arch_at(0)) == KNOWN[0]


def test_code_projection_and_decode_errors():
    cs = NB201Code()
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = rng.normal(size=30)
        a = cs.project(v)
        assert [CODE_OPS[int(np.argmax(v[5 * k:5 * k + 5]))] for k in range(6)] == list(a.ops)
        assert cs.project(cs.encode(a)) == a
    with pytest.raises(GenotypeError, match="code group e1<-0 is not one-hot"):
        cs.decode(np.full(30, 0.2))
    with pytest.raises(GenotypeError, match="has 30 values"):
        cs.project(np.zeros(29))
    with pytest.raises(GenotypeError, match="NaN"):
        cs.project(np.full(30, np.nan))


# ---------------------------------------------------------------------- black-box view and samples
def test_space_sample_mutate_decisions():
    space, rng = NB201Space(), np.random.default_rng(1)
    assert space.space == "nasbench201" and space.arch_file == "arch.json" and space.decisions() == [5] * 6
    draws = [space.sample(rng) for _ in range(400)]
    for k in range(6):
        assert {a.ops[k] for a in draws} == set(OPS)
    assert any(not is_connected(a) for a in [space.sample(rng) for _ in range(3000)])  # uniform over all 15,625
    for parent in draws:
        child = space.mutate(parent, rng)
        assert space.valid(child) and child != parent
        assert sum(p != c for p, c in zip(parent.ops, child.ops)) == 1
        assert space.from_json(space.to_json(child)) == child and space.key(child) == str(child)
        assert np.array_equal(space.encode(child), NB201Code().encode(child))
    choices = [int(c) for c in rng.integers(5, size=6)]
    assert space.from_decisions(choices).ops == tuple(OPS[c] for c in choices)


def test_connected_only_space():
    space, rng = NB201Space(connected_only=True), np.random.default_rng(2)
    for _ in range(300):
        a = space.sample(rng)
        assert is_connected(a) and is_connected(space.mutate(a, rng))
    assert space.from_decisions([0] * 6) is None and not space.valid(NB201Arch(("none",) * 6))
    assert NB201Space().valid(NB201Arch(("none",) * 6))


def test_samples_are_seeded_prefix_stable_and_round_trip(tmp_path):
    a = sample_architectures(20, seed=3)
    assert a[:5] == sample_architectures(5, seed=3) and a != sample_architectures(20, seed=4)
    assert [i for i, _ in a[:3]] == ["00000", "00001", "00002"]
    path = save_samples(tmp_path / "s.json", a, seed=3)
    assert load_samples(path) == a
    assert json.loads(path.read_text())["archs"][0] == {"id": "00000", "arch": str(a[0][1])}
    assert all(is_connected(x) for _, x in sample_architectures(50, seed=0, connected_only=True))


def test_cell_picture(tmp_path):
    from unnas.spaces.nasbench201.plots import plot_cell

    for spec in (0, 1651):
        out = plot_cell(spec, tmp_path / f"cell{spec}.png")
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
