"""``unnas search strategy=ncp predictor=PATH …``: the NCP branch of the search command (not a command itself)."""

from __future__ import annotations


def run_ncp(config: str | None, overrides: list[str], print_config: bool = False) -> int:
    from unnas.config import config_to_yaml, load_config, resolve_config_path
    from unnas.config.ncp_schema import NcpConfig

    path = resolve_config_path(config, "search") if config else None
    cfg = load_config(NcpConfig, path, overrides)
    text = config_to_yaml(cfg)
    if print_config:
        print(text, end="")
        return 0
    from unnas.search.ncp import run_ncp as propagate_and_write

    r = propagate_and_write(cfg, text)
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
