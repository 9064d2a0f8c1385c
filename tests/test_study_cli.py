"""``unnas study plan|run|status|analyze`` end to end on the tiny on-disk study, through the real CLI."""

import json

from test_study_plan import write_tiny_study


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
    assert "classification       3       0        0" in out and "colorization         0       3        0" in out
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
