"""The argument parser every command's parser is built with."""

from __future__ import annotations

import argparse

from unnas.errors import ConfigError


class IntermixedParser(argparse.ArgumentParser):
    """Lets ``key=value`` overrides, positionals and options come in any order (``CONFIG --workers 2 count=5``,
    ``k=v --images DIR k=v``). A parser with sub-commands parses as usual (argparse cannot intermix those)."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside or self._subparsers is not None:  # intermixed parsing calls back into parse_known_args
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def split_config_args(args: list[str]) -> tuple[str | None, list[str]]:
    """First argument without '=' is the config file; the rest are overrides."""
    config, overrides = None, []
    for a in args:
        if "=" in a:
            overrides.append(a)
        elif config is None:
            config = a
        else:
            raise ConfigError(f"unexpected argument {a!r}: give one CONFIG and key=value overrides")
    return config, overrides
