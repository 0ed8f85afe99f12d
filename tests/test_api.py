"""The public API: ``import digitlab as dl`` gives the lab, documented, lazily, in a notebook."""

import inspect
import json
import subprocess
import sys
import types

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import digitlab as dl
from digitlab.config import PRESETS, preset
from digitlab.errors import ConfigError, DataError

TINY = {"hidden": [16], "epochs": 1, "max_train_samples": 400, "trace_every": 100}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny assignment network trained through the API into a run folder."""
    return dl.train(preset="assignment", out=tmp_path_factory.mktemp("run") / "a",
                    progress=False, **TINY)


def test_every_public_name_is_importable_and_documented():
    for name in dl.__all__:
        value = getattr(dl, name)
        if name == "__version__":
            assert isinstance(value, str)
            continue
        doc = inspect.getdoc(value)
        assert doc and len(doc) > 20, f"dl.{name} has no docstring"
    for name in ("load_dataset", "train", "load_model", "evaluate", "analyze", "dream",
                 "sweep", "report", "export", "presets", "TrainConfig", "MLP"):
        assert name in dl.__all__
    assert set(dir(dl)) >= set(dl.__all__)
    with pytest.raises(AttributeError):
        dl.no_such_name  # noqa: B018


def test_import_is_lazy():
    """``import digitlab`` loads neither NumPy nor matplotlib, nor does a config; the engine
    does."""
    code = ("import sys, digitlab; heavy = [m for m in ('numpy', 'matplotlib', 'digitlab.api') "
            "if m in sys.modules]; digitlab.TrainConfig; configs = 'numpy' in sys.modules; "
            "digitlab.MLP; print(heavy, configs, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[] False True"


def test_modules_do_not_replace_the_functions_of_the_same_name():
    import digitlab.dreaming.core  # noqa: F401
    import digitlab.ensembles  # noqa: F401
    import digitlab.evaluation  # noqa: F401
    import digitlab.model_summary  # noqa: F401
    import digitlab.onnx_export  # noqa: F401
    import digitlab.studies.runner  # noqa: F401
    import digitlab.training  # noqa: F401

    for name in ("train", "evaluate", "export", "dream", "sweep", "predict", "summary",
                 "ensemble", "download", "save_model"):
        assert isinstance(getattr(dl, name), types.FunctionType), name
    assert isinstance(dl.activations, types.ModuleType)


def test_presets_namespace():
    assert dl.presets.names() == list(PRESETS)
    assert dl.presets.assignment == preset("assignment")
    assert dl.presets["report"] == preset("report")
    dl.presets.report.hidden.append(7)  # a fresh copy each time
    assert dl.presets.report.hidden == [1024, 1024]
    assert set(dir(dl.presets)) >= set(PRESETS)
    with pytest.raises(AttributeError, match="no preset 'nope'"):
        dl.presets.nope  # noqa: B018


def test_train_returns_the_run_with_network_history_and_evaluation(run):
    assert run.config == preset("assignment").replace(**TINY)
    assert run.network.sizes == [784, 16, 10]
    assert len(run.history.epochs) == 1 and len(run.history.trace) == 4
    assert 0.3 < run.evaluation.accuracy <= 1.0
    assert run.evaluation.n == len(dl.load_dataset().test.labels)
    assert (run.run_dir / "model.npz").is_file()
    with pytest.raises(ConfigError, match="already holds a run"):
        dl.train(preset="assignment", out=run.run_dir, progress=False, **TINY)
    with pytest.raises(ConfigError, match="unknown config field"):
        dl.train(preset="assignment", hiddn=[3])
    with pytest.raises(ConfigError, match="not both"):
        dl.train(dl.presets.report, preset="report")


def test_load_model_and_evaluate_agree_with_the_run(run):
    saved = dl.load_model(run.run_dir)
    np.testing.assert_array_equal(saved.network.params, run.network.params)
    from_file = dl.evaluate(run.run_dir)
    assert from_file.accuracy == run.evaluation.accuracy
    np.testing.assert_array_equal(from_file.confusion_matrix, run.evaluation.confusion_matrix)
    test = dl.load_dataset().test
    first = dl.evaluate(run, test.images[:50], test.labels[:50])
    assert first.n == 50
    with pytest.raises(DataError, match="labels"):
        dl.evaluate(run, test.images[:50])


def test_results_render_in_a_notebook(run):
    plt.close("all")
    figure = run.history.plot()
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == []  # returned, not left for pyplot to show a second time
    assert run.history._repr_png_().startswith(b"\x89PNG")

    page = run.evaluation._repr_html_()
    assert page.count("<tr>") == 11 and f"{run.evaluation.accuracy:.2%}" in page
    assert isinstance(run.evaluation.plot(), Figure)
    assert "accuracy=" in repr(run.evaluation) and "array" not in repr(run.evaluation)

    summary = run._repr_html_()
    assert "784-16-10" in summary and "data:image/png;base64," in summary
    assert "test accuracy" in repr(run)


def test_dream_in_memory_and_to_a_folder(run, tmp_path):
    dreams = dl.dream(run, digit=[3, 8], steps=20, turn=(3, 8))
    assert dreams.digits == [3, 8] and dreams.images.shape == (2, 784)
    assert dreams.probabilities.shape == (2, 10) and dreams.means.shape == (2, 784)
    assert dreams.turn is not None and dreams.turn.to_digit == 8
    assert isinstance(dreams.plot(), Figure)
    assert dreams._repr_png_().startswith(b"\x89PNG")

    written = dl.dream(run, digit="1", steps=20, out=tmp_path / "dream")
    assert written.images.shape == (1, 784)
    record = json.loads((tmp_path / "dream" / "dream.json").read_text())
    assert record["digits"] == [1] and (tmp_path / "dream" / "dream.png").is_file()
    np.testing.assert_allclose(written.probabilities[0], record["dreams"][0]["final_probabilities"])
    with pytest.raises(ConfigError, match="--digit"):
        dl.dream(run, digit="three")


@pytest.mark.parametrize("function, command", [
    ("dream", "dream"), ("analyze", "analyze"), ("sweep", "sweep"), ("export", "export"),
    ("evaluate", "evaluate"), ("report", "report"), ("predict", "predict"),
    ("summary", "summary"), ("ensemble", "ensemble"),
])
def test_keyword_arguments_are_named_like_the_flags(function, command):
    """Every option of ``digitlab COMMAND`` is a keyword of ``dl.COMMAND`` of the same name
    (``--no-retrain`` being ``retrain=0``, ``--quiet`` being ``progress=False``)."""
    from digitlab.cli import cli

    click_command = cli.get_command(None, command)
    flags = set()
    for option in click_command.params:
        if option.param_type_name != "option" or option.name == "as_json":
            continue
        longest = max((o for o in option.opts if o.startswith("--")), key=len)
        flags.add(longest[2:].replace("-", "_"))
    flags = {{"data": "data_dir", "quiet": "progress"}.get(f, f) for f in flags}
    keywords = set(inspect.signature(getattr(dl, function)).parameters)
    missing = {f for f in flags if f not in keywords and f.removeprefix("no_") not in keywords}
    assert not missing


def test_every_path_that_applies_a_deskewed_model_deskews_first(tmp_path):
    """A network trained on deskewed digits reads raw digits only through its preprocessing:
    the run's evaluation, dl.evaluate on the run or its folder, and the run's model agree."""
    data = dl.load_dataset()
    run = dl.train(preset="report", hidden=[16], epochs=1, deskew=True, max_train_samples=2000,
                   out=tmp_path / "run", progress=False)
    images, labels = data.test.images, data.test.labels
    expected = run.evaluation.accuracy
    assert dl.evaluate(run, images, labels).accuracy == expected
    assert dl.evaluate(tmp_path / "run", images, labels).accuracy == expected
    assert np.mean(run.model.classify(images) == labels) == expected
    for model in (run, tmp_path / "run"):
        assert np.mean(dl.predict(model, images).classes == labels) == expected
    bare = np.mean(run.network.classify(images) == labels)
    assert bare < expected - 0.05  # the bare network on raw digits reads far worse


def test_a_dataset_shows_examples_of_each_digit():
    data = dl.load_dataset()
    figure = data.show(per_digit=3, split="test")
    assert isinstance(figure, Figure) and len(figure.axes) == 10  # a row of 3 per digit
    labels = [text.get_text() for ax in figure.axes for text in ax.texts]
    assert labels == list(data.class_names)
    test = data.test
    for digit, ax in enumerate(figure.axes):  # the first three test images of each digit
        strip = ax.images[0].get_array()
        shown = [strip[:, i * 30:i * 30 + 28] for i in range(3)]  # gap of 2 between them
        expected = test.images[test.labels == digit][:3].reshape(3, 28, 28)
        np.testing.assert_allclose(np.ma.getdata(shown), expected)
    plt.close(figure)
    with pytest.raises(dl.DataError, match="no 'validation' images"):
        data.show(split="validation")  # 0 rows without a validation_fraction


def test_predict_reads_arrays_and_image_files(run, tmp_path):
    from PIL import Image

    test = dl.load_dataset().test
    answer = dl.predict(run, test.images[:20])
    np.testing.assert_array_equal(answer.classes, run.network.classify(test.images[:20]))
    assert answer.probabilities.shape == (20, 10) and answer.path == str(run.run_dir)
    path = tmp_path / "digit.png"
    Image.fromarray((test.images[0].reshape(28, 28) * 255).astype(np.uint8)).save(path)
    from_file = dl.predict(run.run_dir, path)  # prepared as MNIST was, like digitlab predict
    assert from_file.probabilities.shape == (1, 10) and from_file.is_digit.all()
    assert dl.predict(run.run_dir, [path, path]).classes.shape == (2,)


def test_summary_is_what_the_command_prints(run, capsys):
    from cli_runner import run_cli

    code, out, _ = run_cli(["summary", run.run_dir], capsys)
    assert code == 0 and out.strip() == str(dl.summary(run.run_dir))
    described = dl.summary(run)
    assert described.sizes == [784, 16, 10] and described.n_params == 784 * 16 + 16 * 10
    assert "Total params: 12,704" in repr(described) and described.config["hidden"] == [16]


def test_save_model_and_ensemble(run, tmp_path):
    path = dl.save_model(run, tmp_path / "copy.npz")
    saved = dl.load_model(path)
    np.testing.assert_array_equal(saved.network.params, run.network.params)
    assert saved.config == run.config and saved.metadata["epoch"] == 1
    assert dl.save_model(saved, tmp_path / "again.npz").is_file()
    with pytest.raises(dl.DigitlabError, match="already exists"):
        dl.save_model(run, path)
    with pytest.raises(dl.DigitlabError, match="unknown file format"):
        dl.save_model(run, tmp_path / "model.txt")

    other = dl.train(preset="assignment", seed=1, split_seed=0, progress=False, **TINY)
    with pytest.raises(ConfigError, match="saved models"):
        dl.ensemble(run, other, out=tmp_path / "unsaved")
    joined = dl.ensemble(run, dl.save_model(other, tmp_path / "other.npz"),
                         out=tmp_path / "ensemble")
    test = dl.load_dataset().test
    expected = (run.network.probabilities(test.images) +
                other.network.probabilities(test.images)) / 2
    np.testing.assert_allclose(dl.predict(joined, test.images).probabilities, expected,
                               atol=1e-6)
    assert dl.evaluate(tmp_path / "ensemble").n == len(test.labels)
