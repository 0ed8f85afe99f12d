"""One-line checks of a single setting: each raises :class:`ConfigError` naming it and its value.

Used by the training config (generated from each field's declaration, see
:mod:`digitlab.options`) and by the dream options. ``what`` prefixes the name in the message
(e.g. ``"dream option "``).
"""

from __future__ import annotations

import math
from typing import Any

from digitlab.errors import ConfigError, Message
from digitlab.i18n import N_

#: The most digits an integer read from a file or a request may have. No setting needs more than
#: a few; Python itself refuses to convert more than 4,300 (a ValueError, not a clear message).
MAX_INTEGER_DIGITS = 100


def bounded_int(text: str) -> int:
    """``int(text)`` for an integer as JSON writes it (``json.loads``' ``parse_int``); a
    ValueError naming the length beyond :data:`MAX_INTEGER_DIGITS` digits."""
    digits = len(text) - (text[:1] in ("+", "-"))
    if digits > MAX_INTEGER_DIGITS:
        raise ValueError(too_long_number(digits))
    return int(text)


def too_long_number(digits: int) -> Message:
    """The message for a number of ``digits`` digits, more than :data:`MAX_INTEGER_DIGITS`."""
    return Message("a number of {digits:,} digits (at most {most} allowed)", digits=digits,
                   most=MAX_INTEGER_DIGITS)


def not_a_number(name: str, value: Any, kind: type = float, finite: bool = False) -> ConfigError:
    """The error for a ``value`` of ``name`` that is no number (``kind`` int: no integer), or
    (``finite``) is infinite or NaN."""
    if kind is int:
        template = (N_("{name} must be a finite integer, got {value!r}") if finite else
                    N_("{name} must be an integer, got {value!r}"))
    else:
        template = (N_("{name} must be a finite number, got {value!r}") if finite else
                    N_("{name} must be a number, got {value!r}"))
    return ConfigError(Message(template, name=name, value=value))


def _must_be(name: str, bound: str, limit: Any, value: Any) -> Message:
    """``"lr must be > 0.0, got -1.0"``: one template, the comparison a value of it."""
    return Message("{name} must be {bound} {limit}, got {value!r}", name=name, bound=bound,
                   limit=limit, value=value)


def check_choice(name: str, value: Any, choices: tuple[str, ...], what: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(Message("{name} must be one of {choices}; got {value!r}",
                                  name=what + name, choices=", ".join(choices), value=value))


def check_number(name, value, *, low=None, high=None, low_inclusive=True, high_inclusive=False,
                 what: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number within the bounds."""
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value)):
        raise not_a_number(what + name, value, finite=True)
    if low is not None and (value < low or (value == low and not low_inclusive)):
        bound = ">=" if low_inclusive else ">"
        raise ConfigError(_must_be(what + name, bound, low, value))
    if high is not None and (value > high or (value == high and not high_inclusive)):
        bound = "<=" if high_inclusive else "<"
        raise ConfigError(_must_be(what + name, bound, high, value))


def check_integer(name, value, *, low, what: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is an integer >= ``low`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise not_a_number(what + name, value, int)
    if value < low:
        raise ConfigError(_must_be(what + name, ">=", low, value))


def check_bool(name: str, value: Any, what: str = "") -> None:
    """Raise :class:`ConfigError` unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise ConfigError(Message("{name} must be true or false, got {value!r}", name=what + name,
                                  value=value))
