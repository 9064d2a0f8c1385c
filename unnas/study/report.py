"""Write a study's analysis into its directory: ``analysis.json``, the figures and ``report.md``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from unnas.engine.atomic import atomic_write_json, atomic_write_text

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
    from .proxies import PROXY_INFO

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


def render_report(result: dict, figures: dict[str, str], title: str = "Study report") -> str:
    """Markdown for an :func:`~unnas.study.analysis.analyze` result; ``figures`` maps names to relative paths."""
    level = int(round(100 * result["correlations"][0]["level"])) if result["correlations"] else 95
    lines = [f"# {title}", "",
             "Seeds are averaged per (architecture, task); each pair uses the architectures finished in both. "
             f"Intervals are {level}% percentile bootstraps over architectures.", "",
             "| task | architectures | kind |", "|---|---|---|"]
    lines += [f"| {t} | {n} | {_kind(t)} |" for t, n in result["archs_per_task"].items()]
    lines += ranking_note(result)
    notes = [diverged_sentence(result.get("diverged") or [])] + constant_sentences(result)
    lines += [line for note in notes if note for line in ("", note)]
    lines += ["", "## Rank correlations", "",
              f"| task A | task B | n | Spearman ρ [{level}% CI] | Kendall τ [{level}% CI] | plot |",
              "|---|---|---|---|---|---|"]
    for c in result["correlations"]:
        key = f"{c['task_a']}__{c['task_b']}"
        link = f"[png]({figures[key]})" if key in figures else ""
        constant = c.get("constant") or []
        lines.append(f"| {c['task_a']} | {c['task_b']} | {c['n']} | {_cell(c['spearman'], constant)} | "
                     f"{_cell(c['kendall'], constant)} | {link} |")
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
                 title: str = "Study report", diverged: Sequence[str] = ()) -> dict:
    """Analyse ``rows`` and write ``analysis.json``, ``figures/*.png`` and ``report.md`` into ``study_dir``.

    ``diverged`` lists the job ids of diverged jobs (not in ``rows``), which the report names.
    Returns the analysis dict with ``"diverged"`` and ``"files"`` (paths relative to ``study_dir``) added.
    """
    study_dir = Path(study_dir)
    (study_dir / FIGURES).mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    result = analyze(rows, target=target, n_boot=n_boot, trials=trials, seed=seed, complete_seeds=complete_seeds)
    result["diverged"] = sorted(diverged)
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
