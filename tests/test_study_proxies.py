"""Label-free zero-cost proxies in a real study on the unlabelled demo reader, through the real CLI:
synflow, naswot and jacob_cov score every architecture; snip (needs labels) fails with one line."""

import json
import math

from test_study_plan import write_tiny_study

DEMO = {"name": "demo", "crop_size": 16, "resize_size": 16, "length": 8, "test_split": "test"}


def test_label_free_proxies_run_a_study_on_unlabelled_demo_photos(tmp_path, cli):
    config = str(write_tiny_study(tmp_path, tasks=[], proxies=["synflow", "naswot", "jacob_cov"], target="synflow",
                                  data=DEMO))
    study = tmp_path / "study"
    code, out, err = cli("study", "plan", config)
    assert code == 0, err
    assert "3 archs × 3 proxies (synflow, naswot, jacob_cov) = 9 proxy jobs" in out

    code, out, err = cli("study", "run", config, "--workers", "1")
    assert code == 0, err
    rows = [json.loads(line) for line in (study / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and all(r["status"] == "ok" for r in rows), [r.get("error") for r in rows]
    assert all(r["kind"] == "proxy" and math.isfinite(r["metric"]) and r["params"] > 0 for r in rows)
    for proxy in ("synflow", "naswot", "jacob_cov"):
        scores = [r["metric"] for r in rows if r["task"] == proxy]
        assert len(set(scores)) == 3, (proxy, scores)  # the architectures are told apart

    code, out, err = cli("study", "analyze", config, "--n-boot", "20")
    assert code == 0, err
    report = (study / "report.md").read_text()
    for proxy in ("synflow", "naswot", "jacob_cov"):
        assert f"| {proxy} | 3 | zero-cost proxy, label-free |" in report


def test_a_label_needing_proxy_on_unlabelled_data_fails_its_jobs_with_one_line(tmp_path, cli):
    config = str(write_tiny_study(tmp_path, tasks=[], proxies=["synflow", "snip"], target="synflow", count=1,
                                  data=DEMO))
    code, out, err = cli("study", "run", config, "--workers", "1")
    assert code == 1 and "1 ok, 1 failed" in out, (out, err)
    rows = {r["task"]: r for r in map(json.loads, (tmp_path / "study" / "results.jsonl").read_text().splitlines())}
    assert rows["synflow"]["status"] == "ok"
    error = rows["snip"]["error"]
    assert error.startswith("ConfigError: proxy 'snip' needs class labels but data.name='demo' has no class labels")
    assert "synflow, naswot, jacob_cov" in error and "\n" not in error
