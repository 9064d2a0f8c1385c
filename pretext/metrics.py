"""Metrics that accumulate over a whole split: top-k counts and confusion-matrix IoU."""

from __future__ import annotations

import torch
from torch import Tensor

IGNORE_INDEX = 255


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """K×K counts (rows: true class, cols: predicted) over pixels whose label is a class id.

    ``ignore_index`` (and any label outside 0..K−1) is excluded. Excluded pixels go to one extra
    bin that is dropped, instead of being masked out: masking needs their count on the host, and
    this runs every training iteration, where a host sync would stall the GPU queue.
    """
    k = num_classes
    target = target.long()
    valid = (target >= 0) & (target < k) & (target != ignore_index)
    idx = torch.where(valid, target * k + pred.long(), k * k).flatten()
    counts = torch.zeros(k * k + 1, dtype=torch.long, device=idx.device)
    counts.index_add_(0, idx, torch.ones_like(idx))
    return counts[: k * k].view(k, k)


def iou_from_confusion(conf: Tensor, eps: float = 1e-10) -> tuple[Tensor, Tensor]:
    """(per-class IoU, mean IoU over classes), as I / (U + eps) per class."""
    conf = conf.double()
    inter = conf.diag()
    union = conf.sum(0) + conf.sum(1) - inter
    iou = inter / (union + eps)
    return iou, iou.mean()
