"""The body of ``unnas table`` (see :mod:`unnas.commands.table`)."""

from __future__ import annotations

from pathlib import Path

from unnas.config import BLACKBOX_STRATEGIES, BlackBoxConfig, load_config
from unnas.engine.lock import DirLock
from unnas.errors import ConfigError
from unnas.study.table_race import race, summary_lines, write_race
from unnas.trials.tables import read_table, study_table_rows, write_table


def check(args) -> int:
    table = read_table(args.file, args.space)
    coverage = table.coverage()
    share = "" if coverage is None else f", {100 * coverage:.1f}% of the space"
    print(f"{table.path}: {len(table)} {table.space.name} architectures{share}; metrics: {', '.join(table.metrics)}")
    for metric, (lo, hi, n) in table.ranges().items():
        print(f"  {metric}: {n} rows, min {lo:.6g}, max {hi:.6g}")
    return 0


def export(args) -> int:
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give the CSV file to write")
    space, columns, rows = study_table_rows(args.study_dir)
    if not rows:
        raise ConfigError(f"{args.study_dir} has no finished job to export; run `unnas study run` first")
    write_table(out, columns, rows)
    print(f"wrote {out}: {len(rows)} {space.name} architectures × {', '.join(columns[1:])}")
    return 0


def race_command(args) -> int:
    strategies = [s.strip().lower() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in BLACKBOX_STRATEGIES]
    if unknown or not strategies:
        raise ConfigError(f"--strategies {args.strategies!r}: choose among {', '.join(BLACKBOX_STRATEGIES)}")
    if args.seeds < 1 or args.budget < 1:
        raise ConfigError(f"--seeds {args.seeds} and --budget {args.budget} must be at least 1")
    bad = [o for o in args.overrides if not o.startswith(("rea.", "ppo.", "model."))]
    if bad:
        raise ConfigError(f"{bad[0]}: race takes rea.* and ppo.* settings (and model.nodes for darts)")
    settings = load_config(BlackBoxConfig, None, list(args.overrides))
    table = read_table(args.file, args.space)
    table.check_metric(args.metric, "--metric")
    out = Path(args.out)
    with DirLock(out, what="race folder"):
        result = race(table, args.metric, strategies, list(range(1, args.seeds + 1)), args.budget, settings,
                      progress=True)
        paths = write_race(result, out)
    print(f"{len(table)} architectures in {table.path}; best {args.metric} {result['table_best']:.6g}; "
          f"{args.seeds} seeds × {args.budget} queries per strategy")
    print("\n".join(summary_lines(result)))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def main(args) -> int:
    return {"check": check, "export": export, "race": race_command}[args.action](args)
