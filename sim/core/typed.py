"""Plain data into typed dataclasses, checked field by field (the core reads YAML without Hydra).

The Hydra face type-checks configs at composition (structured configs); the
core's own loaders (``sim.core.scenario.load_scenario``, used by the Mesa
shell, the studies and tests) check files with :func:`from_data`, so nothing
below the face imports Hydra or OmegaConf. Types understood: ``bool``,
``int``, ``float`` (an int is accepted), ``str``, ``X | None``, ``list[X]``,
``dict[str, X]`` and nested dataclasses.
"""

from __future__ import annotations

import numbers
import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any


class TypeMismatch(ValueError):
    """A value that does not have its field's type; ``key`` is the dotted path below the root."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, key)
    if tp is Any:
        return value
    if is_dataclass(tp):
        return from_data(tp, value, key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise TypeMismatch(key, f"{value!r} is not a list")
        (item,) = typing.get_args(tp) or (Any,)
        return [_convert(item, v, _join(key, i)) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeMismatch(key, f"{value!r} is not a mapping")
        _, item = typing.get_args(tp) or (str, Any)
        return {str(k): _convert(item, v, _join(key, k)) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeMismatch(key, f"{value!r} is not a boolean (true or false)")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeMismatch(key, f"{value!r} is not an integer")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeMismatch(key, f"{value!r} is not a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise TypeMismatch(key, f"{value!r} is not a string")
        return value
    raise TypeError(f"{key}: unsupported field type {tp!r}")


def from_data(cls: type, data: Any, key: str = "") -> Any:
    """An instance of dataclass ``cls`` from a mapping; unknown keys and wrong types raise :class:`TypeMismatch`."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise TypeMismatch(key, f"{data!r} is not a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    for k in data:
        if k not in names:
            raise TypeMismatch(_join(key, k), f"unknown key; allowed: {', '.join(names)}")
    return cls(**{k: _convert(hints[k], v, _join(key, k)) for k, v in data.items()})
