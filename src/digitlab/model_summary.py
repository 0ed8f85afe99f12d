"""A model's summary: its layers and parameter count, its architecture and its training config.

What ``digitlab summary MODEL`` prints and ``dl.summary(model)`` returns; ``digitlab train``
prints the table of the network it is about to train.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the metadata of a model file shown under the architecture, when present
METADATA_SHOWN = ("epoch", "optimizer", "digitlab_version")


def summary_table(network) -> str:
    """The Keras-like table of an :class:`~digitlab.nn.MLP`: one row per layer (name, output
    shape, parameters) and the total."""
    rows = [(name, shape, f"{n:,}") for name, shape, n in network.summary()]
    headers = ("Layer", "Output shape", "Params")
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(3)]
    total = sum(n for _, _, n in network.summary())
    widths[2] = max(widths[2], len(f"{total:,}"))

    def line(cells) -> str:
        return f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]:>{widths[2]}}"

    rule = "-" * len(line(headers))
    body = [line(row) for row in rows]
    return "\n".join([rule, line(headers), rule.replace("-", "="), *body, rule,
                      f"Total params: {total:,} (all trainable, {network.dtype.name})"])


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
        """The summary as ``digitlab summary`` prints it."""
        lines = [f"Model: {self.path}", self.table, "", "Architecture:",
                 f"  sizes            {'-'.join(str(n) for n in self.sizes)}",
                 f"  activations      {', '.join(self.activations)}",
                 f"  bias             {'yes' if self.bias else 'no'}",
                 f"  init             {self.init}"]
        for key in METADATA_SHOWN:
            if self.metadata.get(key) is not None:
                lines.append(f"  {key:<16} {self.metadata[key]}")
        if self.config is None:
            return "\n".join([*lines, "", "No training config saved with this model."])
        lines += ["", "Training config:"]
        for key, value in self.config.items():
            if key == "hidden":
                value = ",".join(str(n) for n in value) or "none"
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
