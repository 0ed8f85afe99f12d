"""Typed results that are also JSON: :class:`Record`, a dataclass with ``to_dict``/``from_dict``.

A record's field names are the keys of the JSON it stands for, in the same order, so
``Record.from_dict(d).to_dict() == d`` for the files written today (``analysis.json``,
``dream.json``, the studies' ``summary.json``, the report's ``stage.json``). A field annotated
with another record type, a ``list[...]`` or ``dict[str, ...]`` of one, or ``... | None`` is
rebuilt into that type; everything else is kept as the JSON value. Keys a record does not
declare are kept in ``extra`` and written back after the declared ones, so a newer file loses
nothing when it is read by older code.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

R = TypeVar("R", bound="Record")

#: a field with ``metadata=OPTIONAL`` is left out of ``to_dict`` while it is None (and may be
#: absent from the JSON), for keys that the JSON holds only sometimes.
OPTIONAL = {"optional": True}


@dataclass
class Record:
    """Base of the typed results; subclasses are plain dataclasses whose fields are JSON keys."""

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)
    _hints: ClassVar[dict[type, dict[str, Any]]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict: declared fields in order, then the ``extra`` keys."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or (f.metadata.get("optional") and value is None):
                continue
            out[f.name] = _dump(value)
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        """The record for a dict as ``to_dict`` writes it (missing keys take their defaults)."""
        hints = cls._type_hints()
        known, values = set(), {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            known.add(f.name)
            if f.name in data:
                values[f.name] = _load(hints[f.name], data[f.name])
            elif f.default is MISSING and f.default_factory is MISSING:
                raise KeyError(f"{cls.__name__}: the key {f.name!r} is missing")
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    @classmethod
    def _type_hints(cls) -> dict[str, Any]:
        if cls not in Record._hints:
            Record._hints[cls] = typing.get_type_hints(cls)
        return Record._hints[cls]


def _dump(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _load(hint: Any, value: Any) -> Any:
    """``value`` (JSON) rebuilt as ``hint`` where the hint names a record type."""
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # X | None
        hint = next((a for a in args if a is not type(None)), Any)
        return _load(hint, value)
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value)
    if origin is list and args:
        return [_load(args[0], v) for v in value]
    if origin is dict and len(args) == 2:
        return {k: _load(args[1], v) for k, v in value.items()}
    return value
