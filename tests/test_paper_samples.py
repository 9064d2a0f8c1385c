"""The paper's 500 + 500 sampled architectures ship as package data and parse."""

from collections import Counter

import pytest

from unnas.errors import ConfigError
from unnas.spaces.darts.genotype import Genotype
from unnas.trials.darts_sampler import load_samples, save_samples, Sample
from unnas.study.samples import load_paper_samples


def test_darts_samples_load_with_the_released_ids_and_op_statistics(tmp_path):
    samples = load_paper_samples("darts")
    ids = [i for i, _ in samples]
    assert len(samples) == 500 and len(set(ids)) == 500
    assert min(ids) == "00004" and max(ids) == "02771" and all(len(i) == 5 for i in ids)
    assert all(isinstance(g, Genotype) for _, g in samples)
    ops = Counter(op for _, g in samples for op, _ in g.normal + g.reduce)
    assert ops == {"sep_conv_5x5": 1549, "sep_conv_3x3": 1345, "dil_conv_5x5": 1099, "dil_conv_3x3": 985,
                   "skip_connect": 775, "none": 765, "max_pool_3x3": 750, "avg_pool_3x3": 732}
    assert all(g.normal_concat == g.reduce_concat == (2, 3, 4, 5) for _, g in samples)
    first = dict(samples)["00004"]
    assert first.normal[:2] == (("avg_pool_3x3", 1), ("sep_conv_3x3", 1))
    assert first.reduce[-1] == ("skip_connect", 4)
    # the sampler's file format round-trips them
    path = tmp_path / "s.json"
    save_samples(path, [Sample(i, g) for i, g in samples[:3]])
    assert [(s.id, s.genotype) for s in load_samples(path)] == samples[:3]


def test_nasbench101_samples_load_as_matrix_and_ops():
    samples = load_paper_samples("nasbench101")
    assert len(samples) == 500
    ids = [i for i, _ in samples]
    assert min(ids) == "000907" and max(ids) == "423150"
    sizes = Counter(len(spec["ops"]) for _, spec in samples)
    assert sizes == {7: 428, 6: 69, 5: 3}
    spec = dict(samples)["000907"]
    assert spec["ops"][0] == "input" and spec["ops"][-1] == "output"
    assert spec["matrix"][0] == [0, 1, 0, 1, 0, 0, 0]
    assert load_paper_samples("nb101") == samples


def test_unknown_space_is_a_one_line_error():
    with pytest.raises(ConfigError, match="no paper samples for space 'nasbench201'"):
        load_paper_samples("nasbench201")
