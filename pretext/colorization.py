"""Colorization pretext task: predict each pixel's quantised ab colour from the L channel.

The paper's release converted every image to Lab with scikit-image and ran a nearest-neighbour
search per pixel on the CPU (≈43 images/s per core), which starves a GPU. Here the whole batch is
converted with kornia on its own device and the ab values are assigned to the 313 bins with faiss
(CPU tensors) or an exact chunked distance computation in torch (GPU tensors).

Targets (paper setting): int64 B×H×W, the nearest bin of every pixel. With ``soft_encoding`` the
targets are a compact float B×(2·5)×H×W tensor instead: channels 0–4 hold the indices of the 5
nearest bins (nearest first, so channel 0 is the hard label) and channels 5–9 their Gaussian
weights (σ=5, summing to 1). That is 10 numbers per pixel instead of a dense 313-way distribution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unnas.errors import TaskError

from .base import IMAGENET_MEAN, IMAGENET_STD, Task, topk_accuracy
from .heads import DenseClassifier
from .registry import register_task

DEFAULT_BINS = Path(__file__).resolve().parent / "data" / "ab_bins_313.npy"
SOFT_NEIGHBOURS = 5
SOFT_SIGMA = 5.0
#: Distance-matrix elements per chunk of the torch path (2^26 float32 = 256 MiB per buffer).
TORCH_CHUNK_ELEMENTS = 1 << 26


def load_ab_bins(path: str | Path | None = None) -> np.ndarray:
    """The ab bin centres as float32 (K, 2); ``None`` loads the standard 313-bin gamut."""
    path = Path(path) if path is not None else DEFAULT_BINS
    try:
        bins = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise TaskError(f"colorization bins_file {path} cannot be read as .npy: {str(exc).splitlines()[0]}") from None
    if bins.ndim != 2 or bins.shape[1] != 2 or bins.shape[0] < 2:
        raise TaskError(f"colorization bins_file {path} must hold a (K, 2) table of ab centres with K >= 2, "
                        f"got shape {bins.shape}")
    if not np.issubdtype(bins.dtype, np.number) or not np.isfinite(bins).all():
        raise TaskError(f"colorization bins_file {path} must hold finite numbers, got dtype {bins.dtype}")
    return np.ascontiguousarray(bins, dtype=np.float32)


def nearest_bins_torch(ab: Tensor, bins: Tensor, k: int = 1) -> tuple[Tensor, Tensor]:
    """Exact k nearest bins of N points (N×2) on any device: (indices N×k int64, squared distances N×k).

    Distances are summed squared coordinate differences, not ‖x‖²−2x·c+‖c‖²: that expansion
    cancels large terms and misorders near ties in float32; this form stays exact for the near bins.
    Chunked so the N×K distance matrix never exceeds ``TORCH_CHUNK_ELEMENTS``.
    """
    bins = bins.to(device=ab.device, dtype=torch.float32)
    ab = ab.float()
    chunk = max(1, TORCH_CHUNK_ELEMENTS // bins.shape[0])
    indices, dists = [], []
    for start in range(0, ab.shape[0], chunk):
        x = ab[start:start + chunk]
        d = (x[:, 0:1] - bins[:, 0]).square_()
        for c in range(1, bins.shape[1]):
            d += (x[:, c:c + 1] - bins[:, c]).square_()
        if k == 1:
            v, i = d.min(dim=1, keepdim=True)
        else:
            v, i = d.topk(k, dim=1, largest=False, sorted=True)
        indices.append(i)
        dists.append(v)
    return torch.cat(indices), torch.cat(dists)


def nearest_bins_faiss(ab: Tensor, index, k: int = 1) -> tuple[Tensor, Tensor]:
    """The same search on the CPU with a faiss ``IndexFlatL2`` holding the bins."""
    x = np.ascontiguousarray(ab.detach().float().numpy())
    dists, indices = index.search(x, k)
    return torch.from_numpy(indices), torch.from_numpy(dists)


#: Batches checked for being all gray on an accelerator (grayscale datasets are refused up front).
GRAY_CHECKS_ON_ACCELERATOR = 8


def is_gray_batch(images: Tensor) -> bool:
    """True when R == G == B at every pixel; a strided sample answers for nearly every colour batch."""
    sample = images[..., ::7, ::7]
    if not (torch.equal(sample[:, 0], sample[:, 1]) and torch.equal(sample[:, 1], sample[:, 2])):
        return False
    return torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])


@register_task
class ColorizationTask(Task):
    """Per-pixel classification of ab colour bins from the lightness channel (paper: hard 313 bins).

    Options beyond the paper (off by default):

    - ``soft_encoding``: soft targets over the 5 nearest bins, Gaussian weights σ=5 (Zhang et al.).
    - ``rebalance``: λ in [0, 1]; each pixel's loss is weighted by ``1/((1−λ)p + λ/K)`` of its
      nearest bin, where ``p`` is the bin frequency counted over all training batches prepared so
      far, normalised so that the expected weight under ``p`` is 1. λ=0.5 is Zhang et al.'s choice,
      λ=1 gives uniform weights; ``None`` (default) disables it. The counts are task state
      (:meth:`state_dict`) so a resumed run can restore them.
    - ``bins_file``: another (K, 2) ab-bin table (.npy).
    - ``l_mean``, ``l_std``: the L normalisation (L/100 − l_mean) / l_std; by default the averages
      of the three channel means and stds, as the paper; a reader may supply the release's own
      constants (CIFAR-10: 0.4741 / 0.2512).
    """

    name = "colorization"
    description = "predict each pixel's quantised ab colour (313 bins) from the L channel (1-channel input)"
    needs_color = True
    input_channels = 1

    def __init__(self, soft_encoding: bool = False, rebalance: float | None = None, bins_file: str | None = None,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 l_mean: float | None = None, l_std: float | None = None):
        super().__init__(mean, std)
        if l_std is not None and not float(l_std) > 0:
            raise TaskError(f"colorization l_std must be positive, got {l_std}")
        if rebalance is not None and not 0.0 <= float(rebalance) <= 1.0:
            raise TaskError(f"colorization rebalance must be in [0, 1] (or null to disable), got {rebalance}")
        self.soft_encoding = bool(soft_encoding)
        self.rebalance = None if rebalance is None else float(rebalance)
        self.bins_file = bins_file
        self.bins = torch.from_numpy(load_ab_bins(bins_file))
        self.num_bins = self.bins.shape[0]
        if self.soft_encoding and self.num_bins < SOFT_NEIGHBOURS:
            raise TaskError(f"colorization soft_encoding needs at least {SOFT_NEIGHBOURS} bins, got {self.num_bins}")
        # The paper normalises L with the mean of the three per-channel RGB statistics.
        self.l_mean = sum(self.mean) / 3.0 if l_mean is None else float(l_mean)
        self.l_std = sum(self.std) / 3.0 if l_std is None else float(l_std)
        self.bin_counts: Tensor | None = None
        self._faiss_index = None
        self._gray_checks_left = GRAY_CHECKS_ON_ACCELERATOR

    def _should_check_gray(self, images: Tensor) -> bool:
        """Every batch on CPU; on an accelerator only the first few, as the check waits for the device."""
        if images.device.type == "cpu":
            return True
        if self._gray_checks_left == 0:
            return False
        self._gray_checks_left -= 1
        return True

    # ------------------------------------------------------------------ targets
    def _nearest(self, ab: Tensor, k: int) -> tuple[Tensor, Tensor]:
        if ab.device.type == "cpu":
            if self._faiss_index is None:
                import faiss  # imported on use (0.16 s): only colorization on the CPU needs it

                # faiss 1.15 only uses its BLAS kernel above ~64k queries (128000 threshold); below it a
                # scalar loop runs 35× slower (0.36 vs 12.8 M pixels/s on one core, measured). Lowering the
                # threshold only picks the faster kernel; results are the same up to float rounding.
                faiss.cvar.distance_compute_blas_threshold = min(faiss.cvar.distance_compute_blas_threshold, 20)
                self._faiss_index = faiss.IndexFlatL2(self.bins.shape[1])
                self._faiss_index.add(self.bins.numpy())
            return nearest_bins_faiss(ab, self._faiss_index, k)
        return nearest_bins_torch(ab, self.device_constant("bins", self.bins, ab), k)

    def prepare(self, images: Tensor, labels: Tensor | None = None, *, train: bool = True,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        from kornia.color import rgb_to_lab  # imported on use: kornia takes 0.7 s, every task module loads

        self.check_images(images)
        if self._should_check_gray(images) and is_gray_batch(images):
            raise TaskError("colorization got a batch of grayscale images (R == G == B everywhere); "
                            "it needs colour data, pick another task or dataset")
        lab = rgb_to_lab(images.float().clamp(0.0, 1.0))
        inputs = (lab[:, :1] / 100.0 - self.l_mean) / self.l_std
        b, _, h, w = lab.shape
        ab = lab[:, 1:].permute(0, 2, 3, 1).reshape(-1, 2)
        k = SOFT_NEIGHBOURS if self.soft_encoding else 1
        idx, sqdist = self._nearest(ab, k)
        idx, sqdist = idx.to(images.device), sqdist.to(images.device)
        hard = idx[:, 0].view(b, h, w)
        if train and self.rebalance is not None:
            self._count(hard)
        if not self.soft_encoding:
            return inputs, hard
        # Normalised Gaussian kernel exp(−d²/2σ²); softmax stays finite even for far out-of-gamut colours.
        weights = torch.softmax(-sqdist / (2 * SOFT_SIGMA ** 2), dim=1)
        soft = torch.cat([idx.float(), weights.float()], dim=1).view(b, h, w, 2 * k).permute(0, 3, 1, 2)
        return inputs, soft.contiguous()

    @staticmethod
    def hard_labels(targets: Tensor) -> Tensor:
        """The nearest-bin labels B×H×W, from hard or soft targets."""
        return targets[:, 0].long() if targets.is_floating_point() else targets

    # ------------------------------------------------------------------ rebalancing
    def _count(self, hard: Tensor) -> None:
        counts = torch.bincount(hard.flatten(), minlength=self.num_bins).double()
        self.bin_counts = counts if self.bin_counts is None else self.bin_counts.to(counts.device) + counts

    def class_weights(self, device: torch.device) -> Tensor:
        """Per-bin loss weights from the bin frequencies seen so far (ones before any training batch)."""
        if self.bin_counts is None:  # no host sync: counts exist only after a training batch
            return torch.ones(self.num_bins, device=device)
        p = self.bin_counts.to(device) / self.bin_counts.sum()
        lam = self.rebalance
        w = 1.0 / ((1.0 - lam) * p + lam / self.num_bins)
        return (w / (p * w).sum()).float()

    def state_dict(self) -> dict:
        return {"bin_counts": None if self.bin_counts is None else self.bin_counts.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.bin_counts = state.get("bin_counts")

    # ------------------------------------------------------------------ head, loss, metrics
    def build_head(self, in_channels: int) -> nn.Module:
        return DenseClassifier(in_channels, self.num_bins)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if targets.is_floating_point():
            k = targets.shape[1] // 2
            logp = F.log_softmax(outputs, dim=1)
            per_pixel = -(logp.gather(1, targets[:, :k].long()) * targets[:, k:]).sum(dim=1)
        elif self.rebalance is None:
            return F.cross_entropy(outputs, targets)
        else:
            per_pixel = F.cross_entropy(outputs, targets, reduction="none")
        if self.rebalance is not None:
            per_pixel = per_pixel * self.class_weights(outputs.device)[self.hard_labels(targets)]
        return per_pixel.mean()

    def metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        return topk_accuracy(outputs, self.hard_labels(targets), ks=(1, min(5, outputs.shape[1])))

    def metric_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        return super().metric_sums(outputs, self.hard_labels(targets))  # counts pixels, not soft entries

    def describe(self) -> dict:
        return {**super().describe(), "bins": self.num_bins, "soft_encoding": self.soft_encoding,
                "rebalance": self.rebalance, "bins_file": self.bins_file}
