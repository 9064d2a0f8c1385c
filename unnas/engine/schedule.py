"""Learning-rate schedules shared by search and training."""

from __future__ import annotations

import math


def cosine_lr(base: float, minimum: float, epoch: float, epochs: int) -> float:
    """Cosine from ``base`` to ``minimum`` over ``epochs``, stepped per epoch (the paper's ITER_LR=False)."""
    return minimum + 0.5 * (base - minimum) * (1 + math.cos(math.pi * epoch / epochs))
