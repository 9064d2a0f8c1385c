"""Every user mistake, through the real CLI: a non-zero exit, exactly one stderr line naming the
problem, no traceback, and no file created or changed (run directory, data, working folder).

Each row fails before any training step: config checks first, then the preflight that decodes
and prepares the first batch of every stream before the run directory is touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, random_image, tiny_search_overrides, write_png
from test_cityscapes_reader import block_label, write_pair
from test_study_plan import write_tiny_study
from test_trainer import write_cifar

OUT = "{out}"  # replaced by the test's own run directory (inside its tmp_path)


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    needle: str
    code: int = 2
    #: substrings the line must not hold
    absent: tuple[str, ...] = ()


def search(*extra: str, options: tuple[str, ...] = ()) -> tuple[str, ...]:
    return ("search", *options, *tiny_search_overrides(Path(OUT)), "optim.iters_per_epoch=1", *extra)


def train(*extra: str, arch: str = "darts_v2") -> tuple[str, ...]:
    base = ("setting=cifar", "data.name=cifar10", "data.root={cifar}", "model.width=4", "model.cells=3",
            "recipe.epochs=1", "recipe.batch_size=4", "recipe.max_iters_per_epoch=1", "recipe.test_batch_size=4",
            f"out_dir={OUT}", "progress=false", "device=cpu")
    return ("train", arch, *base, *extra)


def images(folder: str, *extra: str) -> tuple[str, ...]:
    return search("optim.batch_size=2", *extra, options=("--images", "{%s}" % folder))


def cityscapes(root: str, *extra: str) -> tuple[str, ...]:
    return search("data.name=cityscapes", "data.root={%s}" % root, "data.base_size=48", "task=segmentation",
                  "model.reductions=one", "optim.batch_size=2", *extra)


def train_folder(root: str, *extra: str) -> tuple[str, ...]:
    return train("data.name=imagefolder", "data.root={%s}" % root, "data.crop_size=32", "recipe.batch_size=4", *extra)


def study(*extra: str) -> tuple[str, ...]:
    return ("study", "plan", "{study}", f"out_dir={OUT}", *extra)


CASES = [
    # ---------------------------------------------------------------- search: config values
    Case("search-batch1-classification",
         search("data.name=cifar10", "data.root={cifar}", "task=classification", "optim.batch_size=1"),
         "optim.batch_size=1 is invalid: must be at least 2"),
    Case("search-batch1-segmentation", cityscapes("cs_good", "optim.batch_size=1"), "optim.batch_size=1 is invalid"),
    Case("search-arch-batch1-classification", search("data.name=cifar10", "data.root={cifar}", "task=classification",
                                                     "optim.arch_batch_size=1"), "optim.arch_batch_size=1 is invalid"),
    Case("search-negative-momentum", search("optim.momentum=-0.5"), "optim.momentum=-0.5 is invalid"),
    Case("search-nesterov-without-momentum", search("optim.momentum=0", "optim.nesterov=true"), "optim.nesterov"),
    Case("search-negative-weight-decay", search("optim.weight_decay=-1"), "optim.weight_decay=-1.0 is invalid"),
    Case("search-negative-arch-weight-decay", search("optim.arch_weight_decay=-1"), "optim.arch_weight_decay=-1.0"),
    Case("search-lr-rising", search("optim.lr_min=1.0"), "optim.lr_min=1.0 is invalid"),
    Case("search-arch-lr-schedule", search("optim.arch_lr_schedule=linear"), "optim.arch_lr_schedule='linear' is invalid"),
    Case("search-absurd-crop", search("data.crop_size=100000"), "data.crop_size=100000 is invalid"),
    Case("search-tiny-crop", search("data.crop_size=4"), "data.crop_size=4 is invalid"),
    Case("search-absurd-resize", search("data.train_crop=resize_random", "data.resize_size=100000"),
         "data.resize_size=100000 is invalid"),
    Case("search-absurd-base-size", cityscapes("cs_good", "data.base_size=100000", "task=rotation",
                                               "model.reductions=two"), "data.base_size=100000 is invalid"),
    Case("search-negative-min-scale", search("data.min_scale=-1"), "data.min_scale=-1.0 is invalid"),
    Case("search-unknown-train-crop", search("data.train_crop=bogus"), "data.train_crop='bogus' is invalid: must be one of random_resized, resize_random"),
    Case("search-negative-lighting", search("data.lighting=-1"), "data.lighting=-1.0 is invalid: must be >= 0"),
    Case("search-portion-out-of-range", search("data.portion=1.5"), "data.portion=1.5 is invalid"),
    Case("search-batch-zero", search("optim.batch_size=0"), "optim.batch_size=0 is invalid"),
    Case("search-unknown-key", search("optim.epoch=3"), "optim.epoch"),
    Case("search-wrong-type", search("optim.epochs=three"), "optim.epochs"),
    Case("search-unknown-stem", search("model.stem=resnet"), "model.stem='resnet' is invalid"),
    Case("search-unknown-reader", search("data.name=nope"), "data.name='nope' is not a known reader"),
    Case("search-unknown-device", search("device=tpu"), "device='tpu' is not a device"),
    Case("search-two-configs", ("search", "cifar10/rot", "cifar10/cls"), "unexpected argument 'cifar10/cls'"),
    # ---------------------------------------------------------------- search: tasks
    Case("search-unknown-task", search("task=rotatoin"), "unknown task 'rotatoin'"),
    Case("search-labels-missing", search("task=classification"), "needs class labels"),
    Case("search-unknown-task-option", search("task_options.foo=1"), "has no option(s) foo"),
    Case("search-bad-jigsaw-grid", search("task=jigsaw", "task_options.grid=1"), "jigsaw grid must be"),
    # ---------------------------------------------------------------- search: data on disk
    Case("search-missing-folder", search(options=("--images", "{data}/nowhere")), "does not exist"),
    Case("search-empty-folder", images("empty"), "no image files under"),
    Case("search-no-image-files", images("texts"), "no image files under"),
    Case("search-nothing-readable", images("junk", "data.skip_unreadable=true"), "no readable image under"),
    Case("search-one-image", images("one"), "holds 1 image(s) but a search needs at least 2"),
    Case("search-half-smaller-than-batch", images("two", "optim.batch_size=4"), "half has 1 images"),
    Case("search-corrupt-first-image", images("corrupt"), "corrupt.png: corrupt", absent=("/__w/", "libpng")),
    Case("search-text-named-jpg", images("fake_jpg"), "fake.jpg: not a JPEG, PNG, WEBP, GIF, BMP, TIFF or PPM/PGM",
         absent=("/__w/", ".cpp")),
    Case("search-1x1-images", images("tiny"), "is 1×1 px, too small"),
    Case("search-colorization-on-gray", images("gray", "task=colorization"), "batch of grayscale images"),
    Case("search-cityscapes-label-out-of-range", cityscapes("cs_bad"), "holds value 40; train-id labels must be"),
    Case("search-cityscapes-label-missing", cityscapes("cs_nolabel"), "is missing"),
    # ---------------------------------------------------------------- config files
    Case("config-yaml-syntax", ("search", "{data}/bad_syntax.yaml"), "is not valid YAML at line 3, column 2"),
    Case("config-yaml-not-a-mapping", ("search", "{data}/list.yaml"), "must hold a mapping of keys"),
    Case("config-binary-file", ("search", "{data}/binary.yaml"), "cannot be read"),
    Case("config-missing-short-name", ("search", "nope/rot"), "config 'nope/rot' not found; tried nope/rot and"),
    Case("config-missing-absolute-path", ("search", "{data}/nope.yaml"), "not found; tried {data}/nope.yaml",
         absent=(".yaml.yaml", "//")),
    Case("config-folder-of-configs", ("search", "cifar10"), "pick one of: cifar10/cls"),
    Case("config-missing-train", train("cls/nope"), "config 'cls/nope' not found"),
    # ---------------------------------------------------------------- train
    Case("train-batch1-aux-head", train("recipe.batch_size=1"),
         "recipe.batch_size=1 is invalid: must be at least 2 for task classification"),
    Case("train-negative-momentum", train("recipe.momentum=-1"), "recipe.momentum=-1.0 is invalid"),
    Case("train-negative-weight-decay", train("recipe.weight_decay=-1"), "recipe.weight_decay=-1.0 is invalid"),
    Case("train-lr-rising", train("recipe.lr_min=1.0"), "recipe.lr_min=1.0 is invalid"),
    Case("train-zero-epochs", train("recipe.epochs=0"), "recipe.epochs=0 is invalid"),
    Case("train-absurd-crop", train("data.crop_size=100000"), "data.crop_size=100000 is invalid"),
    Case("train-images-too-small-for-network", train("setting=imagenet", "model.width=8"),
         "32×32-px inputs are too small for this network"),
    Case("train-batch-larger-than-data", train("recipe.batch_size=64"), "fewer than recipe.batch_size=64"),
    Case("train-no-test-images", train("data.max_test_images=0"), "data.max_test_images=0 is invalid"),
    Case("train-unknown-arch", train(arch="no_such_arch"), "'no_such_arch' is neither a file nor a published name"),
    Case("train-malformed-genotype", train(arch="{data}/truncated.json"), "not valid JSON"),
    Case("train-unknown-setting", train("setting=mnist"), "setting='mnist' is invalid: must be one of cifar, imagenet, cityscapes"),
    Case("train-corrupt-first-image", train_folder("cls_corrupt"), "corrupt.png: corrupt"),
    Case("train-empty-class-folder", train_folder("cls_empty"), "holds no images"),
    Case("train-colorization-on-gray", train_folder("cls_gray", "task=colorization"), "batch of grayscale images"),
    Case("train-cityscapes-label-out-of-range",
         train("setting=cityscapes", "data.name=cityscapes", "data.root={cs_bad}", "data.crop_size=32",
               "data.base_size=48", "model.cells=2", "model.aspp_channels=8", "recipe.batch_size=2"),
         "holds value 40"),
    # ---------------------------------------------------------------- draw
    Case("draw-unknown-name", ("draw", "no_such_arch", "--out", OUT), "neither a file nor a published name"),
    Case("draw-malformed-json", ("draw", "{data}/truncated.json", "--out", OUT), "not valid JSON"),
    Case("draw-missing-key", ("draw", "{data}/half_genotype.json", "--out", OUT), "missing key"),
    Case("draw-binary-file", ("draw", "{data}/binary.json", "--out", OUT), "cannot read genotype file"),
    Case("draw-out-is-a-file", ("draw", "darts_v2", "--out", "{data}/list.yaml"), "is a file, not a folder"),
    # ---------------------------------------------------------------- info
    Case("info-no-arch", ("info",), "needs an architecture"),
    Case("info-unknown-arch", ("info", "no_such_arch"), "neither a file nor a published name"),
    Case("info-input-size-zero", ("info", "darts_v2", "--input-size", "0", "0"), "--input-size must be positive"),
    Case("info-width-zero", ("info", "darts_v2", "--width", "0"), "width must be a positive integer"),
    Case("info-one-cell", ("info", "darts_v2", "--setting", "cifar", "--cells", "1"), "cells must be at least 2"),
    Case("info-bad-nb101-spec", ("info", "{data}/nb101_cyclic.json"), "must be upper-triangular"),
    # ---------------------------------------------------------------- permutations
    Case("permutations-grid-one", ("permutations", "--grid", "1"), "grid must be at least 2"),
    Case("permutations-too-many", ("permutations", "--grid", "2", "--count", "100"), "at most 24"),
    Case("permutations-missing-stats-file", ("permutations", "--stats", "{data}/none.npy"), "cannot be read as .npy"),
    Case("permutations-stats-not-npy", ("permutations", "--stats", "{data}/list.yaml"), "cannot be read as .npy"),
    # ---------------------------------------------------------------- study plan
    Case("study-unknown-task", study("tasks=[classification,rotatoin]"), "unknown task 'rotatoin'"),
    Case("study-unknown-proxy", study("proxies=[nope]"), "unknown task 'nope'"),
    Case("study-target-not-a-task", study("target=jigsaw"), "target='jigsaw' is not a task"),
    Case("study-no-seeds", study("seeds=[]"), "seeds is empty"),
    Case("study-count-too-large", study("count=100000"), "holds only"),
    Case("study-unknown-space", study("space=resnet"), "space='resnet' is invalid: must be one of"),
    Case("study-negative-momentum", study("recipe.momentum=-1"), "recipe.momentum=-1.0 is invalid"),
    Case("study-unknown-recipe-key", study("recipe.bogus=1"), "bogus"),
    Case("study-unknown-task-data-key", study("task_data.rotation.bogus=1"), "task_data.rotation.bogus"),
    Case("study-missing-samples-file", study("archs={data}/none.json"), "is neither paper, sample, all, an existing samples file nor"),
    Case("study-missing-config", ("study", "plan", "nope/nothing"), "config 'nope/nothing' not found"),
]


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under root with its size and modification time."""
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_size if p.is_file() else 0, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def _pngs(folder: Path, n: int, gray: bool = False, size: tuple[int, int] = (40, 48)) -> None:
    for i in range(n):
        img = random_image(i, *size)
        write_png(folder / f"img_{i}.png", img[:1].expand(3, -1, -1).contiguous() if gray else img)


def _corrupt(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n garbage")


def _class_folders(root: Path, gray: bool = False) -> None:
    for split in ("train", "val"):
        for cls in ("a", "b"):
            _pngs(root / split / cls, 2, gray=gray)


def _cityscapes(root: Path, label_value: int | None, labels: bool = True) -> None:
    for split in ("train", "val"):
        for i in range(4):
            label = block_label(i)
            if label_value is not None:
                label[0:16, 0:16] = label_value
            write_pair(root, split, "ulm", f"ulm_{i:06d}_000019", label, kind="labelTrainIds" if labels else "")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Every bad (and good) input of the table, built once in real on-disk layouts."""
    root = tmp_path_factory.mktemp("bad_inputs")
    d = {"data": root, "cifar": write_cifar(root / "cifar", n_train=20, n_test=6)}
    for name in ("empty", "texts", "junk", "one", "two", "corrupt", "fake_jpg", "tiny", "gray"):
        d[name] = root / name
        d[name].mkdir()
    (d["texts"] / "notes.txt").write_text("not an image")
    for i in range(3):
        (d["junk"] / f"broken_{i}.jpg").write_bytes(b"not a jpeg at all")
    _pngs(d["one"], 1)
    _pngs(d["two"], 2)
    _pngs(d["corrupt"], 3)
    _corrupt(d["corrupt"] / "corrupt.png")
    _pngs(d["fake_jpg"], 3)
    (d["fake_jpg"] / "fake.jpg").write_text("hello, not a picture")
    _pngs(d["tiny"], 4, size=(1, 1))
    _pngs(d["gray"], 4, gray=True)
    for name, value, labels in (("cs_good", None, True), ("cs_bad", 40, True), ("cs_nolabel", None, False)):
        d[name] = root / name
        _cityscapes(d[name], value, labels)
    for name in ("cls_corrupt", "cls_empty", "cls_gray"):
        d[name] = root / name
        _class_folders(d[name], gray=name == "cls_gray")
    _corrupt(d["cls_corrupt"] / "train" / "a" / "corrupt.png")
    (d["cls_empty"] / "train" / "c").mkdir()
    (root / "bad_syntax.yaml").write_text("optim:\n  epochs: 3\n lr: 1\n")
    (root / "list.yaml").write_text("- optim.epochs=3\n")
    (root / "binary.yaml").write_bytes(bytes(range(128, 256)))
    (root / "binary.json").write_bytes(bytes(range(128, 256)))
    (root / "truncated.json").write_text("[[1, 2], [3]")
    (root / "half_genotype.json").write_text('{"normal": [["sep_conv_3x3", 0]], "normal_concat": [2]}')
    (root / "nb101_cyclic.json").write_text(json.dumps({"matrix": [[0, 1], [1, 0]], "ops": ["input", "output"]}))
    (root / "study_cfg").mkdir()
    d["study"] = write_tiny_study(root / "study_cfg")  # its out_dir is overridden per test
    return d


def _fill(arg: str, paths: dict[str, Path]) -> str:
    for key, value in paths.items():
        arg = arg.replace("{%s}" % key, str(value))
    return arg


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_line_and_changes_nothing(case: Case, data, tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)  # default (relative) run directories would land here
    paths = {**data, "out": tmp_path / "run"}
    argv = [_fill(a, paths) for a in case.argv]
    before, data_before = _snapshot(tmp_path), _snapshot(data["data"])
    code, out, err = cli(*argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == case.code, (code, err)
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(f"unnas {argv[0]}: error: "), line
    assert _fill(case.needle, paths) in line, line
    for text in case.absent:
        assert text not in line.split(": error: ", 1)[1], line
    assert "Traceback" not in err + out
    assert _snapshot(tmp_path) == before, "files were created or changed"
    assert _snapshot(data["data"]) == data_before, "the data folder was changed"


def test_the_table_covers_every_command_and_enough_cases():
    commands = {c.argv[0] if c.argv[0] != "study" else "study " + c.argv[1] for c in CASES}
    assert {"search", "train", "draw", "info", "permutations", "study plan"} <= commands
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("argv", [["draw", "darts_v2", "--out", "{tmp}"], ["info", "--list"]], ids=["draw", "info"])
def test_closed_stdout_exits_quietly(argv, tmp_path):
    """`unnas draw … | head -1`: the reader is gone before the output is written."""
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.Popen([sys.executable, "-m", "unnas.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == "", err  # no BrokenPipeError, no "Exception ignored" from the flush at exit


@pytest.mark.parametrize("ext", ["bmp", "tif", "tiff", "ppm", "pgm", "webp", "gif"])
def test_every_listed_image_extension_decodes(ext, tmp_path):
    from PIL import Image

    from unnas.data.decode import IMAGE_EXTENSIONS, read_image

    assert f".{ext}" in IMAGE_EXTENSIONS
    rgb = random_image(3, 10, 12).permute(1, 2, 0).numpy()
    gray = ext == "pgm"
    img = Image.fromarray(rgb[:, :, 0] if gray else rgb)
    path = tmp_path / f"x.{ext}"
    img.save(path, **({"lossless": True} if ext == "webp" else {}))
    decoded = read_image(path)
    expected = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)
    assert decoded.dtype == torch.uint8 and tuple(decoded.shape) == (3, 10, 12)
    assert np.array_equal(decoded.numpy(), expected)
    if ext != "gif":  # GIF quantises to a palette
        assert np.array_equal(decoded.numpy()[0], rgb[:, :, 0])


def test_sixteen_bit_images_keep_their_top_byte(tmp_path):
    from PIL import Image

    from unnas.data.decode import read_image

    values = (np.arange(12, dtype=np.uint16) * 5000).reshape(3, 4)
    for ext in ("png", "tif"):
        Image.fromarray(values).save(tmp_path / f"g.{ext}")
        decoded = read_image(tmp_path / f"g.{ext}")
        assert decoded.dtype == torch.uint8
        assert np.array_equal(decoded.numpy(), np.repeat((values >> 8)[None].astype(np.uint8), 3, axis=0))


def test_a_bit_flip_in_a_png_is_named_without_libpng(tmp_path):
    from unnas.data.decode import UnreadableImage, read_image

    good = write_png(tmp_path / "a.png", random_image(0)).read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    (tmp_path / "flip.png").write_bytes(bytes(flipped))
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    for name, reason in (("flip.png", "fails its CRC check"), ("cut.png", "truncated")):
        with pytest.raises(UnreadableImage, match=reason):
            read_image(tmp_path / name)


def test_preflight_names_the_crop_when_a_batch_cannot_be_allocated(data):
    """A library caller that skips the config checks still gets one line instead of the allocator's."""
    import pretext
    from unnas.data.folder import FileListDataset, ImagePipeline, scan_images
    from unnas.data.sampling import SeededSampler
    from unnas.engine.preflight import check_first_batches
    from unnas.errors import ConfigError

    crop = 10_000_000  # 3·10¹⁴ bytes: more than any machine's address space
    dataset = FileListDataset(scan_images(data["two"]), None, ImagePipeline(crop, crop, train=True))
    sampler = SeededSampler(range(2), seed=1, batch_size=2)
    with pytest.raises(ConfigError, match=f"data.crop_size={crop} needs too much memory.*use a smaller crop"):
        check_first_batches(dataset, pretext.build_task("rotation"), {"optim.batch_size": sampler},
                            torch.device("cpu"), crop_size=crop)


def test_preflight_changes_no_state_of_the_run(data):
    """Decoding, preparing and tracing the first batches leave the task's running state, the
    model's weights and buffers and every global RNG exactly as they were."""
    import pretext
    from unnas.data.folder import FileListDataset, ImagePipeline, scan_images
    from unnas.data.sampling import SeededSampler
    from unnas.engine.preflight import check_first_batches
    from unnas.spaces.darts.fast_supernet import FastSupernet

    dataset = FileListDataset(scan_images(data["corrupt"])[:-1] + scan_images(data["two"]), None,
                              ImagePipeline(32, 36, train=True))
    task = pretext.build_task("colorization", rebalance=0.5)
    trunk = FastSupernet(4, 2, task.input_channels, "imagenet", "two", 4)
    model = pretext.TaskNetwork(trunk, task.build_head(trunk.out_channels))
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(5)
    rng = torch.get_rng_state()
    np_rng = np.random.get_state()[1].copy()
    sampler = SeededSampler(range(len(dataset)), seed=1, batch_size=2)
    check_first_batches(dataset, task, {"optim.batch_size": sampler}, torch.device("cpu"), model, crop_size=32)
    assert task.bin_counts is None  # rebalancing counts only come from the run's own batches
    assert torch.equal(torch.get_rng_state(), rng) and np.array_equal(np.random.get_state()[1], np_rng)
    assert model.training and all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
