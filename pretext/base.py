"""The Task contract.

A task owns everything task-specific: how a batch of plain RGB images becomes
``(inputs, targets)``, which head sits on the trunk, the loss and the metrics. Trunks never
know which task they serve, and tasks never know which architecture they train.

``prepare`` runs batched on whatever device the images live on, so a GPU makes its own
targets instead of waiting for per-image CPU work.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unnas.data.stats import IMAGENET_MEAN, IMAGENET_STD  # the data's statistics, the tasks' default
from unnas.errors import TaskError

#: AlexNet's PCA of ImageNet RGB pixels (values in [0, 1]): eigenvalues and eigenvectors (columns),
#: the basis of the paper's "PCA lighting" noise on ImageNet, ImageNet-22K and Cityscapes.
LIGHTING_EIGVAL = (0.2175, 0.0188, 0.0045)
LIGHTING_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def draw_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    """Where random draws happen: on the generator's device (results then move to ``device``)."""
    return generator.device if generator is not None else device


class Task(abc.ABC):
    """Base class of every pretext or supervised task.

    Subclasses set ``name`` and ``description`` and implement :meth:`prepare` and
    :meth:`build_head`; the default loss is cross-entropy and the default metrics are top-1
    and top-k accuracy over the class dimension (dim 1 of the outputs).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: What the dataset must provide besides images: None, "class" (int labels) or "mask".
    needs_labels: ClassVar[str | None] = None
    #: Whether the task needs colour images (colorization does).
    needs_color: ClassVar[bool] = False

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 lighting: float = 0.0):
        if not float(lighting) >= 0.0:
            raise TaskError(f"task {self.name!r}: lighting (PCA noise std) must be >= 0, got {lighting}")
        self.lighting = float(lighting)
        if len(mean) != 3 or len(std) != 3:
            raise TaskError(f"task {self.name!r}: mean and std need 3 values each, got {list(mean)} and {list(std)}")
        if any(s <= 0 for s in std):
            raise TaskError(f"task {self.name!r}: std values must be positive, got {list(std)}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    # ------------------------------------------------------------------ contract
    #: Channels of the inputs :meth:`prepare` returns; the trunk is built with this many.
    input_channels: int = 3
    #: Smallest image side the task accepts.
    min_image_size: int = 1

    @abc.abstractmethod
    def prepare(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        train: bool = True,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Turn RGB images (B×3×H×W, float in [0, 1]) into ``(inputs, targets)`` on their device."""

    @abc.abstractmethod
    def build_head(self, in_channels: int) -> nn.Module:
        """The head on a trunk whose features have ``in_channels`` channels.

        Heads are called as ``head(features, input_size)``: ``input_size`` is the (H, W) of the
        trunk's input, which dense heads upsample to and pooled heads ignore.
        """

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(outputs, targets)

    def metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Per-batch metrics as 0-dim tensors (no host sync); averaged by the caller."""
        return topk_accuracy(outputs, targets, ks=(1, min(5, outputs.shape[1])))

    def metric_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Additive statistics of one batch; summed over batches (and ranks), then :meth:`summarize`d.

        The default weights :meth:`metrics` by the number of predictions (images, or pixels for
        dense tasks). Tasks whose metric is not a mean (mIoU) override both methods.
        """
        count = targets.numel()
        sums = {k: v.detach() * count for k, v in self.metrics(outputs, targets).items()}
        sums["count"] = torch.tensor(float(count), device=outputs.device)
        return sums

    def summarize(self, sums: dict[str, Tensor]) -> dict[str, float]:
        count = float(sums["count"])
        return {k: float(v) / max(count, 1.0) for k, v in sums.items() if k != "count"}

    def state_dict(self) -> dict:
        """Running state a checkpoint must carry (e.g. colorization's bin prior); none by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    # ------------------------------------------------------------------ helpers
    def check_images(self, images: Tensor) -> None:
        """Raise a one-line TaskError for a batch this task cannot use."""
        if images.dim() != 4:
            raise TaskError(f"task {self.name!r} expects a batch B×3×H×W, got shape {tuple(images.shape)}")
        if images.shape[1] != 3:
            raise TaskError(
                f"task {self.name!r} expects 3-channel RGB images, got {images.shape[1]} channels; "
                "convert the data to RGB (grayscale readers replicate the channel)"
            )
        if not images.is_floating_point():
            raise TaskError(f"task {self.name!r} expects float images in [0, 1], got dtype {images.dtype}")
        side = min(images.shape[-2:])
        if side < self.min_image_size:
            raise TaskError(
                f"task {self.name!r} needs images of at least {self.min_image_size} px, got "
                f"{tuple(images.shape[-2:])}; raise data.crop_size"
            )

    def device_constant(self, name: str, value: Tensor | Sequence[float], like: Tensor) -> Tensor:
        """``value`` on ``like``'s device (floats also in its dtype), copied there once and cached.

        A fresh host-to-device copy per batch is a synchronous copy: the host would wait for the
        whole GPU queue every iteration. The cache key includes the value (tensors: their
        identity), so reassigning an attribute is picked up.
        """
        cache = self.__dict__.setdefault("_device_constants", {})
        key = (name, id(value) if isinstance(value, Tensor) else tuple(value), like.device, like.dtype)
        if key not in cache:
            t = torch.as_tensor(value)
            cache[key] = t.to(like.device, like.dtype if t.is_floating_point() else t.dtype)
        return cache[key]

    def lighting_offsets(self, images: Tensor, generator: torch.Generator | None) -> Tensor:
        """Per-image RGB offsets (B×3) of AlexNet-style PCA lighting with noise std ``self.lighting``.

        Each image gets ``eigvec @ (α · eigval)`` with α ~ N(0, lighting²) per component, added to
        every pixel before normalisation (as the paper's ImageNet/Cityscapes train pipelines). The
        draw comes from ``generator`` on its own device, then moves (a no-op in the search, whose
        generator lives on the batch's device).
        """
        draw = draw_device(generator, images.device)
        alpha = torch.randn(images.shape[0], 3, generator=generator, device=draw).to(images.device, images.dtype)
        eigval = self.device_constant("eigval", LIGHTING_EIGVAL, images)
        eigvec = self.device_constant("eigvec", LIGHTING_EIGVEC, images)
        return (alpha * (self.lighting * eigval)) @ eigvec.T

    def normalize(self, images: Tensor, train: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """Per-channel mean/std normalisation of B×3×… images; in training, PCA lighting first when
        ``lighting > 0``. Any trailing layout works (jigsaw passes B×3×pixels)."""
        channel = (3,) + (1,) * (images.dim() - 2)
        if train and self.lighting > 0:
            images = images + self.lighting_offsets(images, generator).view(-1, *channel)
        mean = self.device_constant("mean", self.mean, images).view(1, *channel)
        std = self.device_constant("std", self.std, images).view(1, *channel)
        return (images - mean) / std

    def describe(self) -> dict:
        """A small JSON-able summary for logs and run directories."""
        return {"name": self.name, "input_channels": self.input_channels}


def topk_accuracy(outputs: Tensor, targets: Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, Tensor]:
    """Top-k accuracy in percent over dim 1; works for (N, K) logits and (N, K, H, W) maps."""
    kmax = max(ks)
    top = outputs.topk(kmax, dim=1).indices  # N × kmax (× H × W)
    hits = top == targets.unsqueeze(1)
    out = {}
    for k in sorted(set(ks)):
        out[f"top{k}"] = hits[:, :k].any(dim=1).float().mean() * 100.0
    return out


class TaskNetwork(nn.Module):
    """A trunk with a task head on top: ``head(trunk(x), x.shape[-2:])``."""

    def __init__(self, trunk: nn.Module, head: nn.Module):
        super().__init__()
        self.trunk = trunk
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x), tuple(x.shape[-2:]))
