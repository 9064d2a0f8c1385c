"""Rank statistics, best-of-m, plots and the Markdown report of a sample-based study."""

import json
import struct
import zlib

import numpy as np
import pytest

from unnas.errors import DataError
from unnas.study.analysis import analyze, average_seeds, best_of_m, experiment_sizes, rank_correlation, read_results
from unnas.study.report import write_report


def rows_for(task, values, seeds=(1,), noise=0.0, rng=None):
    out = []
    for i, v in enumerate(values):
        for s in seeds:
            jitter = rng.normal() * noise if rng is not None else 0.0
            out.append({"arch_id": f"{i:05d}", "task": task, "seed": s, "metric": float(v) + jitter})
    return out


def is_png(path):
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    length, kind = struct.unpack(">I4s", data[8:16])
    ihdr = data[16:16 + length]
    crc = struct.unpack(">I", data[16 + length:20 + length])[0]
    width, height = struct.unpack(">II", ihdr[:8])
    return kind == b"IHDR" and zlib.crc32(kind + ihdr) == crc and width > 100 and height > 100


def test_perfect_and_reversed_rankings_give_plus_and_minus_one_with_degenerate_intervals():
    x = np.arange(30, dtype=float)
    same = rank_correlation(x, x ** 2, n_boot=200, seed=1)
    assert same["n"] == 30
    for stat in ("spearman", "kendall"):
        assert same[stat]["value"] == pytest.approx(1.0)
        assert same[stat]["ci"] == pytest.approx([1.0, 1.0])
    rev = rank_correlation(x, -x, n_boot=200, seed=1)
    for stat in ("spearman", "kendall"):
        assert rev[stat]["value"] == pytest.approx(-1.0)
        assert rev[stat]["ci"] == pytest.approx([-1.0, -1.0])


def test_bootstrap_interval_contains_estimate_is_seeded_and_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    y = x + rng.normal(size=80)
    a = rank_correlation(x, y, n_boot=300, seed=7)
    b = rank_correlation(x, y, n_boot=300, seed=7)
    c = rank_correlation(x, y, n_boot=300, seed=8)
    assert a == b and a["spearman"]["ci"] != c["spearman"]["ci"]
    assert a["spearman"]["value"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert a["kendall"]["value"] == pytest.approx(stats.kendalltau(x, y).statistic)
    for stat in ("spearman", "kendall"):
        lo, hi = a[stat]["ci"]
        assert lo < a[stat]["value"] < hi and hi - lo < 0.6


def test_seeds_are_averaged_and_architectures_missing_in_one_task_are_excluded():
    rng = np.random.default_rng(1)
    quality = np.arange(12, dtype=float)
    rows = rows_for("cls", quality, seeds=(1, 2, 3), noise=0.1, rng=rng) + rows_for("rot", quality[:9])
    rows.append({"arch_id": "00000", "task": "rot", "seed": 2, "metric": float("nan")})  # a failed run
    rows.append({"arch_id": "99999", "task": "rot", "seed": 1, "metric": 100.0})  # only in rot
    means = average_seeds(rows)
    assert means["cls"]["00003"] == pytest.approx(np.mean([r["metric"] for r in rows[9:12]]))
    assert means["rot"]["00000"] == 0.0
    result = analyze(rows, n_boot=100, trials=50)
    (pair,) = result["correlations"]
    assert (pair["task_a"], pair["task_b"], pair["n"]) == ("cls", "rot", 9)
    assert pair["spearman"]["value"] == pytest.approx(1.0)  # 99999 would break the perfect ranking
    assert result["target"] == "cls" and result["best_of_m"]["rot"]["n"] == 9
    json.dumps(result)
    # the paper's rule: drop an (arch, task) that did not finish every seed
    partial = rows + [{"arch_id": "00001", "task": "cls", "seed": 4, "metric": 1.0}]
    assert "00001" in average_seeds(partial)["cls"]
    assert set(average_seeds(partial, complete_seeds=True)["cls"]) == {"00001"}


def test_best_of_m_with_a_perfect_proxy_finds_the_best_and_a_useless_one_does_not():
    rng = np.random.default_rng(3)
    target = rng.normal(size=64)
    assert experiment_sizes(64) == [1, 2, 4, 8, 16, 32]
    curve = best_of_m(target * 2 + 1, target, sizes=[1, 8, 64], trials=200, seed=2)
    assert [c["m"] for c in curve] == [1, 8, 64]
    assert curve[-1]["mean"] == pytest.approx(target.max()) and curve[-1]["std"] == pytest.approx(0.0)
    assert curve[0]["mean"] < curve[1]["mean"] < curve[2]["mean"]
    assert all(c["mean"] == pytest.approx(c["oracle_mean"]) for c in curve)
    worst = best_of_m(-target, target, sizes=[64], trials=10)[0]
    assert worst["mean"] == pytest.approx(target.min())
    assert best_of_m(target, target, trials=30, seed=5) == best_of_m(target, target, trials=30, seed=5)


def test_bad_rows_raise_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="row 0: missing field"):
        average_seeds([{"arch_id": "1", "task": "cls", "metric": 3}])
    with pytest.raises(DataError, match="not a number"):
        average_seeds([{"arch_id": "1", "task": "cls", "seed": 1, "metric": "abc"}])
    with pytest.raises(DataError, match="target task 'jig'"):
        analyze(rows_for("cls", [1, 2, 3]), target="jig")
    with pytest.raises(DataError, match="does not exist"):
        read_results(tmp_path / "nope.jsonl")


def test_report_writes_valid_pngs_markdown_and_json(tmp_path):
    rng = np.random.default_rng(4)
    q = rng.normal(size=40)
    rows = (rows_for("cls", q, seeds=(1, 2), noise=0.2, rng=rng) + rows_for("rot", q + rng.normal(size=40) * 0.5)
            + rows_for("col", rng.normal(size=40)))
    results = tmp_path / "results.jsonl"
    results.write_text("\n".join(json.dumps(r) for r in rows))
    study = tmp_path / "study"
    result = write_report(study, read_results(results), n_boot=100, trials=50)
    text = (study / "report.md").read_text()
    assert text.startswith("# Study report")
    table = [line for line in text.splitlines() if line.startswith("| cls | rot |")]
    assert len(table) == 1 and "| 40 |" in table[0] and "[png](figures/scatter_cls__rot.png)" in table[0]
    assert "![best of m](figures/best_of_m.png)" in text
    figures = result["files"]["figures"]
    assert len(figures) == 4  # three pairs + best-of-m
    for rel in figures.values():
        assert is_png(study / rel), rel
    assert json.loads((study / "analysis.json").read_text())["correlations"] == result["correlations"]
    assert not [p for p in study.rglob("*.tmp")]


def test_report_names_the_ranking_metric_and_warns_about_best_epoch_on_test(tmp_path):
    rng = np.random.default_rng(5)
    q = rng.normal(size=12)
    rows = rows_for("cls", q) + rows_for("rot", q + rng.normal(size=12))
    for row in rows:
        row.update(rank_by="final", metric_name="final test top1")
    write_report(tmp_path / "final", rows, n_boot=20, trials=10)
    text = (tmp_path / "final" / "report.md").read_text()
    assert "Ranking metric: cls: final test top1; rot: final test top1." in text and "Warning" not in text
    for row in rows:
        row.update(rank_by="best_epoch_on_test", metric_name="max over epochs on test top1")
    result = write_report(tmp_path / "peak", rows, n_boot=20, trials=10)
    text = (tmp_path / "peak" / "report.md").read_text()
    assert result["rank_by"] == ["best_epoch_on_test"]
    assert "cls: max over epochs on test top1" in text
    warning = [line for line in text.splitlines() if line.startswith("**Warning:**")]
    assert len(warning) == 1 and "max over epochs on the test split" in warning[0]
    assert "not a selection you may report" in warning[0]
