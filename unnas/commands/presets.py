"""``unnas presets [search|train|study]``: the YAML presets that ship with unnas, by the command that takes them.

A preset's short name (``fashion_mnist/rea_naswot``) works from any directory, installed or in a
checkout; a YAML file of your own is given by its path and wins over a preset of the same name.
"""

from __future__ import annotations

NAME = "presets"
HELP = "list the shipped YAML presets (unnas search NAME, unnas train ARCH NAME, unnas study plan NAME)"


#: Command → (the folder of its presets, how a preset is used).
USES = {"search": ("search", "unnas search NAME"), "train": ("eval", "unnas train ARCH NAME"),
        "study": ("study", "unnas study plan|run|status|analyze NAME")}


def add_arguments(parser) -> None:
    parser.add_argument("only", nargs="?", choices=sorted(USES), metavar="COMMAND", help="only the presets of this command")
    parser.add_argument("--paths", action="store_true", help="also print each preset's file")


def run(args) -> int:
    from ._presets import main  # imported on use: `unnas --help` must not import omegaconf

    return main(args)
