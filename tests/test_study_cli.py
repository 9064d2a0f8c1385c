"""``unnas study plan|run|status|analyze`` end to end on the tiny on-disk study, through the real CLI."""

import json
import warnings

from test_study_plan import write_tiny_study

from unnas.study.plan import build_plan
from unnas.trials.rows import write_row


def strict_json(text: str):
    """json.loads that refuses NaN/Infinity, as every study file must."""
    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_plan_run_status_analyze_and_rerun(tmp_path, cli):
    # colorization needs colour images: on grayscale Fashion-MNIST its jobs fail while the others finish
    config = str(write_tiny_study(tmp_path, tasks=["classification", "colorization"]))
    study = tmp_path / "study"

    code, out, err = cli("study", "plan", config)
    assert code == 0, err
    assert "3 archs × 2 tasks (classification, colorization) × 1 seeds = 6 training jobs" in out
    assert "3 archs × 1 proxies (synflow) = 3 proxy jobs; 9 jobs in all" in out
    assert json.loads((study / "plan.json").read_text())["study"] == "tiny"

    code, out, err = cli("study", "run", config, "--workers", "1")
    assert code == 1, err  # some jobs failed: non-zero, but every other job finished
    assert "9 jobs, 0 done, 9 to run" in out and "6 ok, 3 failed" in out
    lines = (study / "results.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 9 and sum(r["status"] == "ok" for r in rows) == 6
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["task"] for r in failed} == {"colorization"} and all("colour" in r["error"] for r in failed)

    code, out, err = cli("study", "status", config)
    assert code == 0, err
    assert "classification       3       0         0        0" in out
    assert "colorization         0       3         0        0" in out
    assert "first error per task:" in out and "needs colour images" in out

    code, out, err = cli("study", "analyze", config, "--n-boot", "50")
    assert code == 0, err
    assert "classification 3" in out and "synflow 3" in out
    assert "classification  synflow  3" in out  # the pair's row, then ρ and τ with their CIs
    analysis = json.loads((study / "analysis.json").read_text())
    assert analysis["target"] == "classification" and analysis["correlations"][0]["n"] == 3
    assert (study / "report.md").is_file() and (study / "figures" / "scatter_classification__synflow.png").is_file()

    # a second run skips every recorded job (the failed ones too, unless --retry-failed)
    code, out, _ = cli("study", "run", config)
    assert "9 jobs, 6 done, 0 to run" in out and len((study / "results.jsonl").read_text().splitlines()) == 9


def test_foreign_study_and_unknown_task_are_one_line_errors(tmp_path, cli):
    config = str(write_tiny_study(tmp_path, proxies=[], count=1))
    assert cli("study", "plan", config)[0] == 0
    code, _, err = cli("study", "run", config, "recipe.lr=0.5")
    assert code == 2 and "belongs to another study" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("study", "status", config, "network.width=6")
    assert code == 2 and "belongs to another study" in err

    config = str(write_tiny_study(tmp_path, tasks=["classification", "rotatoin"], out_dir=str(tmp_path / "new")))
    code, _, err = cli("study", "plan", config)
    assert code == 2 and "unknown task 'rotatoin'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()


def test_diverged_jobs_are_counted_kept_out_of_the_analysis_and_named_in_the_report(tmp_path, cli):
    # lr 1e8 on rotation only: its loss becomes NaN/Inf within a few steps and the trainer raises DivergedError
    config = str(write_tiny_study(tmp_path, recipes={"rotation": {"batch_size": 2, "lr": 1e8,
                                                                  "max_iters_per_epoch": 6}}))
    study = tmp_path / "study"
    code, out, err = cli("study", "run", config, "--workers", "1")
    assert code == 0, err  # diverged jobs are results, not failures to retry
    assert "6 ok, 0 failed, 3 diverged" in out and "3 job(s) diverged" in out
    rows = {r["job_id"]: r for r in map(strict_json, (study / "results.jsonl").read_text().splitlines())}
    diverged = sorted(j for j, r in rows.items() if r["task"] == "rotation")
    for job_id in diverged:
        row = strict_json((study / "results" / f"{job_id}.json").read_text())
        assert row["status"] == "diverged" and row["metric"] is None and "DivergedError" in row["error"]
    assert all(r["status"] == "ok" for j, r in rows.items() if j not in diverged)

    code, out, err = cli("study", "status", config)
    assert code == 0, err
    assert "rotation             0       0         3        0" in out and "all                  6       0         3" in out

    code, out, err = cli("study", "run", config, "--retry-failed")  # diverged jobs are not re-run
    assert "9 jobs, 6 done, 3 diverged, 0 to run" in out and code == 0

    code, out, err = cli("study", "analyze", config, "--n-boot", "50")
    assert code == 0, err
    sentence = f"3 jobs diverged: job ids {', '.join(diverged)}"
    assert sentence in out and "rotation" not in out.split("\n", 1)[0]  # no rotation architectures analysed
    analysis = strict_json((study / "analysis.json").read_text())
    assert analysis["diverged"] == diverged and "rotation" not in analysis["tasks"]
    assert [(c["task_a"], c["task_b"]) for c in analysis["correlations"]] == [("classification", "synflow")]
    assert sentence in (study / "report.md").read_text()


def test_analyze_reports_a_constant_task_in_words_without_scipy_warnings(tmp_path, cli):
    from test_study_plan import tiny_config

    config = str(write_tiny_study(tmp_path))
    assert cli("study", "plan", config)[0] == 0
    plan = build_plan(tiny_config(tmp_path))
    quality = {"classification": [10.0, 10.0, 10.0], "rotation": [30.0, 20.0, 40.0], "synflow": [3.0, 1.0, 2.0]}
    archs = sorted({j["arch_id"] for j in plan["jobs"]})
    for job in plan["jobs"]:  # rows as the runner stores them, one file per job
        write_row(tmp_path / "study", {**{k: job[k] for k in ("job_id", "arch_id", "task", "kind", "seed")},
                                       "status": "ok", "metric": quality[job["task"]][archs.index(job["arch_id"])],
                                       "fingerprint": plan["fingerprint"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = cli("study", "analyze", config, "--n-boot", "200")
    assert code == 0, err
    assert [str(w.message) for w in caught] == [] and "Warning" not in err
    sentence = "classification gave every architecture the same metric (10.000): it ranks nothing"
    assert sentence in out and sentence in (tmp_path / "study" / "report.md").read_text()
    pair = next(line for line in out.splitlines() if line.startswith("classification  rotation"))
    assert "n/a (classification constant)" in pair
    analysis = strict_json((tmp_path / "study" / "analysis.json").read_text())
    assert analysis["constant"] == {"classification": 10.0}
    rot = next(c for c in analysis["correlations"] if {c["task_a"], c["task_b"]} == {"rotation", "synflow"})
    assert rot["spearman"]["value"] == 0.5 and rot["constant"] == []
