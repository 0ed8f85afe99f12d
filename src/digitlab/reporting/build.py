"""``build_report``: run the stages in order, reuse finished ones, write the report files.

    DIR/index.html     the report page (inline CSS; figures beside it under stages/)
    DIR/report.md      the same report as Markdown
    DIR/summary.json   every number the page shows, per stage, with the settings
    DIR/stages/NAME/   each stage's figures, runs and cached results (stage.json)

The report is written in one language (``lang``: English or Slovenian, chosen as
:func:`digitlab.i18n.resolve_language` says): its text, tables and the figures' titles, axes and
legends. A stage's figures are drawn in the language of the run that made them, so a language
other than English is part of every stage's cache key; the numbers (stage.json, summary.json)
are the same in every language.
"""

from __future__ import annotations

import os
import time
from importlib import resources
from pathlib import Path
from typing import Any

import click

from digitlab import __version__, i18n
from digitlab.errors import ConfigError
from digitlab.fileio import write_json, write_text
from digitlab.i18n import N_
from digitlab.reporting import stages as st
from digitlab.reporting.cache import load_cached, save_results, stage_key
from digitlab.reporting.document import Section, render_html, render_markdown
from digitlab.reporting.settings import MODES
from digitlab.runlock import claim_folder

STAGES = [
    st.Stage("data", N_("Data overview"), st.data_settings, st.run_data, st.data_section),
    st.Stage("assignment", N_("Assignment network"), *st.train_stage("assignment"),
             st.assignment_section),
    st.Stage("studies", N_("Hyperparameter studies"), st.studies_settings, st.run_studies,
             st.studies_section, result_type=st.StudiesSummary),
    st.Stage("final", N_("Final network"), *st.train_stage("report"), st.final_section),
    st.Stage("beyond", N_("Beyond the assignment"), st.beyond_settings, st.run_beyond,
             st.beyond_section),
    st.Stage("analysis", N_("Analysis"), st.analysis_settings, st.run_analysis,
             st.analysis_section, upstream=("final",), result_type=st.AnalysisResult),
    st.Stage("dream", N_("Deep dream"), st.dream_settings, st.run_dream, st.dream_section,
             upstream=("final", "analysis"), result_type=st.DreamStudyResult),
    st.Stage("honesty", N_("Does it know what it doesn't know?"), st.honesty_settings,
             st.run_honesty, st.honesty_section),
]
_ = i18n.domain("report").gettext


def build_report(
    out_dir: str | os.PathLike,
    *,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    mode: str = "default",
    fresh: bool = False,
    seed: int = 0,
    progress: bool = True,
    only: tuple[str, ...] = (),
    lang: str | None = None,
) -> dict[str, Any]:
    """Run the study and write ``index.html``, ``report.md`` and ``summary.json`` to ``out_dir``.

    ``mode`` is ``"quick"``, ``"default"`` or ``"full"`` (see :mod:`digitlab.reporting.settings`).
    Stages whose settings, data and upstream stages are unchanged are reused unless ``fresh``.
    ``only`` restricts the run to some stages (and those they build on). ``lang``: "en" or "sl"
    (None: ``DIGITLAB_LANG``, then the locale, then English). Returns the summary.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown report mode {mode!r}; expected one of {', '.join(MODES)}")
    chosen = _with_upstream(only) if only else [s.name for s in STAGES]
    language = i18n.resolve_language(lang)
    # checked, locked and cleared of a killed run's temporaries before any stage runs
    with claim_folder(out_dir, "report folder", recursive=True), i18n.language(language):
        return _build(Path(out_dir), chosen, dataset, data_dir, mode, fresh, seed, progress)


def _build(out_dir: Path, chosen: list[str], dataset, data_dir, mode: str, fresh: bool,
           seed: int, progress: bool) -> dict[str, Any]:
    from digitlab.data import load_dataset

    data = load_dataset(dataset, data_dir, seed=seed)
    ctx = st.Context(out_dir, MODES[mode], data, progress, {}, dataset,
                     Path(data_dir) if data_dir is not None else None)
    keys: dict[str, str] = {}
    sections: list[Section] = []
    timings: dict[str, dict[str, Any]] = {}
    todo = [s for s in STAGES if s.name in chosen]
    for number, stage in enumerate(todo, start=1):
        stage_dir = out_dir / "stages" / stage.name
        stage_dir.mkdir(parents=True, exist_ok=True)
        key = stage_key(stage.name, _language_keyed(stage.settings(ctx)),
                        [keys[u] for u in stage.upstream])
        keys[stage.name] = key
        cached = None if fresh else load_cached(stage_dir, key)
        reused = cached is not None
        _announce(number, len(todo), _(stage.title), reused, progress)
        start = time.perf_counter()
        if cached is None:
            results = stage.run(ctx, stage_dir)
            save_results(stage_dir, key, st.results_json(results), time.perf_counter() - start)
        else:
            results = stage.from_json(cached)
        timings[stage.name] = {"seconds": time.perf_counter() - start, "reused": reused}
        ctx.results[stage.name] = results
        sections.append(stage.section(ctx, results))

    summary = {
        "digitlab_version": __version__, "mode": mode, "language": i18n.active_language(),
        "settings": ctx.settings.to_dict(),
        "dataset": data.describe(),
        "stages": {name: st.results_json(results) for name, results in ctx.results.items()},
        "timings": timings,
        "figures": [f.path for s in sections for f in s.figures],
    }
    _write_report(out_dir, [st.overview_section(ctx.results), *sections], summary, data)
    return summary


def _language_keyed(settings: dict[str, Any]) -> dict[str, Any]:
    """A stage's settings with the report's language, when it is not English (so that the
    figures, drawn in that language, are redrawn; English keys stay as they always were)."""
    language = i18n.active_language()
    return settings if language == i18n.SOURCE_LANGUAGE else {**settings, "language": language}


def _with_upstream(names: tuple[str, ...]) -> list[str]:
    known = {s.name: s for s in STAGES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown report stage(s) {unknown}; expected {', '.join(known)}")
    chosen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in chosen:
            chosen.add(name)
            todo.extend(known[name].upstream)
    return [s.name for s in STAGES if s.name in chosen or s.name == "data"]


def _announce(number: int, total: int, title: str, reused: bool, progress: bool) -> None:
    if progress:
        if reused:
            line = _("[stage {number}/{total}] {title} (reused, unchanged)")
        else:
            line = _("[stage {number}/{total}] {title}")
        click.secho(line.format(number=number, total=total, title=title), bold=True, err=True)


def _write_report(out_dir: Path, sections: list[Section], summary: dict[str, Any], data) -> None:
    title = _("How a neural network reads handwritten digits")
    subtitle = _("digitlab {version} · dataset {dataset} · mode {mode} · {date}").format(
        version=__version__, dataset=data.name, mode=summary["mode"],
        date=f"{i18n.date(form='long')}, {time.strftime('%H:%M')}")
    css = resources.files("digitlab.reporting").joinpath("style.css").read_text()
    language = i18n.active_language()
    write_json(out_dir / "summary.json", summary)
    write_text(out_dir / "report.md", render_markdown(title, subtitle, sections))
    write_text(out_dir / "index.html", render_html(title, subtitle, sections, css, language))
