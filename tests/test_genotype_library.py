"""The library of published genotypes: every name loads, round-trips and builds a network."""

import json

import pytest
import torch

from eval.networks import CifarNetwork
from unnas.errors import GenotypeError
from unnas.spaces.darts.genotype import Genotype, load_genotype, named_genotypes
from unnas.spaces.darts.library import EVAL_WIDTHS, PUBLISHED, parse_cell

EXPECTED_NAMES = {"nas", "pnas", "amoeba", "darts_v1", "darts_v2", "pdarts", "pcdarts_c10", "pcdarts_in1k"} | {
    f"unnas_{data}_{task}"
    for data, first in (("imagenet", "cls"), ("imagenet22k", "cls"), ("cityscapes", "seg"))
    for task in (first, "rot", "col", "jig")
}


def test_all_published_names_are_registered():
    assert set(PUBLISHED) == EXPECTED_NAMES
    assert EXPECTED_NAMES <= set(named_genotypes())


@pytest.mark.parametrize("name", PUBLISHED)
def test_round_trips(name):
    g = load_genotype(name)
    assert Genotype.from_obj(g.to_dict()) == g
    assert Genotype.from_obj(g.to_list()) == g
    assert Genotype.from_obj(json.loads(g.to_json())) == g
    # The notation str() prints parses back to the same cells.
    normal_text, reduce_text = (line.split(": ", 1)[1].rsplit("; concat", 1)[0] for line in str(g).splitlines())
    assert parse_cell(normal_text) == list(g.normal)
    assert parse_cell(reduce_text) == list(g.reduce)


@pytest.mark.parametrize("name", PUBLISHED)
def test_builds_a_cifar_network(name):
    torch.manual_seed(0)
    net = CifarNetwork(name, width=4, cells=3, num_classes=10).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_darts_v2_matches_the_darts_paper():
    g = load_genotype("darts_v2")
    assert list(g.normal) == [
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2),
    ]
    assert list(g.reduce) == [
        ("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
        ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1),
    ]
    assert g.normal_concat == g.reduce_concat == (2, 3, 4, 5)


def test_five_node_genotypes_keep_their_concat():
    assert load_genotype("nas").reduce_concat == (4, 5, 6)
    amoeba = load_genotype("amoeba")
    assert (amoeba.normal_concat, amoeba.reduce_concat) == ((4, 5, 6), (3, 4, 6))
    assert amoeba.reduce[-2] == ("conv_7x1_1x7", 0)
    pnas = load_genotype("pnas")
    assert pnas.normal == pnas.reduce and pnas.nodes == 5


def test_unnas_cityscapes_col_reduce_cell_is_pooling_only():
    ops = {op for op, _ in load_genotype("unnas_cityscapes_col").reduce}
    assert ops == {"avg_pool_3x3", "skip_connect"}


@pytest.mark.parametrize("text", ["n2=sep3(1)", "n3=sep3(1)+sep3(0)", "n2=conv9(0)+sep3(1)", "n2=sep3(x)+sep3(0)"])
def test_bad_notation_is_rejected(text):
    with pytest.raises(GenotypeError):
        parse_cell(text)


def test_eval_widths_name_published_genotypes():
    assert EVAL_WIDTHS["imagenet"]["darts_v2"] == 48
    assert EVAL_WIDTHS["imagenet"]["unnas_cityscapes_col"] == 54
    # the release's Cityscapes eval configs: one width per published genotype (12 cells)
    by_width = {86: {"unnas_cityscapes_col"},
                80: {"unnas_cityscapes_jig", "unnas_cityscapes_seg", "unnas_imagenet_col", "unnas_imagenet22k_cls"},
                78: {"unnas_cityscapes_rot", "unnas_imagenet_cls", "unnas_imagenet_rot", "unnas_imagenet_jig",
                     "unnas_imagenet22k_rot", "unnas_imagenet22k_col", "unnas_imagenet22k_jig"},
                82: {"darts_v2"}}
    assert EVAL_WIDTHS["cityscapes"] == {name: w for w, names in by_width.items() for name in names}
    assert set(EVAL_WIDTHS["cityscapes"]) == {n for n in PUBLISHED if n.startswith("unnas_")} | {"darts_v2"}
    assert all(78 <= w <= 86 for w in EVAL_WIDTHS["cityscapes"].values())  # UNNAS_FACTS B.7
    for widths in EVAL_WIDTHS.values():
        assert set(widths) <= set(PUBLISHED)
        assert all(w % 2 == 0 for w in widths.values())
