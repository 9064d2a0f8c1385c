"""Colorization targets: Lab conversion, exact nearest-bin assignment on both paths, options, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.color
import skimage.data
import skimage.transform
import torch
from kornia.color import rgb_to_lab

import pretext
from pretext.colorization import DEFAULT_BINS, load_ab_bins, nearest_bins_torch
from conftest import write_cifar
from unnas.config import DataConfig
from unnas.data import build_dataset
from unnas.data.cifar import CIFAR_MEAN, CIFAR_STD
from unnas.engine.task_setup import build_task_for_data
from unnas.errors import TaskError

TIE = 1e-2  # squared-distance gap under which two bins count as tied (float32 rounding)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """The astronaut photo (bundled with scikit-image) at 32×32, float RGB in [0, 1]."""
    return skimage.transform.resize(skimage.data.astronaut(), (32, 32), anti_aliasing=True)


def as_batch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].float()


def brute_force(ab: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 reference: nearest bin and the full N×K squared-distance matrix."""
    d = ((ab[:, None, :].astype(np.float64) - bins[None].astype(np.float64)) ** 2).sum(-1)
    return d.argmin(1), d


def assert_nearest(got: np.ndarray, ab: np.ndarray, bins: np.ndarray) -> None:
    ref, d = brute_force(ab, bins)
    rows = np.arange(len(ab))
    differs = got != ref
    assert (d[rows, got] - d[rows, ref] < TIE).all(), "a disagreement that is not a tie"
    assert differs.mean() < 1e-3


def test_the_shipped_bins_are_the_standard_313():
    bins = load_ab_bins()
    assert bins.shape == (313, 2)
    assert np.array_equal(bins % 10, np.zeros_like(bins))
    assert bins[:, 0].min() == -90 and bins[:, 0].max() == 100 and bins[:, 1].min() == -110


def test_lab_matches_scikit_image_on_a_photo(photo):
    ours = rgb_to_lab(as_batch(photo))[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - skimage.color.rgb2lab(photo)).max() < 1e-3


def test_task_inputs_and_targets_match_a_scikit_image_reference(photo):
    task = pretext.build_task("colorization")
    inputs, targets = task.prepare(as_batch(photo))
    lab = skimage.color.rgb2lab(photo)
    assert inputs.shape == (1, 1, 32, 32) and targets.shape == (1, 32, 32) and targets.dtype == torch.int64
    expected = (lab[..., 0] / 100 - 0.449) / 0.226
    assert np.abs(inputs[0, 0].numpy() - expected).max() < 1e-3
    assert_nearest(targets.flatten().numpy(), lab[..., 1:].reshape(-1, 2), load_ab_bins())


def test_faiss_torch_and_brute_force_agree():
    rng = np.random.default_rng(0)
    ab = rng.uniform(-120, 120, size=(4000, 2)).astype(np.float32)
    ab[:200] = np.round(ab[:200] / 5) * 5  # points on bin centres and exact midpoints (ties)
    bins = load_ab_bins()
    task = pretext.build_task("colorization")
    faiss_idx, faiss_d = task._nearest(torch.from_numpy(ab), k=1)  # CPU tensors take the faiss path
    torch_idx, torch_d = nearest_bins_torch(torch.from_numpy(ab), torch.from_numpy(bins), k=1)
    assert_nearest(faiss_idx[:, 0].numpy(), ab, bins)
    assert_nearest(torch_idx[:, 0].numpy(), ab, bins)
    ref, d = brute_force(ab, bins)
    assert np.allclose(torch_d[:, 0].numpy(), d.min(1), atol=1e-3)
    assert np.allclose(faiss_d[:, 0].numpy(), d.min(1), atol=0.1)
    # k nearest, sorted, on both paths
    k_faiss, _ = task._nearest(torch.from_numpy(ab[200:]), k=5)
    k_torch, _ = nearest_bins_torch(torch.from_numpy(ab[200:]), torch.from_numpy(bins), k=5)
    assert (k_faiss == k_torch).float().mean() > 0.99


def test_normalisation_uses_the_mean_of_the_channel_statistics(tmp_path):
    imagenet = pretext.build_task("colorization")
    assert imagenet.l_mean == pytest.approx(0.449, abs=1e-3) and imagenet.l_std == pytest.approx(0.226, abs=1e-3)
    averaged = pretext.build_task("colorization", mean=CIFAR_MEAN, std=CIFAR_STD)
    assert averaged.l_mean == pytest.approx(0.4735, abs=1e-4) and averaged.l_std == pytest.approx(0.2507, abs=1e-4)
    # The reader hands over the release's own CIFAR constants.
    cifar, options = build_task_for_data("colorization", {}, build_dataset(DataConfig(name="cifar10", root=str(write_cifar(tmp_path / "c")))), "cifar10")
    assert (cifar.l_mean, cifar.l_std) == (0.4741, 0.2512) and options["l_mean"] == 0.4741
    # White pixels have L = 100 exactly; one red pixel keeps the batch from being gray.
    images = torch.ones(1, 3, 8, 8)
    images[0, 1:, 0, 0] = 0
    inputs, _ = cifar.prepare(images)
    assert inputs[0, 0, 4, 4].item() == pytest.approx((1 - cifar.l_mean) / cifar.l_std, abs=1e-4)


def test_soft_encoding_sums_to_one_and_favours_the_nearest_bin(photo):
    hard_task = pretext.build_task("colorization")
    soft_task = pretext.build_task("colorization", soft_encoding=True)
    _, hard = hard_task.prepare(as_batch(photo))
    _, soft = soft_task.prepare(as_batch(photo))
    assert soft.shape == (1, 10, 32, 32) and soft.is_floating_point()
    weights = soft[:, 5:]
    assert torch.allclose(weights.sum(1), torch.ones(1, 32, 32), atol=1e-5)
    assert (weights[:, 0] >= weights[:, 1:].max(1).values).all() and (weights[:, 0] > 0.2).all()
    assert torch.equal(soft_task.hard_labels(soft), hard)
    # Loss is soft cross-entropy; metrics count pixels and score against the nearest bin.
    logits = torch.randn(1, 313, 32, 32)
    expected = -(torch.log_softmax(logits, 1).gather(1, soft[:, :5].long()) * weights).sum(1).mean()
    assert soft_task.loss(logits, soft).item() == pytest.approx(expected.item(), rel=1e-5)
    sums = soft_task.metric_sums(logits, soft)
    assert sums["count"].item() == 32 * 32
    assert soft_task.summarize(sums) == hard_task.summarize(hard_task.metric_sums(logits, hard))


def test_rebalancing_weights_have_unit_mean_under_the_prior(photo):
    task = pretext.build_task("colorization", rebalance=0.5)
    _, targets = task.prepare(as_batch(photo))
    p = task.bin_counts / task.bin_counts.sum()
    w = task.class_weights(torch.device("cpu")).double()
    assert (p * w).sum().item() == pytest.approx(1.0)
    assert w[p > 0].min() < 1 < w[p > 0].max()  # frequent bins weigh less than rare ones
    uniform = pretext.build_task("colorization", rebalance=1.0)
    uniform.prepare(as_batch(photo))
    logits = torch.randn(1, 313, 32, 32)
    assert uniform.loss(logits, targets).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, targets).item(), rel=1e-5)
    with pytest.raises(TaskError):
        pretext.build_task("colorization", rebalance=1.5)


def test_gray_batches_are_refused():
    task = pretext.build_task("colorization")
    gray = torch.rand(2, 1, 16, 16).expand(2, 3, 16, 16).contiguous()
    with pytest.raises(TaskError, match="grayscale") as info:
        task.prepare(gray)
    assert "\n" not in str(info.value)
    gray[1, 0, 15, 15] += 0.01  # one coloured pixel off the sampling stride is enough
    task.prepare(gray)


def test_bad_bins_files_are_refused(tmp_path):
    wrong = tmp_path / "bins3.npy"
    np.save(wrong, np.zeros((313, 3)))
    with pytest.raises(TaskError, match=r"\(K, 2\)") as info:
        pretext.build_task("colorization", bins_file=str(wrong))
    assert "\n" not in str(info.value)
    garbage = tmp_path / "bins.npy"
    garbage.write_text("not numpy")
    with pytest.raises(TaskError, match="cannot be read"):
        pretext.build_task("colorization", bins_file=str(garbage))
    other = tmp_path / "bins16.npy"
    np.save(other, np.load(DEFAULT_BINS)[::20])
    task = pretext.build_task("colorization", bins_file=str(other))
    assert task.num_bins == 16 and task.build_head(8).conv.out_channels == 16
