"""Cityscapes reader on tiny trees in the official layout (leftImg8bit/ + gtFine/ per split and city)."""

import shutil
from pathlib import Path

import pytest
import torch
from torchvision.io import write_png

from unnas.config import DataConfig
from unnas.data import build_dataset
from unnas.data.cityscapes import LABEL_ID_TO_TRAIN_ID, train_id_lut
from unnas.errors import DataError

H, W = 64, 128
#: Image channel 0 = CODE_STEP × code, where code = label (0–18) or IGNORE_CODE for 255.
CODE_STEP, IGNORE_CODE = 12, 20


def block_label(seed: int = 0) -> torch.Tensor:
    """16-px blocks of varied train ids (no mirror symmetry) and one ignored block."""
    by, bx = torch.meshgrid(torch.arange(H) // 16, torch.arange(W) // 16, indexing="ij")
    label = (by * 7 + bx * 3 + seed) % 19
    label[16:32, 96:112] = 255
    return label.to(torch.uint8)


def encode_image(label: torch.Tensor) -> torch.Tensor:
    """An image whose red channel encodes the label; green and blue are x and y ramps (to see flips)."""
    code = torch.where(label == 255, IGNORE_CODE, label.long())
    x = torch.linspace(0, 255, W).round().expand(H, W)
    y = torch.linspace(0, 255, H).round()[:, None].expand(H, W)
    return torch.stack([code * CODE_STEP, x, y]).to(torch.uint8)


def write_pair(root: Path, split: str, city: str, prefix: str, label: torch.Tensor, kind: str = "labelTrainIds",
               image: torch.Tensor | None = None) -> None:
    img_dir, gt_dir = root / "leftImg8bit" / split / city, root / "gtFine" / split / city
    img_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    write_png(encode_image(label) if image is None else image, str(img_dir / f"{prefix}_leftImg8bit.png"))
    if kind:
        write_png(label[None], str(gt_dir / f"{prefix}_gtFine_{kind}.png"))


def cfg(root: Path, **kw) -> DataConfig:
    kw = {"crop_size": 32, "base_size": 48, **kw}
    return DataConfig(name="cityscapes", root=str(root), **kw)


def test_pairs_sorted_images_with_their_train_id_labels(tmp_path):
    # Written out of order across two cities; each label is constant = its sorted position.
    order = [("aachen", "aachen_000000_000019"), ("aachen", "aachen_000001_000019"), ("bremen", "bremen_000000_000019")]
    for pos, (city, prefix) in reversed(list(enumerate(order))):
        write_pair(tmp_path, "val", city, prefix, torch.full((H, W), pos * 5, dtype=torch.uint8))
    ds = build_dataset(cfg(tmp_path), "val", train=False)
    assert len(ds) == 3 and ds.label_kind == "mask" and ds.num_classes == 19
    assert [p.name for p in ds.images] == [f"{p}_leftImg8bit.png" for _, p in order]
    for pos in range(3):
        image, label = ds[(pos, 0)]
        assert image.shape == (3, H, W) and image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
        assert label.shape == (H, W) and label.dtype == torch.int64
        assert torch.equal(label, torch.full((H, W), pos * 5))
        assert torch.allclose(image[0] * 255, torch.full((H, W), pos * 5 * CODE_STEP, dtype=torch.float32))


def test_eval_returns_full_image_and_label_unchanged(tmp_path):
    label = block_label()
    write_pair(tmp_path, "val", "lindau", "lindau_000000_000019", label)
    image, got = build_dataset(cfg(tmp_path), "val", train=False)[(0, 3)]
    assert torch.equal(got, label.long())
    assert torch.equal((image * 255).round().to(torch.uint8), encode_image(label))


def test_label_ids_are_converted_to_train_ids(tmp_path):
    ids = torch.arange(256, dtype=torch.uint8).repeat(H, 1)[:, :W]  # ids 0..127 in columns
    ids[:, 0] = 33
    write_pair(tmp_path, "train", "ulm", "ulm_000000_000019", ids, kind="labelIds",
               image=torch.zeros(3, H, W, dtype=torch.uint8))
    label = build_dataset(cfg(tmp_path), "train", train=False)[(0, 0)][1]
    expected = torch.full((W,), 255)
    for label_id, train_id in LABEL_ID_TO_TRAIN_ID.items():
        expected[label_id] = train_id
    expected[0] = 18  # column 0 held id 33 (bicycle)
    assert torch.equal(label, expected.expand(H, W))
    assert label[0, 7] == 0 and label[0, 26] == 13 and label[0, 6] == 255 and label[0, 34] == 255
    lut = train_id_lut()  # the official table, whole: 19 ids map to 0..18, every other id is ignored
    assert sorted(lut[lut != 255].tolist()) == list(range(19)) and int((lut != 255).sum()) == 19


def test_train_ids_preferred_when_both_label_kinds_exist(tmp_path):
    write_pair(tmp_path, "train", "ulm", "ulm_000000_000019", torch.full((H, W), 7, dtype=torch.uint8))
    write_png(torch.full((1, H, W), 26, dtype=torch.uint8),
              str(tmp_path / "gtFine/train/ulm/ulm_000000_000019_gtFine_labelIds.png"))
    label = build_dataset(cfg(tmp_path), "train", train=False)[(0, 0)][1]
    assert torch.equal(label, torch.full((H, W), 7))  # read unchanged, not mapped (7 → 0)


def test_image_and_label_stay_aligned_under_scale_crop_flip(tmp_path):
    write_pair(tmp_path, "train", "jena", "jena_000000_000019", block_label())
    ds = build_dataset(cfg(tmp_path, crop_size=32, base_size=48), "train", train=True)
    flips = 0
    shapes = set()
    for seed in range(10):
        image, label = ds[(0, seed)]
        assert image.shape == (3, 32, 32) and label.shape == (32, 32) and label.dtype == torch.int64
        code = (image[0] * 255 / CODE_STEP).round().long()
        decoded = torch.where(code == IGNORE_CODE, 255, code)
        # Compare away from block edges: bilinear image vs nearest label may differ within ~2 px of an edge.
        pad = label.float()[None, None]
        lo = -torch.nn.functional.max_pool2d(-pad, 7, 1, 3)[0, 0]
        hi = torch.nn.functional.max_pool2d(pad, 7, 1, 3)[0, 0]
        interior = (lo == hi)[3:-3, 3:-3]
        assert interior.sum() > 50
        assert torch.equal(decoded[3:-3, 3:-3][interior], label[3:-3, 3:-3][interior]), f"seed {seed} misaligned"
        ramp = image[1, 16]
        flips += bool(ramp[-1] < ramp[0])
        shapes.add(tuple(torch.unique(label).tolist()))
    assert 0 < flips < 10  # some samples flipped, some not
    assert len(shapes) > 1  # crops differ across seeds


def test_train_crop_larger_than_scaled_image_pads_label_with_ignore(tmp_path):
    write_pair(tmp_path, "train", "jena", "jena_000000_000019", block_label())
    ds = build_dataset(cfg(tmp_path, crop_size=80, base_size=32), "train", train=True)  # 80 > image height 64
    image, label = ds[(0, 1)]
    assert image.shape == (3, 80, 80) and label.shape == (80, 80)
    assert (label != 255).any()


def test_bad_train_id_value_names_file_and_value(tmp_path):
    label = block_label()
    label[0, 0] = 19
    write_pair(tmp_path, "val", "lindau", "lindau_000000_000019", label)
    ds = build_dataset(cfg(tmp_path), "val", train=False)  # checked when the sample is loaded
    with pytest.raises(DataError, match=r"lindau_000000_000019_gtFine_labelTrainIds\.png holds value 19"):
        ds[(0, 0)]


def test_layout_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_dataset(cfg(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="leftImg8bit does not exist"):
        build_dataset(cfg(tmp_path))
    write_pair(tmp_path, "train", "ulm", "ulm_000000_000019", block_label(), kind="")
    shutil.rmtree(tmp_path / "gtFine")
    with pytest.raises(DataError, match=r"gtFine does not exist but .*leftImg8bit does"):
        build_dataset(cfg(tmp_path))
    (tmp_path / "gtFine").mkdir()
    with pytest.raises(DataError, match=r"label .*gtFine/train/ulm/ulm_000000_000019_gtFine_labelTrainIds\.png .*missing"):
        build_dataset(cfg(tmp_path))
    with pytest.raises(DataError, match=r"split folder .*leftImg8bit/val does not exist \(found: train\)"):
        build_dataset(cfg(tmp_path), "val")
    (tmp_path / "leftImg8bit" / "test" / "berlin").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no \*_leftImg8bit\.png images in .*leftImg8bit/test"):
        build_dataset(cfg(tmp_path), "test")
