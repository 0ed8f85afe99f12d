"""Sphinx configuration: the API reference from the docstrings, the command line from the click
commands, and the project's Markdown pages (the lab's HTTP interface, the training options and
the architecture notes). Build it with ``sphinx-build -W -b html docs docs/_build/html``; it
needs nothing from the network."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import digitlab  # noqa: E402  (after the path: the sources beside these docs)

project = "digitlab"
author = "the digitlab authors"
copyright = "digitlab authors, MIT licence"
release = version = digitlab.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the NumPy-style "Parameters / Returns" sections of the docstrings
    "sphinx_click",         # the reference of every `digitlab` command, from its click options
    "myst_parser",          # the Markdown pages
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = True

myst_heading_anchors = 3  # links such as serve-api.md#models

html_theme = "alabaster"
html_title = f"digitlab {release}"
