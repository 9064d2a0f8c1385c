"""ImageNet-22K list-file reader on a tiny tree in the real layout: <root>/<wnid>/<wnid>_<id>.<ext>."""

from pathlib import Path

import pytest
import torch
from torchvision.io import encode_jpeg, write_png

from unnas.config import DataConfig
from unnas.data import build_dataset
from unnas.errors import DataError


def _write_image(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = torch.full((3, 20, 24), value, dtype=torch.uint8)
    if path.suffix == ".png":
        write_png(image, str(path))
    else:
        path.write_bytes(encode_jpeg(image, quality=95).numpy().tobytes())


def make_tree(root: Path, names: list[str], list_text: str | None = None, list_path: Path | None = None) -> Path:
    """Write every named image (grey level = its position × 20) and the list file."""
    for i, name in enumerate(names):
        _write_image(root / name.split("_", 1)[0] / name, 20 * i + 10)
    list_path = list_path or root / "imagenet-22k.txt"
    list_path.write_text(list_text if list_text is not None else "\n".join(names) + "\n")
    return list_path


def cfg(root: Path, **kw) -> DataConfig:
    return DataConfig(name="imagenet22k", root=str(root), crop_size=16, resize_size=18, **kw)


NAMES = ["n09999999_1.JPEG", "n01440764_7.png", "n01440764_10026.JPEG", "n04000000_3_b.jpg"]


def test_class_ids_follow_sorted_wnids_and_paths_are_root_wnid_name(tmp_path):
    make_tree(tmp_path, NAMES)
    ds = build_dataset(cfg(tmp_path), "train", train=False)
    assert ds.classes == ["n01440764", "n04000000", "n09999999"]
    assert ds.num_classes == 3 and len(ds) == 4 and ds.label_kind == "class"
    labels = [ds[(i, 0)][1] for i in range(len(ds))]
    assert labels == [2, 0, 0, 1]  # list order kept; ids from sorted wnids; class = prefix before the FIRST "_"
    assert ds.path(3) == tmp_path / "n04000000" / "n04000000_3_b.jpg"
    image, _ = ds[(1, 0)]
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32
    assert torch.allclose(image, torch.full_like(image, 30 / 255), atol=2 / 255)  # the file of entry 1, not another


def test_train_pipeline_is_seeded_random_sized_crop(tmp_path):
    make_tree(tmp_path, NAMES)
    ds = build_dataset(cfg(tmp_path), "train", train=True)
    a, b = ds[(2, 5)][0], ds[(2, 5)][0]
    assert a.shape == (3, 16, 16) and torch.equal(a, b)


def test_explicit_list_file_and_blank_lines(tmp_path):
    root = tmp_path / "in22k"
    list_path = make_tree(root, NAMES[:2], list_text=f"\n{NAMES[0]}\n   \n{NAMES[1]}\n\n", list_path=tmp_path / "my.txt")
    ds = build_dataset(cfg(root, list_file=str(list_path)))
    assert len(ds) == 2 and ds.classes == ["n01440764", "n09999999"]
    with pytest.raises(DataError, match=r"imagenet-22k\.txt does not exist.*data\.list_file"):
        build_dataset(cfg(root))  # the default <root>/imagenet-22k.txt is absent


def test_missing_listed_files_error_with_count_and_first_names(tmp_path):
    present = ["n01440764_1.JPEG"]
    absent = [f"n01440764_{i}.JPEG" for i in range(100, 106)] + ["n05555555_1.JPEG"]  # last: whole class folder absent
    make_tree(tmp_path, present, list_text="\n".join(present + absent))
    with pytest.raises(DataError) as err:
        build_dataset(cfg(tmp_path))
    msg = str(err.value)
    assert "\n" not in msg
    assert "7 of 8 images" in msg
    assert "n01440764_100.JPEG, n01440764_101.JPEG" in msg and "…" in msg
    assert "n05555555_1.JPEG" not in msg  # only the first few are named


def test_missing_class_folder_is_reported(tmp_path):
    make_tree(tmp_path, ["n01440764_1.JPEG"], list_text="n01440764_1.JPEG\nn02000000_5.JPEG\n")
    with pytest.raises(DataError, match=r"1 of 2 images .*\(n02000000_5\.JPEG\)"):
        build_dataset(cfg(tmp_path))


@pytest.mark.parametrize("bad", ["n01440764.JPEG", "_12.JPEG", "n01440764/n01440764_1.JPEG"])
def test_malformed_line_names_its_number(tmp_path, bad):
    make_tree(tmp_path, NAMES[:1], list_text=f"{NAMES[0]}\n\n{bad}\n")
    with pytest.raises(DataError, match=r"line 3: .*<wnid>_<id>\.<ext>"):
        build_dataset(cfg(tmp_path))


def test_layout_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_dataset(cfg(tmp_path / "nowhere"))
    make_tree(tmp_path, NAMES[:1])
    with pytest.raises(DataError, match="only a train split"):
        build_dataset(cfg(tmp_path), "val", train=False)
    (tmp_path / "imagenet-22k.txt").write_text("\n\n")
    with pytest.raises(DataError, match="names no images"):
        build_dataset(cfg(tmp_path))
