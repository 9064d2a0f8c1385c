"""The issue-2 readers (demo photos, image folders, CIFAR-10 batches, class folders) and the
seeded sampling that makes resumed runs see the same pixels."""

from __future__ import annotations

import pickle

import pytest
import torch

from conftest import random_image, write_cifar, write_png
from unnas.config import DataConfig
from unnas.data import build_dataset
from unnas.data.sampling import SeededSampler, split_halves
from unnas.errors import ConfigError, DataError


def test_demo_photos_are_real_colour_crops():
    ds = build_dataset(DataConfig(name="demo", crop_size=48, length=20))
    assert len(ds) == 20 and len(ds.photos) >= 7
    image, label = ds[(3, 123)]
    assert image.shape == (3, 48, 48) and image.dtype == torch.float32 and label == -1
    assert 0.0 <= image.min() and image.max() <= 1.0
    # colour photographs: channels differ
    assert (image[0] - image[2]).abs().mean() > 0.01
    # the same (index, seed) gives the same pixels; another seed another crop
    assert torch.equal(ds[(3, 123)][0], image)
    assert not torch.equal(ds[(3, 124)][0], image)


def test_folder_reader_finds_nested_images(image_folder):
    ds = build_dataset(DataConfig(name="folder", root=str(image_folder), crop_size=32))
    assert len(ds) == 12 and ds.label_kind is None
    names = {p.name for p in ds.paths}
    assert names == {f"img_{i}.png" for i in range(12)}
    image, label = ds[(0, 1)]
    assert image.shape == (3, 32, 32) and label == -1


def test_folder_reader_converts_grayscale_and_rgba(tmp_path):
    write_png(tmp_path / "g.png", random_image(1, channels=1))
    from PIL import Image

    rgba = random_image(2, channels=4).permute(1, 2, 0).numpy()
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    ds = build_dataset(DataConfig(name="folder", root=str(tmp_path), crop_size=16))
    for i in range(2):
        assert ds[(i, 0)][0].shape == (3, 16, 16)


def test_eval_pipeline_is_deterministic_center_crop(image_folder):
    ds = build_dataset(DataConfig(name="folder", root=str(image_folder), crop_size=32, resize_size=36), train=False)
    assert torch.equal(ds[(0, 1)][0], ds[(0, 2)][0])


def test_cifar10_batches(tmp_path):
    root = write_cifar(tmp_path / "cifar-10-batches-py")
    train = build_dataset(DataConfig(name="cifar10", root=str(root)), "train", train=False)
    test = build_dataset(DataConfig(name="cifar10", root=str(root)), "test", train=False)
    assert len(train) == 30 and len(test) == 6 and train.num_classes == 10
    with open(root / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    image, label = train[(0, 0)]
    # planar R, G, B rows of 1024 values each
    expected = torch.from_numpy(raw[b"data"][0].reshape(3, 32, 32)).float() / 255
    assert torch.equal(image, expected) and label == raw[b"labels"][0]
    augmented = build_dataset(DataConfig(name="cifar10", root=str(root)), "train", train=True)[(0, 5)][0]
    assert augmented.shape == (3, 32, 32)
    (root / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3"):
        build_dataset(DataConfig(name="cifar10", root=str(root)))


def test_imagenet_class_folders(tmp_path):
    for wnid, n in (("n02", 2), ("n01", 3)):
        for i in range(n):
            write_png(tmp_path / "train" / wnid / f"{wnid}_{i}.png", random_image(i))
    (tmp_path / "train" / "not_a_wnid").mkdir()
    ds = build_dataset(DataConfig(name="imagenet", root=str(tmp_path), crop_size=16))
    assert ds.classes == ["n01", "n02"] and ds.num_classes == 2
    labels = [ds[(i, 0)][1] for i in range(len(ds))]
    assert labels == [0, 0, 0, 1, 1]
    (tmp_path / "train" / "n03").mkdir()
    with pytest.raises(DataError, match="n03 holds no images"):
        build_dataset(DataConfig(name="imagenet", root=str(tmp_path)))
    with pytest.raises(DataError, match="val does not exist"):
        build_dataset(DataConfig(name="imagefolder", root=str(tmp_path), split="val"))


def test_unknown_reader():
    with pytest.raises(ConfigError, match="not a known reader"):
        build_dataset(DataConfig(name="imagenet1k"))


def test_split_halves_are_disjoint_and_seeded():
    a, b = split_halves(100, seed=3)
    assert len(a) == 50 and not set(a) & set(b) and set(a) | set(b) == set(range(100))
    assert split_halves(100, seed=3) == (a, b) and split_halves(100, seed=4) != (a, b)
    assert split_halves(10, seed=3, shuffle=False) == (list(range(5)), list(range(5, 10)))


def test_sampler_resumes_mid_epoch_and_shards_ranks():
    full = SeededSampler(range(40), seed=1, batch_size=4)
    full.set_epoch(2)
    order = list(full)
    resumed = SeededSampler(range(40), seed=1, batch_size=4)
    resumed.set_epoch(2, start_batch=3)
    assert list(resumed) == order[12:]
    full.set_epoch(3)
    assert list(full) != order  # a new epoch, a new order
    shards = [SeededSampler(range(40), seed=1, batch_size=4, rank=r, world_size=2) for r in range(2)]
    for s in shards:
        s.set_epoch(2)
    merged = [x for pair in zip(*[list(s) for s in shards]) for x in pair]
    assert merged == order  # ranks interleave the same global order, with the same sample seeds


def test_resize_then_random_crop_pipeline(tmp_path):
    """The paper's jigsaw crop: short side to resize_size, then a random crop (no rescaling of content)."""
    write_png(tmp_path / "wide.png", random_image(0, h=40, w=80))
    cfg = DataConfig(name="folder", root=str(tmp_path), crop_size=30, resize_size=32, train_crop="resize_random")
    ds = build_dataset(cfg)
    crops = {tuple(ds[(0, s)][0].flatten()[:8].tolist()) for s in range(6)}
    assert ds[(0, 0)][0].shape == (3, 30, 30) and len(crops) > 1  # random positions
    with pytest.raises(ConfigError, match="train_crop"):
        build_dataset(DataConfig(name="folder", root=str(tmp_path), train_crop="zoom"))
