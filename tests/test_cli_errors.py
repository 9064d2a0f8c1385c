"""Every bad input ends with one line naming the problem, a non-zero exit, no traceback, and no
half-written run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import tiny_search_overrides


def _assert_clean_failure(code: int, err: str, needle: str, out_dir: Path | None = None):
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert needle in lines[0], lines[0]
    if out_dir is not None:
        assert not out_dir.exists() or not any(out_dir.iterdir())


def test_missing_data_folder(tmp_path, cli):
    out = tmp_path / "run"
    code, _, err = cli("search", "--images", str(tmp_path / "nowhere"), *tiny_search_overrides(out))
    _assert_clean_failure(code, err, "does not exist", out)


def test_empty_data_folder(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "run"
    code, _, err = cli("search", "--images", str(tmp_path / "empty"), *tiny_search_overrides(out))
    _assert_clean_failure(code, err, "no image files", out)


def test_folder_without_readable_images(tmp_path, cli):
    root = tmp_path / "junk"
    root.mkdir()
    for i in range(3):
        (root / f"broken_{i}.jpg").write_bytes(b"not a jpeg at all")
    out = tmp_path / "run"
    code, _, err = cli("search", "--images", str(root), "data.skip_unreadable=true", *tiny_search_overrides(out))
    _assert_clean_failure(code, err, "no readable image", out)


def test_unreadable_image_stops_by_default_and_is_skipped_on_request(tmp_path, cli, image_folder):
    bad = image_folder / "b" / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "run"
    overrides = tiny_search_overrides(out, **{"optim.epochs": 1, "optim.batch_size": 2, "eval_batches": 0})
    code, _, err = cli("search", "--images", str(image_folder), *overrides)
    assert code != 0 and "corrupt.png" in err and "data.skip_unreadable=true" in err
    assert len(err.strip().splitlines()) == 1
    assert not (out / "genotype.json").exists()
    code, stdout, err = cli("search", "--images", str(image_folder), "data.skip_unreadable=true",
                            *tiny_search_overrides(tmp_path / "run2", **{"optim.epochs": 1, "optim.batch_size": 2}))
    assert code == 0, err


def test_unknown_task(tmp_path, cli):
    out = tmp_path / "run"
    code, _, err = cli("search", "task=rotatoin", *tiny_search_overrides(out))
    _assert_clean_failure(code, err, "unknown task 'rotatoin'", out)


def test_label_task_on_unlabeled_data(tmp_path, cli):
    out = tmp_path / "run"
    code, _, err = cli("search", "task=classification", *tiny_search_overrides(out))
    _assert_clean_failure(code, err, "needs class labels", out)


@pytest.mark.parametrize("override,needle", [
    ("optim.epoch=3", "optim.epoch"),
    ("optim.epochs=three", "optim.epochs"),
    ("model.stem=resnet", "model.stem"),
    ("optim.batch_size=0", "optim.batch_size"),
])
def test_bad_config_values(tmp_path, cli, override, needle):
    out = tmp_path / "run"
    code, _, err = cli("search", *tiny_search_overrides(out), override)
    _assert_clean_failure(code, err, needle, out)


def test_bad_config_file(tmp_path, cli):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("optim:\n  epochs: [1, 2\n")
    code, _, err = cli("search", str(cfg))
    _assert_clean_failure(code, err, "not valid YAML")
    code, _, err = cli("search", "does/not/exist")
    _assert_clean_failure(code, err, "not found")


def test_malformed_genotype_file(tmp_path, cli):
    g = tmp_path / "g.json"
    g.write_text('{"normal": [["sep_conv_3x3", 0]], "normal_concat": [2]}')
    code, _, err = cli("draw", str(g), "--out", str(tmp_path / "pics"))
    _assert_clean_failure(code, err, "missing key", tmp_path / "pics")
    g.write_text("[[1, 2], [3]")
    code, _, err = cli("draw", str(g), "--out", str(tmp_path / "pics"))
    _assert_clean_failure(code, err, "not valid JSON", tmp_path / "pics")


def test_debug_flag_shows_the_traceback(tmp_path, cli):
    code, _, err = cli("--debug", "search", "task=nope", *tiny_search_overrides(tmp_path / "run"))
    assert code != 0 and "Traceback" in err


def test_draw_writes_both_cells(tmp_path, cli):
    from test_darts_space import DARTS_V2

    g = tmp_path / "g.json"
    g.write_text(DARTS_V2.to_json())
    code, out, err = cli("draw", str(g), "--out", str(tmp_path / "pics"))
    assert code == 0, err
    for kind in ("normal", "reduce"):
        assert (tmp_path / "pics" / f"cell_{kind}.png").read_bytes()[:4] == b"\x89PNG"


def test_tasks_lists_builtins(cli):
    code, out, _ = cli("tasks")
    assert code == 0
    names = [ln.split()[0] for ln in out.strip().splitlines()]
    assert "rotation" in names and "classification" in names
