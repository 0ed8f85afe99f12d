"""What the compiled kernels implement, declared as the config fields they cover: readable
without Numba, so that :func:`digitlab.nn.engines.for_config` can decide before loading it.

The per-sample loop (:class:`~digitlab.nn.compiled.kernels.PerSampleSGD`) trains a run of
stored digits in one call, so it covers only :data:`COMPILED_FIELDS`; the minibatch steps
(:class:`~digitlab.nn.compiled.kernels.CompiledMinibatch`) cover also
:data:`MINIBATCH_FIELDS`. A config that sets any other field away from its default (a feature
added after the kernels) trains on the NumPy kernels.
"""

from __future__ import annotations

from digitlab.config import ATTACK_FIELDS, FIELD_NAMES, TrainConfig
from digitlab.errors import Message

#: TrainConfig fields whose every value the compiled kernels implement (those of the data,
#: preprocessing and learning-rate schedule act outside the step)
COMPILED_FIELDS = frozenset({
    "hidden", "activation", "output_activation", "loss", "optimizer", "lr", "momentum",
    "nesterov", "weight_decay", "schedule", "warmup_epochs", "batch_size", "epochs", "init",
    "bias", "dtype", "seed", "split_seed", "dataset", "test_fraction", "validation_fraction",
    "early_stopping", "trace_every", "max_train_samples", "engine", "deskew",
    "elastic_sigma",  # acts only with elastic_alpha > 0, which is not listed
    "calibration_fraction",  # fewer digits to train on; the temperature is fitted afterwards
    "n_inputs", "n_classes",  # the kernels read the layer widths from the network
})
#: fields the compiled minibatch steps implement too, though the compiled per-sample loop does
#: not: dropout (masks taken by the compiled forward pass and equation (1)), and what acts
#: around a minibatch step (the distorted digits it is given, smoothed targets, max-norm after
#: it; adversarial examples and outliers in the batch, digitlab.robustness), which the
#: per-sample loop, trained on the stored digits in one call, would skip
MINIBATCH_FIELDS = frozenset({
    "dropout", "augment_rotation", "augment_scale", "augment_shear", "augment_shift",
    "elastic_alpha", "label_smoothing", "max_norm", "attack", *ATTACK_FIELDS, "outlier_exposure",
    "outlier_mining",
})


def fields_set(config: TrainConfig) -> list[str]:
    """The fields ``config`` sets away from their defaults, in declaration order."""
    defaults = TrainConfig()
    return [name for name in FIELD_NAMES if getattr(config, name) != getattr(defaults, name)]


def supports(config: TrainConfig, per_sample: bool) -> str | None:
    """None when the compiled kernels implement everything ``config`` asks for, in the
    per-sample loop (``per_sample``) or in minibatch steps; else why not, in a few words."""
    covered = COMPILED_FIELDS if per_sample else COMPILED_FIELDS | MINIBATCH_FIELDS
    missing = sorted(name for name in fields_set(config) if name not in covered)
    if not missing:
        return None
    if per_sample:
        # Translators: {where} of "{fields} is not in {where}" (in Slovenian the locative case)
        where = Message("the compiled per-sample loop")
    else:
        # Translators: {where} of "{fields} is not in {where}" (in Slovenian the locative case)
        where = Message("the compiled kernels")
    return Message.counted("{fields} is not in {where}", "{fields} are not in {where}",
                           len(missing), fields=", ".join(missing), where=where)
