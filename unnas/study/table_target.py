"""A benchmark table as a study's target: ``target: {table: FILE, metric: NAME}``.

The study trains only its own (label-free) tasks and proxies; the table's metric joins them as one
more column, ``table:<metric>``, read for every architecture of the plan by its canonical string.
Architectures the table lacks are left out of every pair with the target, and the report says how many.
"""

from __future__ import annotations

from pathlib import Path

from unnas.trials.spaces import get_space
from unnas.trials.tables import read_table


def table_target_rows(cfg, plan: dict) -> tuple[list[dict], str, str]:
    """(rows of the table's metric for the plan's architectures (its jobs'), the target's name, a sentence for
    the report)."""
    file, metric = cfg.target["table"], cfg.target["metric"]
    table = read_table(file, cfg.space)
    table.check_metric(metric, "target.metric")
    space = get_space(cfg.space)
    name = f"table:{metric}"
    archs = {j["arch_id"]: j["arch"] for j in plan["jobs"] if j.get("arch") is not None}
    rows, missing = [], 0
    for arch_id, arch in archs.items():
        value = table.value(arch, metric)
        if value is None:
            missing += 1
            continue
        rows.append({"job_id": f"table-{arch_id}", "arch_id": arch_id, "task": name, "kind": "table", "seed": 0,
                     "status": "ok", "metric": value, "metric_name": f"{metric} of {Path(file).name}",
                     "arch_str": space.canonical(arch)})
    n = len(archs)
    note = (f"The target is the column **{metric}** of the table `{file}` ({table.space.name}, {len(table)} rows): "
            f"{len(rows)} of the study's {n} architectures are in it"
            + (f"; {missing} are not and are left out of every pair with the target." if missing else "."))
    return rows, name, note
