"""The files of a run folder, by name: one place for what training writes and readers look for.

A run folder (``digitlab train --out DIR``, ``dl.train(out=DIR)``) holds after every epoch
``model.npz`` (weights, optimizer state, metadata), ``config.json`` and the history
(``history.json``, ``history.csv``, ``trace.csv``); once training ends also ``curves.png`` and,
with a test split, ``evaluation.json``. Imports nothing, so that naming a file loads nothing.
"""

MODEL_FILE = "model.npz"
CONFIG_FILE = "config.json"
HISTORY_FILE, HISTORY_CSV, TRACE_CSV = "history.json", "history.csv", "trace.csv"
CURVES_FILE, EVALUATION_FILE = "curves.png", "evaluation.json"
#: the files that make a folder a run folder for the run table (:mod:`digitlab.runs`)
RUN_MARKERS = (CONFIG_FILE, HISTORY_FILE)
