"""The network a trial trains: the space's network with its own classifier, or its trunk with a task head.

Supervised classification keeps the network's own classifier; every other task puts its head on
the same trunk. Complexity is the whole network's trainable parameters and the trunk's
multiply-adds on one input (heads differ in what one input is — a jigsaw head needs a whole
image's tiles — so the trunk's cost is what separates the architectures).
"""

from __future__ import annotations

import dataclasses
import json

from torch import nn

import pretext
from unnas.complexity import count_madds, count_params

from .spaces import get_space

_MADDS: dict[tuple, int] = {}


def build_model(space: str, arch, task, num_classes: int | None, network) -> nn.Module:
    """``space``'s network for ``arch`` (JSON form): with its classifier for classification, else trunk + head."""
    classify = task.name == "classification"
    model, trunk = get_space(space).network(arch, network, task.input_channels,
                                            (num_classes or 10) if classify else None)
    if classify:
        return model
    return pretext.TaskNetwork(trunk, task.build_head(trunk.out_channels))


class _FeaturesOnly(nn.Module):
    """A classification network without its classifier (spaces whose network is its own trunk)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.features(x)


def trunk_of(model: nn.Module) -> nn.Module:
    return model.trunk if hasattr(model, "trunk") else _FeaturesOnly(model)


def complexity(model: nn.Module, task, crop: int) -> tuple[int, int]:
    """(trainable parameters of the whole network, multiply-adds of its trunk on one crop-size input)."""
    return count_params(model), count_madds(trunk_of(model), (task.input_channels, crop, crop))


def cached_complexity(spec, model: nn.Module, task, crop: int) -> tuple[int, int]:
    """:func:`complexity`, with the trunk's multiply-adds counted once per architecture, network and input
    shape in this process (the count, a shape-only pass, costs as much as a tiny training job)."""
    key = (json.dumps(spec.arch, sort_keys=True), json.dumps(dataclasses.asdict(spec.network), sort_keys=True),
           spec.space, task.input_channels, crop)
    if key not in _MADDS:
        _MADDS[key] = complexity(model, task, crop)[1]
    return count_params(model), _MADDS[key]
