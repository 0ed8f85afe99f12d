"""Each training option declared once: the flags, checks, cache keys, lab fields and documented
table generated from the declarations in :mod:`digitlab.config` agree with them."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import run_cli
from digitlab import choices
from digitlab.cli.train import FLAG_GROUPS, train_command
from digitlab.config import LAB_FIELDS, PRESETS, TrainConfig, preset
from digitlab.errors import ConfigError
from digitlab.options import GROUPS, flag_name, option_of, options_markdown

ROOT = Path(__file__).resolve().parents[1]
FIELDS = dataclasses.fields(TrainConfig)
CHECKED = [f for f in FIELDS if option_of(f).kind in ("bool", "int", "float")
           or option_of(f).choices is not None]


# ------------------------------------------------------------------ cache keys
# Keys name the runs stored in caches (report stages, sweep trials) and must not change when the
# config's code does: these literals are the keys computed before options were declared with
# metadata. Never update them to make this test pass; a changed key orphans every stored run.
@pytest.mark.parametrize("config,key", [
    (preset("assignment"), "fd22d3df49ac9464"),
    (preset("report"), "5f5b432e12456312"),
    (preset("best"), "49aa0dc1541eacd5"),
    (preset("assignment").replace(engine="reference"), "378554315d39ce73"),
    (preset("report").replace(deskew=True, split_seed=3), "07bc2daece32b06e"),
    (preset("best").replace(elastic_alpha=2.0, label_smoothing=0.1, warmup_epochs=1.5,
                            engine="reference"), "648b10eec69c3c32"),
])
def test_keys_are_those_of_the_stored_caches(config, key):
    assert config.key() == key


# ------------------------------------------------------------------ declarations
def test_every_field_has_help_a_group_and_a_known_kind():
    for field in FIELDS:
        spec = option_of(field)
        assert spec.help.strip() and spec.help.rstrip().endswith("."), field.name
        assert spec.group in GROUPS, field.name
        assert spec.allowed_values() != "any", f"{field.name}: say which values are allowed"


def test_choice_names_equal_the_engine_registries():
    from digitlab.nn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
    from digitlab.nn.engines import ENGINES
    from digitlab.nn.init import INITS
    from digitlab.nn.losses import LOSSES
    from digitlab.nn.optimizers import OPTIMIZERS
    from digitlab.nn.schedules import SCHEDULES

    assert tuple(ACTIVATIONS) == choices.ACTIVATION_NAMES
    assert tuple(HIDDEN_ACTIVATIONS) == choices.HIDDEN_ACTIVATION_NAMES
    assert tuple(LOSSES) == choices.LOSS_NAMES
    assert tuple(OPTIMIZERS) == choices.OPTIMIZER_NAMES
    assert tuple(SCHEDULES) == choices.SCHEDULE_NAMES
    assert tuple(INITS) == choices.INIT_NAMES
    assert tuple(ENGINES) == choices.ENGINE_NAMES


def test_presets_load_without_numpy():
    code = "import digitlab, sys; digitlab.presets.report; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_the_lab_offers_the_fields_declared_for_it():
    from digitlab.serve.app import PRESET_FIELDS

    assert PRESET_FIELDS == LAB_FIELDS
    assert set(LAB_FIELDS) == {"hidden", "activation", "output_activation", "loss",
                               "optimizer", "lr", "epochs", "batch_size"}


# ------------------------------------------------------------------ flags
def test_every_field_has_a_flag_and_every_field_flag_a_field():
    """Every field but those set from the data (the network's input and output widths)."""
    params = {param.name: param for param in train_command.params}
    from_data = {f.name for f in FIELDS if option_of(f).from_data}
    assert from_data == {"n_inputs", "n_classes"}
    for field in FIELDS:
        if field.name in from_data:
            assert field.name not in params
            continue
        assert field.name in params, f"{field.name} has no flag"
        assert flag_name(field.name) in params[field.name].opts, field.name
    assert set(FLAG_GROUPS) <= {f.name for f in FIELDS}
    assert set(FLAG_GROUPS) == {f.name for f in FIELDS if option_of(f).flag}


def test_help_shows_every_group_and_each_flags_default(capsys):
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0
    for title in GROUPS.values():
        assert f"\n{title}:\n" in out
    assert "--augment-rotation" in out.split("Beyond the assignment: augmentation:")[1]
    assert "(0.0 in every preset)" in out
    assert out.count("[default:") >= len(FIELDS)


# ------------------------------------------------------------------ checks
def bad_values(field: dataclasses.Field) -> list:
    """Values the declaration of ``field`` refuses."""
    spec = option_of(field)
    if spec.choices is not None:
        return ["nope"]
    if spec.kind == "bool":
        return ["yes", 1]
    values: list = [] if spec.kind == "float" else [1.5]
    if spec.kind == "float":
        values.append(math.nan)
    if spec.low is not None:
        values.append(spec.low if not spec.low_inclusive else spec.low - 1)
    if spec.high is not None:
        values.append(spec.high + 1 if spec.high_inclusive else spec.high)
    return values


@pytest.mark.parametrize("field", CHECKED, ids=lambda f: f.name)
def test_declared_checks_refuse_values_in_one_line_naming_field_and_value(field):
    for value in bad_values(field):
        with pytest.raises(ConfigError) as caught:
            TrainConfig(**{field.name: value})
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"{field.name} must be "), message
        assert repr(value) in message, message


@pytest.mark.parametrize("field", [f for f in CHECKED if option_of(f).kind != "bool"
                                   and option_of(f).flag],
                         ids=lambda f: f.name)
def test_bad_flag_values_fail_in_one_line(field, capsys, tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli(["train", flag_name(field.name), "nope", "--out", out], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert field.name.replace("_", "-") in lines[0] or field.name in lines[0]
    assert not out.exists()


def test_values_within_the_declarations_are_accepted():
    for config in PRESETS.values():
        for field in CHECKED:
            option_of(field).check(field.name, getattr(config, field.name))


# ------------------------------------------------------------------ documentation
def test_the_options_table_in_the_docs_is_generated_from_the_declarations():
    committed = (ROOT / "docs" / "training-options.md").read_text(encoding="utf-8")
    assert committed == options_markdown(TrainConfig), (
        "docs/training-options.md is out of date: run scripts/write_training_options.py")
    for field in FIELDS:
        assert f"| `{field.name}` |" in committed


def test_hidden_zero_is_refused_and_none_means_no_hidden_layer():
    from digitlab.config import TrainConfig

    with pytest.raises(ConfigError, match="give 'none' for a network without a hidden layer"):
        TrainConfig(hidden="0")
    assert TrainConfig(hidden="none").hidden == []
