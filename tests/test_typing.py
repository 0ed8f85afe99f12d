"""digitlab is a typed library: its public signatures are annotated, it ships ``py.typed``, and
``mypy --strict`` accepts a script made of the README's Python examples, which also runs."""

import ast
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest
from mypy import api as mypy_api

import digitlab
from digitlab.config import tomllib

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "readme_api.py"

#: the modules whose public functions and classes make up the API (``digitlab`` and what it
#: names, and the modules a user reaches from their results)
PUBLIC_MODULES = (
    "digitlab", "digitlab.api", "digitlab.calibration", "digitlab.config", "digitlab.data",
    "digitlab.dreaming", "digitlab.ensembles", "digitlab.errors", "digitlab.evaluation",
    "digitlab.history", "digitlab.loading", "digitlab.modelio", "digitlab.models",
    "digitlab.nn.activations", "digitlab.nn.losses", "digitlab.nn.network",
    "digitlab.nn.optimizers", "digitlab.onnx_export", "digitlab.preprocessing",
    "digitlab.training",
)

#: mypy as a user's project runs it on their script. digitlab is found in the source tree
#: here, where an installed copy would be in site-packages, whose errors mypy never reports:
#: hence ``ignore_errors``, which still reads every digitlab signature the script meets.
#: Numba, IPython and prompt_toolkit are followed by no type digitlab exposes; skipping them
#: took the cold check from 6.7 s to 4.6 s of CPU time. Nor are MLflow (with the 600 modules it
#: brings: databricks, opentelemetry, ...), TensorBoardX, or the lab's web stack (FastAPI,
#: Starlette, pydantic, uvicorn): skipping them took it from 11.6 s to 5.2 s.
NOT_FOLLOWED = ("numba", "IPython", "prompt_toolkit", "mlflow", "databricks", "opentelemetry",
                "tensorboardX", "fastapi", "starlette", "pydantic", "pydantic_core", "uvicorn",
                "anyio", "werkzeug", "google", "cryptography")
MYPY_CONFIG = """\
[mypy]
strict = True
mypy_path = {src}

[mypy-digitlab.*]
ignore_errors = True

[mypy-{skipped}]
follow_imports = skip
"""


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    """Run mypy, as configured above, on one file; (report, exit status). The cache is the
    module's own: cold for the first file, shared by the second."""
    folder = tmp_path_factory.mktemp("mypy")
    config = folder / "mypy.ini"
    config.write_text(MYPY_CONFIG.format(
        src=ROOT / "src", skipped=",".join(f"{name}.*" for name in NOT_FOLLOWED)))

    def run(path: Path) -> tuple[str, int]:
        stdout, stderr, status = mypy_api.run(
            ["--config-file", str(config), "--cache-dir", str(folder / "cache"), str(path)])
        return stdout + stderr, status

    return run


def test_readme_examples_pass_mypy_strict(mypy):
    stdout, status = mypy(EXAMPLE)
    assert status == 0, stdout
    assert stdout.startswith("Success: no issues found in 1 source file")


def test_mypy_check_can_fail(mypy, tmp_path):
    """A script that misuses a digitlab result is refused: the check reads real types."""
    bad = tmp_path / "bad.py"
    bad.write_text("import digitlab as dl\n\n"
                   "history: int = dl.train(epochs=1).history\n"
                   "dl.dream(dl.load_model('run'), digit=3.5)\n")
    stdout, status = mypy(bad)
    assert status == 1, stdout
    assert 'expression has type "History", variable has type "int"' in stdout
    assert 'Argument "digit" to "dream" has incompatible type "float"' in stdout


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("readme_api", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    monkeypatch.chdir(tmp_path)
    example.main(["--quick", "--out", "out"])
    printed = capsys.readouterr().out
    assert "onnxruntime reads a black image as [" in printed
    assert (tmp_path / "out" / "runs" / "a" / "model.npz").is_file()
    assert (tmp_path / "out" / "analysis" / "analysis.json").is_file()
    assert (tmp_path / "out" / "model.onnx").is_file()


def _calls(source: str) -> set[str]:
    """The dotted names called in ``source``: ``dl.train``, ``run.history.plot``..."""
    return {ast.unparse(node.func) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call)}


def test_the_script_calls_what_every_readme_example_calls():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 2
    script_calls = _calls(EXAMPLE.read_text())
    for block in blocks:
        missing = _calls(block) - script_calls
        assert not missing, f"examples/readme_api.py does not call {missing} as the README does"


def _public_objects(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]
    return [getattr(module, name) for name in names]


def _signature_gaps(where: str, function, is_method: bool) -> list[str]:
    """What ``function`` leaves unannotated: parameters, and a return (that is not bare Any)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin
        return []
    gaps = [f"{where}: parameter {p.name}"
            for i, p in enumerate(signature.parameters.values())
            if not (is_method and i == 0) and p.annotation is inspect.Parameter.empty]
    returns = signature.return_annotation
    if function.__name__ != "__init__":
        if returns is inspect.Signature.empty:
            gaps.append(f"{where}: return")
        elif returns in ("Any", "object") and function.__name__ != "__getattr__":
            gaps.append(f"{where}: returns bare {returns}")
    return gaps


def _class_gaps(cls) -> list[str]:
    gaps = []
    for name, member in vars(cls).items():
        if name.startswith("_") and name not in ("__init__", "__call__", "__getattr__",
                                                 "__getitem__", "__iter__", "__len__"):
            continue
        where = f"{cls.__module__}.{cls.__qualname__}.{name}"
        if isinstance(member, (staticmethod, classmethod)):
            gaps += _signature_gaps(where, member.__func__, isinstance(member, classmethod))
        elif isinstance(member, property):
            gaps += _signature_gaps(where, member.fget, True)
        elif inspect.isfunction(member) and member.__module__ == cls.__module__:
            gaps += _signature_gaps(where, member, True)  # not a dataclass's generated ones
    return gaps


def test_public_functions_and_methods_declare_their_types():
    gaps, seen = [], set()
    for module_name in PUBLIC_MODULES:
        for value in _public_objects(importlib.import_module(module_name)):
            if id(value) in seen:
                continue
            seen.add(id(value))
            if inspect.isfunction(value):
                gaps += _signature_gaps(f"{value.__module__}.{value.__qualname__}", value, False)
            elif inspect.isclass(value) and value.__module__.startswith("digitlab"):
                gaps += _class_gaps(value)
    assert not gaps, "\n".join(gaps)


def test_annotation_check_can_fail():
    def untyped(x, y: int = 0):
        return x

    class Loose:
        def read(self, path: str):
            return path

    assert _signature_gaps("untyped", untyped, False) == ["untyped: parameter x",
                                                          "untyped: return"]
    assert _class_gaps(Loose) == [f"{__name__}.{Loose.__qualname__}.read: return"]


def test_type_checkers_see_every_lazy_name():
    """``digitlab/__init__.py`` imports each name of ``_LAZY`` for type checkers, from the
    module ``_LAZY`` loads it from (at run time it is imported on first use)."""
    tree = ast.parse(Path(digitlab.__file__).read_text())
    (block,) = [node for node in tree.body if isinstance(node, ast.If)
                and ast.unparse(node.test) == "TYPE_CHECKING"]
    seen = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        for alias in node.names:
            seen[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    expected = {}
    for name, target in digitlab._LAZY.items():
        module, _, attribute = target.partition(":")
        expected[name] = module if target.endswith(":") else f"{module}.{attribute or name}"
    assert seen == expected


def test_py_typed_ships_in_the_wheel():
    """The PEP 561 marker is in the package and in its package data."""
    assert (Path(digitlab.__file__).parent / "py.typed").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["digitlab"]


def test_the_test_extra_pulls_in_mypy_and_the_docs():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(r.startswith("mypy") for r in extras["test"])
    assert "digitlab[docs]" in extras["test"]
