"""The IDX (MNIST / Fashion-MNIST) reader on tiny IDX files written in tmp_path."""

import gzip
import struct

import numpy as np
import pytest
import torch

from unnas.config.schema import DataConfig
from unnas.data import build_dataset, list_datasets
from unnas.data.idx import FASHION_MNIST_MEAN, read_idx
from unnas.errors import DataError


def write_idx(path, array, dtype_code=0x08, compress=False, magic=None):
    array = np.asarray(array)
    header = magic if magic is not None else bytes([0, 0, dtype_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    big = array.astype(array.dtype.newbyteorder(">"))
    data = header + big.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def make_split(root, prefix, images, labels, compress):
    suffix = ".gz" if compress else ""
    write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=compress)
    write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=compress)


def fake_data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_plain_and_gzip(tmp_path, compress):
    images, labels = fake_data(5, 0)
    make_split(tmp_path, "train", images, labels, compress)
    make_split(tmp_path, "t10k", *fake_data(3, 1), compress)
    suffix = ".gz" if compress else ""
    assert np.array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}"), images)
    floats = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(read_idx(write_idx(tmp_path / "f.idx", floats, dtype_code=0x0D)), floats)

    cfg = DataConfig(name="fashion_mnist", root=str(tmp_path), crop_size=28)
    test = build_dataset(cfg, "test", train=False)
    assert len(test) == 3 and test.num_classes == 10 and test.label_kind == "class" and not test.is_color
    assert test.mean == (FASHION_MNIST_MEAN,) * 3
    train = build_dataset(cfg, "train", train=False)
    image, label = train[(2, 0)]
    assert image.shape == (3, 28, 28) and image.dtype == torch.float32 and label == int(labels[2])
    assert torch.equal(image[0], torch.from_numpy(images[2]).float() / 255) and torch.equal(image[0], image[2])


def test_train_augmentation_is_seeded_and_resizes_for_the_cifar_stem(tmp_path):
    make_split(tmp_path, "train", *fake_data(4, 2), compress=True)
    cfg = DataConfig(name="fashion_mnist", root=str(tmp_path), crop_size=32)
    ds = build_dataset(cfg, "train", train=True)
    a, b, c = ds[(1, 7)], ds[(1, 7)], ds[(1, 8)]
    assert a[0].shape == (3, 32, 32) and 0 <= a[0].min() and a[0].max() <= 1
    assert torch.equal(a[0], b[0]) and a[1] == b[1] == c[1]
    assert any(not torch.equal(ds[(1, 7)][0], ds[(1, s)][0]) for s in range(8, 12))
    generic = build_dataset(DataConfig(name="idx", root=str(tmp_path), crop_size=28), "train", train=False)
    pixels = ds.images.astype(np.float64) / 255
    assert generic.mean[0] == pytest.approx(pixels.mean()) and generic.std[0] == pytest.approx(pixels.std())
    assert generic.num_classes == int(ds.labels.max()) + 1
    assert {"fashion_mnist", "idx"} <= set(list_datasets())


def test_missing_bad_and_mismatched_files_are_one_line_errors(tmp_path):
    cfg = DataConfig(name="fashion_mnist", root=str(tmp_path), crop_size=28)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\(.gz\) is missing .*apt-get install dataset-fashion-mnist") as err:
        build_dataset(cfg, "train")
    assert "\n" not in str(err.value)
    images, labels = fake_data(4, 3)
    make_split(tmp_path, "train", images, labels[:3], compress=False)
    with pytest.raises(DataError, match="holds 4 images but train-labels-idx1-ubyte holds 3 labels"):
        build_dataset(cfg, "train")
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, magic=b"\x08\x03\x00\x01")
    with pytest.raises(DataError, match="bad magic 08030001"):
        build_dataset(cfg, "train")
    truncated = tmp_path / "t10k-images-idx3-ubyte"
    write_idx(truncated, images)
    truncated.write_bytes(truncated.read_bytes()[:-5])
    with pytest.raises(DataError, match=r"header says \(4, 28, 28\)"):
        read_idx(truncated)
    with pytest.raises(DataError, match="splits 'train' and 'test', not 'val'"):
        build_dataset(cfg, "val")
