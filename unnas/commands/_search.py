"""The body of ``unnas search``: load the strategy's config, run it, print what it found."""

from __future__ import annotations

import gc
import sys

from unnas.config import config_to_yaml, load_search_config, resolve_config_path
from unnas.config.ncp_schema import NcpConfig
from unnas.config.schema import BlackBoxConfig
from unnas.engine import distributed
from unnas.search import alpha_stats
from unnas.search.darts import DartsSearch
from unnas.search.ncp import run_ncp
from unnas.search.strategies import run_blackbox
from unnas.spaces.darts.genotype import Genotype

from ._parsing import split_config_args


def run_search(args) -> int:
    config, overrides = split_config_args(args.args)
    if args.images:
        overrides = ["data.name=folder", f"data.root={args.images}"] + overrides
    path = resolve_config_path(config, "search") if config else None
    cfg = load_search_config(path, overrides)
    text = config_to_yaml(cfg)
    if args.print_config:
        print(text, end="")
        return 0
    if isinstance(cfg, NcpConfig):
        return _print_ncp(cfg, run_ncp(cfg, text))
    if isinstance(cfg, BlackBoxConfig):
        result = run_blackbox(cfg, text)
        print(f"best of {result['evaluations']} ({result['fitness']} {result['best']['fitness']:.4g}): "
              f"{result['best_arch']}")
        print(f"run directory: {cfg.out_dir}")
        return 0
    return _run_darts(cfg, text)


def _run_darts(cfg, text: str) -> int:
    searcher = None
    try:
        searcher = DartsSearch(cfg, text)
        main, dist = searcher.dist.is_main, searcher.dist
        if main:
            world = f" × {dist.world_size} processes" if dist.enabled else ""
            print(f"unnas search: {cfg.task} on {cfg.data.name} ({len(searcher.dataset)} images), "
                  f"{searcher.iters_per_epoch} iterations × {cfg.optim.epochs} epochs on {searcher.device}{world}; "
                  f"run dir {cfg.out_dir}", flush=True)
        result = searcher.run()
        stats = alpha_stats.cell_stats(searcher.trunk.alpha_weights())
        history = list(searcher.history[-2:])
        dist.barrier()  # every rank is done with the model before any rank frees it
    finally:
        # the DDP-wrapped model goes before its process group: destroying the group under a live DDP
        # module aborted a rank at exit now and then (std::terminate, no Python frame)
        del searcher
        gc.collect()
        distributed.teardown()
    if not main:
        return 0
    print(f"genotype ({'resumed' if result.resumed else 'new'} run, {result.epochs} epochs):")
    print(result.genotype)
    line = ("α: mean max weight " + ", ".join(f"{c} {s['sharpness']:.3f}" for c, s in stats.items())
            + f" (uniform {alpha_stats.uniform_sharpness():.3f})")
    if len(history) >= 2:  # how settled the printed genotype is
        before, last = (Genotype.from_obj(h["genotype"]) for h in history)
        kept = [f"{c} {alpha_stats.genotype_stability(before, last, c)}/{len(last.cell(c)[0])}"
                for c in alpha_stats.CELLS]
        line += "; (op, input) choices kept over the last epoch: " + ", ".join(kept)
    print(line)
    warning = alpha_stats.signal_warning(stats)
    if warning:
        print(warning, file=sys.stderr)
    print(f"run directory: {result.run_dir}")
    return 0


def _print_ncp(cfg, r: dict) -> int:
    print(f"unnas search: ncp ({r['mode']}) on {r['space']} codes, {r['iterations']} iterations, "
          f"targets {'reached' if r['reached'] else 'not reached'}"
          f"{' (stalled: a projection gave back the previous architecture)' if r['stalled'] else ''}, {r['seconds']:.2f} s "
          f"({r['cpu_seconds']:.2f} CPU s)")
    width = max(len(m) for m in r["predicted_final"])
    for m, v in r["predicted_final"].items():
        print(f"  predicted {m:<{width}}  {r['predicted_start'][m]:.6g} -> {v:.6g}")
    loss = r["loss"]
    if r["chosen_iteration"] == 0:
        print(f"  no projected architecture lowered the loss below the start's ({loss['start']:.4g}; last projection "
              f"{loss['last_projection']:.4g}): the start is returned; try a smaller lr or mode=wta")
    else:
        print(f"  chosen: the projection of iteration {r['chosen_iteration']} (loss {loss['start']:.4g} at the start, "
              f"{loss['chosen']:.4g} chosen, {loss['last_projection']:.4g} at the last projection)")
    print(r["architecture"])
    print(f"run directory: {cfg.out_dir}")
    return 0
