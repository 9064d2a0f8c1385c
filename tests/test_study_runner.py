"""Study jobs and runners on the tiny on-disk study: rows, failures, skipping, submitit's local cluster."""

import copy
import json
import math

import pytest
from test_study_plan import tiny_config

from unnas.errors import DataError
from unnas.study.plan import build_plan
from unnas.study.results import pending_jobs
from unnas.trials.rows import read_rows, row_path, write_row
from unnas.study.jobs import run_job
from unnas.study.runner import run_jobs
from unnas.trials.executor import InProcess, build_executor

ROW_KEYS = {"job_id", "arch_id", "task", "kind", "seed", "status", "metric", "final", "max_over_epochs", "params", "madds",
            "wall_clock_s", "error", "fingerprint"}


def test_local_runner_rows_failures_and_skipping(tmp_path):
    cfg = tiny_config(tmp_path)
    plan = build_plan(cfg)
    jobs = copy.deepcopy(plan["jobs"])
    broken = next(j for j in jobs if j["task"] == "rotation")
    broken["arch"] = {"normal": [["conv_9x9", 0]]}  # not a DARTS genotype: this job must fail alone
    rows = run_jobs(InProcess(), jobs, cfg, cfg.out_dir)

    assert len(rows) == len(jobs) == 9
    by_id = {r["job_id"]: r for r in read_rows(cfg.out_dir, plan["fingerprint"])}
    assert set(by_id) == {j["job_id"] for j in jobs}
    bad = by_id[broken["job_id"]]
    assert bad["status"] == "failed" and bad["metric"] is None and "GenotypeError" in bad["error"]
    ok = [r for r in by_id.values() if r["job_id"] != broken["job_id"]]
    assert all(r["status"] == "ok" and ROW_KEYS <= set(r) for r in ok)
    for r in ok:
        assert r["fingerprint"] == plan["fingerprint"] and r["params"] > 0 and r["madds"] > 0
        if r["kind"] == "train":  # the last epoch's test top-1 in percent, from the trainer (rank_by: final)
            assert 0.0 <= r["metric"] <= 100.0 and r["metric"] == r["final"]["top1"] and r["epochs"] == 1
            assert r["rank_by"] == "final" and r["metric_name"] == "final test top1"
        else:
            assert r["task"] == "synflow" and math.isfinite(r["metric"]) and r["metric"] > 0
    # the classification network keeps its own classifier; rotation puts a 4-way head on the same trunk
    arch = plan["jobs"][0]["arch_id"]
    assert by_id[f"{arch}-classification-s1"]["madds"] == by_id[f"{arch}-synflow-s1"]["madds"]

    # re-running: finished jobs are skipped, the failed one only with retry_failed
    assert pending_jobs(plan["jobs"], by_id.values()) == []
    retry = pending_jobs(plan["jobs"], by_id.values(), retry_failed=True)
    assert [j["job_id"] for j in retry] == [broken["job_id"]]
    run_jobs(InProcess(), retry, cfg, cfg.out_dir)
    rows = read_rows(cfg.out_dir, plan["fingerprint"])
    assert len(rows) == 9 and all(r["status"] == "ok" for r in rows)


def test_jobs_are_reproducible_per_seed(tmp_path):
    cfg = tiny_config(tmp_path, "tasks=[classification]", "proxies=[snip]", "count=1")
    jobs = build_plan(cfg)["jobs"]
    first = [run_job(j, cfg) for j in jobs]
    again = [run_job(j, cfg) for j in jobs]
    assert [r["metric"] for r in first] == [r["metric"] for r in again]
    assert first[0]["final"] == again[0]["final"]


def test_rows_of_another_study_are_refused(tmp_path):
    cfg = tiny_config(tmp_path)
    write_row(cfg.out_dir, {"job_id": "00004-rotation-s1", "status": "ok", "metric": 1.0, "fingerprint": "0" * 16})
    with pytest.raises(DataError, match="belongs to another study") as err:
        read_rows(cfg.out_dir, build_plan(cfg)["fingerprint"])
    assert "\n" not in str(err.value)
    row_path(cfg.out_dir, "broken").write_text("{not json")
    with pytest.raises(DataError, match="cannot be read"):
        read_rows(cfg.out_dir)


def test_submitit_local_cluster_runs_a_job(tmp_path):
    cfg = tiny_config(tmp_path, "tasks=[classification]", "proxies=[]", "slurm.cluster=local", "slurm.time_min=5",
                      "slurm.cpus_per_task=1")
    job = build_plan(cfg)["jobs"][0]
    executor = build_executor("slurm", 0, "cpu", cfg.slurm, tmp_path / "study" / "submitit")
    (row,) = run_jobs(executor, [job], cfg, cfg.out_dir)
    assert row["status"] == "ok", row.get("error")
    assert json.loads(row_path(cfg.out_dir, job["job_id"]).read_text())["metric"] == row["metric"]


def test_nasbench101_jobs_train_heads_on_the_trunk_and_score_proxies(tmp_path):
    cfg = tiny_config(tmp_path, "space=nasbench101", "count=1", "network.stem_width=4", "network.num_stacks=2",
                      "network.modules_per_stack=1", "tasks=[classification,rotation]", "proxies=[naswot]")
    rows = {r["task"]: r for r in (run_job(j, cfg) for j in build_plan(cfg)["jobs"])}
    assert all(r["status"] == "ok" for r in rows.values()), [r.get("error") for r in rows.values()]
    # same trunk everywhere; rotation's 4-way head is smaller than the 10-way classifier
    assert rows["classification"]["madds"] == rows["rotation"]["madds"] == rows["naswot"]["madds"]
    assert rows["classification"]["params"] - rows["rotation"]["params"] == 6 * (8 + 1)
    assert math.isfinite(rows["naswot"]["metric"])


def test_rank_by_picks_the_final_epoch_unless_told_otherwise(tmp_path):
    """The same training job (2 epochs, evaluated after each) scored both ways: the row's metric is the
    last epoch's test top-1 by default, the max over epochs on the test split only when asked."""
    cfg = tiny_config(tmp_path, "tasks=[classification]", "proxies=[]", "count=1", "recipe.epochs=2")
    peak_cfg = tiny_config(tmp_path, "tasks=[classification]", "proxies=[]", "count=1", "recipe.epochs=2",
                           "rank_by=best_epoch_on_test")
    job = build_plan(cfg)["jobs"][0]
    final, peak = run_job(job, cfg), run_job(job, peak_cfg)
    assert final["status"] == peak["status"] == "ok", (final.get("error"), peak.get("error"))
    assert final["final"] == peak["final"] and final["max_over_epochs"] == peak["max_over_epochs"]  # same training
    assert (final["metric"], final["metric_name"], final["rank_by"]) == (final["final"]["top1"], "final test top1",
                                                                        "final")
    assert (peak["metric"], peak["metric_name"], peak["rank_by"]) == (
        peak["max_over_epochs"]["top1"], "max over epochs on test top1", "best_epoch_on_test")
    assert peak["metric"] >= final["metric"]
    # rows ranked differently are not one study
    assert build_plan(cfg)["fingerprint"] != build_plan(peak_cfg)["fingerprint"]


def test_rank_by_is_checked(tmp_path):
    from unnas.errors import ConfigError

    with pytest.raises(ConfigError, match="rank_by='best' is invalid: must be one of final, best_epoch_on_test") as err:
        tiny_config(tmp_path, "rank_by=best")
    assert "\n" not in str(err.value)


def test_non_finite_numbers_are_stored_as_null_and_files_stay_strict(tmp_path):
    from unnas.trials.rows import finite_only

    result = {"metric": float("nan"), "final": {"top1": 12.5, "loss": float("inf")}, "curve": [1.0, float("-inf")],
              "epochs": 1}
    clean, bad = finite_only(result)
    assert clean == {"metric": None, "final": {"top1": 12.5, "loss": None}, "curve": [1.0, None], "epochs": 1}
    assert bad == ["metric", "final.loss", "curve[1]"]
    write_row(tmp_path, {"job_id": "a", **clean})
    assert json.loads(row_path(tmp_path, "a").read_text())["metric"] is None
    with pytest.raises(ValueError):  # a NaN that slipped through is a bug, never written
        write_row(tmp_path, {"job_id": "b", "metric": float("nan")})
    assert not row_path(tmp_path, "b").exists()
