"""Which schema an ``unnas search`` command loads: the strategy's, read from the resolved config.

The strategy is peeked from the YAML file and the overrides together (the last word wins, case does
not matter: ``strategy=NCP`` and ``strategy: ncp`` in a preset both mean NCP), then the config is
loaded with that strategy's schema, so each strategy's keys are checked against its own groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from unnas.errors import ConfigError

from .loader import load_config, peek
from .ncp_schema import NcpConfig
from .schema import BLACKBOX_STRATEGIES, STRATEGIES, BlackBoxConfig, SearchConfig


def search_schema(strategy: str) -> type:
    if strategy == "ncp":
        return NcpConfig
    return BlackBoxConfig if strategy in BLACKBOX_STRATEGIES else SearchConfig


def load_search_config(path: str | Path | None, overrides: Sequence[str]):
    """The search config of ``path`` + ``overrides`` under its strategy's schema."""
    value = peek(path, overrides, "strategy")
    strategy = "darts" if value is None else str(value).strip().lower()
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy={value!r} is invalid: must be one of {', '.join(STRATEGIES)}")
    return load_config(search_schema(strategy), path, [*overrides, f"strategy={strategy}"])
