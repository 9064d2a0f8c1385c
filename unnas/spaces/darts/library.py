"""Published DARTS-space genotypes, as data, under the names the UnNAS release uses.

The cells are written in the paper's short notation (``n2=sep3(1)+sep3(0)`` means node 2 =
``sep_conv_3x3`` of input 1 plus ``sep_conv_3x3`` of input 0, in that order), which is also what
``str(Genotype)`` prints, so each entry can be checked against the source table by eye.
Inputs 0 and 1 are c_{k-2} and c_{k-1}; 2, 3, … are earlier nodes.

:data:`EVAL_WIDTHS` records the evaluation width C of the released configs, per setting, only
where it is known; other architectures fall back to the setting's default width.

This module holds plain cells (the list form) and knows nothing of the Genotype type:
:mod:`.genotype` imports it and registers every entry, so the dependency points one way.
"""

from __future__ import annotations

import re

from unnas.errors import GenotypeError

from .ops import SHORT_NAMES

_LONG_NAMES = {short: long for long, short in SHORT_NAMES.items()}
_NODE = re.compile(r"^n(\d+)=([\w]+)\((\d+)\)\+([\w]+)\((\d+)\)$")
_DARTS_CONCAT = (2, 3, 4, 5)


def parse_cell(text: str) -> list[tuple[str, int]]:
    """``"n2=sep3(1)+sep3(0); n3=…"`` → ``[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), …]``."""
    pairs: list[tuple[str, int]] = []
    for k, part in enumerate(p.strip() for p in text.split(";")):
        m = _NODE.match(part.replace(" ", ""))
        if not m or int(m.group(1)) != k + 2:
            raise GenotypeError(f"cell notation: expected 'n{k + 2}=op(i)+op(j)', got {part!r}")
        for op, inp in ((m.group(2), m.group(3)), (m.group(4), m.group(5))):
            if op not in _LONG_NAMES:
                raise GenotypeError(f"cell notation: unknown short op {op!r} in {part!r}")
            pairs.append((_LONG_NAMES[op], int(inp)))
    return pairs


def _cells(normal: str, reduce: str, normal_concat=_DARTS_CONCAT, reduce_concat=_DARTS_CONCAT) -> list:
    """The list form ``[normal, normal_concat, reduce, reduce_concat]`` of one table entry."""
    return [parse_cell(normal), list(normal_concat), parse_cell(reduce), list(reduce_concat)]


_PNAS_CELL = "n2=sep5(0)+max3(0); n3=sep7(1)+max3(1); n4=sep5(1)+sep3(1); n5=sep3(4)+max3(1); n6=sep3(0)+skip(1)"

#: name → (normal, reduce[, normal_concat, reduce_concat]); UNNAS_FACTS B.10.
_TABLE: dict[str, tuple] = {
    "nas": (
        "n2=sep5(1)+sep3(0); n3=sep5(0)+sep3(0); n4=avg3(1)+skip(0); n5=avg3(0)+avg3(0); n6=sep3(1)+skip(1)",
        "n2=sep5(1)+sep7(0); n3=max3(1)+sep7(0); n4=avg3(1)+sep5(0); n5=skip(3)+avg3(2); n6=sep3(2)+max3(1)",
        (2, 3, 4, 5, 6), (4, 5, 6),
    ),
    "pnas": (_PNAS_CELL, _PNAS_CELL, (2, 3, 4, 5, 6), (2, 3, 4, 5, 6)),
    "amoeba": (
        "n2=avg3(0)+max3(1); n3=sep3(0)+sep5(2); n4=sep3(0)+avg3(3); n5=sep3(1)+skip(1); n6=skip(0)+avg3(1)",
        "n2=avg3(0)+sep3(1); n3=max3(0)+sep7(2); n4=sep7(0)+avg3(1); n5=max3(0)+max3(1); n6=c7x1_1x7(0)+sep3(5)",
        (4, 5, 6), (3, 4, 6),
    ),
    "darts_v1": (
        "n2=sep3(1)+sep3(0); n3=skip(0)+sep3(1); n4=skip(0)+sep3(1); n5=sep3(0)+skip(2)",
        "n2=max3(0)+max3(1); n3=skip(2)+max3(0); n4=max3(0)+skip(2); n5=skip(2)+avg3(0)",
    ),
    "darts_v2": (
        "n2=sep3(0)+sep3(1); n3=sep3(0)+sep3(1); n4=sep3(1)+skip(0); n5=skip(0)+dil3(2)",
        "n2=max3(0)+max3(1); n3=skip(2)+max3(1); n4=max3(0)+skip(2); n5=skip(2)+max3(1)",
    ),
    "pdarts": (
        "n2=skip(0)+dil3(1); n3=skip(0)+sep3(1); n4=sep3(1)+sep3(3); n5=sep3(0)+dil5(4)",
        "n2=avg3(0)+sep5(1); n3=sep3(0)+dil5(2); n4=max3(0)+dil3(1); n5=dil3(1)+dil5(3)",
    ),
    "pcdarts_c10": (
        "n2=sep3(1)+skip(0); n3=sep3(0)+dil3(1); n4=sep5(0)+sep3(1); n5=avg3(0)+dil3(1)",
        "n2=sep5(1)+max3(0); n3=sep5(1)+sep5(2); n4=sep3(0)+sep3(3); n5=sep3(1)+sep3(2)",
    ),
    "pcdarts_in1k": (
        "n2=skip(1)+sep3(0); n3=sep3(0)+skip(1); n4=sep3(1)+sep3(3); n5=sep3(1)+dil5(4)",
        "n2=sep3(0)+skip(1); n3=dil5(2)+max3(1); n4=sep3(2)+sep3(1); n5=sep5(0)+sep3(3)",
    ),
    "unnas_imagenet_cls": (
        "n2=sep3(1)+sep3(0); n3=sep3(1)+sep3(0); n4=sep3(0)+sep3(2); n5=sep5(1)+sep3(0)",
        "n2=max3(0)+skip(1); n3=max3(0)+dil5(2); n4=max3(0)+sep3(2); n5=sep3(4)+dil5(3)",
    ),
    "unnas_imagenet_rot": (
        "n2=sep3(0)+sep3(1); n3=sep3(0)+sep3(1); n4=sep3(1)+sep3(0); n5=sep3(0)+sep3(1)",
        "n2=sep3(1)+sep3(0); n3=sep3(2)+sep3(1); n4=sep3(1)+sep3(2); n5=sep3(4)+sep5(2)",
    ),
    "unnas_imagenet_col": (
        "n2=skip(0)+sep3(1); n3=sep3(1)+skip(0); n4=sep3(0)+sep3(3); n5=sep3(0)+sep3(2)",
        "n2=max3(0)+sep3(1); n3=max3(0)+sep3(1); n4=max3(0)+sep5(3); n5=max3(0)+sep3(4)",
    ),
    "unnas_imagenet_jig": (
        "n2=sep3(0)+sep3(1); n3=sep3(0)+sep3(1); n4=sep3(0)+sep3(3); n5=sep3(1)+sep5(0)",
        "n2=sep5(0)+sep3(1); n3=sep3(0)+sep3(1); n4=sep3(0)+sep3(1); n5=sep5(0)+sep3(1)",
    ),
    "unnas_imagenet22k_cls": (
        "n2=sep3(1)+skip(0); n3=sep3(1)+sep3(2); n4=sep3(1)+sep3(2); n5=sep3(1)+sep3(0)",
        "n2=max3(0)+max3(1); n3=dil5(2)+max3(0); n4=dil5(3)+dil5(2); n5=dil5(4)+dil5(3)",
    ),
    "unnas_imagenet22k_rot": (
        "n2=sep3(0)+sep3(1); n3=sep3(0)+sep3(1); n4=sep3(0)+sep3(1); n5=sep3(0)+sep3(1)",
        "n2=max3(0)+sep5(1); n3=dil5(2)+sep5(0); n4=dil5(3)+sep3(2); n5=sep3(4)+sep3(3)",
    ),
    "unnas_imagenet22k_col": (
        "n2=sep3(0)+sep3(1); n3=sep3(0)+sep3(1); n4=sep3(2)+sep3(1); n5=sep3(3)+sep3(0)",
        "n2=max3(0)+skip(1); n3=dil5(2)+sep3(0); n4=sep3(3)+sep3(0); n5=sep3(4)+sep5(1)",
    ),
    "unnas_imagenet22k_jig": (
        "n2=sep3(0)+sep3(1); n3=sep3(0)+sep3(1); n4=sep3(1)+sep3(0); n5=sep3(0)+sep3(4)",
        "n2=sep5(0)+skip(1); n3=sep5(0)+sep3(2); n4=sep5(0)+sep5(3); n5=sep5(0)+sep5(4)",
    ),
    "unnas_cityscapes_seg": (
        "n2=skip(0)+sep5(1); n3=sep3(1)+sep3(0); n4=sep3(0)+sep3(1); n5=sep3(0)+sep3(1)",
        "n2=sep3(0)+avg3(1); n3=avg3(1)+sep5(0); n4=sep3(2)+sep5(0); n5=sep3(4)+sep5(2)",
    ),
    "unnas_cityscapes_rot": (
        "n2=sep3(1)+sep3(0); n3=sep3(2)+sep3(1); n4=sep3(0)+sep3(3); n5=sep3(1)+sep3(0)",
        "n2=max3(0)+sep5(1); n3=sep5(2)+sep5(1); n4=sep5(3)+dil5(2); n5=sep5(2)+sep5(0)",
    ),
    "unnas_cityscapes_col": (
        "n2=dil3(1)+sep3(0); n3=skip(0)+sep5(2); n4=dil3(3)+skip(0); n5=skip(0)+sep3(1)",
        "n2=avg3(1)+avg3(0); n3=avg3(1)+avg3(0); n4=avg3(1)+avg3(0); n5=avg3(1)+skip(4)",
    ),
    "unnas_cityscapes_jig": (
        "n2=dil5(1)+sep5(0); n3=sep3(0)+sep3(1); n4=sep3(0)+sep3(2); n5=sep3(0)+dil5(1)",
        "n2=avg3(0)+skip(1); n3=dil5(1)+dil5(2); n4=dil5(2)+dil5(0); n5=dil5(3)+dil5(2)",
    ),
}

#: Names of the published genotypes, in table order.
PUBLISHED: tuple[str, ...] = tuple(_TABLE)

#: Evaluation width C of the released configs (UNNAS_FACTS A.b / B.7): ImageNet mobile (14 cells) and
#: Cityscapes (12 cells); other names fall back to the setting's default width.
EVAL_WIDTHS: dict[str, dict[str, int]] = {
    "imagenet": {
        "darts_v2": 48,
        "unnas_imagenet_cls": 44, "unnas_imagenet_rot": 42, "unnas_imagenet_col": 46, "unnas_imagenet_jig": 42,
        "unnas_imagenet22k_cls": 46, "unnas_imagenet22k_rot": 42, "unnas_imagenet22k_col": 42,
        "unnas_imagenet22k_jig": 42,
        "unnas_cityscapes_seg": 44, "unnas_cityscapes_rot": 42, "unnas_cityscapes_col": 54,
        "unnas_cityscapes_jig": 44,
    },
    # The release's Cityscapes eval configs (12 cells); UNNAS_FACTS B.7: 82 for DARTS_V2, 78–86 for the UnNAS archs.
    "cityscapes": {
        "darts_v2": 82,
        "unnas_cityscapes_col": 86,
        "unnas_cityscapes_seg": 80, "unnas_cityscapes_jig": 80, "unnas_imagenet_col": 80, "unnas_imagenet22k_cls": 80,
        "unnas_cityscapes_rot": 78, "unnas_imagenet_cls": 78, "unnas_imagenet_rot": 78, "unnas_imagenet_jig": 78,
        "unnas_imagenet22k_rot": 78, "unnas_imagenet22k_col": 78, "unnas_imagenet22k_jig": 78,
    },
}

#: name → the genotype in list form (validated when :mod:`.genotype` registers it).
PUBLISHED_CELLS: dict[str, list] = {name: _cells(*entry) for name, entry in _TABLE.items()}
