"""Images/s that ONE DataLoader worker decodes and augments, per reader pipeline; one JSON line each.

Tells how many loader workers a GPU needs: e.g. a search step of 32 Cityscapes crops every
0.3 s needs ~107 crops/s. Files are generated into a temp folder from scikit-image's bundled
photos (no download) and read through the real readers (``build_dataset``), so the numbers
include file reads (from the page cache after the first pass), decoding and augmentation:

- ``imagenet``: 500×375 JPEGs (quality 90) in the ImageNet-22K layout, train pipeline
  (random-sized crop to 224 + flip).
- ``cityscapes_321`` / ``cityscapes_769``: 1024×2048 PNG pairs (photo tiles + a trainId mask),
  train pipeline of the search (base 512, crop 321) and of evaluation (base 1024, crop 769).
- ``cityscapes_val``: the full 1024×2048 image and label (evaluation).
- ``imagenet22k_list_check``: building the reader over N synthetic list entries (empty files,
  200 class folders): parsing the list and one directory listing per class; no decoding.

Usage: python benchmarks/decode.py [--samples 96] [--list-entries 200000] [--only imagenet,...]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision.io import encode_jpeg, write_png

from unnas.config import DataConfig
from unnas.data import build_dataset
from unnas.data.decode import read_image
from unnas.data.demo import DEMO_PHOTOS, demo_photo_dir
from unnas.data.transforms import resize


def photos() -> list[torch.Tensor]:
    folder = demo_photo_dir()
    return [read_image(folder / name) for name in DEMO_PHOTOS]


def write_imagenet_tree(root: Path, count: int, pics: list[torch.Tensor]) -> None:
    """``count`` 500×375 JPEGs (crops of the photos) as <root>/<wnid>/<wnid>_<i>.JPEG plus the list file."""
    names = []
    for i in range(count):
        photo = pics[i % len(pics)]
        image = resize(photo, (375 + 7 * (i // len(pics)), 500))[:, :375]
        wnid = f"n{i % 4:08d}"
        (root / wnid).mkdir(parents=True, exist_ok=True)
        name = f"{wnid}_{i}.JPEG"
        (root / wnid / name).write_bytes(encode_jpeg(image, quality=90).numpy().tobytes())
        names.append(name)
    (root / "imagenet-22k.txt").write_text("\n".join(names) + "\n")


def street_scene(i: int, pics: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """A 1024×2048 image tiled from photo crops, and a trainId mask from its quantised colours."""
    tiles = [resize(pics[(i + k) % len(pics)], (512, 512)) for k in range(8)]
    image = torch.cat([torch.cat(tiles[r * 4:(r + 1) * 4], dim=2) for r in range(2)], dim=1)
    label = (image.long().sum(0) // 40) % 20
    label[label == 19] = 255
    return image, label.to(torch.uint8)


def write_cityscapes_tree(root: Path, count: int, pics: list[torch.Tensor]) -> None:
    for i in range(count):
        image, label = street_scene(i, pics)
        for sub, suffix, data in (("leftImg8bit", "leftImg8bit", image), ("gtFine", "gtFine_labelTrainIds", label[None])):
            folder = root / sub / "train" / "bench"
            folder.mkdir(parents=True, exist_ok=True)
            write_png(data, str(folder / f"bench_{i:06d}_000019_{suffix}.png"))


def images_per_second(dataset, samples: int, batch_size: int) -> dict:
    """Throughput of one loader worker after its first batch (worker start-up excluded)."""
    order = [(i % len(dataset), i) for i in range(samples + batch_size)]
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order, num_workers=1, prefetch_factor=4)
    it = iter(loader)
    next(it)
    start = time.perf_counter()
    n = sum(batch[0].shape[0] for batch in it)
    seconds = time.perf_counter() - start
    return {"images_per_s": round(n / seconds, 1), "ms_per_image": round(1000 * seconds / n, 2), "samples": n}


def list_check_seconds(root: Path, entries: int, classes: int = 200) -> dict:
    names = []
    for c in range(classes):
        wnid = f"n{c:08d}"
        (root / wnid).mkdir(parents=True)
        for j in range(entries // classes):
            name = f"{wnid}_{j}.JPEG"
            open(root / wnid / name, "wb").close()
            names.append(name)
    (root / "imagenet-22k.txt").write_text("\n".join(names) + "\n")
    cfg = DataConfig(name="imagenet22k", root=str(root))
    start = time.perf_counter()
    dataset = build_dataset(cfg, "train")
    seconds = time.perf_counter() - start
    return {"entries": len(dataset), "classes": dataset.num_classes, "seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=96, help="images timed per pipeline")
    parser.add_argument("--list-entries", type=int, default=200_000)
    parser.add_argument("--only", default="imagenet,cityscapes_321,cityscapes_769,cityscapes_val,imagenet22k_list_check")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    common = {"workers": 1, "threads_per_worker": 1, "cpu": os.cpu_count(), "torch": torch.__version__}
    pics = photos()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "imagenet" in wanted:
            write_imagenet_tree(tmp / "in", 36, pics)
            ds = build_dataset(DataConfig(name="imagenet22k", root=str(tmp / "in"), crop_size=224, resize_size=256), "train")
            print(json.dumps({"pipeline": "imagenet", "input": "500x375 JPEG", "output": "224 random-sized crop",
                              **images_per_second(ds, args.samples, 32), **common}), flush=True)
        if wanted & {"cityscapes_321", "cityscapes_769", "cityscapes_val"}:
            write_cityscapes_tree(tmp / "cs", 6, pics)
        for crop, base in ((321, 512), (769, 1024)):
            if f"cityscapes_{crop}" in wanted:
                cfg = DataConfig(name="cityscapes", root=str(tmp / "cs"), crop_size=crop, base_size=base)
                print(json.dumps({"pipeline": f"cityscapes_{crop}", "input": "1024x2048 PNG + label PNG",
                                  "output": f"scale 2^U(-1,1) of {base}, crop {crop}, flip",
                                  **images_per_second(build_dataset(cfg, "train", True), args.samples, 8), **common}),
                      flush=True)
        if "cityscapes_val" in wanted:
            ds = build_dataset(DataConfig(name="cityscapes", root=str(tmp / "cs")), "train", train=False)
            print(json.dumps({"pipeline": "cityscapes_val", "input": "1024x2048 PNG + label PNG", "output": "full image",
                              **images_per_second(ds, max(args.samples // 4, 8), 4), **common}), flush=True)
        if "imagenet22k_list_check" in wanted and args.list_entries:
            print(json.dumps({"pipeline": "imagenet22k_list_check", **list_check_seconds(tmp / "list", args.list_entries),
                              "cpu": os.cpu_count()}), flush=True)


if __name__ == "__main__":
    main()
