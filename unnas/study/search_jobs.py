"""The jobs of a search study: a search (an ``unnas search`` run directory inside the study) and
the train of a genotype (the sample kind's train job, with the genotype read from its search's row).

A search runs through the search library (:class:`unnas.search.darts.DartsSearch`) in the worker
itself; its run directory ``<study>/searches/<job id>/`` keeps the genotype, the α picture and
``metrics.jsonl``, and a search killed half-way resumes from its checkpoint on the next
``study run``. A search with ``arch.discretization: sample`` hands its trains the first genotype of
its ``genotypes_sampled.json`` instead of the argmax ``genotype.json``; both rows say which in
``genotype_from``. Like :func:`~unnas.study.job.run_job`, nothing here raises for a job's own
failure: the row says ``failed`` or ``diverged``. A train whose search did not end ``ok`` gets a
``blocked`` row that is returned but never written: it stays pending and is never counted.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

from unnas.engine import distributed
from unnas.errors import DivergedError, one_line
from unnas.search import alpha_stats
from unnas.search.darts import DartsSearch
from unnas.spaces.darts.genotype import Genotype
from unnas.trials.rows import read_row, write_row

from .jobs import base_row, run_job
from .search_plan import ARGMAX_GENOTYPE, SAMPLED_GENOTYPE, genotype_from, search_config, search_run_dir

#: Job fields a search study's rows carry besides the sample kind's.
EXTRA_FIELDS = ("source", "search_task", "search_seed", "depends_on", "group")


def _alpha_record(run_dir: Path) -> dict:
    """The last ``epoch_end`` record of a search's ``metrics.jsonl`` ({} when there is none)."""
    last = {}
    path = run_dir / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text().splitlines():
            if '"epoch_end"' in line:
                try:
                    last = json.loads(line)
                except json.JSONDecodeError:
                    continue
    return last


def _first_sampled(run_dir: Path):
    """The first genotype of a search's ``genotypes_sampled.json``."""
    drawn = json.loads((run_dir / "genotypes_sampled.json").read_text())["genotypes"]
    if not drawn:
        raise ValueError(f"{run_dir / 'genotypes_sampled.json'} holds no genotype")
    return Genotype.from_obj(drawn[0])


def run_search(job: dict, cfg, study_dir: str | Path) -> dict:
    """Search (or resume searching) one task × seed (of a task or a variant); returns its row."""
    start = time.time()
    row = base_row(job, cfg)
    run_dir = search_run_dir(study_dir, job["job_id"])
    try:
        scfg = search_config(cfg, job.get("search_task") or job["task"], job["seed"], run_dir)
        searcher = DartsSearch(scfg)
        row["device"] = str(searcher.device)
        try:
            result = searcher.run()
        finally:
            distributed.teardown()
        record = _alpha_record(run_dir)
        stats = record.get("alpha_stats") or alpha_stats.cell_stats(searcher.trunk.alpha_weights())
        chosen = genotype_from(scfg)
        genotype = _first_sampled(run_dir) if chosen == SAMPLED_GENOTYPE else result.genotype
        row.update(status="ok", metric=None, error=None, genotype=genotype.to_list(),
                   genotype_str=str(genotype), genotype_from=chosen, argmax_genotype=result.genotype.to_list(),
                   alpha_stats=stats, eval=record.get("eval"),
                   epochs=result.epochs, resumed=result.resumed, search_wall_clock_s=record.get("wall_clock_s"))
    except DivergedError as exc:
        row.update(status="diverged", metric=None, error=f"DivergedError: {one_line(exc)}")
    except Exception as exc:  # a search's failure is a row of the study, not its end
        row.update(status="failed", metric=None, error=f"{type(exc).__name__}: {one_line(exc)}",
                   traceback=traceback.format_exc(limit=-8))
    row["run_dir"] = str(run_dir.relative_to(study_dir)) if run_dir.is_relative_to(study_dir) else str(run_dir)
    row["wall_clock_s"] = round(time.time() - start, 3)
    return row


def run_train(job: dict, cfg, study_dir: str | Path) -> dict:
    """Train a genotype on the target; a searched one's genotype comes from its search's row."""
    dep = job.get("depends_on")
    if dep is not None:
        search_row = read_row(study_dir, dep)
        if search_row is None or search_row.get("status") != "ok" or not search_row.get("genotype"):
            row = base_row(job, cfg)
            state = "pending" if search_row is None else search_row.get("status")
            row.update(status="blocked", metric=None, error=f"its search {dep} is {state}: not trained")
            return row
        job = {**job, "arch": search_row["genotype"]}
    row = run_job(job, cfg)
    if dep is not None:
        row.update(genotype=job["arch"], genotype_from=search_row.get("genotype_from", ARGMAX_GENOTYPE))
    return row


def execute_search_study_job(job: dict, cfg, study_dir: str | Path) -> dict:
    """Run one job of a search study and store its row (a blocked train's row is not stored)."""
    study_dir = Path(study_dir)
    row = run_search(job, cfg, study_dir) if job["kind"] == "search" else run_train(job, cfg, study_dir)
    row.update({k: job[k] for k in EXTRA_FIELDS if k in job})
    if row["status"] != "blocked":
        write_row(study_dir, row)
    return row
