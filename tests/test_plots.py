"""Pictures: α heatmaps and cell diagrams of DARTS, and the study figures (checked through matplotlib objects)."""

import struct
import zlib

import matplotlib.pyplot as plt
import numpy as np
import pytest

from unnas.spaces.darts.genotype import derive_genotype, load_genotype, softmax
from unnas.spaces.darts.ops import PRIMITIVES, SHORT_NAMES
from unnas.spaces.darts.plots import (alphas_figure, cell_figure, draw_genotype, edge_labels, nodes_for_edges,
                                      plot_alphas)
from unnas.study.analysis import analyze
from unnas.study.plots import LOG_SPAN, axis_scale, best_of_m_figure, metric_label, scatter_figure
from unnas.study.report import write_report


def is_png(path):
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    length, kind = struct.unpack(">I4s", data[8:16])
    ihdr = data[16:16 + length]
    crc = struct.unpack(">I", data[16 + length:20 + length])[0]
    width, height = struct.unpack(">II", ihdr[:8])
    return kind == b"IHDR" and zlib.crc32(kind + ihdr) == crc and width > 100 and height > 100


def boxed_cells(ax):
    """(row label, column label) of every cell the heatmap boxes as the genotype's choice."""
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    out = set()
    for p in ax.patches:
        if (p.get_gid() or "").startswith("chosen"):
            x, y = p.get_xy()
            out.add((rows[int(round(y + 0.5))], cols[int(round(x + 0.5))]))
    return out


def expected_cells(pairs):
    return {(f"n{idx // 2 + 2} ← {src}", SHORT_NAMES[op]) for idx, (op, src) in enumerate(pairs)}


def test_edge_numbering_matches_the_genotype_string():
    assert edge_labels(2) == ["n2 ← 0", "n2 ← 1", "n3 ← 0", "n3 ← 1", "n3 ← 2"]
    assert [nodes_for_edges(n) for n in (2, 5, 9, 14, 20)] == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="not a DARTS cell"):
        nodes_for_edges(13)


def test_alphas_heatmap_boxes_the_derived_ops_on_a_fitted_scale(tmp_path):
    rng = np.random.default_rng(0)
    logits = {k: rng.normal(size=(14, 8)) * 1e-3 for k in ("normal", "reduce")}  # a barely trained search
    weights = {k: softmax(v) for k, v in logits.items()}
    genotype = derive_genotype(logits["normal"], logits["reduce"])
    fig = alphas_figure(weights)  # without a genotype it derives the same one
    try:
        for ax, kind in zip(fig.axes[:2], ("normal", "reduce")):
            pairs = genotype.cell(kind)[0]
            assert boxed_cells(ax) == expected_cells(pairs)
            # the row labels of the kept edges are bold, the others are not
            kept = {f"n{idx // 2 + 2} ← {src}" for idx, (_op, src) in enumerate(pairs)}
            bold = {t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"}
            assert bold == kept
            # colour = % deviation from uniform, scaled to the data rather than 0..1/8
            norm = ax.images[0].norm
            dev = 100 * (weights[kind] * 8 - 1)
            assert norm.vmax == pytest.approx(max(np.abs(100 * (w * 8 - 1)).max() for w in weights.values()))
            assert norm.vmax < 1.0 and np.ptp(ax.images[0].get_array()) == pytest.approx(np.ptp(dev))
        assert "uniform" in fig.axes[2].get_ylabel()  # the colour bar says what the colour is
    finally:
        plt.close(fig)
    out = plot_alphas(weights, tmp_path / "alphas.png", title="t")
    assert is_png(out)


def test_alphas_heatmap_boxes_a_given_genotype():
    genotype = load_genotype("darts_v2")
    weights = {k: np.full((14, len(PRIMITIVES)), 1 / len(PRIMITIVES)) for k in ("normal", "reduce")}
    fig = alphas_figure(weights, genotype)
    try:
        assert boxed_cells(fig.axes[0]) == expected_cells(genotype.normal)
        assert boxed_cells(fig.axes[1]) == expected_cells(genotype.reduce)
        assert ("n5 ← 2", "dil3") in boxed_cells(fig.axes[0])  # n5=skip(0)+dil3(2)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", ["darts_v2", "pdarts", "nas"])
def test_cell_labels_name_each_edge_once_and_do_not_collide(name):
    genotype = load_genotype(name)
    for kind in ("normal", "reduce"):
        fig = cell_figure(genotype, kind)
        try:
            ax = fig.axes[0]
            labels = [t for t in ax.texts if t.get_gid()]
            nodes = [t for t in ax.texts if not t.get_gid()]
            pairs = genotype.cell(kind)[0]
            assert sorted(t.get_gid() for t in labels) == sorted(
                f"{op} {idx // 2 + 2}<-{src}" for idx, (op, src) in enumerate(pairs))
            assert [t.get_text() for t in labels] == [SHORT_NAMES[op] for op, _ in pairs]
            names = [t.get_text() for t in nodes]
            assert names[:2] == ["0  c(k-2)", "1  c(k-1)"]
            assert names[2:-1] == [str(i) for i in range(2, genotype.nodes + 2)] and names[-1] == "c(k)"
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            lb = [t.get_bbox_patch().get_window_extent(renderer) for t in labels]
            nb = [t.get_bbox_patch().get_window_extent(renderer) for t in nodes]
            for i, a in enumerate(lb):
                assert not any(a.overlaps(b) for b in lb[i + 1:]), (kind, labels[i].get_gid())
                assert not any(a.overlaps(b) for b in nb), (kind, labels[i].get_gid())
            legend = {t.get_text() for t in fig.legends[0].get_texts()}
            assert {SHORT_NAMES[op] for op, _ in pairs} <= legend
        finally:
            plt.close(fig)


def test_draw_genotype_writes_both_cells(tmp_path):
    paths = draw_genotype(load_genotype("unnas_imagenet_rot"), tmp_path)
    assert [p.name for p in paths] == ["cell_normal.png", "cell_reduce.png"] and all(is_png(p) for p in paths)


def test_axis_scale_goes_logarithmic_past_three_decades():
    assert axis_scale([0.1, 0.5, 0.9]) == ("linear", {})
    assert axis_scale([1.0, LOG_SPAN]) == ("linear", {})
    assert axis_scale([1.0, 1.01 * LOG_SPAN]) == ("log", {})
    assert axis_scale(10.0 ** np.arange(20))[0] == "log"  # synflow
    assert axis_scale([0.0, 1e-3, 1e5]) == ("symlog", {"linthresh": 1e-3})
    assert axis_scale([-1e6, 2.0, 5.0, float("nan")]) == ("symlog", {"linthresh": 2.0})
    assert axis_scale([0.0, 0.0]) == ("linear", {})


def test_scatter_axes_carry_the_metric_names_and_a_log_axis_for_synflow():
    rows = ([{"arch_id": str(i), "task": "cls", "seed": 1, "metric": 0.5 + i / 100, "metric_name": "final test top1"}
             for i in range(10)]
            + [{"arch_id": str(i), "task": "synflow", "seed": 1, "metric": 10.0 ** (2 * i), "metric_name": "synflow score"}
               for i in range(10)])
    names = analyze(rows, n_boot=20, trials=10)["metric_names"]
    assert metric_label("cls", names["cls"]) == "cls: final test top1"
    assert metric_label("synflow", names["synflow"]) == "synflow score"
    assert metric_label("rot") == "rot: metric"
    x = [r["metric"] for r in rows[:10]]
    y = [r["metric"] for r in rows[10:]]
    corr = {"n": 10, "spearman": {"value": 1.0, "ci": [1.0, 1.0]}, "kendall": {"value": 1.0, "ci": [1.0, 1.0]}}
    fig = scatter_figure(x, y, "cls", "synflow", corr, metric_label("cls", names["cls"]),
                         metric_label("synflow", names["synflow"]))
    try:
        ax = fig.axes[0]
        assert (ax.get_xscale(), ax.get_yscale()) == ("linear", "log")
        assert ax.get_xlabel() == "cls: final test top1"
        assert ax.get_ylabel() == "synflow score (log scale)"
        assert "accuracy" not in ax.get_xlabel() + ax.get_ylabel()
        # the fitted line is straight in the log axis: log10(y) = 200 x - 100 on this data
        line = ax.lines[0]
        assert np.allclose(np.log10(line.get_ydata()), 200 * np.asarray(line.get_xdata()) - 100)
    finally:
        plt.close(fig)


def test_best_of_m_is_one_panel_per_proxy_with_the_target_metric_on_y():
    curve = [{"m": m, "mean": 0.8 + 0.01 * k, "std": 0.02, "oracle_mean": 0.8 + 0.02 * k}
             for k, m in enumerate((1, 2, 4, 8))]
    curves = {p: {"n": 16, "curve": curve} for p in ("rot", "synflow", "jig", "col")}
    fig = best_of_m_figure(curves, "cls", "cls: final test top1")
    try:
        used = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        assert [ax.get_title() for ax in used] == [f"pick by {p}   (n = 16)" for p in sorted(curves)]
        assert used[0].get_ylabel() == "cls: final test top1 of the pick"
        assert all(len(ax.collections) == 1 for ax in used)  # one band per panel, not four on top of each other
        assert all(ax.get_xscale() == "log" for ax in used)
        assert [t.get_text() for t in used[-1].get_xticklabels()] == ["1", "2", "4", "8"]
    finally:
        plt.close(fig)


def test_report_figures_from_rows_with_metric_names(tmp_path):
    rng = np.random.default_rng(5)
    q = rng.normal(size=20)
    rows = []
    for task, values, name in (("cls", 0.8 + 0.02 * q, "final test top1"),
                               ("synflow", 10 ** (5 + 4 * q), "synflow score")):
        rows += [{"arch_id": f"{i:03d}", "task": task, "seed": 1, "metric": float(v), "metric_name": name}
                 for i, v in enumerate(values)]
    result = write_report(tmp_path, rows, n_boot=50, trials=20)
    assert set(result["files"]["figures"]) == {"cls__synflow", "best_of_m"}
    assert all(is_png(tmp_path / rel) for rel in result["files"]["figures"].values())
