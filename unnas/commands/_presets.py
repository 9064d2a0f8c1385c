"""The body of ``unnas presets`` (see :mod:`unnas.commands.presets`)."""

from __future__ import annotations

from unnas.config.presets import list_presets, presets_root

from .presets import USES


def main(args) -> int:
    commands = [args.only] if args.only else list(USES)
    for command in commands:
        folder, usage = USES[command]
        presets = list_presets(folder)
        print(f"{command} presets ({usage}):")
        width = max((len(p.name) for p in presets), default=0)
        for p in presets:
            print(f"  {p.name:<{width}}  {p.description}" + (f"  [{p.path}]" if args.paths else ""))
    if args.paths:
        print(f"presets folder: {presets_root()}")
    return 0
