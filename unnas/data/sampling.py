"""Seeded, resumable sampling and the weight/architecture split.

The order of an epoch and every sample's augmentation seed are pure functions of
``(seed, epoch, position)``: resuming only needs the epoch and how many batches were taken.
Under DDP each rank takes a strided share of the same global order.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from unnas.errors import DataError


def split_halves(n: int, seed: int, portion: float = 0.5, shuffle: bool = True) -> tuple[list[int], list[int]]:
    """Two disjoint index lists: the first ``portion`` for the weights, the rest for α.

    With ``shuffle`` the indices are permuted by ``seed`` first (ImageNet-style); without, the
    split is in file order (CIFAR-style, as in the paper).
    """
    if n < 2:
        raise DataError(f"the data holds {n} image(s) but a search needs at least 2 (one for the weight half, one "
                        "for the architecture half); add images or check data.root")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist() if shuffle else list(range(n))
    cut = min(max(int(round(n * portion)), 1), n - 1)
    return order[:cut], order[cut:]


class SeededSampler(Sampler):
    """Yields ``(index, sample_seed)`` for one epoch, optionally starting part-way through."""

    def __init__(self, indices: Sequence[int], seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1,
                 drop_last: bool = True, batch_size: int = 1):
        self.indices = list(indices)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.rank, self.world_size = rank, world_size
        self.drop_last = drop_last
        self.batch_size = batch_size
        self.epoch = 0
        self.start = 0  # position (in samples of this rank) to start from

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        self.start = start_batch * self.batch_size

    def _global_order(self) -> list[int]:
        if not self.shuffle:
            return list(range(len(self.indices)))
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(len(self.indices), generator=g).tolist()

    def num_samples(self) -> int:
        """Samples this rank sees per epoch (a whole number of batches when drop_last)."""
        per_rank = len(self.indices) // self.world_size
        if self.drop_last:
            per_rank -= per_rank % self.batch_size
        return per_rank

    def __len__(self) -> int:
        return max(self.num_samples() - self.start, 0)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = self._global_order()
        n = self.num_samples()
        mine = order[self.rank::self.world_size][:n]
        for pos in range(self.start, n):
            global_pos = pos * self.world_size + self.rank
            # one seed per (run seed, epoch, global position): independent of workers and ranks
            sample_seed = (self.seed * 1_000_003 + self.epoch) * 10_000_019 + global_pos
            yield self.indices[mine[pos]], sample_seed & 0x7FFF_FFFF_FFFF_FFFF
