"""The DARTS sampler: uniform draws, the ResNet-56 complexity window, seeded ids, sample files."""

from collections import Counter

import numpy as np
import pytest

from unnas.complexity import count_madds, count_params
from unnas.errors import ConfigError, DataError
from unnas.spaces.darts.ops import PRIMITIVES
from unnas.trials.darts_sampler import (
    RESNET56_MADDS, RESNET56_PARAMS, CellOpComplexity, darts_cifar_complexity, in_window, load_samples,
    sample_architectures, sample_genotype, save_samples,
)
from unnas.trials.resnet import CifarResNet, resnet56
from unnas.study.samples import load_paper_samples


def toy_complexity(genotype):
    """Stand-in sizes: convolutions cost, everything else is free (a window around 6 convs)."""
    convs = sum(op.startswith(("sep", "dil")) for op, _ in genotype.normal + genotype.reduce)
    return 100_000 * convs + 50_000, 17_000_000 * convs + 20_000_000


def test_resnet56_matches_the_papers_pycls_count():
    """0.8558 M params and 125.75 M multiply-adds at 32×32 (pycls; projection shortcuts)."""
    net = resnet56()
    assert count_params(net) == RESNET56_PARAMS == 855_770
    assert count_madds(net, (3, 32, 32)) == RESNET56_MADDS == 125_747_840
    assert count_params(CifarResNet(20)) == 272_474  # ResNet-20 with the same shortcuts
    with pytest.raises(ValueError, match="6n\\+2"):
        CifarResNet(51)


def test_draws_are_uniform_over_all_ops_and_earlier_states():
    rng = np.random.default_rng(0)
    genos = [sample_genotype(rng) for _ in range(400)]
    ops = Counter(op for g in genos for op, _ in g.normal + g.reduce)
    assert set(ops) == set(PRIMITIVES) and min(ops.values()) > 0.8 * 6400 / 8
    for node in range(4):  # node n+2 takes inputs from 0..n+1, uniformly, with replacement
        inputs = Counter(g.normal[2 * node][1] for g in genos) + Counter(g.reduce[2 * node + 1][1] for g in genos)
        assert set(inputs) == set(range(node + 2))
    same = sum(g.normal[2 * k][1] == g.normal[2 * k + 1][1] for g in genos for k in range(4))
    assert 0.2 < same / 1600 < 0.45  # 32 % expected with replacement; 0 % without
    assert sum(g.normal == g.reduce for g in genos) == 0
    assert all(g.normal_concat == g.reduce_concat == (2, 3, 4, 5) for g in genos)


def test_accepted_samples_lie_in_the_window_and_are_reproducible_by_seed(tmp_path):
    ref = (650_000, 122_000_000)  # = 6 convs
    samples = sample_architectures(20, seed=3, complexity_fn=toy_complexity, reference=ref)
    assert len(samples) == 20 and all(len(s.id) == 5 for s in samples)
    assert all(in_window(*toy_complexity(s.genotype), reference=ref) for s in samples)
    assert all((s.params, s.madds) == toy_complexity(s.genotype) for s in samples)
    ids = [int(s.id) for s in samples]
    assert ids == sorted(ids) and ids[-1] > 20  # sparse draw indices: some draws were rejected
    again = sample_architectures(20, seed=3, complexity_fn=toy_complexity, reference=ref)
    assert again == samples
    assert sample_architectures(20, seed=4, complexity_fn=toy_complexity, reference=ref) != samples
    path = tmp_path / "samples.json"
    save_samples(path, samples, seed=3)
    assert load_samples(path) == samples
    with pytest.raises(ConfigError, match="complexity window"):
        sample_architectures(3, seed=0, complexity_fn=toy_complexity, reference=(10, 10), max_draws=50)


def test_fast_complexity_equals_counting_the_whole_network():
    fast = CellOpComplexity(width=4, cells=5, num_classes=3, image=16)
    rng = np.random.default_rng(2)
    for genotype in [sample_genotype(rng), dict(load_paper_samples("darts"))["00004"]]:
        assert fast(genotype) == darts_cifar_complexity(genotype, width=4, cells=5, num_classes=3, image=16)


def test_bad_sample_files_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_samples(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"archs": [{"id": "00001", "genotype": [[["conv_9x9", 0], ["none", 1]], [2], [["none", 0], ["none", 1]], [2]]}]}')
    with pytest.raises(DataError, match="entry 00001: genotype normal node 2: unknown op 'conv_9x9'"):
        load_samples(bad)
