"""The NAS-Bench-MR space: codes, projection, sampling, mutation, the network, its size, ``unnas info``, studies."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from eval.heads import ASPP
from unnas.cli import main
from unnas.errors import GenotypeError
from unnas.trials.spaces import code_space, view
from unnas.spaces.mr import MRArch, MRNetwork, MRSpace, load_arch, save_samples
from unnas.spaces.mr.arch import LABELS, RANGES

#: A small architecture whose parameters are counted by hand below. Layout: i1 i2 | stage 1: b n c |
#: stage 2: b n n c c | stage 3: b n n n c c c | stage 4: b n n n n c c c c | o
SMALL = [8, 16,
         1, 2, 8,
         1, 1, 1, 8, 16,
         2, 1, 1, 1, 16, 16, 8,
         1, 1, 1, 1, 1, 16, 16, 8, 8,
         16]
TINY = [8] * 2 + [1, 1, 8] + [1, 1, 1, 8, 8] + [1, 1, 1, 1, 8, 8, 8] + [1] * 5 + [8] * 4 + [8]


def test_layout_and_code_object():
    cs = code_space("mr")
    assert cs.dim == len(LABELS) == 27 and len(cs.groups) == 27
    assert LABELS[:5] == ("i1", "i2", "s1.blocks", "s1.units1", "s1.channels1") and LABELS[-1] == "o"
    arch = MRArch(SMALL)
    assert arch.stem == (8, 16) and arch.head == 16
    assert arch.stage(3).blocks == 2 and arch.stage(3).units == (1, 1, 1) and arch.stage(3).channels == (16, 16, 8)
    assert [len(s.channels) for s in arch.stages] == [1, 2, 3, 4]
    # the paper's initial code: b, n = 2 and c, i, o = 64
    assert sorted(set(cs.default().code)) == [2, 64] and cs.default().code.count(64) == 2 + 10 + 1


def test_encode_decode_and_json_round_trip_of_random_codes():
    cs, space = code_space("mr"), MRSpace()
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(200)]
    for arch in archs:
        code = cs.encode(arch)
        assert code.shape == (27,) and code.dtype == np.float32
        assert cs.decode(code) == arch and cs.project(code) == arch
        text = json.dumps(arch.to_json(), allow_nan=False)
        assert MRArch.from_json(json.loads(text)) == arch == cs.load(json.loads(text))
        assert space.valid(arch)
    assert len(set(archs)) == 200  # distinct codes: nothing repeats in 200 draws of a 10^24 space
    # every allowed value turns up somewhere (uniform over each range)
    for k, r in enumerate(RANGES):
        assert {a.code[k] for a in archs} == set(r), LABELS[k]


def test_projection_of_any_vector_is_the_nearest_valid_architecture():
    cs = code_space("mr")
    rng = np.random.default_rng(1)
    vectors = [rng.normal(40, scale, size=27) for scale in (5, 60, 400) for _ in range(100)]
    vectors += [rng.uniform(-300, 500, size=27) for _ in range(100)] + [-np.ones(27), np.zeros(27), np.full(27, 1e6)]
    for v in vectors:  # codes are in units of each value's step (widths ÷ 8)
        arch = cs.project(v)
        assert MRSpace().valid(arch) and cs.project(cs.encode(arch)) == arch
        for x, chosen, r in zip(v, arch.code, RANGES):
            assert all(abs(chosen / r.step - x) <= abs(other / r.step - x) + 1e-9 for other in r)


def test_decode_rounds_channels_to_multiples_of_8_and_clamps():
    cs = code_space("mr")
    v = np.array(SMALL, dtype=np.float64) / np.array([r.step for r in RANGES])  # code units: widths ÷ 8
    v[0], v[1] = 1.51, 1.49  # i1, i2 (code units of 8) -> 16, 8
    v[2], v[3], v[4] = 0.2, 2.6, -5  # s1: blocks 1, units 3, channels 8
    v[5], v[8] = 9.0, 16.4  # s2: blocks clamped to 4, channels1 to 128
    v[-1] = 1e6  # o -> 128
    arch = cs.decode(v)
    assert arch.code[:6] == (16, 8, 1, 3, 8, 4) and arch.code[8] == 128 and arch.head == 128
    assert all(arch.code[k] % 8 == 0 and 8 <= arch.code[k] <= 128
               for k, name in enumerate(LABELS) if "channels" in name or name in ("i1", "i2", "o"))
    with pytest.raises(GenotypeError, match="27 values"):
        cs.decode(np.zeros(26))
    with pytest.raises(GenotypeError, match="NaN"):
        cs.decode(np.full(27, np.nan))


def test_exact_architectures_refuse_bad_values_in_one_line(tmp_path):
    for bad, message in (([60] + SMALL[1:], "i1=60 must be a multiple of 8"), (SMALL[:-1], "list of 27"),
                         (SMALL[:2] + [5] + SMALL[3:], "s1.blocks=5 must be an integer in [1, 4]"),
                         (SMALL[:-1] + [2.5], "o=2.5")):
        with pytest.raises(GenotypeError, match=message.replace("[", r"\[")) as err:
            MRArch(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(GenotypeError, match="space"):
        MRArch.from_json({"space": "darts", "code": SMALL})
    assert MRArch(np.array(SMALL)) == MRArch([float(v) for v in SMALL]) == load_arch(SMALL)
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(MRArch(SMALL).to_json()))
    assert load_arch(str(path)) == MRArch(SMALL)


def test_mutation_is_always_valid_and_changes_exactly_one_value():
    space = MRSpace()
    rng = np.random.default_rng(2)
    arch = space.sample(rng)
    for _ in range(1000):
        child = space.mutate(arch, rng)
        assert space.valid(child) and child != arch
        assert sum(a != b for a, b in zip(arch.code, child.code)) == 1
        arch = child


def test_black_box_view_decisions_round_trip():
    space = view("mr")
    assert isinstance(space, MRSpace) and space.decisions()[:3] == [16, 16, 4]
    arch = MRArch(SMALL)
    choices = [list(r).index(v) for v, r in zip(arch.code, RANGES)]
    assert space.from_decisions(choices) == arch and space.key(arch) == str(SMALL)


@pytest.mark.parametrize("code", [TINY, SMALL, [8] * 2 + [2, 3, 16] + [1, 2, 3, 8, 24] + [1, 1, 2, 1, 8, 16, 8]
                                  + [1, 1, 1, 2, 1, 16, 8, 8, 16] + [24]])
def test_network_forward_shapes(code):
    torch.manual_seed(0)
    net = MRNetwork(code, num_classes=5)
    x = torch.randn(2, 3, 32, 32)
    assert net(x).shape == (2, 5)
    features = net.features(x)
    assert features.shape == (2, code[-1], 8, 8) and net.out_channels == code[-1]
    trunk = MRNetwork(code, num_classes=None, in_channels=1)
    assert trunk(torch.randn(1, 1, 37, 30)).shape == (1, code[-1], 10, 8)  # odd sizes: branches still line up
    seg = ASPP(net.out_channels, 3, channels=8, rates=(2,))  # the segmentation head sits on the features
    assert seg(features, (32, 32)).shape == (2, 3, 32, 32)


def _conv(k, c_in, c_out):
    return k * k * c_in * c_out


def _bn(c):
    return 2 * c


def _unit(c_in, c):
    """A basic unit: 3×3 conv + BN, 3×3 conv + BN, and a 1×1 conv + BN projection when the width changes."""
    proj = _conv(1, c_in, c) + _bn(c) if c_in != c else 0
    return _conv(3, c_in, c) + _bn(c) + _conv(3, c, c) + _bn(c) + proj


def _small_params_by_hand(classes):
    stem = _conv(3, 3, 8) + _bn(8) + _conv(3, 8, 16) + _bn(16)
    stage1 = _unit(16, 8) + _unit(8, 8)  # one block of two units; the first projects the stem's 16 channels
    # stage 2 (8, 16): branch 1 keeps 8 channels (no transition conv), branch 2 comes from branch 1 at stride 2
    trans2 = _conv(3, 8, 16) + _bn(16)
    fuse2 = (_conv(1, 16, 8) + _bn(8)  # into branch 1: 1×1 from branch 2 (then upsampled)
             + _conv(3, 8, 16) + _bn(16))  # into branch 2: one strided 3×3 from branch 1
    stage2 = _unit(8, 8) + _unit(16, 16) + fuse2
    # stage 3 (16, 16, 8), two blocks: branch 1 widens 8 -> 16, branch 3 comes from branch 2 (16 -> 8)
    trans3 = _conv(3, 8, 16) + _bn(16) + _conv(3, 16, 8) + _bn(8)
    fuse3 = (_conv(1, 16, 16) + _bn(16) + _conv(1, 8, 16) + _bn(16)  # into branch 1
             + _conv(3, 16, 16) + _bn(16) + _conv(1, 8, 16) + _bn(16)  # into branch 2
             + _conv(3, 16, 16) + _bn(16) + _conv(3, 16, 8) + _bn(8)  # into branch 3 from branch 1: two strided
             + _conv(3, 16, 8) + _bn(8))  # ... and from branch 2: one
    stage3 = 2 * (_unit(16, 16) + _unit(16, 16) + _unit(8, 8) + fuse3)
    # stage 4 (16, 16, 8, 8): no width changes, branch 4 from branch 3 (8 -> 8)
    trans4 = _conv(3, 8, 8) + _bn(8)
    fuse4 = (_conv(1, 16, 16) + _bn(16) + _conv(1, 8, 16) + _bn(16) + _conv(1, 8, 16) + _bn(16)  # into 1
             + _conv(3, 16, 16) + _bn(16) + _conv(1, 8, 16) + _bn(16) + _conv(1, 8, 16) + _bn(16)  # into 2
             + _conv(3, 16, 16) + _bn(16) + _conv(3, 16, 8) + _bn(8)  # into 3 from 1
             + _conv(3, 16, 8) + _bn(8) + _conv(1, 8, 8) + _bn(8)  # into 3 from 2 and 4
             + 2 * (_conv(3, 16, 16) + _bn(16)) + _conv(3, 16, 8) + _bn(8)  # into 4 from 1: three strided
             + _conv(3, 16, 16) + _bn(16) + _conv(3, 16, 8) + _bn(8)  # into 4 from 2: two
             + _conv(3, 8, 8) + _bn(8))  # into 4 from 3: one
    stage4 = 2 * _unit(16, 16) + 2 * _unit(8, 8) + fuse4
    head = _conv(1, 16 + 16 + 8 + 8, 16) + _bn(16) + 16 * classes + classes  # concat -> 1×1 to o, linear
    return stem + stage1 + trans2 + stage2 + trans3 + stage3 + trans4 + stage4 + head


def test_params_of_a_small_code_match_a_hand_count():
    from unnas.complexity import count_params

    assert count_params(MRNetwork(SMALL, num_classes=10)) == _small_params_by_hand(10) == 82_738


def test_info_cli_on_a_code_file(tmp_path, capsys):
    path = tmp_path / "small.json"
    path.write_text(json.dumps({"space": "mr", "code": SMALL}))
    assert main(["info", str(path), "--setting", "cifar"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert (rec["space"], rec["code"], rec["setting"], rec["classes"], rec["input_size"]) == (
        "mr", SMALL, "cifar", 10, [32, 32])
    assert rec["params"] == _small_params_by_hand(10) and rec["madds"] > 0
    assert main(["info", str(path), "--setting", "cifar", "--input-size", "16", "16", "--classes", "3"]) == 0
    small = json.loads(capsys.readouterr().out)
    assert small["params"] == _small_params_by_hand(3) and small["madds"] < rec["madds"]
    assert main(["info", str(path), "--width", "16"]) == 2
    assert "drop --width" in capsys.readouterr().err
    path.write_text(json.dumps({"space": "mr", "code": SMALL[:-1] + [12]}))
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "o=12 must be a multiple of 8" in err and len(err.strip().splitlines()) == 1


def test_studies_sample_plan_and_run_mr_architectures(tmp_path):
    from test_study_plan import tiny_config

    from unnas.study.jobs import run_job
    from unnas.study.plan import build_plan

    plan = build_plan(tiny_config(tmp_path, "space=mr", "archs=sample", "count=3", "proxies=[]"))
    assert [j["arch_id"] for j in plan["jobs"][::2]] == ["00000", "00001", "00002"] and plan["space"] == "mr"
    assert [MRArch.from_json(j["arch"]) for j in plan["jobs"][::2]] == [
        MRSpace().sample(rng) for rng in [np.random.default_rng(0)] for _ in range(3)]
    samples = save_samples(tmp_path / "mr.json", [("tiny", MRArch(TINY)), ("small", MRArch(SMALL))])
    cfg = tiny_config(tmp_path, "space=mr", f"archs={samples}", "count=1", "proxies=[naswot]")
    rows = {r["task"]: r for r in (run_job(j, cfg) for j in build_plan(cfg)["jobs"])}
    assert all(r["status"] == "ok" for r in rows.values()), [r.get("error") for r in rows.values()]
    assert rows["classification"]["madds"] == rows["rotation"]["madds"] == rows["naswot"]["madds"]
    assert math.isfinite(rows["naswot"]["metric"]) and rows["classification"]["arch_id"] == "tiny"


def test_code_propagation_ends_in_a_valid_architecture():
    from unnas.search.ncp import Term, propagate
    from unnas.search.predictor import Normaliser, Predictor, PredictorNet

    cs = code_space("mr")
    torch.manual_seed(0)
    predictor = Predictor("mr", ["acc"], PredictorNet(cs.dim, 1).eval(), Normaliser(["linear"], [0.0], [1.0]))
    r = propagate(cs, cs.encode(cs.default()), [Term(predictor, "acc")], iterations=20, project_every=10)
    assert isinstance(r.arch, MRArch) and MRSpace().valid(r.arch)
    assert r.projected and r.arch != cs.default()  # code units of one step: propagation leaves its start
    for it in r.projected:  # a projected code is an architecture's code: integers, channels multiples of 8
        assert np.array_equal(r.codes[it], cs.encode(cs.project(r.codes[it])))
