"""Shared fixtures. Everything is built in tmp_path in the real on-disk layouts."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

# One intra-op thread: the test models are tiny (threads buy nothing) and OpenMP threads that
# spin-wait on a busy 2-core machine slow small kernels down by an order of magnitude.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]


def write_png(path: Path, image: torch.Tensor) -> Path:
    """Write a uint8 C×H×W tensor as PNG (creating folders)."""
    from torchvision.io import write_png as _write_png

    path.parent.mkdir(parents=True, exist_ok=True)
    _write_png(image, str(path))
    return path


def random_image(seed: int, h: int = 40, w: int = 48, channels: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (channels, h, w), generator=g, dtype=torch.uint8)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A nested folder of 12 small real PNG files (no labels)."""
    root = tmp_path / "photos"
    for i in range(12):
        sub = root / ("a" if i % 2 else "b") / ("deep" if i % 3 == 0 else "")
        write_png(sub / f"img_{i}.png", random_image(i))
    return root


@pytest.fixture
def cli(capsys):
    """Run the real CLI in-process; returns (exit code, stdout, stderr)."""
    from unnas.cli import main

    def _run(*argv: str):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def tiny_search_overrides(out_dir: Path, **extra) -> list[str]:
    """A search small enough for a test: width 4, 2 cells, 32-px crops."""
    base = {
        "out_dir": str(out_dir), "model.width": 4, "model.cells": 2, "data.crop_size": 32,
        "data.resize_size": 36, "data.length": 24, "optim.batch_size": 4, "optim.epochs": 2,
        "progress": False, "eval_batches": 1, "log_every": 1,
    }
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


sys.path.insert(0, str(Path(__file__).parent))


def write_cifar(root: Path, n_per_batch: int = 6) -> Path:
    """CIFAR-10's python-pickle layout (data_batch_1..5, test_batch) with random pixels and labels."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = list(rng.integers(0, 10, n_per_batch))
        with open(root / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels}, f)
    return root
