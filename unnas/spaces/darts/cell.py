"""The fixed-genotype DARTS cell used by evaluation networks, with drop-path.

Each intermediate node sums two ops, each applied to one earlier state; the cell output is the
channel concatenation of the genotype's ``concat`` states. Unlike the search cell, BNs are
affine and pools carry no extra BN.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .genotype import Genotype
from .ops import FactorizedReduce, ReLUConvBN, build_op


def drop_path(x: Tensor, drop_prob: float) -> Tensor:
    """Zero whole samples with probability ``drop_prob`` and rescale the rest by 1/keep.

    Rescaling keeps the expected value unchanged, so evaluation (no dropping) needs no correction.
    """
    keep = 1.0 - drop_prob
    mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class Cell(nn.Module):
    """One cell built from ``genotype``'s normal or reduce half.

    ``c_pp`` and ``c_p`` are the channels of the two cell inputs, ``c`` the per-node width;
    the output has ``multiplier * c`` channels. ``reduction_prev`` says the previous cell halved
    the resolution, so input 0 must be halved too (FactorizedReduce) to match input 1.
    """

    def __init__(self, genotype: Genotype, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction = reduction
        pairs, concat = genotype.cell("reduce" if reduction else "normal")
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.inputs = [inp for _, inp in pairs]
        self.concat = list(concat)
        self.ops = nn.ModuleList(
            build_op(op, c, 2 if reduction and inp < 2 else 1, affine=True) for op, inp in pairs
        )
        self.multiplier = len(self.concat)
        self.out_channels = self.multiplier * c

    def forward(self, s0: Tensor, s1: Tensor, drop_prob: float = 0.0) -> Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        dropping = self.training and drop_prob > 0.0
        for k in range(0, len(self.ops), 2):
            node = None
            for op, inp in ((self.ops[k], self.inputs[k]), (self.ops[k + 1], self.inputs[k + 1])):
                h = op(states[inp])
                if dropping and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                node = h if node is None else node + h
            states.append(node)
        return torch.cat([states[i] for i in self.concat], dim=1)
