"""Evaluation networks built from a DARTS genotype: CIFAR, ImageNet (mobile setting), Cityscapes.

All three share :class:`CellTrunk` (stem + stack of fixed cells, emitting feature maps), so the
same cells can carry any task head; the networks only add their heads. Classification networks
return ``(logits, aux_logits)`` while training with an auxiliary head, otherwise ``logits``.
"""

from __future__ import annotations

from typing import Any, Sequence

from torch import Tensor, nn

from unnas.errors import ConfigError
from unnas.spaces.darts.cell import Cell
from unnas.spaces.darts.genotype import Genotype, load_genotype
from unnas.spaces.darts.library import EVAL_WIDTHS
from unnas.spaces.darts.supernet import build_stem

from .heads import ASPP, AuxiliaryHeadCIFAR, AuxiliaryHeadImageNet, Classifier

SETTINGS = ("cifar", "imagenet", "cityscapes")

#: Defaults per setting: width C, cells L, classes, auxiliary head (as in the training recipes).
DEFAULTS: dict[str, dict[str, Any]] = {
    "cifar": {"width": 36, "cells": 20, "classes": 10, "aux": True},
    "imagenet": {"width": 48, "cells": 14, "classes": 1000, "aux": True},
    "cityscapes": {"width": 82, "cells": 12, "classes": 19, "aux": False},
}


def _check_positive(name: str, value: Any, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}; {hint}")


class CellTrunk(nn.Module):
    """Stem, then ``cells`` cells; reductions (channels ×2, resolution ÷2) at ``reduce_at``.

    ``forward`` returns the last cell's feature map (``out_channels`` wide). ``tap_after`` names
    a cell whose output :meth:`forward_taps` also returns (for an auxiliary head).
    ``drop_prob`` is read at every forward, so a trainer can schedule it.
    """

    def __init__(self, genotype: Genotype, width: int, cells: int, stem: str, reduce_at: Sequence[int],
                 in_channels: int = 3, drop_path: float = 0.0, tap_after: int | None = None):
        super().__init__()
        _check_positive("width", width, "pass a width such as 36 (CIFAR) or 48 (ImageNet)")
        _check_positive("cells", cells, "pass a number of cells such as 20 (CIFAR) or 14 (ImageNet)")
        _check_positive("in_channels", in_channels, "use 3 for RGB or 1 for grayscale input")
        if stem == "imagenet" and width % 2:
            raise ConfigError(f"width {width} is odd; the ImageNet stem needs an even width (it starts at width/2)")
        if not 0.0 <= drop_path < 1.0:
            raise ConfigError(f"drop_path must be in [0, 1), got {drop_path}")
        self.width = width
        self.drop_prob = float(drop_path)
        self.tap_after = tap_after
        self.stem0, self.stem1, c_stem = build_stem(stem, in_channels, width)
        c_pp, c_p, c = c_stem, c_stem, width
        reduction_prev = stem == "imagenet"  # the ImageNet stem's second part halves s1 relative to s0
        self.cells = nn.ModuleList()
        self.tap_channels = None
        for layer in range(cells):
            reduction = layer in reduce_at
            if reduction:
                c *= 2
            cell = Cell(genotype, c_pp, c_p, c, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.out_channels
            if layer == tap_after:
                self.tap_channels = c_p
        self.out_channels = c_p

    def forward_taps(self, x: Tensor, tap: bool = True) -> tuple[Tensor, Tensor | None]:
        """(last feature map, output of cell ``tap_after`` or None)."""
        s0 = self.stem0(x)
        s1 = self.stem1(s0) if self.stem1 is not None else s0
        tapped = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_prob)
            if tap and i == self.tap_after:
                tapped = s1
        return s1, tapped

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_taps(x, tap=False)[0]


class _ClassificationNetwork(nn.Module):
    stem = ""
    aux_head_class: type = nn.Module

    def __init__(self, genotype: Any, width: int, cells: int, num_classes: int, aux: bool, drop_path: float,
                 in_channels: int):
        super().__init__()
        _check_positive("num_classes", num_classes, "pass the number of classes of the dataset")
        _check_positive("cells", cells, "pass a number of cells such as 20 (CIFAR) or 14 (ImageNet)")
        if cells < 2:
            raise ConfigError(f"cells must be at least 2 for a classification network (two reductions), got {cells}")
        genotype = load_genotype(genotype)
        self.num_classes = num_classes
        self.trunk = CellTrunk(genotype, width, cells, self.stem, (cells // 3, 2 * cells // 3), in_channels,
                               drop_path, tap_after=2 * cells // 3)
        self.classifier = Classifier(self.trunk.out_channels, num_classes)
        self.aux_head = self.aux_head_class(self.trunk.tap_channels, num_classes) if aux else None

    @property
    def drop_prob(self) -> float:
        return self.trunk.drop_prob

    @drop_prob.setter
    def drop_prob(self, value: float) -> None:
        self.trunk.drop_prob = float(value)

    def features(self, x: Tensor) -> Tensor:
        """The last cell's feature map, for any task head."""
        return self.trunk(x)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        with_aux = self.aux_head is not None and self.training
        feats, tapped = self.trunk.forward_taps(x, tap=with_aux)
        logits = self.classifier(feats)
        if with_aux:
            return logits, self.aux_head(tapped)
        return logits


class CifarNetwork(_ClassificationNetwork):
    """DARTS CIFAR network: 3×3 stem to 3·C (stride 1), reductions at L//3 and 2L//3."""

    stem = "cifar"
    aux_head_class = AuxiliaryHeadCIFAR

    def __init__(self, genotype: Any, width: int = 36, cells: int = 20, num_classes: int = 10, aux: bool = False,
                 drop_path: float = 0.0, in_channels: int = 3):
        super().__init__(genotype, width, cells, num_classes, aux, drop_path, in_channels)


class ImageNetNetwork(_ClassificationNetwork):
    """DARTS ImageNet mobile network: stride-8 stem, reductions at L//3 and 2L//3."""

    stem = "imagenet"
    aux_head_class = AuxiliaryHeadImageNet

    def __init__(self, genotype: Any, width: int = 48, cells: int = 14, num_classes: int = 1000, aux: bool = True,
                 drop_path: float = 0.0, in_channels: int = 3):
        super().__init__(genotype, width, cells, num_classes, aux, drop_path, in_channels)


class SegmentationNetwork(nn.Module):
    """Cityscapes network: ImageNet stem, one reduction at L//3 (output stride 16), ASPP head,
    logits bilinearly upsampled to the input size. No auxiliary head."""

    def __init__(self, genotype: Any, width: int = 82, cells: int = 12, num_classes: int = 19,
                 aspp_channels: int = 256, rates: Sequence[int] = (6, 12, 18), in_channels: int = 3,
                 drop_path: float = 0.0):
        super().__init__()
        _check_positive("num_classes", num_classes, "pass the number of classes of the dataset")
        self.num_classes = num_classes
        self.trunk = CellTrunk(load_genotype(genotype), width, cells, "imagenet", (cells // 3,), in_channels, drop_path)
        self.head = ASPP(self.trunk.out_channels, num_classes, aspp_channels, rates)
        self.aux_head = None

    def features(self, x: Tensor) -> Tensor:
        return self.trunk(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(x), tuple(x.shape[-2:]))


def default_width(arch: Any, setting: str) -> int:
    """The released eval width for a published name in ``setting``, else the setting's default."""
    if isinstance(arch, str) and arch in EVAL_WIDTHS.get(setting, {}):
        return EVAL_WIDTHS[setting][arch]
    return DEFAULTS[setting]["width"]


def build_network(arch: Any, setting: str, width: int | None = None, cells: int | None = None,
                  num_classes: int | None = None, aux: bool | None = None, drop_path: float = 0.0,
                  in_channels: int = 3) -> nn.Module:
    """An evaluation network for ``arch`` (anything :func:`load_genotype` accepts) in ``setting``."""
    if setting not in SETTINGS:
        raise ConfigError(f"setting {setting!r} is unknown; choose one of {', '.join(SETTINGS)}")
    d = DEFAULTS[setting]
    genotype = load_genotype(arch)
    width = default_width(arch, setting) if width is None else width
    cells = d["cells"] if cells is None else cells
    num_classes = d["classes"] if num_classes is None else num_classes
    aux = d["aux"] if aux is None else aux
    if setting == "cityscapes":
        if aux:
            raise ConfigError("the cityscapes network has no auxiliary head; drop --aux")
        return SegmentationNetwork(genotype, width, cells, num_classes, in_channels=in_channels, drop_path=drop_path)
    cls = CifarNetwork if setting == "cifar" else ImageNetNetwork
    return cls(genotype, width, cells, num_classes, aux, drop_path, in_channels)
