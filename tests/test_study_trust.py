"""How far a study report can be trusted: the small-n warning and the seed-to-seed noise ceiling
(issue #13 §6), through ``unnas study analyze`` on rows stored as the runner stores them."""

import json

import pytest

from test_study_cli import strict_json
from test_study_plan import tiny_config, write_tiny_study

from unnas.study.analysis import noise_ceiling, rank_correlation
from unnas.study.plan import build_plan
from unnas.study.report import CEILING_SENTENCE, ONE_SEED_SENTENCE
from unnas.trials.rows import write_row


def analyzed_study(tmp_path, cli, metric, **changes):
    """Plan the tiny study with ``changes``, store one ok row per planned job with ``metric(task, arch index,
    seed)``, run ``unnas study analyze``; returns (stdout, report text, analysis.json)."""
    plan = build_plan(tiny_config(tmp_path, **changes))
    config = str(write_tiny_study(tmp_path, **changes))
    assert cli("study", "plan", config)[0] == 0
    archs = sorted({j["arch_id"] for j in plan["jobs"]})
    for job in plan["jobs"]:
        write_row(tmp_path / "study", {**{k: job[k] for k in ("job_id", "arch_id", "task", "kind", "seed")},
                                       "status": "ok", "fingerprint": plan["fingerprint"],
                                       "metric": metric(job["task"], archs.index(job["arch_id"]), job["seed"])})
    code, out, err = cli("study", "analyze", config, "--n-boot", "200")
    assert code == 0, err
    study = tmp_path / "study"
    return out, (study / "report.md").read_text(), strict_json((study / "analysis.json").read_text())


def spread(task, i, seed):
    """Distinct metrics that rank the architectures differently per task."""
    return {"classification": 50.0 + i, "rotation": 40.0 + (i * 7) % 12, "synflow": 10.0 ** (i % 5) + i}[task]


def test_few_architectures_are_warned_about_in_words_and_one_seed_gives_no_ceiling(tmp_path, cli):
    out, text, analysis = analyzed_study(tmp_path, cli, spread, count=12)
    assert "Few architectures: all 3 correlations rest on only n = 12" in out  # on the console too
    assert ONE_SEED_SENTENCE in out and "noise ceiling:" not in out
    assert analysis["small_n"]["threshold"] == 15
    pairs = analysis["small_n"]["pairs"]
    assert len(pairs) == 3 and {p["n"] for p in pairs} == {12} and {p["n_to_halve_ci"] for p in pairs} == {39}
    for pair, corr in zip(pairs, analysis["correlations"]):
        lo, hi = corr["spearman"]["ci"]
        assert pair["ci_width"] == pytest.approx(hi - lo) and pair["ci_width"] > 0.2
    warning = [line for line in text.splitlines() if line.startswith("**Few architectures:**")]
    assert len(warning) == 1
    assert "all 3 correlations rest on only n = 12 architectures (under 15)" in warning[0]
    assert "Spearman CIs are" in warning[0] and "read these ρ as rough" in warning[0]
    assert "about n = 39 architectures would halve its width" in warning[0]
    # one seed: no ceiling in the JSON, no ceiling table or column, one sentence saying what would give it
    assert analysis["noise_ceiling"] == {}
    assert "## Noise ceiling" not in text and "seed-to-seed ρ" not in text and ONE_SEED_SENTENCE in text


def test_enough_architectures_carry_no_warning(tmp_path, cli):
    _out, text, analysis = analyzed_study(tmp_path, cli, spread, count=16)
    assert analysis["small_n"] == {"threshold": 15, "pairs": []}
    assert all(c["n"] == 16 for c in analysis["correlations"]) and "Few architectures" not in text


def test_noise_ceiling_of_two_seeds_matches_a_hand_computation_and_sits_beside_the_cross_task_rho(tmp_path, cli):
    second = [2, 1, 3, 4, 6, 5]  # seed 2 of classification swaps archs 0/1 and 4/5

    def metric(task, i, seed):
        if task == "classification":
            return float(i + 1 if seed == 1 else second[i])
        return {"rotation": float(i), "synflow": float(5 - i)}[task]  # rotation: both seeds agree exactly

    out, text, analysis = analyzed_study(tmp_path, cli, metric, count=6, seeds=[1, 2])
    assert "noise ceiling: classification seed-to-seed Spearman ρ +0.886 [" in out and ONE_SEED_SENTENCE not in out
    ceiling = analysis["noise_ceiling"]
    assert set(ceiling) == {"classification", "rotation"}  # proxies run one seed
    cls = ceiling["classification"]
    # Spearman 1 - 6·Σd²/(n(n²-1)) with d = 1,1,0,0,1,1; Kendall (13 concordant - 2 discordant) / 15
    assert cls["spearman"]["value"] == pytest.approx(1 - 6 * 4 / (6 * 35))
    assert cls["kendall"]["value"] == pytest.approx(11 / 15)
    assert (cls["n"], cls["seeds"], len(cls["pairs"])) == (6, ["1", "2"], 1)
    for stat in ("spearman", "kendall"):
        lo, hi = cls[stat]["ci"]
        assert lo <= cls[stat]["value"] <= hi
    assert ceiling["rotation"]["spearman"]["value"] == pytest.approx(1.0)
    rho = 31 / 35  # Spearman-Brown reliability of the two-seed mean 2ρ/(1+ρ), its square root
    assert cls["perfect_proxy_rho"] == pytest.approx((2 * rho / (1 + rho)) ** 0.5)
    assert ceiling["rotation"]["perfect_proxy_rho"] == pytest.approx(1.0)

    assert "## Noise ceiling (seed-to-seed agreement)" in text and CEILING_SENTENCE in text
    assert "No label-free task can be expected to beat the target's own seed-to-seed agreement" in text
    line = next(line for line in text.splitlines() if line.startswith("| classification | 6 | 1, 2 | 0.886 ["))
    assert line.endswith(f"| {(2 * rho / (1 + rho)) ** 0.5:.3f} |")
    row = next(line for line in text.splitlines() if line.startswith("| classification | rotation |"))
    assert "| 0.886 / 1.000 |" in row
    row = next(line for line in text.splitlines() if line.startswith("| classification | synflow |"))
    assert "| 0.886 / – |" in row
    assert ONE_SEED_SENTENCE not in text


def rows_of(task, seeds):
    return [{"arch_id": f"a{i}", "task": task, "seed": s, "metric": float(v)}
            for s, values in seeds.items() for i, v in enumerate(values)]


def test_noise_ceiling_averages_seed_pairs_skips_incomplete_archs_and_constant_seeds():
    # pairs (1,2) and (1,3): Spearman 0.9, Kendall 0.8; pair (2,3): 0.8 and 0.6
    rows = rows_of("cls", {1: [1, 2, 3, 4, 5], 2: [2, 1, 3, 4, 5], 3: [1, 2, 3, 5, 4]})
    rows += [{"arch_id": "late", "task": "cls", "seed": 1, "metric": 9.0},  # finished one seed only
             {"arch_id": "a0", "task": "other", "seed": 1, "metric": 1.0}]
    ceiling = noise_ceiling(rows, n_boot=300, seed=4)
    cls = ceiling["cls"]
    assert set(ceiling) == {"cls"} and cls["n"] == 5
    assert [(p["seed_a"], p["seed_b"]) for p in cls["pairs"]] == [("1", "2"), ("1", "3"), ("2", "3")]
    assert [p["spearman"] for p in cls["pairs"]] == pytest.approx([0.9, 0.9, 0.8])
    assert cls["spearman"]["value"] == pytest.approx(13 / 15) and cls["kendall"]["value"] == pytest.approx(11 / 15)
    json.dumps(ceiling, allow_nan=False)

    # two seeds: exactly the pair's rank correlation, bootstrap included
    two = noise_ceiling(rows_of("cls", {1: [1, 2, 3, 4, 5], 2: [2, 1, 3, 4, 5]}), n_boot=300, seed=4)["cls"]
    direct = rank_correlation([1, 2, 3, 4, 5], [2, 1, 3, 4, 5], n_boot=300, seed=4)
    assert two["spearman"] == direct["spearman"] and two["kendall"] == direct["kendall"]

    # a seed that ranks nothing is left out of the mean; only such seeds: no value
    flat = noise_ceiling(rows_of("cls", {1: [1, 2, 3, 4], 2: [2, 1, 3, 4], 3: [7, 7, 7, 7]}), n_boot=50)["cls"]
    assert flat["spearman"]["value"] == pytest.approx(0.8) and flat["pairs"][1]["spearman"] is None
    none = noise_ceiling(rows_of("cls", {1: [1, 2, 3], 2: [5, 5, 5]}), n_boot=50)["cls"]
    assert none["spearman"] == {"value": None, "ci": [None, None]} and none["perfect_proxy_rho"] is None
    reversed_seeds = noise_ceiling(rows_of("cls", {1: [1, 2, 3], 2: [3, 2, 1]}), n_boot=50)["cls"]
    assert reversed_seeds["spearman"]["value"] == pytest.approx(-1.0) and reversed_seeds["perfect_proxy_rho"] is None
