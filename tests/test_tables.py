"""Benchmark tables (issue #26): reading with one-line errors naming file and line, `unnas table`, a study whose
target is a table's column, black-box search with a table's column as fitness, strategies raced on a table."""

from __future__ import annotations

import json

import pytest
import yaml
from test_study_plan import write_tiny_study

from unnas.errors import DataError
from unnas.spaces import nasbench201 as nb
from unnas.trials.tables import read_table


def _score(arch) -> float:
    """A made-up metric every cell has (a table built here, the size of the space)."""
    return float(sum({"nor_conv_3x3": 3, "nor_conv_1x1": 2, "skip_connect": 1}.get(op, 0) for op in arch.ops))


def write_nb201_table(path, indices=range(nb.NUM_ARCHS), by_index=False):
    rows = ["index,score,flops" if by_index else "arch,score,flops"]
    for i in indices:
        arch = nb.arch_at(i)
        rows.append(f"{i if by_index else chr(34) + str(arch) + chr(34)},{_score(arch)},{i % 11}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_table_keyed_by_index_meets_one_keyed_by_string(tmp_path):
    by_string = read_table(write_nb201_table(tmp_path / "s.csv", range(50)), "nasbench201")
    by_index = read_table(write_nb201_table(tmp_path / "i.csv", range(50), by_index=True), "nb201")
    assert by_string.rows == by_index.rows and len(by_string) == 50
    arch = nb.arch_at(7)
    assert by_index.value(arch, "score") == _score(arch) == by_index.value(str(arch), "score")
    assert by_index.value(nb.arch_at(60), "score") is None and by_string.coverage() == pytest.approx(50 / 15625)


def test_jsonl_tables_and_unrecorded_values(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"arch": "64-41414-3_03_101", "top1": 40.5}) + "\n"
                    + json.dumps({"arch": "64-41414-1_11_111", "top1": None}) + "\n")
    table = read_table(path, "transnas_micro")
    assert table.value("64-41414-3_03_101", "top1") == 40.5 and table.value("64-41414-1_11_111", "top1") is None


@pytest.mark.parametrize("content, where", [
    ("arch,score\n|nor_conv_3x3~0|,1\n", "t.csv:2"),                                    # does not parse
    ("index,score\n0,1\n15625,2\n", "t.csv:3"),                                          # index out of range
    ("index,score\n0,1\n0,2\n", "t.csv:3: |avg_pool_3x3~0|"),                            # duplicate
    ("index,score\n0,nan\n", "t.csv:2: score='nan' is not finite"),                      # non-finite
    ("index,score\n0,fast\n", "t.csv:2: score='fast' is not a number"),                  # not a number
    ("name,score\n0,1\n", "no key column"),                                               # no key
    ("index\n0\n", "no metric column"),                                                   # no metric
])
def test_bad_rows_are_one_line_errors_naming_file_and_line(tmp_path, content, where):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        read_table(path, "nasbench201")
    assert where in str(err.value) and "\n" not in str(err.value)


def test_table_check_and_export_through_the_cli(tmp_path, cli):
    path = write_nb201_table(tmp_path / "t.csv", range(100))
    code, out, err = cli("table", "check", str(path), "--space", "nasbench201")
    assert code == 0, err
    assert "100 nasbench201 architectures, 0.6% of the space" in out and "score: 100 rows, min 1, max 15" in out
    code, _out, err = cli("table", "check", str(path), "--space", "transnas_micro")
    assert code == 2 and "t.csv:2" in err and len(err.strip().splitlines()) == 1


def test_black_box_search_with_a_table_fitness_end_to_end(tmp_path, cli):
    table = write_nb201_table(tmp_path / "t.csv")
    out = tmp_path / "run"
    code, stdout, err = cli("search", "strategy=rea", "fitness.space=nasbench201", f"fitness.table={table}",
                            "fitness.metric=score", "fitness.budget=40", "rea.population=10", "rea.sample=5",
                            f"out_dir={out}", "progress=false")
    assert code == 0, err
    lines = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert len(lines) == 40 and all(r["status"] == "ok" for r in lines)
    best = max(lines, key=lambda r: r["fitness"])
    assert json.loads((out / "arch.json").read_text()) == best["arch"]
    assert best["fitness"] == _score(nb.load_arch(best["arch"]))
    assert json.loads((out / "result.json").read_text())["fitness"] == "score of t.csv"


def test_a_table_missing_architectures_scores_them_nothing(tmp_path, cli):
    table = write_nb201_table(tmp_path / "t.csv", range(10))
    code, _stdout, err = cli("search", "strategy=random", "fitness.space=nasbench201", f"fitness.table={table}",
                             "fitness.metric=score", "fitness.budget=5", f"out_dir={tmp_path / 'run'}",
                             "progress=false")
    assert code == 2 and "no architecture got a fitness: 5 failed" in err  # 10 of 15,625 cells: none drawn


def test_a_study_whose_target_is_a_table(tmp_path, cli):
    """The study trains only its label-free task; the report ranks it against the table's column and says how many
    of its architectures the table holds."""
    table = tmp_path / "t.csv"
    path = write_tiny_study(tmp_path, space="nasbench201", archs="sample", count=6, tasks=["rotation"],
                            proxies=["synflow"], network={"width": 4, "cells_per_stage": 1}, target="rotation")
    cfg = yaml.safe_load(path.read_text())
    code, _out, err = cli("study", "plan", str(path))
    assert code == 0, err
    plan = json.loads((tmp_path / "study" / "plan.json").read_text())
    ids = sorted(plan["archs_by_id"])[:5]  # one of the six is not in the table
    write_nb201_table(table, [int(i) for i in ids])
    cfg["target"] = {"table": str(table), "metric": "score"}
    path.write_text(yaml.safe_dump(cfg))
    code, out, err = cli("study", "run", str(path))
    assert code == 0, err
    assert {j["task"] for j in plan["jobs"]} == {"rotation", "synflow"}  # no labelled job
    code, out, err = cli("study", "analyze", str(path))
    assert code == 0, err
    assert "5 of the study's 6 architectures are in it; 1 are not" in out
    analysis = json.loads((tmp_path / "study" / "analysis.json").read_text())
    assert analysis["target"] == "table:score" and analysis["archs_per_task"]["table:score"] == 5
    report = (tmp_path / "study" / "report.md").read_text()
    assert str(table) in report and "rotation" in report
    assert "trained tasks on the **benchmark** variant, zero-cost proxies on the **benchmark** variant" in report


def test_a_missing_table_or_column_stops_the_plan(tmp_path, cli):
    table = write_nb201_table(tmp_path / "t.csv", range(3))
    path = write_tiny_study(tmp_path, space="nasbench201", archs="sample", count=2, tasks=["rotation"], proxies=[],
                            target={"table": str(table), "metric": "top1"})
    code, _out, err = cli("study", "plan", str(path))
    assert code == 2 and "target.metric='top1' is not a column" in err
    assert not (tmp_path / "study").exists()


def test_strategies_raced_on_a_table(tmp_path, cli):
    table = write_nb201_table(tmp_path / "t.csv")
    code, out, err = cli("table", "race", str(table), "--space", "nasbench201", "--metric", "score",
                         "--seeds", "3", "--budget", "30", "--out", str(tmp_path / "race"))
    assert code == 0, err
    result = json.loads((tmp_path / "race" / "race.json").read_text())
    assert set(result["strategies"]) == {"random", "rea", "ppo"} and result["table_best"] == 18
    for s in result["strategies"].values():
        mean = s["mean"]
        assert len(mean) == 30 and all(a <= b for a, b in zip(mean, mean[1:]))  # best-so-far never falls
        assert s["ci_low"][-1] <= s["final_mean"] <= s["ci_high"][-1]
    assert (tmp_path / "race" / "race.png").stat().st_size > 0 and "random" in out
