"""The documentation (``docs/``): Sphinx builds it offline without a warning, from the
docstrings, the click commands and the Markdown pages, and the HTTP page covers every route."""

import html as html_text
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from digitlab.serve.app import create_app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def sphinx_build(source: Path, out: Path) -> subprocess.CompletedProcess:
    """``sphinx-build -W --keep-going -b html SOURCE OUT``: warnings are errors."""
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q",
                           "-b", "html", str(source), str(out)],
                          capture_output=True, text=True, cwd=ROOT)


def page_text(path: Path) -> str:
    return html_text.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "html"
    result = sphinx_build(DOCS, out)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, result.stderr
    return out


def test_library_reference_comes_from_the_docstrings_with_their_types(html):
    library = page_text(html / "library.html")
    assert "digitlab.api.train(" in library and "→ TrainResult" in library
    assert "Train a network; return the run with its" in library  # train's docstring
    assert "ECE = Σ_b (n_b / N) |acc_b − conf_b|" in library  # a docstring fixed for rst
    engine = page_text(html / "engine.html")
    assert "forward(x: ndarray" in engine and "→ ForwardPass" in engine


def test_cli_reference_lists_every_command_and_option(html):
    from digitlab.cli import cli

    page = page_text(html / "cli.html")
    for name in cli.list_commands(None):
        assert f"digitlab {name}" in page
    assert "--hidden" in page and "--engine" in page


def test_markdown_pages_are_included(html):
    assert "digitlab serve" in page_text(html / "serve-api.html")
    assert "--attack-epsilon" in page_text(html / "training-options.html")
    assert "Imports only go down" in page_text(html / "architecture.html")


def test_http_page_documents_every_route_of_the_lab(tmp_path):
    """Each route of the FastAPI application appears in docs/serve-api.md as ``METHOD
    /path`` (path parameters by any name)."""

    def unnamed(text):
        return re.sub(r"\{[^}]*\}", "{}", text)

    documented = unnamed((DOCS / "serve-api.md").read_text(encoding="utf-8"))
    routes = [(method, route.path) for route in create_app(tmp_path).routes
              if isinstance(route, APIRoute) for method in route.methods]
    assert len(routes) > 10
    missing = [f"{m} {p}" for m, p in routes if f"{m} {unnamed(p)}" not in documented]
    assert not missing


def test_a_warning_fails_the_build(tmp_path):
    """The build the tests run refuses a page with a reST error, as it would a docstring."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "conf.py").write_text("project = 'check'\n")
    (tmp_path / "src" / "index.rst").write_text("Check\n=====\n\nE = |undefined| here.\n")
    result = sphinx_build(tmp_path / "src", tmp_path / "html")
    assert result.returncode != 0
    assert "Undefined substitution" in result.stderr
