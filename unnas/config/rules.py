"""One check of every number (and choice) of a config, driven by a table per schema class.

Each schema dataclass lists its rules in a class attribute ``rules`` (no annotation, so neither
dataclasses nor omegaconf see a field): ``{"lr": "> 0", "momentum": "[0, 1)", "lr_min": "[0, lr]",
"relaxation": ("softmax", "gumbel")}``. :func:`check_config` walks a config object once, before
anything touches a run directory:

- every int/float value (also inside lists) must be finite — NaN and Inf pass ``x < 0`` style tests,
  so they are refused here for every key, declared or not;
- a number with a rule must lie in its range; a bound may name a sibling key (``[0, lr]``);
- a string with a tuple rule must be one of its choices;
- ``None`` passes (optional keys mean "off" or "the default").

The error is one line naming the dotted key, the value and the allowed range. The test suite checks
that every numeric field of every schema has a rule, so a new key cannot skip its range.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from typing import Any

from unnas.errors import ConfigError

_INTERVAL = re.compile(r"^([\[(])\s*([^,]+?)\s*,\s*([^,]+?)\s*([\])])$")
_COMPARE = re.compile(r"^(>=|>|<=|<)\s*(\S+)$")


def _bound(text: str, obj: Any, prefix: str) -> tuple[float, str]:
    """A bound's value and how to print it: a number, ±inf, or a sibling key's current value."""
    if text in ("inf", "-inf"):
        return float(text), text
    try:
        return float(text), text
    except ValueError:
        value = getattr(obj, text)
        return float(value), f"{prefix}{text}={value!r}"


def describe(rule: str | tuple, obj: Any = None, prefix: str = "") -> str:
    """The rule in words, e.g. ``in [0, 1)``, ``> 0``, ``one of softmax, gumbel``."""
    if isinstance(rule, tuple):
        return "one of " + ", ".join(map(str, rule))
    m = _INTERVAL.match(rule)
    if m:
        lo = _bound(m.group(2), obj, prefix)[1] if obj is not None else m.group(2)
        hi = _bound(m.group(3), obj, prefix)[1] if obj is not None else m.group(3)
        return f"in {m.group(1)}{lo}, {hi}{m.group(4)}"
    m = _COMPARE.match(rule)
    if m is None:
        raise ValueError(f"bad rule {rule!r}")
    return f"{m.group(1)} {_bound(m.group(2), obj, prefix)[1] if obj is not None else m.group(2)}"


def satisfies(value: float, rule: str, obj: Any = None, prefix: str = "") -> bool:
    """Whether ``value`` lies in the range ``rule`` (bounds naming keys are read from ``obj``)."""
    m = _INTERVAL.match(rule)
    if m:
        lo, hi = _bound(m.group(2), obj, prefix)[0], _bound(m.group(3), obj, prefix)[0]
        above = value >= lo if m.group(1) == "[" else value > lo
        below = value <= hi if m.group(4) == "]" else value < hi
        return above and below
    m = _COMPARE.match(rule)
    if m is None:
        raise ValueError(f"bad rule {rule!r}")
    bound = _bound(m.group(2), obj, prefix)[0]
    return {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[m.group(1)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fail(key: str, value: Any, rule_text: str) -> None:
    raise ConfigError(f"{key}={value!r} is invalid: must be {rule_text}")


def check_value(key: str, value: Any, rule: str | tuple | None, obj: Any = None, prefix: str = "") -> None:
    """One value: finite if a number (each element of a list), in ``rule`` if it has one."""
    if value is None:
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            check_value(key, v, rule, obj, prefix)
        return
    if isinstance(rule, tuple):
        if value not in rule:
            _fail(key, value, describe(rule))
        return
    if not _is_number(value):
        return
    if not math.isfinite(value):
        _fail(key, value, "a finite number" + (f" {describe(rule, obj, prefix)}" if rule else ""))
    if rule is not None and not satisfies(value, rule, obj, prefix):
        _fail(key, value, describe(rule, obj, prefix))


def rules_of(cls: type) -> dict[str, str | tuple]:
    """The rules of a schema class and of its bases (a subclass's rule wins)."""
    merged: dict[str, str | tuple] = {}
    for base in reversed(cls.__mro__):
        merged.update(base.__dict__.get("rules", {}))
    return merged


def check_config(obj: Any, prefix: str = "") -> None:
    """Every field of the dataclass ``obj`` (recursively): finite numbers, ranges and choices."""
    rules = rules_of(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_config(value, f"{key}.")
        elif isinstance(value, dict):
            for k, v in value.items():  # free-form groups: at least no NaN/Inf inside
                if dataclasses.is_dataclass(v):
                    check_config(v, f"{key}.{k}.")
                else:
                    check_finite(f"{key}.{k}", v)
        else:
            check_value(key, value, rules.get(f.name), obj, prefix)


def check_finite(key: str, value: Any) -> None:
    """NaN/Inf anywhere inside a nested mapping or list is refused, naming the key."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_finite(f"{key}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            check_finite(key, v)
    elif _is_number(value) and not math.isfinite(value):
        _fail(key, value, "a finite number")


def unruled_numbers(cls: type, prefix: str = "") -> list[str]:
    """Numeric fields of a schema class (recursively) without a rule: what the tests refuse."""
    missing = []
    rules = rules_of(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        inner = args[0]
        if dataclasses.is_dataclass(inner):
            missing += unruled_numbers(inner, f"{prefix}{f.name}.")
            continue
        origin = typing.get_origin(inner)
        if origin in (list, tuple):
            inner = typing.get_args(inner)[0] if typing.get_args(inner) else inner
        if inner in (int, float) and f.name not in rules:
            missing.append(f"{prefix}{f.name}")
    return missing


#: Tasks whose one image is one input: a batch of one image gives batch norm a single sample.
ONE_INPUT_PER_IMAGE = ("classification", "segmentation")


def check_batch_for_task(batch_size: int | None, task: str, key: str) -> None:
    """One rule for search, training and fitness: batch norm needs two samples per batch, so tasks that make
    one input per image need at least 2 images per batch (rotation's 4 rotations of one image are 4 inputs)."""
    if batch_size is not None and batch_size < 2 and task in ONE_INPUT_PER_IMAGE:
        raise ConfigError(f"{key}={batch_size!r} is invalid: must be at least 2 for task {task} "
                          "(its batch norm needs two samples)")
