"""A training option declared once: the field of :class:`~digitlab.config.TrainConfig` and all
that is known about it.

Each field is declared with :func:`option`, which returns a ``dataclasses.field`` carrying an
:class:`Option` in its metadata: the help text, the group it is shown in, the values it allows
(choices, or numeric bounds), whether the web lab's form offers it and whether it existed in the
first release. Everything else is generated from that declaration:

- the simple checks of :meth:`TrainConfig.validate <digitlab.config.TrainConfig.validate>`
  (:meth:`Option.check`); rules that tie fields together stay written out in the config;
- the cache key, which leaves fields added after the first release out while at their default;
- the ``digitlab train`` flags (:mod:`digitlab.cli.train`), named like the field;
- the web lab's preset fields (:mod:`digitlab.serve.app`);
- the options table of the documentation (:func:`options_markdown`,
  ``docs/training-options.md``).

The kind of value (bool, int, float, str or list) is read from the default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from digitlab.checks import check_bool, check_choice, check_integer, check_number

#: group name -> its title, in the order help and documentation show them
GROUPS = {
    "network": "The network",
    "training": "Training",
    "data": "Data",
    "regularisation": "Beyond the assignment: regularisation",
    "augmentation": "Beyond the assignment: augmentation",
    "preprocessing": "Beyond the assignment: preprocessing",
    "honesty": "Knowing what it doesn't know: adversarial training, outliers, calibration",
}

_METADATA_KEY = "digitlab.option"


@dataclass(frozen=True)
class Option:
    """What is declared about one config field besides its name and default."""

    help: str  # one or two sentences, as ``digitlab train --help`` shows them
    group: str  # a key of GROUPS
    kind: str  # "bool", "int", "float", "str" or "list", from the default
    choices: tuple[str, ...] | None = None  # the allowed values of a str field
    low: float | None = None  # the smallest allowed number (see low_inclusive)
    high: float | None = None  # the bound numbers stay under (see high_inclusive)
    low_inclusive: bool = True
    high_inclusive: bool = False
    allowed: str = ""  # the allowed values in words, where the config checks them by hand
    since_first_release: bool = True  # False: left out of the cache key while at its default
    lab: bool = False  # offered by the web lab's training form
    flag: bool = True  # False: the command declares the flag itself (shared with others)
    from_data: bool = False  # set from the data when training starts: no flag of its own

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`ConfigError` naming the field and ``value`` unless it is allowed.

        Lists (layer widths, dropout rates) are checked by the config itself.
        """
        if self.choices is not None:
            check_choice(name, value, self.choices)
        elif self.kind == "bool":
            check_bool(name, value)
        elif self.kind == "int":
            check_integer(name, value, low=self.low)
        elif self.kind == "float":
            check_number(name, value, low=self.low, high=self.high,
                         low_inclusive=self.low_inclusive, high_inclusive=self.high_inclusive)

    def allowed_values(self) -> str:
        """The allowed values in words: ``"tanh, relu"``, ``"integer >= 1"``, ``"[0, 1)"``..."""
        if self.allowed:
            return self.allowed
        if self.choices is not None:
            return ", ".join(self.choices)
        if self.kind == "bool":
            return "on, off"
        if self.kind in ("int", "float"):
            return _bounds_text(self)
        return "any"


def option(default: Any, *, help: str, group: str, choices: tuple[str, ...] | None = None,
           low: float | None = None, high: float | None = None, low_inclusive: bool = True,
           high_inclusive: bool = False, allowed: str = "", since_first_release: bool = True,
           lab: bool = False, flag: bool = True, from_data: bool = False) -> Any:
    """A dataclass field with ``default`` and its :class:`Option` (see the module docstring).

    A list default becomes a ``default_factory`` (each config gets a list of its own).
    ``from_data``: the value is read from the data when training starts (the network's input
    and output widths), so the field has no flag.
    """
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    integer = isinstance(default, int) and not isinstance(default, bool)
    if integer and (low is None or high is not None):
        raise ValueError("an integer option needs a lower bound low= and takes no high=")
    spec = Option(help=help, group=group, kind=_kind_of(default), choices=choices, low=low,
                  high=high, low_inclusive=low_inclusive, high_inclusive=high_inclusive,
                  allowed=allowed, since_first_release=since_first_release, lab=lab,
                  flag=flag and not from_data, from_data=from_data)
    metadata = {_METADATA_KEY: spec}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def option_of(field: dataclasses.Field) -> Option:
    """The :class:`Option` declared with ``field``."""
    return field.metadata[_METADATA_KEY]


def default_of(field: dataclasses.Field) -> Any:
    """The default value of ``field`` (a fresh one for lists)."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def flag_name(name: str) -> str:
    """The command-line flag of field ``name``: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def shown_value(value: Any) -> str:
    """A config value as help and documentation show it: ``[256, 128]`` -> ``256,128``."""
    if isinstance(value, list):
        return ",".join(f"{n:g}" for n in value) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def options_by_group(fields: tuple[dataclasses.Field, ...]) -> dict[str, list[dataclasses.Field]]:
    """``fields`` by group, in the order of :data:`GROUPS` (declaration order within one)."""
    grouped: dict[str, list[dataclasses.Field]] = {group: [] for group in GROUPS}
    for field in fields:
        grouped[option_of(field).group].append(field)
    return {group: members for group, members in grouped.items() if members}


def options_markdown(config_class: type) -> str:
    """The documentation's table of every option of ``config_class``, one section per group."""
    lines = [
        "# Training options",
        "",
        "<!-- Generated from the declarations in src/digitlab/config.py by",
        "     scripts/write_training_options.py; do not edit by hand. -->",
        "",
        "Every field of `TrainConfig` is a key of a TOML config (`digitlab train --config`), a "
        "flag of `digitlab train` and a keyword of `dl.train`. Defaults are those of the "
        "`assignment` preset.",
    ]
    for group, fields in options_by_group(dataclasses.fields(config_class)).items():
        lines += ["", f"## {GROUPS[group]}", "",
                  "| Option | Flag | Default | Allowed values | Meaning |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [_markdown_row(field) for field in fields]
    return "\n".join(lines) + "\n"


def _markdown_row(field: dataclasses.Field) -> str:
    spec = option_of(field)
    flag = "(set from the data)" if spec.from_data else flag_name(field.name)
    if spec.kind == "bool":
        flag = f"{flag} / --no-{flag[2:]}"
    cells = [f"`{field.name}`", flag if spec.from_data else f"`{flag}`",
             f"`{shown_value(default_of(field))}`", spec.allowed_values(), spec.help]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _kind_of(default: Any) -> str:
    for kind in (bool, int, float, str, list):  # bool before int: True is an int too
        if isinstance(default, kind):
            return kind.__name__
    raise TypeError(f"an option's default must be a bool, int, float, str or list, "
                    f"got {default!r}")


def _bounds_text(spec: Option) -> str:
    what = "integer" if spec.kind == "int" else "number"
    if spec.low is not None and spec.high is not None:
        left = "[" if spec.low_inclusive else "("
        right = "]" if spec.high_inclusive else ")"
        return f"{what} in {left}{spec.low:g}, {spec.high:g}{right}"
    if spec.low is not None:
        return f"{what} {'≥' if spec.low_inclusive else '>'} {spec.low:g}"
    if spec.high is not None:
        return f"{what} {'≤' if spec.high_inclusive else '<'} {spec.high:g}"
    return what
