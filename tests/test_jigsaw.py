"""Jigsaw: permutation sets (generated, shipped, loaded), tile placement, normalisation, CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

import pretext
from pretext.jigsaw import JigsawHead
from pretext.permutations import DEFAULT_SET_3X3, generate_permutations, hamming_stats
from unnas.cli import main as cli
from unnas.errors import TaskError

PLAIN = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}  # no per-channel normalisation before tiling


def test_grid_2_uses_all_24_permutations_in_lexicographic_order():
    task = pretext.build_task("jigsaw", grid=2)
    assert task.num_permutations == 24 and task.tiles == 4
    assert task.permutations.tolist() == [list(p) for p in itertools.permutations(range(4))]
    assert task.permutations[0].tolist() == [0, 1, 2, 3]


def test_shipped_3x3_set_is_valid_far_apart_and_reproducible():
    shipped = np.load(DEFAULT_SET_3X3)
    assert shipped.shape == (1000, 9)
    assert (np.sort(shipped, axis=1) == np.arange(9)).all()
    assert len(np.unique(shipped, axis=0)) == 1000
    stats = hamming_stats(shipped)
    assert stats["min"] >= 5 and stats["mean"] > 7.9  # the paper's set: min 2, mean ≈ 8.01
    # Greedy selection is prefix-stable, so a short run reproduces the head of the shipped set.
    assert np.array_equal(generate_permutations(3, 150, seed=0), shipped[:150])
    task = pretext.build_task("jigsaw")
    assert task.num_permutations == 1000 and np.array_equal(task.permutations.numpy(), shipped)
    assert np.array_equal(pretext.build_task("jigsaw", num_permutations=100).permutations.numpy(), shipped[:100])


def test_generation_is_seeded_and_prefix_stable():
    a = generate_permutations(2, 12, seed=1)
    assert np.array_equal(a, generate_permutations(2, 12, seed=1))
    assert np.array_equal(a[:5], generate_permutations(2, 5, seed=1))
    assert not np.array_equal(a, generate_permutations(2, 12, seed=2))
    assert hamming_stats(a)["min"] >= 2


def coded_image(grid: int, side: int) -> tuple[torch.Tensor, np.ndarray]:
    """An image whose grid cell k is the constant colour (0, s_k, 1): s_k survives per-tile normalisation."""
    codes = np.linspace(0.1, 0.9, grid * grid)
    img = torch.zeros(3, side, side)
    cell = side // grid
    for k, s in enumerate(codes):
        r, c = divmod(k, grid)
        img[1, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = float(s)
        img[2, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = 1.0
    return img, codes


@pytest.mark.parametrize("grid,side", [(2, 32), (3, 48)])
def test_tile_from_cell_k_lands_in_slot_perm_k(grid, side):
    task = pretext.build_task("jigsaw", grid=grid, gray_fraction=0.0, **PLAIN)
    img, codes = coded_image(grid, side)
    batch = 6
    inputs, targets = task.prepare(img.expand(batch, -1, -1, -1), generator=torch.Generator().manual_seed(0))
    tile = int(0.76 * (side // grid))
    assert inputs.shape == (batch * grid * grid, 3, tile, tile) and targets.shape == (batch,)
    assert targets.dtype == torch.int64 and len(set(targets.tolist())) > 1
    tiles = inputs.view(batch, grid * grid, 3, tile, tile)[..., 0, 0]  # one pixel per tile: (B, n², 3)
    decoded = (tiles[..., 1] - tiles[..., 0]) / (tiles[..., 2] - tiles[..., 0])
    for b in range(batch):
        perm = task.permutations[targets[b]]
        for k in range(grid * grid):
            assert decoded[b, perm[k]].item() == pytest.approx(codes[k], abs=1e-4)


def test_tiles_are_normalised_jittered_and_deterministic():
    task = pretext.build_task("jigsaw", grid=3)
    images = torch.rand(4, 3, 64, 64)
    inputs, _ = task.prepare(images, generator=torch.Generator().manual_seed(5))
    flat = inputs.flatten(1)
    assert torch.allclose(flat.mean(1), torch.zeros(36), atol=1e-4)
    assert torch.allclose(flat.std(1, correction=0), torch.ones(36), atol=1e-3)
    same, _ = task.prepare(images, generator=torch.Generator().manual_seed(5))
    other, _ = task.prepare(images, generator=torch.Generator().manual_seed(6))
    assert torch.equal(inputs, same) and not torch.equal(inputs, other)


def test_gray_conversion_only_when_training():
    task = pretext.build_task("jigsaw", grid=2, gray_fraction=1.0, **PLAIN)
    images = torch.rand(3, 3, 32, 32)
    train, _ = task.prepare(images, train=True, generator=torch.Generator().manual_seed(0))
    test, _ = task.prepare(images, train=False, generator=torch.Generator().manual_seed(0))
    channel_gap = lambda x: (x[:, 0] - x[:, 1]).abs().max().item()  # noqa: E731
    assert channel_gap(train) < 1e-5 and channel_gap(test) > 0.1  # gray tiles repeat one channel


def test_head_concatenates_pooled_tiles_in_slot_order():
    head = JigsawHead(in_channels=2, tiles=4, num_permutations=24)
    features = torch.randn(3 * 4, 2, 5, 5)
    expected = head.fc(features.mean(dim=(2, 3)).view(3, 4 * 2))
    assert torch.allclose(head(features, (20, 20)), expected)
    assert pretext.build_task("jigsaw", grid=2).build_head(8).fc.in_features == 32


def test_images_too_small_are_refused():
    with pytest.raises(TaskError, match="at least 12 px"):
        pretext.build_task("jigsaw", grid=3).prepare(torch.rand(1, 3, 10, 10))


@pytest.mark.parametrize("table,message", [
    ([[0, 1, 2, 3], [0, 1, 2, 3], [1, 0, 2, 3]], "repeats an earlier row"),
    ([[0, 1, 2], [1, 0, 2]], r"shape \(P, 4\)"),
    ([[1, 2, 3, 4], [2, 1, 3, 4]], "not a permutation of 0..3"),
    ([[0, 1, 2, 2], [1, 0, 2, 3]], "not a permutation"),
])
def test_bad_permutation_files_are_refused(tmp_path, table, message):
    path = tmp_path / "perms.npy"
    np.save(path, np.array(table))
    with pytest.raises(TaskError, match=message) as info:
        pretext.build_task("jigsaw", grid=2, permutations_file=str(path))
    assert "\n" not in str(info.value)


def test_a_permutation_file_is_used_and_truncated(tmp_path):
    path = tmp_path / "perms.npy"
    np.save(path, np.array([[3, 2, 1, 0], [0, 1, 2, 3], [1, 0, 3, 2]]))
    task = pretext.build_task("jigsaw", grid=2, permutations_file=str(path), num_permutations=2)
    assert task.permutations.tolist() == [[3, 2, 1, 0], [0, 1, 2, 3]]
    with pytest.raises(TaskError, match="holds only 3"):
        pretext.build_task("jigsaw", grid=2, permutations_file=str(path), num_permutations=5)


def test_cli_writes_a_set_and_prints_its_statistics(tmp_path, capsys):
    out = tmp_path / "sets" / "p.npy"
    assert cli(["permutations", "--grid", "2", "--count", "10", "--seed", "3", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    perms = np.load(out)
    assert np.array_equal(perms, generate_permutations(2, 10, seed=3)) and perms.dtype == np.int64
    assert report["min"] == hamming_stats(perms)["min"] and report["mean"] == pytest.approx(hamming_stats(perms)["mean"])
    assert not [p for p in out.parent.iterdir() if p != out]  # no temporary file left behind

    assert cli(["permutations", "--grid", "2", "--stats", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 10
    assert cli(["permutations", "--grid", "3", "--stats", str(out)]) == 2  # 4-wide file for a 3×3 grid
    assert "shape (P, 9)" in capsys.readouterr().err
