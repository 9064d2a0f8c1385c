"""Every number of every config is checked once, by the schema's rules (issue #24 §4)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from unnas.config import SearchConfig, StudyConfig, TrainConfig
from unnas.config.ncp_schema import NcpConfig
from unnas.config.rules import check_config, describe, satisfies, unruled_numbers
from unnas.config.train_schema import Recipe
from unnas.errors import ConfigError
from unnas.study.search_config import SearchStudyConfig

SCHEMAS = [SearchConfig, NcpConfig, StudyConfig, SearchStudyConfig, TrainConfig, Recipe]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_every_numeric_key_of_every_schema_has_a_range(schema):
    assert unruled_numbers(schema) == []
    check_config(schema())  # the defaults satisfy their own rules


@dataclass
class _Inner:
    rules = {"rate": "(0, 1]"}
    rate: float = 0.5
    count: int = 3


@dataclass
class _Outer:
    rules = {"low": "[0, high]", "high": "> 0", "mode": ("a", "b"), "sizes": ">= 1"}
    low: float = 0.0
    high: float = 1.0
    mode: str = "a"
    sizes: list = field(default_factory=lambda: [1, 2])
    inner: _Inner = field(default_factory=_Inner)
    free: dict = field(default_factory=dict)


def test_a_numeric_key_without_a_rule_is_found():
    assert unruled_numbers(_Outer) == ["inner.count"]


@pytest.mark.parametrize("rule, inside, outside", [
    ("[0, 1)", [0.0, 0.5], [1.0, -0.1]),
    ("(0, 1]", [1.0, 1e-9], [0.0, 1.5]),
    ("> 0", [1e-9], [0.0]),
    (">= 1", [1, 2], [0]),
])
def test_ranges(rule, inside, outside):
    assert all(satisfies(v, rule) for v in inside)
    assert not any(satisfies(v, rule) for v in outside)


@pytest.mark.parametrize("change, message", [
    ({"low": float("nan")}, "low=nan is invalid: must be a finite number in [0, high=1.0]"),
    ({"high": float("inf")}, "high=inf is invalid: must be a finite number > 0"),
    ({"low": 2.0}, "low=2.0 is invalid: must be in [0, high=1.0]"),
    ({"mode": "c"}, "mode='c' is invalid: must be one of a, b"),
    ({"sizes": [1, 0]}, "sizes=0 is invalid: must be >= 1"),
    ({"inner": _Inner(rate=0.0)}, "inner.rate=0.0 is invalid: must be in (0, 1]"),
    ({"inner": _Inner(count=float("-inf"))}, "inner.count=-inf is invalid: must be a finite number"),
    ({"free": {"a": {"b": float("nan")}}}, "free.a.b=nan is invalid: must be a finite number"),
])
def test_a_bad_value_is_one_line_naming_the_key_and_its_range(change, message):
    cfg = _Outer(**change)
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert str(err.value) == message


def test_none_means_unset_and_passes():
    check_config(Recipe(grad_clip=None, max_iters_per_epoch=None))


def test_describe_reads_like_the_rule():
    assert describe("[0, 1)") == "in [0, 1)"
    assert describe(("x", "y")) == "one of x, y"
