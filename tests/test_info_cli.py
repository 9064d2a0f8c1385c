"""``unnas info`` through the real CLI entry point."""

import json

import pytest
import torch

from eval.networks import build_network
from unnas.cli import main
from unnas.complexity import count_params
from unnas.spaces.darts.genotype import load_genotype
from unnas.spaces.darts.library import PUBLISHED

KEYS = {"arch", "setting", "width", "cells", "classes", "aux", "params", "params_main", "madds", "input_size"}


def _info(capsys, *argv):
    rc = main(["info", *argv])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_cifar_record_matches_the_built_network(capsys):
    rec = _info(capsys, "darts_v2", "--setting", "cifar", "--width", "8", "--cells", "5", "--classes", "7")
    assert KEYS <= set(rec)
    assert (rec["arch"], rec["setting"], rec["width"], rec["cells"], rec["classes"], rec["aux"]) == (
        "darts_v2", "cifar", 8, 5, 7, True)
    assert rec["input_size"] == [32, 32]
    net = build_network("darts_v2", "cifar", width=8, cells=5, num_classes=7)
    assert rec["params"] == count_params(net)
    assert rec["params_main"] == count_params(net) - count_params(net.aux_head)
    assert rec["madds"] > 0


def test_no_aux_and_cityscapes_input_size(capsys):
    rec = _info(capsys, "darts_v1", "--setting", "cifar", "--width", "4", "--cells", "3", "--no-aux")
    assert rec["aux"] is False and rec["params"] == rec["params_main"]
    seg = _info(capsys, "darts_v2", "--setting", "cityscapes", "--width", "4", "--cells", "3")
    assert (seg["input_size"], seg["classes"], seg["aux"]) == ([1024, 2048], 19, False)
    small = _info(capsys, "darts_v2", "--setting", "cityscapes", "--width", "4", "--cells", "3",
                  "--input-size", "512", "1024")
    assert small["madds"] < seg["madds"]


def test_imagenet_defaults_use_the_released_width(capsys):
    rec = _info(capsys, "unnas_imagenet_rot", "--cells", "3")
    assert (rec["setting"], rec["width"], rec["classes"], rec["aux"], rec["input_size"]) == (
        "imagenet", 42, 1000, True, [224, 224])


def test_genotype_file(capsys, tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(load_genotype("pcdarts_c10").to_json())
    rec = _info(capsys, str(path), "--setting", "cifar", "--width", "4", "--cells", "3")
    assert rec["arch"] == str(path)
    with torch.device("meta"):
        net = build_network("pcdarts_c10", "cifar", width=4, cells=3)
    assert rec["params"] == count_params(net)


def test_list_and_readers(capsys):
    assert main(["info", "--list"]) == 0
    assert capsys.readouterr().out.split() == list(PUBLISHED)
    assert main(["info", "--readers"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert "cifar10" in names and "imagenet" in names


def _write(tmp_path, normal):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"normal": normal, "normal_concat": [2],
                                "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1]], "reduce_concat": [2]}))
    return str(path)


@pytest.mark.parametrize("argv", [
    ["no_such_arch"],
    ["darts_v2", "--width", "47"],
    ["darts_v2", "--setting", "cifar", "--width", "0"],
    ["darts_v2", "--setting", "cityscapes", "--aux"],
    [],
    "bad-op",
    "bad-input",
])
def test_errors_are_one_line(capsys, tmp_path, argv):
    if argv == "bad-op":
        argv = [_write(tmp_path, [["sep_conv_9x9", 0], ["sep_conv_3x3", 1]])]
    elif argv == "bad-input":
        argv = [_write(tmp_path, [["sep_conv_3x3", 0], ["sep_conv_3x3", 2]])]
    rc = main(["info", *argv])
    out, err = capsys.readouterr()
    assert rc != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unnas info: error: ")


def test_info_accepts_a_nasbench101_spec_file(tmp_path, capsys):
    """The benchmark's own example spec: 2,694,282 parameters on CIFAR, as NAS-Bench-101 reports."""
    import json

    from unnas.cli import main

    spec = {
        "matrix": [[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
                   [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
        "ops": ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu",
                "maxpool3x3", "output"],
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    assert main(["info", str(path), "--setting", "cifar"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["params"] == 2694282 and record["space"] == "nasbench101" and record["madds"] > 0
    spec["matrix"][0][6] = 1
    spec["matrix"][1][2] = 1
    spec["matrix"][2][3] = 1  # now 12 edges: over the benchmark's limit of 9
    path.write_text(json.dumps(spec))
    assert main(["info", str(path), "--setting", "cifar"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "9" in err[0]
