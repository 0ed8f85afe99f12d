"""examples/assignment.ipynb: stored without outputs, runs from top to bottom without a word on
stderr, and takes its parameters as papermill passes them (lists as JSON text)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "assignment.ipynb"

#: The parameter cell's settings, made tiny so that the whole notebook runs in seconds; the
#: lists as text, as ``papermill -p HIDDEN "[32]"`` passes them.
SMALL = """
EPOCHS = 1
HIDDEN = "[32]"
MAX_TRAIN_SAMPLES = 1000
TRACE_EVERY = 100
STUDY_LRS = "0.003,0.03"
STUDY_EPOCHS = 1
FINAL_PRESET = "report"
FINAL_HIDDEN = "[32, 32]"
FINAL_EPOCHS = 1
NONDIGITS = 20
DREAM_STEPS = 30
OUT = "notebook-runs"
"""


def load() -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    return notebook


def parameter_cell(notebook) -> nbformat.NotebookNode:
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    return cell


def test_stored_without_outputs():
    for cell in load().cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_small_settings_set_every_parameter():
    """The test's settings replace every name the notebook's parameter cell defines."""

    def names(source):
        return {line.split("=")[0].strip() for line in source.splitlines() if "=" in line}

    assert names(parameter_cell(load()).source) == names(SMALL)


@pytest.mark.slow
def test_notebook_runs_on_small_settings(tmp_path):
    notebook = load()
    parameter_cell(notebook).source = SMALL
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # no red text: no warnings, notices or text progress bars on stderr (the bars are widgets)
    assert not [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    texts = [o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs]
    assert not [t for t in texts if "Warning" in t or "warning" in t]
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json"
               in o.get("data", {})]
    assert widgets  # training's progress bars render as widgets (tqdm.auto, ipywidgets)
    shown = [o.get("data", {}) for o in outputs if o.output_type in ("display_data",
                                                                     "execute_result")]
    assert sum("image/png" in data for data in shown) >= 6  # curves, figures, dreams
    assert any("digitlab-confusion" in data.get("text/html", "") for data in shown)
    assert (tmp_path / "notebook-runs" / "final.onnx").is_file()
    assert (tmp_path / "notebook-runs" / "assignment" / "model.npz").is_file()


def test_list_parameters_come_as_lists_or_as_text():
    """The notebook's convention for papermill: a list parameter may be text."""
    import digitlab as dl

    for given in ([256, 128], "[256, 128]", "256,128", " [256,128] "):
        assert dl.parse_list(given, int) == [256, 128]
    assert dl.parse_list("[0.001, 0.01]", float) == [0.001, 0.01]
    assert dl.parse_list("none", int) == [] == dl.parse_list("[]", int)
    assert dl.parse_list(64, int) == [64]
    for bad in ("[256, 'x']", "[1.5]", "{\"a\": 1}", "a,b", None):
        with pytest.raises(dl.ConfigError, match="hidden must be a list like"):
            dl.parse_list(bad, int, "hidden")
    assert dl.TrainConfig(hidden="[32, 16]", dropout="[0.1, 0.2]").hidden == [32, 16]
