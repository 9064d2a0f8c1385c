"""Precise BN statistics: averaged per-batch mean and E[x²] over several train batches."""

import torch
from torch import nn

from unnas.engine.precise_bn import update_bn_stats


def expected_stats(feats):
    """Average of per-batch (mean, unbiased var + mean²), as momentum-1 running stats give them."""
    means = torch.stack([f.mean(dim=(0, 2, 3)) for f in feats])
    var = torch.stack([f.transpose(0, 1).reshape(f.shape[1], -1).var(dim=1, unbiased=True) for f in feats])
    mean = means.mean(0)
    return mean, (var + means ** 2).mean(0) - mean ** 2


def test_precise_stats_match_exact_averages_and_state_is_restored():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
    bn1 = nn.BatchNorm2d(4, momentum=0.1)
    bn2 = nn.BatchNorm2d(4, momentum=0.3)
    model = nn.Sequential(conv, bn1, nn.ReLU(), nn.Conv2d(4, 4, 1), bn2).eval()
    batches = [torch.randn(8, 3, 6, 6) * (1 + i) + i for i in range(5)]

    # exact statistics: the inputs each BN sees (bn1 normalizes with batch stats in train mode)
    with torch.no_grad():
        f1 = [conv(x) for x in batches]
        f2 = []
        for f in f1:
            z = (f - f.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(f.var(dim=(0, 2, 3), unbiased=False, keepdim=True) + bn1.eps)
            f2.append(model[3](torch.relu(z * bn1.weight.view(1, -1, 1, 1) + bn1.bias.view(1, -1, 1, 1))))
    used = update_bn_stats(model, iter(batches + batches), num_batches=4)
    assert used == 4
    for bn, feats in ((bn1, f1[:4]), (bn2, f2[:4])):
        mean, var = expected_stats(feats)
        torch.testing.assert_close(bn.running_mean, mean, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(bn.running_var, var, rtol=1e-5, atol=1e-5)
    # momenta and the eval mode are restored; weights untouched
    assert (bn1.momentum, bn2.momentum) == (0.1, 0.3) and not model.training


def test_large_batches_approach_population_statistics_and_short_iterables():
    torch.manual_seed(1)
    bn = nn.BatchNorm2d(2)
    model = nn.Sequential(bn).train()
    data = torch.randn(6, 512, 2, 4, 4) * torch.tensor([2.0, 0.5]).view(1, 1, 2, 1, 1) + torch.tensor([1.0, -3.0]).view(1, 1, 2, 1, 1)
    assert update_bn_stats(model, iter(data), num_batches=100) == 6  # ran out of batches: uses what there was
    flat = data.transpose(0, 2).reshape(2, -1)
    torch.testing.assert_close(bn.running_mean, flat.mean(1), rtol=0, atol=1e-5)
    torch.testing.assert_close(bn.running_var, flat.var(1, unbiased=False), rtol=1e-3, atol=1e-3)
    assert model.training
    before = bn.running_mean.clone()
    assert update_bn_stats(model, iter([]), num_batches=4) == 0
    assert torch.equal(bn.running_mean, before) and bn.momentum == 0.1
