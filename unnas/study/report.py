"""Write a study's analysis into its directory: ``analysis.json``, the figures and ``report.md``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from unnas.atomic import atomic_write_json, atomic_write_text
from unnas.trials.proxies import PROXY_INFO

from .analysis import analyze, average_seeds, common
from .plots import best_of_m_plot, metric_label, scatter_pair

FIGURES = "figures"


def figure_name(key: str) -> str:
    """A file-name-safe version of a task-pair key (task names may hold '/' or spaces)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", key)


def _cell(stat: dict, constant: Sequence[str] = ()) -> str:
    value, (lo, hi) = stat["value"], stat["ci"]
    if value is None:
        return f"n/a ({', '.join(constant)} constant)" if constant else "n/a"
    return f"{value:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")


def _kind(task: str) -> str:
    """A trained task, or which kind of zero-cost proxy (label-free ones also run on unlabelled data)."""
    info = PROXY_INFO.get(task)
    if info is None:
        return "trained"
    return "zero-cost proxy, " + ("needs labels" if info.needs_labels else "label-free")


#: The warning a study ranked by rank_by=best_epoch_on_test carries.
BEST_EPOCH_WARNING = ("**Warning:** rank_by=best_epoch_on_test: each training run is scored by its max over epochs "
                      "on the test split, i.e. epochs chosen on the test data itself; these numbers are optimistic "
                      "and not a selection you may report.")


def ranking_note(result: dict) -> list[str]:
    """Lines saying which metric ranks each task, and the warning when epochs were picked on the test split."""
    names = result.get("metric_names") or {}
    lines = ["", "Ranking metric: " + "; ".join(f"{t}: {', '.join(n)}" for t, n in names.items()) + "."] if names else []
    if "best_epoch_on_test" in (result.get("rank_by") or []):
        lines += ["", BEST_EPOCH_WARNING]
    return lines


def diverged_sentence(job_ids: Sequence[str]) -> str:
    """"3 jobs diverged: job ids …" (empty when none did)."""
    n = len(job_ids)
    if not n:
        return ""
    plural = "s" if n != 1 else ""
    return (f"{n} job{plural} diverged: job id{plural} {', '.join(job_ids)} (a loss or weight became NaN/Inf; "
            "left out of the correlations).")


def constant_sentences(result: dict) -> list[str]:
    """One sentence per task whose metric is the same for every architecture (its correlations are n/a)."""
    return [f"{task} gave every architecture the same metric ({value:.3f}): it ranks nothing, so its rank "
            "correlations are undefined (n/a)." for task, value in (result.get("constant") or {}).items()]


def small_n_sentences(result: dict) -> list[str]:
    """One warning per distinct n under the threshold: the correlations on so few architectures, their CI
    widths, and about how many architectures would halve them."""
    entry = result.get("small_n") or {}
    by_n: dict[int, list[dict]] = {}
    for pair in entry.get("pairs") or []:
        by_n.setdefault(pair["n"], []).append(pair)
    total = len(result.get("correlations") or [])
    lines = []
    for n, pairs in sorted(by_n.items()):
        which = (f"all {total} correlations" if len(pairs) == total and total > 1 else "the correlation"
                 + ("s " if len(pairs) > 1 else " ") + ", ".join(f"{p['task_a']}–{p['task_b']}" for p in pairs))
        widths = [p["ci_width"] for p in pairs if p["ci_width"] is not None]
        span = "" if not widths else (f"their Spearman CIs are {min(widths):.2f}–{max(widths):.2f} wide; "
                                      if len(widths) > 1 else f"its Spearman CI is {widths[0]:.2f} wide; ")
        lines.append(f"**Few architectures:** {which} rest on only n = {n} architectures (under {entry['threshold']}): "
                     f"{span}with so few, one architecture more or less moves ρ a lot and the bootstrap interval is "
                     "itself unreliable (too narrow when the sample happens to rank perfectly), so read these ρ as "
                     f"rough. A CI narrows roughly like 1/√(n − 3): about n = {pairs[0]['n_to_halve_ci']} "
                     "architectures would halve its width.")
    return lines


#: The sentence that goes with the noise ceiling.
CEILING_SENTENCE = ("No label-free task can be expected to beat the target's own seed-to-seed agreement by much: "
                    "even a task that knew each architecture's noise-free target quality would reach only about "
                    "√R against the seed-averaged target (R = kρ/(1 + (k − 1)ρ) for k seeds, the Spearman–Brown "
                    "reliability; column \"perfect proxy ≈\"), and a task trained with the same seed as the target "
                    "can share its initial weights and data order, so part of its agreement may be shared noise.")


#: Said instead of the noise ceiling when every task ran one seed.
ONE_SEED_SENTENCE = ("Every task ran one seed, so the noise ceiling (how well two seeds of the target agree "
                     "on the ranking) is unknown; a second seed (`seeds: [1, 2]`) measures it.")


def _ceiling_pair(result: dict, a: str, b: str) -> str:
    """"0.812 / –": the seed-to-seed Spearman ρ of task A and task B (– without a ceiling)."""
    ceiling = result.get("noise_ceiling") or {}

    def one(task: str) -> str:
        value = ceiling.get(task, {}).get("spearman", {}).get("value")
        return "–" if value is None else f"{value:.3f}"
    return f"{one(a)} / {one(b)}"


def ceiling_section(result: dict, level: int) -> list[str]:
    """The noise-ceiling table (tasks with ≥ 2 seeds), or the sentence saying one seed cannot give it."""
    ceiling = result.get("noise_ceiling") or {}
    if not ceiling:
        return ["", ONE_SEED_SENTENCE] if result.get("correlations") else []
    lines = ["", "## Noise ceiling (seed-to-seed agreement)", "",
             "Rank correlation between two seeds of the same task, on the architectures finished in every seed "
             "(the mean over seed pairs when there are more than two). " + CEILING_SENTENCE
             + " The column seed-to-seed ρ of the correlation table puts each task's ceiling beside its cross-task ρ; "
             f"the target is {result['target']}"
             + ("" if result["target"] in ceiling else " (it ran one seed: its ceiling is unknown)") + ".", "",
             f"| task | n | seeds | Spearman ρ [{level}% CI] | Kendall τ [{level}% CI] | perfect proxy ≈ |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {t} | {e['n']} | {', '.join(e['seeds'])} | {_cell(e['spearman'])} | {_cell(e['kendall'])} | "
              + ("n/a" if e.get("perfect_proxy_rho") is None else f"{e['perfect_proxy_rho']:.3f}") + " |"
              for t, e in ceiling.items()]
    return lines


def render_report(result: dict, figures: dict[str, str], title: str = "Study report") -> str:
    """Markdown for an :func:`~unnas.study.analysis.analyze` result; ``figures`` maps names to relative paths."""
    level = int(round(100 * result["correlations"][0]["level"])) if result["correlations"] else 95
    lines = [f"# {title}", "",
             "Seeds are averaged per (architecture, task); each pair uses the architectures finished in both. "
             f"Intervals are {level}% percentile bootstraps over architectures.", "",
             "| task | architectures | kind |", "|---|---|---|"]
    lines += [f"| {t} | {n} | {_kind(t)} |" for t, n in result["archs_per_task"].items()]
    lines += ranking_note(result)
    notes = list(result.get("notes") or []) + [diverged_sentence(result.get("diverged") or [])] + constant_sentences(result)
    lines += [line for note in notes if note for line in ("", note)]
    ceiling = bool(result.get("noise_ceiling"))
    lines += ["", "## Rank correlations", "",
              f"| task A | task B | n | Spearman ρ [{level}% CI] | Kendall τ [{level}% CI] |"
              + (" seed-to-seed ρ (A / B) |" if ceiling else "") + " plot |",
              "|---|---|---|---|---|" + ("---|" if ceiling else "") + "---|"]
    for c in result["correlations"]:
        key = f"{c['task_a']}__{c['task_b']}"
        link = f"[png]({figures[key]})" if key in figures else ""
        constant = c.get("constant") or []
        lines.append(f"| {c['task_a']} | {c['task_b']} | {c['n']} | {_cell(c['spearman'], constant)} | "
                     f"{_cell(c['kendall'], constant)} |"
                     + (f" {_ceiling_pair(result, c['task_a'], c['task_b'])} |" if ceiling else "") + f" {link} |")
    lines += [line for note in small_n_sentences(result) for line in ("", note)]
    lines += ceiling_section(result, level)
    lines += ["", f"## Best of m (target: {result['target']})", "",
              "Draw m architectures at random, keep the best by the proxy task, report its target accuracy "
              "(mean ± std over trials).", ""]
    if "best_of_m" in figures:
        lines += [f"![best of m]({figures['best_of_m']})", ""]
    for proxy, entry in result["best_of_m"].items():
        lines += [f"**{proxy}** (n = {entry['n']})", "", "| m | mean | std | oracle mean |", "|---|---|---|---|"]
        lines += [f"| {c['m']} | {c['mean']:.3f} | {c['std']:.3f} | {c['oracle_mean']:.3f} |" for c in entry["curve"]]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_report(study_dir: str | Path, rows: Iterable[dict], target: str | None = None, n_boot: int = 1000,
                 trials: int = 1000, seed: int = 0, complete_seeds: bool = False,
                 title: str = "Study report", diverged: Sequence[str] = (), notes: Sequence[str] = ()) -> dict:
    """Analyse ``rows`` and write ``analysis.json``, ``figures/*.png`` and ``report.md`` into ``study_dir``.

    ``diverged`` lists the job ids of diverged jobs (not in ``rows``), which the report names; ``notes`` are
    sentences the report states first (e.g. where a table target comes from).
    Returns the analysis dict with ``"diverged"`` and ``"files"`` (paths relative to ``study_dir``) added.
    """
    study_dir = Path(study_dir)
    (study_dir / FIGURES).mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    result = analyze(rows, target=target, n_boot=n_boot, trials=trials, seed=seed, complete_seeds=complete_seeds)
    result["diverged"] = sorted(diverged)
    result["notes"] = list(notes)
    means = average_seeds(rows, complete_seeds=complete_seeds)
    figures: dict[str, str] = {}
    labels = {t: metric_label(t, result.get("metric_names", {}).get(t)) for t in result["tasks"]}
    for c in result["correlations"]:
        key = f"{c['task_a']}__{c['task_b']}"
        _ids, x, y = common(means, c["task_a"], c["task_b"])
        rel = f"{FIGURES}/scatter_{figure_name(key)}.png"
        scatter_pair(x, y, c["task_a"], c["task_b"], c, study_dir / rel, labels[c["task_a"]], labels[c["task_b"]])
        figures[key] = rel
    if result["best_of_m"]:
        rel = f"{FIGURES}/best_of_m.png"
        best_of_m_plot(result["best_of_m"], result["target"], study_dir / rel, labels[result["target"]])
        figures["best_of_m"] = rel
    result["files"] = {"report": "report.md", "analysis": "analysis.json", "figures": figures}
    atomic_write_json(study_dir / "analysis.json", result)
    atomic_write_text(study_dir / "report.md", render_report(result, figures, title))
    return result
