"""The segmentation task: ignore-aware loss, split-level mIoU from confusion sums, ASPP head, real data path."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision.io import write_png

import pretext
from unnas.config import DataConfig
from unnas.data import build_dataset
from unnas.errors import TaskError


def one_hot_logits(pred: torch.Tensor, k: int) -> torch.Tensor:
    """N×H×W predictions → N×K×H×W logits whose argmax is ``pred``."""
    return F.one_hot(pred, k).permute(0, 3, 1, 2).float()


def test_registered_with_paper_defaults():
    task = pretext.build_task("segmentation")
    assert task.needs_labels == "mask"
    assert (task.num_classes, task.ignore_index, task.aspp_channels, task.rates) == (19, 255, 64, (6,))
    head = pretext.build_task("segmentation", aspp_channels=8, rates=[6, 12, 18]).build_head(16)
    assert len(head.branches) == 4  # 1×1 + one per rate
    out = head(torch.randn(2, 16, 4, 4), (64, 64))
    assert out.shape == (2, 19, 64, 64)


def test_miou_from_hand_computed_confusion_over_two_batches():
    task = pretext.build_task("segmentation", num_classes=4)
    # Batch 1 (pixels): target 0 0 1 | pred 0 1 1 ; batch 2: target 1 2 255 | pred 1 0 2 (last pixel ignored).
    t1, p1 = torch.tensor([[[0, 0, 1]]]), torch.tensor([[[0, 1, 1]]])
    t2, p2 = torch.tensor([[[1, 2, 255]]]), torch.tensor([[[1, 0, 2]]])
    s1 = task.metric_sums(one_hot_logits(p1, 4), t1)
    s2 = task.metric_sums(one_hot_logits(p2, 4), t2)
    conf = s1["confusion"] + s2["confusion"]
    assert conf.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    out = task.summarize({"confusion": conf})
    # IoU: class 0 = 1/(2+2-1) = 1/3; class 1 = 2/(2+3-2) = 2/3; class 2 = 0/(1+0-0) = 0;
    # class 3 is absent from both prediction and target: 0/(0+1e-10) = 0 (the paper's convention).
    assert out["iou/0"] == pytest.approx(100 / 3) and out["iou/1"] == pytest.approx(200 / 3)
    assert out["iou/2"] == 0 and out["iou/3"] == 0
    assert out["miou"] == pytest.approx(100 / 4)
    assert out["pixel_acc"] == pytest.approx(60.0)  # 3 of the 5 non-ignored pixels
    batch = task.metrics(one_hot_logits(p2, 4), t2)  # batch 2 alone: pixels (1→1), (2→0)
    assert float(batch["pixel_acc"]) == pytest.approx(50.0) and float(batch["miou"]) == pytest.approx(25.0)


def test_loss_ignores_255_pixels():
    task = pretext.build_task("segmentation", num_classes=5)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 6, 6, generator=g)
    target = torch.randint(0, 5, (2, 6, 6), generator=g)
    target[:, :3] = 255
    base = task.loss(logits, target)
    changed = logits.clone()
    changed[:, :, :3] = torch.randn(2, 5, 3, 6, generator=g) * 10  # only ignored pixels change
    assert torch.equal(task.loss(changed, target), base)
    valid = target != 255
    expected = F.cross_entropy(logits.permute(0, 2, 3, 1)[valid], target[valid])
    assert task.loss(logits, target) == pytest.approx(float(expected), rel=1e-6)
    changed[:, 0, 4] += 3.0  # class 0 on a non-ignored row gains → the loss changes
    assert not torch.equal(task.loss(changed, target), base)
    assert float(task.loss(logits, torch.full_like(target, 255))) == 0.0  # all ignored: 0, not NaN


def test_prepare_normalizes_images_and_checks_masks():
    task = pretext.build_task("segmentation")
    images = torch.rand(2, 3, 8, 8)
    masks = torch.randint(0, 19, (2, 8, 8), dtype=torch.uint8)
    inputs, targets = task.prepare(images, masks)
    assert torch.allclose(inputs, task.normalize(images))
    assert targets.dtype == torch.int64 and torch.equal(targets, masks.long())
    with pytest.raises(TaskError, match="needs a per-pixel label mask"):
        task.prepare(images)
    with pytest.raises(TaskError, match=r"shape \(2, 8, 8\)"):
        task.prepare(images, torch.tensor([1, 2]))  # class labels, not masks
    with pytest.raises(TaskError, match=r"shape \(2, 8, 8\)"):
        task.prepare(images, masks[:, :4])


@pytest.mark.parametrize("opts, match", [({"num_classes": 1}, "num_classes"), ({"ignore_index": 3}, "ignore_index"),
                                         ({"rates": [0]}, "rates"), ({"aspp_channels": 0}, "aspp_channels")])
def test_bad_options(opts, match):
    with pytest.raises(TaskError, match=match):
        pretext.build_task("segmentation", **opts)


def test_cityscapes_batch_trains_through_the_task(tmp_path):
    """Real path: files on disk → cityscapes reader → DataLoader → prepare → ASPP head → loss → backward."""
    for i in range(2):
        for sub, name, data in (("leftImg8bit", "leftImg8bit", torch.randint(0, 256, (3, 40, 80), dtype=torch.uint8)),
                                ("gtFine", "gtFine_labelTrainIds", torch.randint(0, 19, (1, 40, 80), dtype=torch.uint8))):
            folder = tmp_path / sub / "train" / "ulm"
            folder.mkdir(parents=True, exist_ok=True)
            write_png(data, str(folder / f"ulm_00000{i}_000019_{name}.png"))
    ds = build_dataset(DataConfig(name="cityscapes", root=str(tmp_path), crop_size=32, base_size=40), "train", True)
    images, masks = next(iter(DataLoader(ds, batch_size=2, sampler=[(0, 1), (1, 2)])))
    task = pretext.build_task("segmentation", aspp_channels=8)
    inputs, targets = task.prepare(images, masks)
    trunk = torch.nn.Conv2d(3, 16, 3, stride=8, padding=1)
    net = pretext.TaskNetwork(trunk, task.build_head(16))
    out = net(inputs)
    assert out.shape == (2, 19, 32, 32)
    loss = task.loss(out, targets)
    loss.backward()
    assert torch.isfinite(loss) and trunk.weight.grad.abs().sum() > 0
    summary = task.summarize(task.metric_sums(out, targets))
    assert set(summary) == {"miou", "pixel_acc", *(f"iou/{k}" for k in range(19))}


def test_confusion_matrix_counts_every_labelled_pixel_once():
    """Against a per-pixel loop: ignored (255) and out-of-range labels drop out, the rest land in (true, pred)."""
    from eval.metrics import confusion_matrix

    gen = torch.Generator().manual_seed(0)
    target = torch.randint(5, (2, 7, 9), generator=gen)
    target[torch.rand(target.shape, generator=gen) < 0.2] = 255
    target[0, 0, :3] = 7  # not a class id either
    pred = torch.randint(5, (2, 7, 9), generator=gen)
    expected = torch.zeros(5, 5, dtype=torch.long)
    for t, p in zip(target.flatten().tolist(), pred.flatten().tolist()):
        if t < 5:
            expected[t, p] += 1
    conf = confusion_matrix(pred, target.to(torch.uint8), 5)
    assert torch.equal(conf, expected)
    assert conf.sum() == ((target < 5).sum())
