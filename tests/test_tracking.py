"""Logging runs to TensorBoard and MLflow (``digitlab.tracking``), read back with each tool's
own reader: TensorBoard's ``EventAccumulator`` and MLflow's ``MlflowClient``."""

import importlib.util
import json

import pytest

import digitlab as dl
from digitlab.errors import ConfigError, TrainingDiverged
from digitlab.tracking import parse_trackers
from digitlab.training import Callbacks, merge_callbacks

pytest.importorskip("tensorboardX")
pytest.importorskip("mlflow")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

from cli_runner import run_cli  # noqa: E402

TINY = ["--hidden", "16", "--epochs", "2", "--max-train-samples", "200", "--trace-every", "100",
        "--validation-fraction", "0.1"]


def scalars(logdir, tag):
    events = event_accumulator.EventAccumulator(str(logdir))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def same_series(got, expected):
    """(step, value) pairs: the same steps, values equal to float32 precision."""
    got, expected = sorted(got), list(expected)
    return [g[0] for g in got] == [e[0] for e in expected] and \
        [g[1] for g in got] == pytest.approx([e[1] for e in expected], rel=1e-6)


def mlflow_run(uri):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("digitlab").experiment_id])
    return client, run


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """One run logged to both, from the command line (MLflow at an explicit --mlflow-uri)."""
    root = tmp_path_factory.mktemp("logged")
    code = None
    try:
        from digitlab.cli import main

        main(["train", *TINY, "--out", str(root / "run"), "--log-to", "tensorboard",
              "--log-to", "mlflow", "--mlflow-uri", str(root / "store"), "-q"])
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    assert code == 0
    return root


def test_tensorboard_event_files_hold_every_epoch_and_the_trace(logged):
    history = json.loads((logged / "run" / "history.json").read_text())
    logdir = logged / "run" / "tensorboard"
    for name in ("train_loss", "train_accuracy", "validation_loss", "test_accuracy", "lr"):
        assert same_series(scalars(logdir, f"epoch/{name}"),
                           [(e["epoch"], e[name]) for e in history["epochs"]]), name
    assert same_series(scalars(logdir, "running/loss"),
                       [(p["samples"], p["loss"]) for p in history["trace"]])
    evaluation = json.loads((logged / "run" / "evaluation.json").read_text())
    assert same_series(scalars(logdir, "final/test_accuracy"), [(2, evaluation["accuracy"])])


def test_mlflow_holds_the_config_every_epoch_and_the_end(logged):
    history = json.loads((logged / "run" / "history.json").read_text())
    client, run = mlflow_run((logged / "store").as_uri())
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["hidden"] == "[16]" and run.data.params["epochs"] == "2"
    for name in ("train_loss", "validation_accuracy", "test_loss"):
        metric = client.get_metric_history(run.info.run_id, name)
        assert same_series([(m.step, m.value) for m in metric],
                           [(e["epoch"], e[name]) for e in history["epochs"]]), name
    running = client.get_metric_history(run.info.run_id, "running_accuracy")
    assert same_series([(m.step, m.value) for m in running],
                       [(p["samples"], p["accuracy"]) for p in history["trace"]])
    evaluation = json.loads((logged / "run" / "evaluation.json").read_text())
    assert run.data.metrics["final_test_accuracy"] == pytest.approx(evaluation["accuracy"])
    assert not (logged / "run" / "mlruns").exists()  # it went to --mlflow-uri


def test_the_api_logs_into_the_run_folder_and_takes_logger_objects(tmp_path):
    run = dl.train(preset="assignment", hidden=[16], epochs=1, max_train_samples=200,
                   out=tmp_path / "run", log_to="mlflow", progress=False,
                   callbacks=[dl.TensorBoardLogger(tmp_path / "tb")])
    assert [step for step, _ in scalars(tmp_path / "tb", "epoch/train_loss")] == [1]
    client, logged = mlflow_run((tmp_path / "run" / "mlruns").as_uri())
    assert logged.data.metrics["final_test_accuracy"] == pytest.approx(run.evaluation.accuracy)


def test_a_failed_run_is_marked_failed(tmp_path):
    with pytest.raises(TrainingDiverged):
        dl.train(preset="assignment", hidden=[16], epochs=1, max_train_samples=200, lr=1e30,
                 log_to=["mlflow"], mlflow_uri=str(tmp_path / "store"), progress=False)
    _, run = mlflow_run((tmp_path / "store").as_uri())
    assert run.info.status == "FAILED"


def test_a_missing_library_is_named_with_its_extra(tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlflow" else real(name, *a))
    extra = r"needs mlflow-skinny.*pip install 'digitlab\[tracking\]'"
    with pytest.raises(ConfigError, match=extra):
        dl.train(hidden=[16], epochs=1, out=tmp_path / "run", log_to="mlflow")
    code, _, err = run_cli(["train", *TINY, "--out", tmp_path / "run", "--log-to",
                            "tensorboard,mlflow"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "digitlab[tracking]" in err
    assert not (tmp_path / "run").exists()  # refused before any work


def test_tracker_names_and_where_logs_go_are_checked():
    assert parse_trackers(["tensorboard,mlflow", "MLflow"]) == ["tensorboard", "mlflow"]
    assert parse_trackers(None) == [] and parse_trackers("") == []
    with pytest.raises(ConfigError, match="unknown tracker 'wandb'"):
        parse_trackers("wandb")
    with pytest.raises(ConfigError, match="run folder"):
        dl.train(hidden=[16], epochs=1, log_to="tensorboard")


def test_merged_callbacks_call_each_hook_in_order():
    calls = []
    merged = merge_callbacks(Callbacks(on_start=lambda *a: calls.append("a")), None,
                             Callbacks(on_start=lambda *a: calls.append("b"),
                                       on_end=lambda r: calls.append(("end", r))))
    merged.on_start(None, None)
    merged.on_end(None)
    assert calls == ["a", "b", ("end", None)]
    assert merged.on_epoch_end is None and merged.on_progress is None  # nothing to call
