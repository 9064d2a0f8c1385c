"""``unnas search [CONFIG] [key=value …]``: a DARTS cell search driven by any task.

With no arguments it runs the demo: rotation on the photos bundled with scikit-image.
Search your own unlabeled images with ``--images DIR`` (same as ``data.name=folder data.root=DIR``).
Re-running the same command with the same ``out_dir`` resumes an interrupted run.
"""

from __future__ import annotations

NAME = "search"
HELP = "search a DARTS cell with a pretext (or supervised) task"


def add_arguments(parser) -> None:
    parser.add_argument("args", nargs="*", metavar="[CONFIG] [key=value ...]",
                        help="a YAML config (path or short name such as cifar10/rot) and/or dotlist overrides")
    parser.add_argument("--images", metavar="DIR", help="search on your own folder of images (no labels needed)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def split_config_args(args: list[str]) -> tuple[str | None, list[str]]:
    """First argument without '=' is the config file; the rest are overrides."""
    config, overrides = None, []
    for a in args:
        if "=" in a:
            overrides.append(a)
        elif config is None:
            config = a
        else:
            from unnas.errors import ConfigError

            raise ConfigError(f"unexpected argument {a!r}: give one CONFIG and key=value overrides")
    return config, overrides


def run(args) -> int:
    from unnas.config import SearchConfig, config_to_yaml, load_config, resolve_config_path

    config, overrides = split_config_args(args.args)
    if "strategy=ncp" in overrides:  # predictor-based search has its own schema (unnas/config/ncp_schema.py)
        from ._ncp import run_ncp

        return run_ncp(config, overrides, args.print_config)
    if args.images:
        overrides = ["data.name=folder", f"data.root={args.images}"] + overrides
    path = resolve_config_path(config, "search") if config else None
    cfg = load_config(SearchConfig, path, overrides)
    text = config_to_yaml(cfg)
    if args.print_config:
        print(text, end="")
        return 0
    if cfg.strategy != "darts":  # black-box strategies (random | rea | ppo): unnas/search/blackbox.py
        from unnas.search.blackbox import run_blackbox

        result = run_blackbox(cfg, text)
        print(f"best of {result['evaluations']} ({result['fitness']} {result['best']['fitness']:.4g}): "
              f"{result['best_arch']}")
        print(f"run directory: {cfg.out_dir}")
        return 0
    from unnas.engine import distributed
    from unnas.search import DartsSearch

    try:
        searcher = DartsSearch(cfg, text)
        main = searcher.dist.is_main
        if main:
            world = f" × {searcher.dist.world_size} processes" if searcher.dist.enabled else ""
            print(f"unnas search: {cfg.task} on {cfg.data.name} ({len(searcher.dataset)} images), "
                  f"{searcher.iters_per_epoch} iterations × {cfg.optim.epochs} epochs on {searcher.device}{world}; "
                  f"run dir {cfg.out_dir}", flush=True)
        result = searcher.run()
    finally:
        distributed.teardown()
    if main:
        print(f"genotype ({'resumed' if result.resumed else 'new'} run, {result.epochs} epochs):")
        print(result.genotype)
        from unnas.search import alpha_stats

        stats = alpha_stats.cell_stats(searcher.trunk.alpha_weights())
        line = ("α: mean max weight " + ", ".join(f"{c} {s['sharpness']:.3f}" for c, s in stats.items())
                + f" (uniform {alpha_stats.uniform_sharpness():.3f})")
        if len(searcher.history) >= 2:  # how settled the printed genotype is
            from unnas.spaces.darts.genotype import Genotype

            before, last = (Genotype.from_obj(h["genotype"]) for h in searcher.history[-2:])
            kept = [f"{c} {alpha_stats.genotype_stability(before, last, c)}/{len(last.cell(c)[0])}"
                    for c in alpha_stats.CELLS]
            line += "; (op, input) choices kept over the last epoch: " + ", ".join(kept)
        print(line)
        warning = alpha_stats.signal_warning(stats)
        if warning:
            import sys

            print(warning, file=sys.stderr)
        print(f"run directory: {result.run_dir}")
    return 0
