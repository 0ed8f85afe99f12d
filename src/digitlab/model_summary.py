"""A model's summary: its layers and parameter count, its architecture and its training config.

What ``digitlab summary MODEL`` prints and ``dl.summary(model)`` returns; ``digitlab train``
prints the table of the network it is about to train. The headings and labels are messages of the
``cli`` catalog, in the active language (:mod:`digitlab.i18n`), numbers written its way; the
layers' names and the training config's field names and values stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digitlab.i18n import N_, domain, number

_cli = domain("cli")
_ = _cli.gettext

#: the metadata of a model file shown under the architecture, when present, with its label
METADATA_SHOWN = {"epoch": N_("epoch"), "optimizer": N_("optimizer"),
                  "digitlab_version": N_("digitlab_version")}


def summary_table(network) -> str:
    """The Keras-like table of an :class:`~digitlab.nn.MLP`: one row per layer (name, output
    shape, parameters) and the total."""
    rows = [(name, shape, number(n)) for name, shape, n in network.summary()]
    headers = (_("Layer"), _("Output shape"), _("Params"))
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(3)]
    total = sum(n for _name, _shape, n in network.summary())
    widths[2] = max(widths[2], len(number(total)))

    def line(cells) -> str:
        return f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]:>{widths[2]}}"

    rule = "-" * len(line(headers))
    body = [line(row) for row in rows]
    return "\n".join([rule, line(headers), rule.replace("-", "="), *body, rule,
                      _("Total params: {n} (all trainable, {dtype})").format(
                          n=number(total), dtype=network.dtype.name)])


@dataclass
class ModelSummary:
    """A single network described: ``str()`` (and the notebook) show the text of
    ``digitlab summary``.

    ``layers``: rows (layer, output shape, parameters); ``n_params``; ``sizes`` and
    ``activations`` of the layers; ``config``: the training config as a dict (None when the
    model holds none); ``metadata``: the model file's epoch, optimizer and version, as held.
    """

    path: str | None
    sizes: list[int]
    activations: list[str]
    bias: bool
    init: str
    layers: list[tuple[str, str, int]]
    n_params: int
    table: str
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The summary as ``digitlab summary`` prints it, in the active language."""
        rows = [(_("sizes"), "-".join(str(n) for n in self.sizes)),
                (_("activations"), ", ".join(self.activations)),
                (_("bias"), _("yes") if self.bias else _("no")),
                (_("init"), self.init)]
        rows += [(_(label), str(self.metadata[key])) for key, label in METADATA_SHOWN.items()
                 if self.metadata.get(key) is not None]
        width = max(16, *(len(label) for label, _value in rows))
        lines = [_("Model: {path}").format(path=self.path), self.table, "",
                 _("Architecture:"), *(f"  {label:<{width}} {value}" for label, value in rows)]
        if self.config is None:
            return "\n".join([*lines, "", _("No training config saved with this model.")])
        lines += ["", _("Training config:")]
        for key, value in self.config.items():
            if key == "hidden":
                value = ",".join(str(n) for n in value) or "none"  # as the flag takes it
            lines.append(f"  {key:<20} {value}")
        return "\n".join(lines)

    __str__ = text

    def __repr__(self) -> str:
        return self.text()


def describe(network, config=None, metadata: dict[str, Any] | None = None,
             path: str | None = None) -> ModelSummary:
    """The :class:`ModelSummary` of ``network`` (an MLP) with its ``config`` (a TrainConfig or
    None) and a model file's ``metadata``."""
    layers = network.summary()
    return ModelSummary(
        path=path, sizes=list(network.sizes), activations=list(network.activation_names),
        bias=network.has_bias, init=network.init, layers=layers,
        n_params=sum(n for _, _, n in layers), table=summary_table(network),
        config=None if config is None else config.to_dict(),
        metadata={k: v for k, v in (metadata or {}).items() if k in METADATA_SHOWN},
    )
