"""ImageNet-22K (fall 2011 release) as the paper reads it: ``<root>/<wnid>/<file>`` named by a list file.

The list file holds one image name ``<wnid>_<id>.<ext>`` per line; the class is the prefix
before the first ``_`` and class ids follow the sorted unique wnids (21841 for the full list).
Every listed file must exist: the paper's release silently served a random other image in
place of a missing or unreadable one, which corrupts labels without a trace, so we refuse.

With ~14M entries, per-file Python objects cost gigabytes and are copied into every loader
worker (reference counts touch every page), so names live in one numpy byte array and labels
in an int32 array. Existence is checked with one directory listing per class, not one stat
per file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from unnas.errors import DataError

from .base import PAPER_LIGHTING, ImageDataset
from .decode import read_image
from .folder import ImagePipeline, drop_unreadable, require_dir
from .registry import register_dataset

DEFAULT_LIST_NAME = "imagenet-22k.txt"
#: How many missing names an error message shows.
SHOW_MISSING = 5


def parse_list(list_path: Path) -> tuple[list[str], list[str]]:
    """(file names, their wnids) from a list file; blank lines are skipped, bad lines are an error."""
    try:
        text = list_path.read_text()
    except UnicodeDecodeError:
        raise DataError(f"list file {list_path} is not text; expected one <wnid>_<id>.<ext> name per line") from None
    names, wnids = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        wnid, sep, _ = name.partition("_")
        if not sep or not wnid or "/" in name or "\\" in name:
            raise DataError(
                f"{list_path} line {number}: {name[:80]!r} is not an image name <wnid>_<id>.<ext> "
                "(e.g. n01440764_10026.JPEG); fix or delete the line"
            )
        names.append(name)
        wnids.append(wnid)
    if not names:
        raise DataError(f"list file {list_path} names no images; expected one <wnid>_<id>.<ext> per line")
    return names, wnids


def _listing(folder: Path) -> set[str]:
    """Entry names in ``folder`` (one ``listdir``, no per-file stat); empty when it does not exist."""
    try:
        return set(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return set()


def find_missing(root: Path, names: list[str], wnids: list[str]) -> list[str]:
    """Listed names with no file at root/wnid/name, in list order. One directory listing per class folder."""
    present = {wnid: _listing(root / wnid) for wnid in set(wnids)}
    return [name for name, wnid in zip(names, wnids) if name not in present[wnid]]


def resolve_list_file(root: Path, list_file: str | None) -> Path:
    path = Path(list_file).expanduser() if list_file else root / DEFAULT_LIST_NAME
    if not path.is_file():
        how = "" if list_file else f" (default: <root>/{DEFAULT_LIST_NAME})"
        raise DataError(f"ImageNet-22K list file {path} does not exist{how}; set data.list_file=/path/to/imagenet-22k.txt")
    return path


class ListFileDataset(ImageDataset):
    """Images at root/<wnid>/<name>, one int label each, stored compactly (see module docstring)."""

    label_kind = "class"
    lighting = PAPER_LIGHTING

    def __init__(self, root: Path, names: np.ndarray, wnid_ids: np.ndarray, classes: list[str],
                 pipeline: ImagePipeline):
        self.root = root
        self.names = names          # bytes, one per image
        self.labels = wnid_ids      # int32 class index per image
        self.classes = classes
        self.num_classes = len(classes)
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.names)

    def path(self, index: int) -> Path:
        label = int(self.labels[index])
        return self.root / self.classes[label] / self.names[index].decode()

    def load(self, index: int, generator: torch.Generator) -> tuple[Tensor, int]:
        return self.pipeline(read_image(self.path(index)), generator), int(self.labels[index])


def index_list(names: list[str], wnids: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Compact (names, labels, classes); labels index the sorted unique wnids."""
    classes, labels = np.unique(np.asarray(wnids), return_inverse=True)
    return np.asarray([n.encode() for n in names], dtype=np.bytes_), labels.astype(np.int32), classes.tolist()


@register_dataset("imagenet22k", "ImageNet-22K: <root>/<wnid>/<file> named by data.list_file "
                                 "(default <root>/imagenet-22k.txt, lines <wnid>_<id>.<ext>); train split only")
def build_imagenet22k(cfg, split: str, train: bool) -> ListFileDataset:
    root = require_dir(cfg.root, "imagenet22k reader")
    if split != "train":
        raise DataError(f"ImageNet-22K has only a train split (the list file), not {split!r}; set data.split=train "
                        "(search holds out half of it for α)")
    list_path = resolve_list_file(root, cfg.list_file)
    names, wnids = parse_list(list_path)
    missing = find_missing(root, names, wnids)
    if missing:
        shown = ", ".join(missing[:SHOW_MISSING]) + (", …" if len(missing) > SHOW_MISSING else "")
        raise DataError(f"{len(missing)} of {len(names)} images named in {list_path} are missing under {root}/<wnid>/ "
                        f"({shown}); restore them or remove their lines")
    pipeline = ImagePipeline.from_config(cfg, train)
    dataset = ListFileDataset(root, *index_list(names, wnids), pipeline)
    if cfg.skip_unreadable:  # decodes every listed file once: hours for the full 14M list
        drop_unreadable_entries(dataset, list_path)
    return dataset


def drop_unreadable_entries(dataset: ListFileDataset, list_path: Path) -> None:
    paths = [dataset.path(i) for i in range(len(dataset))]
    _, bad = drop_unreadable(paths)
    if not bad:
        return
    if len(bad) == len(paths):
        raise DataError(f"no readable image among the {len(paths)} listed in {list_path}")
    bad_set = set(bad)
    keep = [i for i, p in enumerate(paths) if p not in bad_set]
    print(f"unnas: skipped {len(bad)} unreadable image(s) listed in {list_path}, e.g. {bad[0]}")
    dataset.names, dataset.labels = dataset.names[keep], dataset.labels[keep]
