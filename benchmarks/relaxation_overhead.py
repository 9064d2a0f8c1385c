"""Iteration time (α step + weight step) of Gumbel and entropy_weight>0 relative to softmax, fast supernet.

    python benchmarks/relaxation_overhead.py [--iters 20] [--width 8] [--cells 5] [--batch 8] [--crop 64]
Modes are interleaved round by round so that machine contention hits all of them alike.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from unnas.config.schema import ArchConfig, OptimConfig
from unnas.search.bilevel import BilevelStep
from unnas.search.relaxation import Relaxation
from unnas.spaces.darts.fast_supernet import FastSupernet

MODES = {"softmax": ArchConfig(), "gumbel": ArchConfig(relaxation="gumbel"),
         "entropy": ArchConfig(entropy_weight=0.1), "gumbel+entropy": ArchConfig(relaxation="gumbel", entropy_weight=0.1)}


class _Net(nn.Module):
    def __init__(self, trunk: FastSupernet, classes: int = 4):
        super().__init__()
        self.trunk, self.head = trunk, nn.Linear(trunk.out_channels, classes)

    def forward(self, x):
        return self.head(self.trunk(x).mean(dim=(2, 3)))


def build(arch: ArchConfig, args) -> tuple[BilevelStep, Relaxation]:
    torch.manual_seed(0)
    trunk = FastSupernet(args.width, args.cells)
    relax = Relaxation(arch, torch.Generator().manual_seed(1))
    trunk.op_weights = relax
    alphas = [p for p in trunk.arch_parameters() if p.requires_grad]
    step = BilevelStep(_Net(trunk), nn.functional.cross_entropy, OptimConfig(),
                       regulariser=lambda: relax.penalty(alphas))
    return step, relax


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--cells", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = torch.randn(args.batch, 3, args.crop, args.crop)
    y = torch.randint(0, 4, (args.batch,))
    built = {name: build(arch, args) for name, arch in MODES.items()}
    best = {name: float("inf") for name in MODES}
    for _ in range(args.rounds):
        for name, (step, relax) in built.items():
            step.arch_step(x, y), step.weight_step(x, y)  # warm-up
            t = time.perf_counter()
            for i in range(args.iters):
                relax.progress = i / args.iters
                step.arch_step(x, y)
                step.weight_step(x, y)
            best[name] = min(best[name], (time.perf_counter() - t) / args.iters)
    for name, sec in best.items():
        print(f"{name:15s} {1000 * sec:8.1f} ms/iter  ratio {sec / best['softmax']:.3f}")


if __name__ == "__main__":
    main()
