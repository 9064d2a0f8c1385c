"""The TransNAS-Bench-101 micro and macro spaces: strings, rules and counts, codes, sampling,
mutation, decisions, the encoder networks, their cost and the pictures."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from torch import nn

from unnas.errors import GenotypeError
from unnas.spaces.transnas import (MacroArch, MacroCode, MicroArch, MicroCode, TransNASMacroSpace,
                                   TransNASMicroSpace, TransNASNetwork, all_archs, encoder_cost, load_arch,
                                   load_samples, macro_archs, macro_neighbours, micro_archs, parse_arch,
                                   sample_architectures, save_samples)
from unnas.spaces.transnas.network import BasicBlock, FactorizedReduce, MicroCell, Zero


def follows_rules(d: tuple[int, ...]) -> bool:
    """The macro rules, written out again: 4-6 modules, 1-4 with stride 2 (3, 4), 1-3 widening (2, 4)."""
    return 4 <= len(d) <= 6 and 1 <= sum(v in (3, 4) for v in d) <= 4 and 1 <= sum(v in (2, 4) for v in d) <= 3


# ---------------------------------------------------------------------- strings, counts, rules
def test_micro_space_round_trips_every_cell():
    archs = micro_archs()
    assert len(archs) == 4096 == len(set(archs)) and all_archs("transnas_micro") == archs
    assert str(archs[0]) == "64-41414-0_00_000" and str(archs[1]) == "64-41414-0_00_001"
    for a in archs:
        s = str(a)
        assert MicroArch.parse(s) == a == parse_arch(s) == load_arch(a.to_json())
        assert a.to_json() == {"space": "transnas_micro", "arch": s}
    a = MicroArch.parse("64-41414-1_02_333")
    assert a.digits == (1, 0, 2, 3, 3, 3) and a.ops[:3] == ("skip_connect", "none", "nor_conv_1x1")
    assert a.modules == (4, 1, 4, 1, 4) and a.cell == "1_02_333"


def test_macro_space_has_3256_skeletons_under_the_rules():
    archs = macro_archs()
    assert len(archs) == 3256 == len(set(archs)) and all_archs("macro") == archs
    by_length = {n: sum(len(a.modules) == n for a in archs) for n in (4, 5, 6)}
    assert by_length == {4: 210, 5: 750, 6: 2296}
    brute = {d for n in range(1, 8) for d in itertools.product(range(1, 5), repeat=n) if follows_rules(d)}
    assert {a.modules for a in archs} == brute
    for a in archs:
        assert MacroArch.parse(str(a)) == a == parse_arch(str(a)) == load_arch(str(a))
    a = MacroArch.parse("64-2311-basic")
    assert a.widths() == [128, 128, 128, 128] and a.reductions() == [4, 8, 8, 8]
    assert a.downsampling == 1 and a.doubling == 1
    assert MacroArch.parse("64-41414-basic").widths(16) == [32, 32, 64, 64, 128]


@pytest.mark.parametrize("text, message", [
    ("64-41414-1_02_334", "edge 3<-2 of '64-41414-1_02_334' has op digit 4; the digits are 0-3"),
    ("64-41414-1_02_33", "is not a_bc_def"),
    ("64-4141-1_02_333", "skeleton is fixed at 41414"),
    ("32-41414-1_02_333", "start with 64"),
    ("64-1111-basic", "0 downsampling modules"),
    ("64-3333-basic", "0 channel-doubling modules"),
    ("64-44441-basic", "4 channel-doubling modules"),
    ("64-333324-basic", "5 downsampling modules"),
    ("64-234-basic", "has 3 modules; the macro space has 4 to 6"),
    ("64-2341111-basic", "has 7 modules"),
    ("64-2351-basic", "module digit 5 must be 1-4"),
    ("64-2301-basic", "module digit 0 must be 1-4"),
    ("64-23a1-basic", "must be digits"),
    ("64-41414", "not base-skeleton-cell"),
    ("nonsense", "not base-skeleton-cell"),
])
def test_bad_strings_give_one_line_errors(text, message):
    with pytest.raises(GenotypeError, match=message) as info:
        parse_arch(text)
    assert "\n" not in str(info.value)


def test_space_specific_parsers_and_load_arch(tmp_path):
    with pytest.raises(GenotypeError, match="is a macro-space string"):
        MicroArch.parse("64-2311-basic")
    with pytest.raises(GenotypeError, match="end in 'basic'"):
        MacroArch.parse("64-41414-1_02_333")
    with pytest.raises(GenotypeError, match="belongs to transnas_macro, not transnas_micro"):
        load_arch("64-2311-basic", "transnas_micro")
    with pytest.raises(GenotypeError, match="not 'transnas_micro'"):
        MicroArch.from_json({"space": "transnas_macro", "arch": "64-41414-1_02_333"})
    with pytest.raises(GenotypeError, match="end in 'basic'"):
        load_arch({"space": "transnas_macro", "arch": "64-41414-1_02_333"})
    with pytest.raises(GenotypeError, match="space is 'nasbench201'"):
        load_arch({"space": "nasbench201", "arch": "64-2311-basic"})
    with pytest.raises(GenotypeError, match="no index form"):
        load_arch(5)
    with pytest.raises(GenotypeError, match="unknown TransNAS-Bench-101 space"):
        load_arch("64-2311-basic", "transnas")
    path = tmp_path / "arch.json"
    path.write_text(json.dumps({"space": "transnas_macro", "arch": "64-2311-basic"}))
    assert load_arch(path) == load_arch(str(path), "macro") == MacroArch((2, 3, 1, 1))
    assert load_arch({"arch": "64-41414-1_02_333"}) == MicroArch((1, 0, 2, 3, 3, 3))
    with pytest.raises(GenotypeError, match="not found"):
        load_arch(tmp_path / "nope.json")
    with pytest.raises(GenotypeError, match="6 op digits"):
        MicroArch((1, 2, 3))
    with pytest.raises(GenotypeError, match="edge 1<-0: op digit 7"):
        MicroArch((7, 0, 0, 0, 0, 0))


# ---------------------------------------------------------------------- codes
def test_micro_code_round_trip_and_projection():
    cs = MicroCode()
    assert cs.dim == 24 and cs.groups[1] == ("e2<-0", 4, 8, "onehot") and cs.labels()[3] == "e1<-0=nor_conv_3x3"
    for a in micro_archs():
        code = cs.encode(a)
        assert code.sum() == 6 and cs.decode(code) == a == cs.project(code)
    rng = np.random.default_rng(0)
    for _ in range(100):
        v = rng.normal(size=24)
        assert cs.project(v).digits == tuple(int(np.argmax(v[4 * k:4 * k + 4])) for k in range(6))
    with pytest.raises(GenotypeError, match="code group e1<-0 is not one-hot"):
        cs.decode(np.zeros(24))
    assert str(cs.default()) == "64-41414-3_03_101" and cs.load(str(cs.default())) == cs.default()


def test_macro_code_round_trip_decode_errors_and_nearest_projection():
    cs = MacroCode()
    assert cs.dim == 30 and cs.groups[-1] == ("m6", 25, 30, "onehot") and cs.labels()[:2] == ["m1=absent", "m1=1"]
    code = cs.encode("64-2311-basic")
    assert [int(np.argmax(code[5 * k:5 * k + 5])) for k in range(6)] == [2, 3, 1, 1, 0, 0]
    archs = macro_archs()
    codes = np.stack([cs.encode(a) for a in archs]).astype(np.float64)
    for a, c in zip(archs, codes):
        assert cs.decode(c) == a == cs.project(c)
    gap = cs.encode("64-23111-basic")
    gap[5 * 3:5 * 4] = np.eye(5)[0]  # position 4 absent, position 5 a module
    with pytest.raises(GenotypeError, match="position m4 is absent but a later one holds a module"):
        cs.decode(gap)
    assert cs.project(gap) in set(archs)
    broken = cs.encode("64-2311-basic")
    broken[0:5] = np.eye(5)[1]  # 1311: no channel doubling
    with pytest.raises(GenotypeError, match="0 channel-doubling modules"):
        cs.decode(broken)
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = rng.normal(size=30) * rng.choice([0.1, 1.0, 5.0])
        p = cs.project(v)
        distances = ((codes - v) ** 2).sum(axis=1)
        assert np.isclose(((cs.encode(p) - v) ** 2).sum(), distances.min())
        assert p == archs[int(np.argmin(distances))]
    assert cs.project(np.zeros(30)) == archs[0]  # ties go to the first in enumeration order
    assert str(cs.default()) == "64-41414-basic"


# ---------------------------------------------------------------------- black-box views
def test_micro_space_view():
    space, rng = TransNASMicroSpace(), np.random.default_rng(0)
    assert space.space == "transnas_micro" and space.arch_file == "arch.json" and space.decisions() == [4] * 6
    draws = [space.sample(rng) for _ in range(500)]
    for k in range(6):
        assert {a.digits[k] for a in draws} == {0, 1, 2, 3}
    for a in draws:
        child = space.mutate(a, rng)
        assert space.valid(child) and child != a and sum(x != y for x, y in zip(a.digits, child.digits)) == 1
        assert space.from_json(space.to_json(child)) == child and space.key(child) == str(child)
        assert space.encode(child).shape == (24,)
    assert space.from_decisions([1, 0, 2, 3, 3, 3]) == MicroArch.parse("64-41414-1_02_333")


def one_edit_apart(a: tuple[int, ...], b: tuple[int, ...]) -> str | None:
    """Which single add / delete / change turns a into b, if any."""
    if len(b) == len(a) + 1 and any(b[:k] + b[k + 1:] == a for k in range(len(b))):
        return "add"
    if len(b) == len(a) - 1 and any(a[:k] + a[k + 1:] == b for k in range(len(a))):
        return "delete"
    if len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1:
        return "change"
    return None


def test_macro_mutation_is_always_valid_different_and_one_edit():
    space, rng = TransNASMacroSpace(), np.random.default_rng(0)
    assert space.space == "transnas_macro" and space.decisions() == [5] * 6
    kinds = set()
    parents = [space.sample(rng) for _ in range(600)] + [MacroArch.parse("64-4111-basic"),
                                                       MacroArch.parse("64-444311-basic")]
    for parent in parents:
        child = space.mutate(parent, rng)
        assert space.valid(child) and child != parent and follows_rules(child.modules)
        kind = one_edit_apart(parent.modules, child.modules)
        assert kind is not None, (parent, child)
        kinds.add(kind)
    assert kinds == {"add", "delete", "change"}
    n = macro_neighbours(MacroArch.parse("64-4111-basic"))
    assert n["delete"] == [] and all(len(a.modules) == 5 for a in n["add"])  # 4 modules: no delete
    assert all(len(a.modules) == 5 for a in macro_neighbours(MacroArch.parse("64-444311-basic"))["delete"])
    assert macro_neighbours(MacroArch.parse("64-444311-basic"))["add"] == []


def test_macro_decisions():
    space = TransNASMacroSpace()
    assert space.from_decisions([2, 3, 1, 1, 0, 0]) == MacroArch.parse("64-2311-basic")
    assert space.from_decisions([2, 0, 3, 1, 0, 1]) == MacroArch.parse("64-2311-basic")  # zeros are skipped
    assert space.from_decisions([1, 1, 1, 1, 0, 0]) is None  # no downsampling
    assert space.from_decisions([2, 3, 1, 0, 0, 0]) is None  # 3 modules
    assert all(space.from_decisions(a.modules + (0,) * (6 - len(a.modules))) == a for a in macro_archs()[::50])


def test_samples_are_seeded_and_round_trip(tmp_path):
    for space in ("transnas_micro", "transnas_macro"):
        a = sample_architectures(space, 30, seed=1)
        assert a[:4] == sample_architectures(space, 4, seed=1) and all(x.space == space for _, x in a)
        path = save_samples(tmp_path / f"{space}.json", a, seed=1)
        assert load_samples(path) == a and json.loads(path.read_text())["space"] == space
    with pytest.raises(GenotypeError, match="one space"):
        save_samples(tmp_path / "mixed.json", [("0", micro_archs()[0]), ("1", macro_archs()[0])])


# ---------------------------------------------------------------------- networks
@pytest.mark.parametrize("text", ["64-41414-1_02_333", "64-41414-0_11_230", "64-2311-basic", "64-412341-basic"])
@pytest.mark.parametrize("side", [32, 64])
def test_encoder_forward_shapes(text, side):
    torch.manual_seed(0)
    arch = parse_arch(text)
    widths = arch.widths(8) if isinstance(arch, MacroArch) else [16, 16, 32, 32, 64]
    reduction = arch.reductions()[-1] if isinstance(arch, MacroArch) else 32
    net = TransNASNetwork(text, base_channels=8)
    assert net.out_channels == widths[-1] and net.reduction == reduction and net.classifier is None
    x = torch.randn(2, 3, side, side)
    f = net(x)
    assert f.shape == (2, widths[-1], side // reduction, side // reduction)
    assert torch.equal(f, net.features(x))
    head = TransNASNetwork(text, num_classes=5, base_channels=8, in_channels=1)
    assert head(torch.randn(2, 1, side, side)).shape == (2, 5)


def test_micro_cell_ops_with_a_stride_and_width_change():
    x = torch.randn(2, 4, 7, 7)
    assert Zero(4, 8, 2)(x).shape == (2, 8, 4, 4) and not Zero(4, 8, 2)(x).any()
    assert torch.equal(Zero(4, 4, 1)(x), torch.zeros_like(x))
    fr = FactorizedReduce(4, 9, 2)
    assert fr(x).shape == (2, 9, 4, 4) and fr.conv_1.out_channels + fr.conv_2.out_channels == 9
    cell = MicroCell(MicroArch((1, 0, 3, 2, 1, 1)), 4, 8, 2)
    assert isinstance(cell.edges[0], FactorizedReduce) and isinstance(cell.edges[4], nn.Identity)
    assert cell.edges[3].op[1].stride == (2, 2) and cell.edges[2].op[1].stride == (1, 1)
    assert cell(x).shape == (2, 8, 4, 4)


def test_basic_block_shortcut_quirk_and_init():
    net = TransNASNetwork("64-2311-basic", base_channels=8)
    first = net.layers[0][0]
    assert isinstance(first, BasicBlock) and isinstance(net.layers[0][1].shortcut, nn.Identity)
    conv, bn = first.shortcut
    assert conv.kernel_size == (1, 1) and conv.bias is None
    assert bn.eps == 1.0 and bn.momentum == 1.0 and bn.affine and bn.track_running_stats
    plain = TransNASNetwork("64-2311-basic", base_channels=8, quirk_shortcut_bn=False).layers[0][0].shortcut[1]
    assert plain.eps == 1e-5 and plain.momentum == 0.1
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight)) and not m.bias.any()
    stem = net.stem
    assert [type(m).__name__ for m in stem] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"]
    assert stem[0].out_channels == 4 and stem[3].out_channels == 8 and stem[0].stride == (2, 2)
    # Kaiming-normal fan_out: std = sqrt(2 / (out_channels · k²))
    big = TransNASNetwork("64-41414-3_33_333", base_channels=16).layers[4][1].edges[5].op[1].weight
    assert big.shape == (128, 128, 3, 3) and abs(float(big.detach().std()) - (2 / (128 * 9)) ** 0.5) < 0.001


@pytest.mark.parametrize("kwargs, message", [
    (dict(base_channels=1), "base_channels must be at least 2"), (dict(base_channels=0), "at least 1"),
    (dict(in_channels=0), "in_channels must be"), (dict(num_classes=-2), "num_classes must be"),
])
def test_encoder_rejects_bad_settings(kwargs, message):
    with pytest.raises(GenotypeError, match=message):
        TransNASNetwork("64-2311-basic", **kwargs)


def conv_cost(c_in: int, c_out: int, k: int, side: int) -> tuple[int, int]:
    """(params, MACs) of a bias-free k×k conv with a BN after it, output side² pixels."""
    return c_in * c_out * k * k + 2 * c_out, c_in * c_out * k * k * side * side


def test_encoder_cost_by_hand():
    # all-none micro cells: only the stem costs anything
    p1, m1 = conv_cost(3, 32, 3, 112)
    p2, m2 = conv_cost(32, 64, 3, 56)
    stem = {"params": p1 + p2, "macs": m1 + m2}
    cost = encoder_cost("64-41414-0_00_000")
    assert (cost["params"], cost["macs"]) == (stem["params"], stem["macs"]) == (19488, 68640768)
    # a macro skeleton, block by block
    arch = MacroArch.parse("64-2311-basic")
    params, macs, c, side = stem["params"], stem["macs"], 64, 56
    for d in arch.modules:
        stride, c_out = (2 if d > 2 else 1), (2 * c if d % 2 == 0 else c)
        side_out = side // stride
        parts = [conv_cost(c, c_out, 3, side_out), conv_cost(c_out, c_out, 3, side_out),
                 conv_cost(c_out, c_out, 3, side_out), conv_cost(c_out, c_out, 3, side_out)]
        if stride > 1 or c_out != c:
            parts.append(conv_cost(c, c_out, 1, side_out))
        params += sum(p for p, _ in parts)
        macs += sum(m for _, m in parts)
        c, side = c_out, side_out
    cost = encoder_cost(arch)
    assert (cost["params"], cost["macs"]) == (params, macs)
    assert cost["params_M"] == params / 1e6 and cost["macs_M"] == macs / 1e6
    assert encoder_cost(arch, input_size=64, base_channels=16)["macs"] < cost["macs"]


def test_pictures(tmp_path):
    from unnas.spaces.transnas.plots import plot_arch, plot_macro, plot_micro

    outs = [plot_micro("64-41414-1_02_333", tmp_path / "micro.png"), plot_macro("64-412341-basic", tmp_path / "m.png"),
            plot_arch({"space": "transnas_macro", "arch": "64-2311-basic"}, tmp_path / "a.png")]
    for out in outs:
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    with pytest.raises(GenotypeError, match="belongs to transnas_macro"):
        plot_micro("64-2311-basic", tmp_path / "x.png")
