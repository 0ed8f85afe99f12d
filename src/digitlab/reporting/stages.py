"""The report's stages, in order: each computes results (figures written to its own folder) and
describes them as a :class:`~digitlab.reporting.document.Section`.

The results of the analysis, the studies and the dream are typed records
(:class:`~digitlab.analysis.results.AnalysisResult`,
:class:`~digitlab.studies.results.StudiesSummary`,
:class:`~digitlab.dreaming.results.DreamStudyResult`); those of the data and training stages are
JSON-ready dicts. A stage's ``result_type`` rebuilds its record from the cached JSON.

Every sentence that states a finding is formatted from the measured numbers in ``results``,
as a whole sentence of the ``report`` catalog (:mod:`digitlab.i18n`) in the active language:
counts choose their plural form (``ngettext``), numbers are written the language's way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.analysis.findings import epochs_for
from digitlab.analysis.results import AnalysisResult
from digitlab.config import preset
from digitlab.data.outliers import relation_name
from digitlab.dreaming.results import DreamStudyResult
from digitlab.formatting import listed, pct, stored_text
from digitlab.i18n import N_, domain, number
from digitlab.records import Record
from digitlab.reporting.document import Figure, Section, Table
from digitlab.reporting.settings import ReportSettings
from digitlab.shapes import N_CLASSES, N_PIXELS
from digitlab.studies.ablation import variant_name
from digitlab.studies.honesty import network_name
from digitlab.studies.results import StudiesSummary, StudyPoint
from digitlab.training import CURVES_FIGURE

_report = domain("report")
_, ngettext, pgettext, npgettext = (_report.gettext, _report.ngettext, _report.pgettext,
                                    _report.npgettext)


@dataclass
class Context:
    """What every stage may use: where to write, the settings, the data, earlier results."""

    out_dir: Path
    settings: ReportSettings
    dataset: Any
    progress: bool
    results: dict[str, Any]  # stage name -> its results (a Record or a dict), for the stages done
    dataset_name: str | None = None  # as the user gave them, for work done in other processes
    data_dir: Path | None = None

    def rel(self, path: Path | str) -> str:
        """A path relative to the report folder, as HTML and Markdown links need it."""
        return Path(path).resolve().relative_to(self.out_dir.resolve()).as_posix()


@dataclass
class Stage:
    name: str
    title: str
    settings: Callable[[Context], dict[str, Any]]  # what determines the results (cache key)
    run: Callable[[Context, Path], Any]  # -> results: a Record of result_type, or a dict
    section: Callable[[Context, Any], Section]
    upstream: tuple[str, ...] = ()
    result_type: type[Record] | None = None  # None: the results are a JSON-ready dict

    def from_json(self, data: dict[str, Any]) -> Any:
        """The results as ``run`` returns them, from their JSON (the stage cache)."""
        return self.result_type.from_dict(data) if self.result_type is not None else data


def results_json(results: Any) -> dict[str, Any]:
    """A stage's results as JSON (stage.json, summary.json)."""
    return results.to_dict() if isinstance(results, Record) else results


# ---------------------------------------------------------------------------------------- data
def data_settings(ctx: Context) -> dict[str, Any]:
    return {"dataset": ctx.dataset.describe()}


def run_data(ctx: Context, stage_dir: Path) -> dict[str, Any]:
    from digitlab.plots.data import plot_digit_grid

    ds = ctx.dataset
    grid = plot_digit_grid(ds.train.images, ds.train.labels, ds.class_names, 10,
                           stage_dir / "examples.png")
    train_counts, test_counts = ds.train.counts(), ds.test.counts()
    return {
        "name": ds.name, "source": ds.source, "class_names": list(ds.class_names),
        "test_is_official": bool(ds.test_is_official), "test_fraction": ds.test_fraction,
        "n_train": int(len(ds.train)), "n_test": int(len(ds.test)),
        "train_counts": train_counts.tolist(), "test_counts": test_counts.tolist(),
        "figures": {"examples": ctx.rel(grid)},
    }


def data_section(ctx: Context, r: dict[str, Any]) -> Section:
    counts = np.array(r["train_counts"]) + np.array(r["test_counts"])
    shares = counts / counts.sum()
    most, least = int(np.argmax(counts)), int(np.argmin(counts))
    names = r["class_names"]
    if r["test_is_official"]:
        sizes = _("{train} training images and {test} test images (the dataset's official test "
                  "split); pixels scaled to [0, 1].")
    else:
        sizes = _("{train} training images and {test} test images (a stratified {share} held "
                  "out with the seed); pixels scaled to [0, 1].")
    findings = [
        sizes.format(train=number(r["n_train"]), test=number(r["n_test"]),
                     share=pct(r["test_fraction"])),
        _("The most frequent digit is {most} ({most_count} images, {most_share}), the least "
          "frequent {least} ({least_count}, {least_share}): a ratio of {ratio}.").format(
            most=names[most], most_count=number(counts[most]), most_share=pct(shares[most]),
            least=names[least], least_count=number(counts[least]),
            least_share=pct(shares[least]), ratio=number(counts[most] / counts[least], 2)),
    ]
    table = Table([_("digit"), *names], [[_("train"), *r["train_counts"]],
                                         [_("test"), *r["test_counts"]]],
                  _("Images per digit"))
    source = _("Source: {source}").format(source=stored_text(r["source"]))
    return Section("data", _("The data"), source, findings,
                   [Figure(r["figures"]["examples"], _("Ten training examples of each digit"))],
                   [table])


# ---------------------------------------------------------------------------------------- training
def _train_config(ctx: Context, name: str):
    s, ds = ctx.settings, ctx.dataset
    config = preset(name).replace(dataset=ds.name or "mnist-sample", seed=ds.seed,
                                  test_fraction=ds.test_fraction)
    if name == "assignment":
        epochs, samples = s.assignment_epochs, s.assignment_samples
    else:
        epochs, samples = s.final_epochs, s.final_samples
        config = config.replace(hidden=list(s.final_hidden))
    # about twenty points of running E and accuracy per epoch
    n = min(samples or len(ds.train), len(ds.train))
    return config.replace(epochs=epochs, max_train_samples=samples,
                          trace_every=max(50, n // 20))


def train_stage(name: str):
    def settings(ctx: Context) -> dict[str, Any]:
        return {"config": _train_config(ctx, name).to_key_dict(), "data": ctx.dataset.describe()}

    def run(ctx: Context, stage_dir: Path) -> dict[str, Any]:
        from digitlab.training import CURVES_FILE, train

        config = _train_config(ctx, name)
        result = train(config, ctx.dataset, run_dir=stage_dir / "run", progress=ctx.progress,
                       curves_title=_(NETWORK_TITLES[name]))
        curves = stage_dir / "run" / CURVES_FILE
        network = result.network
        return {
            "config": config.to_dict(), "status": result.status,
            "run_dir": ctx.rel(stage_dir / "run"),
            "summary": [list(row) for row in network.summary()],
            "n_parameters": int(network.params.size),
            "history": result.history.to_dict(), "final": result.history.final,
            "figures": {"curves": ctx.rel(curves)},
        }

    return settings, run


#: the trained networks' names as their figures and the configurations' headings show them
NETWORK_TITLES = {"assignment": N_("assignment network"), "report": N_("final network")}


def epochs_count(n: int) -> str:
    """"10 epochs" as a count (the nominative in Slovenian: 1 epoha, 2 epohi, 5 epoh)."""
    return ngettext("{n} epoch", "{n} epochs", n).format(n=n)


def seeds_count(n: int) -> str:
    return ngettext("{n} seed", "{n} seeds", n).format(n=n)


def steps_count(n: int) -> str:
    return ngettext("{n} step", "{n} steps", n).format(n=n)


def points(change: float, digits: int = 1) -> str:
    """A change of a share in percentage points, signed: 0.012 -> "+1.2" ("+1,2")."""
    sign = "+" if change >= 0 else "−"
    return sign + number(abs(100 * change), digits)


def _training_findings(r: dict[str, Any]) -> list[str]:
    epochs = r["history"]["epochs"]
    final = r["final"]
    test = [e["test_accuracy"] for e in epochs]
    best = int(np.argmax(test))
    seconds = float(np.median([e["seconds"] for e in epochs]))
    findings = [
        ngettext("After {n} epoch: test accuracy {test}, mean test E {loss}; training accuracy "
                 "{train} (running mean over the last epoch).",
                 "After {n} epochs: test accuracy {test}, mean test E {loss}; training accuracy "
                 "{train} (running mean over the last epoch).", len(epochs)).format(
            n=len(epochs), test=pct(final["test_accuracy"]), loss=number(final["test_loss"], 4),
            train=pct(final["train_accuracy"])),
        _("The best test accuracy was {best} after epoch {epoch}; one epoch took {seconds} s "
          "(median).").format(best=pct(test[best]), epoch=best + 1,
                              seconds=number(seconds, 1)),
    ]
    trace = r["history"]["trace"]
    if len(trace) >= 2:
        findings.append(ngettext(
            "During training the share of correct digits rose from {first} over the first "
            "{n} training example to {last} over the last ones, and E fell from {first_loss} "
            "to {last_loss}.",
            "During training the share of correct digits rose from {first} over the first "
            "{n} training examples to {last} over the last ones, and E fell from {first_loss} "
            "to {last_loss}.", trace[0]["samples"]).format(
            first=pct(trace[0]["accuracy"]), n=number(trace[0]["samples"]),
            last=pct(trace[-1]["accuracy"]), first_loss=number(trace[0]["loss"], 3),
            last_loss=number(trace[-1]["loss"], 3)))
    if len(epochs) >= 2:
        findings.append(_("From epoch 1 to epoch {last} the test accuracy changed by {change} "
                          "percentage points.").format(last=len(epochs),
                                                       change=points(test[-1] - test[0])))
    return findings


def _summary_table(r: dict[str, Any]) -> Table:
    rows = [list(row) for row in r["summary"]]
    rows.append([_("total"), "", r["n_parameters"]])
    return Table([_("layer"), _("output shape"), _("parameters")], rows, _("Model summary"))


def assignment_section(ctx: Context, r: dict[str, Any]) -> Section:
    intro = _("The assignment's network: 784-784-10, f = tanh in every layer, targets +1/−1, "
              "E = ½‖y − t‖², trained example by example with equations (1)–(2), η = {lr}, "
              "initial weights Gaussian of variance 2/fan-in, no bias.").format(
        lr=number(r["config"]["lr"]))
    return Section("assignment", _("The assignment network"), intro, _training_findings(r),
                   [Figure(r["figures"]["curves"], _(CURVES_FIGURE.caption))],
                   [_summary_table(r)], {_("assignment network"): r["config"]})


def final_section(ctx: Context, r: dict[str, Any]) -> Section:
    c = r["config"]
    sizes = "-".join(str(n) for n in [N_PIXELS, *c["hidden"], N_CLASSES])
    intro = _("The lab report's final network: {sizes}, {activation} hidden layers, {output} "
              "output with cross-entropy, {optimizer} η = {lr}, batch size {batch}, "
              "{epochs}.").format(
        sizes=sizes, activation=c["activation"], output=c["output_activation"],
        optimizer=c["optimizer"], lr=number(c["lr"]), batch=c["batch_size"],
        epochs=epochs_count(c["epochs"]))
    return Section("final", _("The final network"), intro, _training_findings(r),
                   [Figure(r["figures"]["curves"], _(CURVES_FIGURE.caption))],
                   [_summary_table(r)], {_("final network"): c})


# ---------------------------------------------------------------------------------------- beyond
def beyond_settings(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {"epochs": s.beyond_epochs, "seeds": s.beyond_seeds, "samples": s.beyond_samples,
            "hidden": list(s.beyond_hidden), "data": ctx.dataset.describe()}


def run_beyond(ctx: Context, stage_dir: Path) -> dict[str, Any]:
    from digitlab.studies.ablation import run_ablation

    s = ctx.settings
    results = run_ablation(ctx.dataset, stage_dir, epochs=s.beyond_epochs, seeds=s.beyond_seeds,
                           samples=s.beyond_samples, hidden=list(s.beyond_hidden),
                           progress=ctx.progress)
    results["figures"] = {name: ctx.rel(path) for name, path in results["figures"].items()}
    results["mode"] = s.mode
    return results


def beyond_section(ctx: Context, r: dict[str, Any]) -> Section:
    rows = {row["variant"]: row for row in r["rows"]}
    lab, best = rows["lab recipe"], rows["+ all"]
    intro = [_(
        "How far a plain multilayer perceptron goes on the same digits, one ingredient at a "
        "time, from the lab's recipe (the final network above) to the 'best' preset: a one-cycle "
        "learning-rate schedule (linear warm-up, cosine decay, per batch), dropout on the hidden "
        "layers, and random affine distortions of every training digit, fresh each epoch "
        "(rotation, scaling, shear, translation; made in a background thread while the step "
        "runs). '+ all' is the 'best' preset (ReLU, batch 64, all three); '+ ensemble' averages "
        "the probabilities of its networks from all seeds. Every network is tested on the same "
        "held-out digits.")]
    if r["samples"]:
        intro.append(_("Here each variant was trained for {epochs} on {samples} training "
                       "digits, once per seed ({seeds}).").format(
            epochs=epochs_for(r["epochs"]), samples=number(r["samples"]),
            seeds=seeds_count(r["seeds"])))
    else:
        intro.append(_("Here each variant was trained for {epochs}, once per seed "
                       "({seeds}).").format(epochs=epochs_for(r["epochs"]),
                                            seeds=seeds_count(r["seeds"])))
    if r["mode"] != "full":
        intro.append(_("That is shorter than the 'best' preset's {epochs}, so that the whole "
                       "report stays within about ten minutes; 'digitlab report --full' runs "
                       "it at full length, where augmentation has the epochs it needs to pay "
                       "off.").format(epochs=epochs_count(r["best_epochs"])))
    findings = []
    for name, row in rows.items():
        if name == "lab recipe":
            continue
        findings.append(_("{variant}: {accuracy} ({change} points against the lab recipe's "
                          "{lab}).").format(variant=variant_name(name), accuracy=pct(row["mean"]),
                                            change=points(row["mean"] - lab["mean"], 2),
                                            lab=pct(lab["mean"])))
    gap = {name: row["train_minus_test"] for name, row in rows.items()
           if row.get("train_minus_test") is not None}
    if gap:
        if gap["+ all"] < gap["lab recipe"]:
            sentence = _("Overfitting, as the last epoch's running training accuracy minus the "
                         "test accuracy: {lab} points for the lab recipe, {all} for '+ all' — "
                         "dropout and distorted digits narrow the gap.")
        else:
            sentence = _("Overfitting, as the last epoch's running training accuracy minus the "
                         "test accuracy: {lab} points for the lab recipe, {all} for '+ all'.")
        findings.append(sentence.format(lab=points(gap["lab recipe"]), all=points(gap["+ all"])))
    findings.append(_("Time per epoch (median): lab recipe {lab} s, '+ all' {all} s.").format(
        lab=number(lab["seconds_per_epoch"], 1), all=number(best["seconds_per_epoch"], 1)))
    table = Table(
        [_("variant"), _("test accuracy (mean ± std)"), _("seeds"), _("per seed"), _("s/epoch")],
        [[variant_name(row["variant"]),
          f"{pct(row['mean'])} ± {number(100 * row['std'], 2)}", row["n"],
          "; ".join(number(100 * a, 1) for a in row["accuracies"]),
          "—" if row["variant"] == "+ ensemble" else number(row["seconds_per_epoch"], 1)]
         for row in r["rows"]],
        _("From the lab recipe to the best preset"))
    from digitlab.studies.ablation import FIGURES

    figures = [Figure(path, _(FIGURES[key].caption)) for key, path in r["figures"].items()]
    return Section("beyond", _("Beyond the assignment"), " ".join(intro), findings, figures,
                   [table], {_("best preset"): best["config"]})


# ---------------------------------------------------------------------------------------- studies
TINY_GRID = """\
name = "lr"
x = "lr"
[base]
hidden = [32]
epochs = 1
max_train_samples = 1000
[grid]
lr = [0.001, 0.01, 0.1]
activation = ["tanh", "relu"]
optimizer = ["sgd", "adam"]
"""


def studies_settings(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {"studies": s.studies, "seeds": s.study_seeds, "data": ctx.dataset.describe()}


def run_studies(ctx: Context, stage_dir: Path) -> StudiesSummary:
    from digitlab.fileio import write_text
    from digitlab.studies import run_studies

    s = ctx.settings
    grid_file = None
    if s.studies == "tiny":
        grid_file = stage_dir / "tiny-grid.toml"
        write_text(grid_file, TINY_GRID)
    result = run_studies(
        (), stage_dir / "sweep", grid_file=grid_file, seeds=s.study_seeds,
        full=s.studies == "full", dataset=ctx.dataset_name, data_dir=ctx.data_dir,
        progress=ctx.progress,
    )
    return StudiesSummary.from_result(result, ctx.rel)


def _pm(point: StudyPoint) -> str:
    std = point.test_accuracy_std
    spread = f" ± {number(100 * std, 1)}" if std is not None else ""
    return f"{number(100 * point.test_accuracy_mean, 1)}{spread} %"


def _value(value: Any) -> str:
    """A study's parameter value: numbers the language's way, layer lists as "64,64"."""
    from digitlab.formatting import format_value

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value, None if isinstance(value, float) else 0)
    return format_value(value)


def studies_section(ctx: Context, r: StudiesSummary) -> Section:
    findings, tables, figures = [], [], []
    for name, study in r.studies.items():
        title = stored_text(study.title)
        ranked = study.best_points()
        if not ranked:
            findings.append(_("{study}: every trial failed.").format(study=title))
            continue
        (top_series, top), (low_series, low) = ranked[0], ranked[-1]
        findings.append(_(
            "{study}: the best result was {series} at {parameter} = {value} with test accuracy "
            "{accuracy}; the weakest series at its best was {low_series} ({low_value}, "
            "{low_accuracy}).").format(
            study=title, series=top_series, parameter=study.parameter, value=_value(top.value),
            accuracy=_pm(top), low_series=low_series, low_value=_value(low.value),
            low_accuracy=_pm(low)))
        if study.failed:
            findings.append(ngettext(
                "{failed} of {n} trial of the {study} study failed (diverged or invalid); "
                "failed trials are counted, not averaged.",
                "{failed} of {n} trials of the {study} study failed (diverged or invalid); "
                "failed trials are counted, not averaged.", study.trials).format(
                failed=study.failed, n=study.trials, study=name))
        tables.append(Table([_("series"), _("best {parameter}").format(parameter=study.parameter),
                             _("test accuracy"), _("train accuracy"), _("seeds")],
                            [[series, _value(p.value), _pm(p), pct(p.train_accuracy_mean), p.n]
                             for series, p in ranked],
                            _("{study}: best point of each series (mean ± std over "
                              "seeds)").format(study=title)))
        if name in r.figures:
            figures.append(Figure(r.figures[name], title))
    findings.append(ngettext("{n} trial in all ({failed} failed), {seconds} s of wall time in "
                             "this run.",
                             "{n} trials in all ({failed} failed), {seconds} s of wall time in "
                             "this run.", r.trials).format(
        n=r.trials, failed=r.failed, seconds=number(r.seconds, 0)))
    intro = _("Accuracy against the number of epochs, the learning rate, the number of hidden "
              "layers and of neurons, for each hidden activation and optimizer at batch size 32. "
              "Single runs are noisy, so every point is the mean over several seeds with its "
              "standard deviation.")
    configs = {name: study.fixed for name, study in r.studies.items()}
    return Section("studies", _("Hyperparameter studies"), intro, findings, figures, tables,
                   configs)


# ---------------------------------------------------------------------------------------- analysis
def analysis_settings(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {"retrain": s.retrain, "retrain_epochs": s.retrain_epochs,
            "nondigit_count": s.nondigit_count}


def run_analysis(ctx: Context, stage_dir: Path) -> AnalysisResult:
    from digitlab.analysis import analyze

    s = ctx.settings
    run_dir = ctx.out_dir / ctx.results["final"]["run_dir"]
    analysis = analyze(run_dir, ctx.dataset, stage_dir, retrain=s.retrain,
                       retrain_epochs=s.retrain_epochs or None, nondigit_count=s.nondigit_count,
                       progress=ctx.progress, seed=ctx.dataset.seed)
    result = AnalysisResult.from_dict(analysis)
    result.figures = {key: ctx.rel(stage_dir / name) for key, name in result.figures.items()}
    return result


def analysis_section(ctx: Context, r: AnalysisResult) -> Section:
    from digitlab.analysis.figures import FIGURES
    from digitlab.analysis.nondigits import kind_title

    figures = [Figure(path, _(FIGURES[key].caption)) for key, path in r.figures.items()]
    table = Table([_("digit"), _("accuracy (recall)"), _("precision"), _("test images")],
                  [[d.digit, pct(d.recall), pct(d.precision), d.count] for d in r.per_digit],
                  _("Per digit on the test split"))
    tables = [table]
    if r.nondigits:
        tables.append(Table(
            [_("input"), _("most frequent answer"), _("mean top probability"), _("confident"),
             "AUROC"],
            [[kind_title(name), f"{k.most_predicted_digit} ({pct(k.most_predicted_share)})",
              pct(k.mean_top_probability), pct(k.share_confident), _auroc(k.auroc, 3)]
             for name, k in r.nondigits.items()],
            _("Images that are not digits (AUROC: telling real test digits from them by the top "
              "probability)")))
    intro = _("Which digits the final network confuses, which it determines worst, how stable "
              "that is between retrainings, and what it answers to images that are not digits.")
    # written by the analysis in the report's language (the language is in the stage's key)
    return Section("analysis", _("Analysis of the final network"), intro, list(r.findings),
                   figures, tables)


# ---------------------------------------------------------------------------------------- dream
def dream_settings(ctx: Context) -> dict[str, Any]:
    return {"steps": ctx.settings.dream_steps}


def run_dream(ctx: Context, stage_dir: Path) -> DreamStudyResult:
    from digitlab.dreaming import DreamOptions, dream_study
    from digitlab.modelio import load_model

    network = load_model(ctx.out_dir / ctx.results["final"]["run_dir"]).network
    pairs = ctx.results["analysis"].confused_pairs
    # turn the most frequently confused digit into what it is mistaken for
    turn = (pairs[0].true, pairs[0].predicted) if pairs else (4, 9)
    options = DreamOptions(steps=ctx.settings.dream_steps) if ctx.settings.dream_steps else None
    ds = ctx.dataset
    record = dream_study(
        network, stage_dir, options=options, train_images=ds.train.images,
        train_labels=ds.train.labels, turn=turn, test_images=ds.test.images,
        test_labels=ds.test.labels, progress=ctx.progress,
    )
    result = DreamStudyResult.from_dict(record)
    result.figures = {key: ctx.rel(stage_dir / name) for key, name in result.files.items()
                      if name.endswith(".png")}
    return result


def dream_section(ctx: Context, r: DreamStudyResult) -> Section:
    dreams = r.dreams
    steps = [d.steps for d in dreams]
    probabilities = [d.final_target_probability for d in dreams]
    weakest = dreams[int(np.argmin(probabilities))]
    slowest = dreams[int(np.argmax(steps))]
    converged = sum(d.converged for d in dreams)
    findings = [
        ngettext("Starting from {start}, {converged} of {n} dreamed digit reached the stopping "
                 "tolerance; every dream is read as its digit with probability at least {lowest} "
                 "(lowest: digit {weakest}).",
                 "Starting from {start}, {converged} of {n} dreamed digits reached the stopping "
                 "tolerance; every dream is read as its digit with probability at least {lowest} "
                 "(lowest: digit {weakest}).", len(dreams)).format(
            start=start_image(r.start), converged=converged, n=len(dreams),
            lowest=number(min(probabilities), 3), weakest=weakest.digit),
        _("The dreams took between {fewest} and {most} steps (most: digit {slowest}).").format(
            fewest=min(steps), most=max(steps), slowest=slowest.digit),
        ngettext("{right} of {n} dream is classified as the digit it was dreamed for.",
                 "{right} of {n} dreams are classified as the digit they were dreamed for.",
                 len(dreams)).format(right=sum(d.predicted_digit == d.digit for d in dreams),
                                     n=len(dreams)),
    ]
    turn = r.turn
    if turn:
        findings.append(_(
            "Turn {a} into {b}: a correctly read test image of {a} changed by L2 = {l2} and "
            "L∞ = {linf} (pixels in [0, 1]) over {steps} is read as {read} with probability "
            "{p} (the {a} kept {p_a}). This is an adversarial example: a change a person would "
            "hardly notice flips the network's answer.").format(
            a=turn.from_digit, b=turn.to_digit, l2=number(turn.l2_distance, 2),
            linf=number(turn.linf_distance, 2), steps=steps_over(turn.steps),
            read=turn.predicted_digit, p=number(turn.final_probability, 3),
            p_a=number(turn.final_probability_of_from_digit, 3)))
    table = Table([_("digit"), _("steps"), _("probability of the digit"), _("read as"),
                   _("converged")],
                  [[d.digit, d.steps, number(d.final_target_probability, 4), d.predicted_digit,
                    _("yes") if d.converged else _("no")] for d in dreams],
                  _("Each dream's final state"))
    from digitlab.dreaming.study import FIGURES

    figures = [Figure(path, _(FIGURES[key].caption)) for key, path in (r.figures or {}).items()]
    intro = _("Equation (3) changes the input instead of the weights: starting from a black "
              "image, y⁰ ← y⁰ + η δ⁰ W⁰ until the network reads the chosen digit. Pixels stay "
              "in [0, 1]; a decay toward black, total variation, blur and jitter keep the "
              "images smooth (each can be switched off with `digitlab dream --plain`).")
    return Section("dream", _("Deep dream"), intro, findings, figures, [table],
                   {_("dream options"): r.options})


#: where a dream starts (``DreamOptions.start``), as the findings name it
START_IMAGES = {"black": N_("a black image"), "noise": N_("an image of noise"),
                "mean": N_("the mean training image")}


def start_image(start: str) -> str:
    return _(START_IMAGES[start]) if start in START_IMAGES else start


def steps_over(n: int) -> str:
    """"12 steps" as how long a change took ("over ..."; in Slovenian "v 12 korakih")."""
    return npgettext("over how many", "{n} step", "{n} steps", n).format(n=n)


# ---------------------------------------------------------------------------------------- honesty
def honesty_settings(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {"hidden": list(s.honesty_hidden), "epochs": s.honesty_epochs,
            "samples": s.honesty_samples, "attack_steps": s.honesty_attack_steps,
            "dream_steps": s.honesty_dream_steps, "nondigit_count": s.nondigit_count,
            "data": ctx.dataset.describe()}


def run_honesty(ctx: Context, stage_dir: Path) -> dict[str, Any]:
    from digitlab.studies.honesty import run_honesty as run

    s = ctx.settings
    results = run(ctx.dataset, stage_dir, hidden=list(s.honesty_hidden),
                  epochs=s.honesty_epochs, samples=s.honesty_samples,
                  attack_steps=s.honesty_attack_steps, nondigit_count=s.nondigit_count,
                  dream_steps=s.honesty_dream_steps, progress=ctx.progress, rel=ctx.rel)
    results["mode"] = s.mode
    return results




def _titles(r: dict[str, Any], relation: str) -> list[str]:
    from digitlab.analysis.nondigits import kind_title

    return [kind_title(k) for k, v in r["kinds"].items() if v["relation"] == relation]


def _mean_auroc(network: dict[str, Any], kinds: list[str]) -> float | None:
    values = [network["kinds"][k]["auroc"] for k in kinds
              if network["kinds"][k]["auroc"] is not None]
    return float(np.mean(values)) if values else None


def _auroc(value: float | None, digits: int = 2) -> str:
    return number(value, digits)


def _scores(values: dict[str, str]) -> str:
    """{"plain": "0.81", ...} -> "plain 0.81, robust 0.84, ..." with the networks' names."""
    return ", ".join(f"{network_name(name)} {value}" for name, value in values.items())


def _calibration_sentence(nets: dict[str, Any], names: list[str], calibrated: list[str]) -> str:
    def scaled(name: str) -> str:
        net = nets[name]
        if abs(net["temperature"] - 1.0) < 0.005:  # T = 1.00: the fit changed nothing
            return _("left the {network} network's at {ece} (T = 1.00: none needed)").format(
                network=network_name(name), ece=pct(net["ece"]))
        return _("took the {network} network's from {before} to {after} (T = {t})").format(
            network=network_name(name), before=pct(net["ece_uncalibrated"]),
            after=pct(net["ece"]), t=number(net["temperature"], 2))

    fitted = listed([scaled(name) for name in calibrated])
    others = [name for name in names if name not in calibrated]
    if not others:
        return _("Expected calibration error on the test digits (15 bins): temperature scaling "
                 "{fitted}.").format(fitted=fitted)
    rest = listed([_("{ece} for the {network} network").format(
        ece=pct(nets[name]["ece"]), network=network_name(name)) for name in others])
    return _("Expected calibration error on the test digits (15 bins): temperature scaling "
             "{fitted}; without it the ECE is {rest}.").format(fitted=fitted, rest=rest)


#: the relations of the non-digit kinds as the separation sentences name them
RELATION_PHRASES = {"trained": N_("Telling test digits from the kinds outlier exposure trained "
                                  "on ({kinds}) by the top probability, mean AUROC: {scores}."),
                    "related": N_("Telling test digits from kinds related to those ({kinds}) by "
                                  "the top probability, mean AUROC: {scores}."),
                    "unseen": N_("Telling test digits from the kinds it never saw ({kinds}) by "
                                 "the top probability, mean AUROC: {scores}.")}


def _flattening_sentences(honest: dict[str, Any]) -> list[str]:
    """What the honest network's flattened answers cost in ECE and buy on the kind never trained
    on that it is surest of without them (its ``flattening`` rows, one per share q)."""
    from digitlab.analysis.nondigits import kind_title
    from digitlab.calibration import FLATTEN_BELOW

    rows = {row["flatten_below"]: row for row in honest["flattening"]}
    chosen = honest["config"].get("flatten_below", FLATTEN_BELOW)
    if 0.0 not in rows or chosen not in rows or chosen == 0.0:
        return []
    off, on = rows[0.0], rows[chosen]
    kind = max(off["median_top"], key=off["median_top"].get)
    return [_("Flattening the answers of inputs less digit-like than all but {share} of the "
              "calibration digits has a price and a use. The price: the honest network's ECE on "
              "the test digits is {ece_off} without flattening and {ece_on} with it. The use: on "
              "{kind}, the kind never trained on that it is surest of without flattening, its "
              "median top probability is {top_off} without and {top_on} with it.").format(
        share=pct(chosen, 0), ece_off=pct(off["ece"]), ece_on=pct(on["ece"]),
        kind=kind_title(kind), top_off=number(off["median_top"][kind], 2),
        top_on=number(on["median_top"][kind], 2))]


def honesty_findings(r: dict[str, Any]) -> list[str]:
    """The section's sentences, every number from ``r`` (:func:`run_honesty`'s results)."""
    from digitlab.analysis.nondigits import kind_title
    from digitlab.calibration import DIGITS_ACCEPTED

    nets, kinds = r["networks"], r["kinds"]
    names = list(nets)
    held = {name: net["config"].get("calibration_fraction", 0.0) for name, net in nets.items()}
    calibrated = [name for name in names if nets[name]["temperature"] is not None]
    accuracy = _("Test accuracy: {scores}.").format(
        scores=_scores({name: pct(nets[name]["test_accuracy"]) for name in names}))
    if calibrated:
        accuracy += " " + ngettext(
            "The {networks} network trained on {share} of the training digits: the rest "
            "fitted its temperature.",
            "The {networks} networks trained on {share} of the training digits: the rest "
            "fitted their temperature.", len(calibrated)).format(
            networks=listed([network_name(n) for n in calibrated]),
            share=pct(1 - max(held.values()), 0))
    findings = [accuracy]
    if calibrated:
        findings.append(_calibration_sentence(nets, names, calibrated))
    if "letters" in kinds and {"plain", "honest"} <= set(nets):
        plain, honest = nets["plain"]["kinds"]["letters"], nets["honest"]["kinds"]["letters"]
        findings.append(_(
            "The honest network answers 'not a digit' to {honest} of letters, the plain one to "
            "{plain} (each at the top probability below which it rejects {rejected} of the test "
            "digits); the median top probability on letters is {honest_top} for the honest "
            "network and {plain_top} for the plain one.").format(
            honest=pct(honest["rejected"]), plain=pct(plain["rejected"]),
            rejected=pct(1 - DIGITS_ACCEPTED, 0), honest_top=number(honest["median_top"], 2),
            plain_top=number(plain["median_top"], 2)))
    if "letters" in kinds and "rejected_own" in nets.get("honest", {}).get("kinds", {}).get(
            "letters", {}) and nets["honest"].get("hidden_test"):
        honest = nets["honest"]
        findings.append(_(
            "With its own two tests — its top probability and what its first hidden layer makes "
            "of the image — the honest network answers 'not a digit' to {letters} of letters "
            "and to {digits} of the test digits.").format(
            letters=pct(honest["kinds"]["letters"]["rejected_own"]),
            digits=pct(honest["digits_rejected_own"])))
    if nets.get("honest", {}).get("flattening"):
        findings += _flattening_sentences(nets["honest"])
    if all(nets.get(name, {}).get("letters") for name in ("plain", "honest")):
        findings += _letter_sentences(nets["plain"]["letters"], nets["honest"]["letters"])
    for relation, sentence in RELATION_PHRASES.items():
        which = [k for k, v in kinds.items() if v["relation"] == relation]
        if which:
            findings.append(_(sentence).format(
                kinds=listed(_titles(r, relation)),
                scores=_scores({name: _auroc(_mean_auroc(nets[name], which))
                                for name in names})))
    unseen = [k for k, v in kinds.items() if v["relation"] == "unseen"]
    if unseen and {"plain", "honest"} <= set(nets):
        gains = {k: (nets["honest"]["kinds"][k]["auroc"] or 0.0)
                 - (nets["plain"]["kinds"][k]["auroc"] or 0.0) for k in unseen}
        most, least = max(gains, key=gains.get), min(gains, key=gains.get)

        def change(k: str) -> dict[str, str]:
            return {"plain": _auroc(nets["plain"]["kinds"][k]["auroc"]),
                    "honest": _auroc(nets["honest"]["kinds"][k]["auroc"])}

        if abs(gains[least]) < 0.005:  # equal to two decimals
            sentence = _("Among the kinds never trained on, the honest network gains most "
                         "against the plain one on {most} (AUROC {most_plain} → {most_honest}) "
                         "and is no better on {least} (AUROC {least_plain} → {least_honest}).")
        elif gains[least] > 0:
            sentence = _("Among the kinds never trained on, the honest network gains most "
                         "against the plain one on {most} (AUROC {most_plain} → {most_honest}) "
                         "and least on {least} (AUROC {least_plain} → {least_honest}).")
        else:
            sentence = _("Among the kinds never trained on, the honest network gains most "
                         "against the plain one on {most} (AUROC {most_plain} → {most_honest}) "
                         "and loses most on {least} (AUROC {least_plain} → {least_honest}).")
        findings.append(sentence.format(
            most=kind_title(most), most_plain=change(most)["plain"],
            most_honest=change(most)["honest"], least=kind_title(least),
            least_plain=change(least)["plain"], least_honest=change(least)["honest"]))
    dreamers = [name for name in names if nets[name].get("dreams")]
    if dreamers:
        findings.append(_("Dreams from a black image — {judgements}.").format(
            judgements="; ".join(_("{network} network: {summary}").format(
                network=network_name(name), summary=nets[name]["dreams"]["summary"])
                for name in dreamers)))
    if {"plain", "robust"} <= set(dreamers):
        plain, robust = nets["plain"]["dreams"], nets["robust"]["dreams"]
        if robust["median_cosine"] > plain["median_cosine"]:
            sentence = _("The robust network's dreams are closer to real digits than the plain "
                         "network's (median cosine {robust} against {plain}; {robust_readable} "
                         "against {plain_readable} readable).")
        else:
            sentence = _("The robust network's dreams are no closer to real digits than the "
                         "plain network's (median cosine {robust} against {plain}; "
                         "{robust_readable} against {plain_readable} readable).")
        findings.append(sentence.format(
            robust=number(robust["median_cosine"], 2), plain=number(plain["median_cosine"], 2),
            robust_readable=robust["n_readable"], plain_readable=plain["n_readable"]))
    if r.get("skipped"):
        findings.append(_left_out(r["skipped"]))
    return findings


#: how many letters the findings name where the honest network is surest of a digit
SUREST_SHOWN = 3


def _letter_sentences(plain: dict[str, list], honest: dict[str, list]) -> list[str]:
    """Letter by letter (the answers :func:`digitlab.studies.honesty.measure_network` stores
    for A–Z): how many each network takes for a digit at least :data:`SURE` sure, which the
    honest one calls "not a digit", and those it is surest of."""
    from digitlab.studies.honesty import SURE

    def letters_count(n: int) -> str:
        return ngettext("{n} letter", "{n} letters", n).format(n=n)

    def sure(answers: dict[str, list]) -> int:
        return sum(top >= SURE and not rejected
                   for top, rejected in zip(answers["top"], answers["not_digit"], strict=True))

    n = len(honest["top"])
    sentences = [_("Of the {n} capital letters, the plain network reads {plain} as a digit at "
                   "least {sure} sure, the honest network {honest}.").format(
        n=n, plain=letters_count(sure(plain)), honest=letters_count(sure(honest)),
        sure=pct(SURE, 0))]
    rejected = [chr(ord("A") + i) for i, no in enumerate(honest["not_digit"]) if no]
    if rejected:
        sentences.append(ngettext(
            "The honest network answers 'not a digit' to {n} letter: {letters}.",
            "The honest network answers 'not a digit' to {n} letters: {letters}.",
            len(rejected)).format(n=len(rejected), letters=", ".join(rejected)))
    else:
        sentences.append(_("The honest network answers 'not a digit' to no letter."))
    taken = sorted((i for i, no in enumerate(honest["not_digit"]) if not no),
                   key=lambda i: -honest["top"][i])[:SUREST_SHOWN]
    if taken:
        sentences.append(_("The letters it takes most surely for digits: {cases}.").format(
            cases=", ".join(_("{letter} as {digit} ({share})").format(
                letter=chr(ord("A") + i), digit=honest["digit"][i],
                share=pct(honest["top"][i])) for i in taken)))
    return sentences


def _left_out(skipped: dict[str, str]) -> str:
    """"Left out: letters (no font); ..." — the reasons stay as the code gave them."""
    from digitlab.analysis.nondigits import kind_title

    return _("Left out: {items}.").format(items="; ".join(
        f"{kind_title(kind)} ({why})" for kind, why in skipped.items()))


#: the outlier kinds of digitlab.data.outliers in words
OUTLIER_WORDS = {"scribbles": N_("pen scribbles"), "strokes": N_("glyphs of random pen strokes"),
                 "noise": N_("uniform and smoothed noise"),
                 "blobs": N_("Gaussian blobs"), "pieces": N_("halves and quarters of digits"),
                 "overlays": N_("two digits written over each other"),
                 "fashion": N_("Fashion-MNIST's training images"),
                 "glyphs": N_("glyphs of pen strokes on a grid")}
#: how each relation is introduced in the honesty section's introduction
RELATION_INTROS = {"trained": N_("these were trained on: {kinds}"),
                   "related": N_("these resemble what was: {kinds}"),
                   "unseen": N_("these were never trained on: {kinds}")}


def honesty_section(ctx: Context, r: dict[str, Any]) -> Section:
    from digitlab.analysis.nondigits import kind_title
    from digitlab.data.outliers import TRAINING_KINDS
    from digitlab.studies.honesty import FIGURES, RELATIONS

    nets, kinds = r["networks"], r["kinds"]
    sizes = "-".join(str(n) for n in [N_PIXELS, *r["hidden"], N_CLASSES])
    trained_on = [_(OUTLIER_WORDS[k]) if k in OUTLIER_WORDS else k
                  for k in r.get("outlier_kinds") or TRAINING_KINDS]
    relations = "; ".join(_(RELATION_INTROS[rel]).format(kinds=listed(_titles(r, rel)))
                          for rel in RELATIONS if _titles(r, rel))
    held_share = max((n.get("config", {}).get("calibration_fraction") or 0.0)
                     for n in nets.values()) or 0.1
    intro = [_(
        "Every network so far answers every input with a digit. Four networks, trained on the "
        "same digits and tested on the same held-out ones: plain (the 'best' preset's recipe), "
        "robust (half of every batch replaced by an L2 projected-gradient attack of radius "
        "1.5, {steps}), calibrated (plain with {share} of the training digits held out to fit a "
        "temperature T) and honest (robust, plus outlier exposure — half a batch more of images "
        "that are not digits, taught to answer with the uniform distribution — and the same "
        "calibration). Outlier exposure trained on {outliers}. Of the report's non-digit "
        "kinds, {relations}. Letters are never trained on; the Fashion-MNIST images shown are "
        "its test images, never trained on either, but of the same kind as its training "
        "images.").format(steps=steps_count(r["attack_steps"]), outliers=listed(trained_on),
                          relations=relations, share=pct(held_share, 0))]
    mining = (nets.get("honest", {}).get("config", {}).get("outlier_mining") or 0.0)
    if mining:
        intro.append(_("Each epoch the honest network drew those images from the ones it was "
                       "surest were digits, {share} of a fresh sample of its outliers (outlier "
                       "mining).").format(share=pct(mining, 0)))
    if "rotated_180" in kinds:
        intro.append(_("Of the digits rotated 180°, only the 2, 3, 4, 5 and 7 are judged: upside "
                       "down a 0, 1 or 8 is itself, and a 6 and a 9 swap."))
    if r["samples"]:
        intro.append(_("Here each network is {sizes}, trained for {epochs} on {samples} training "
                       "digits; {count} images of each non-digit kind.").format(
            sizes=sizes, epochs=epochs_for(r["epochs"]), samples=number(r["samples"]),
            count=number(r["nondigit_count"])))
    else:
        intro.append(_("Here each network is {sizes}, trained for {epochs}; {count} images of "
                       "each non-digit kind.").format(sizes=sizes, epochs=epochs_for(r["epochs"]),
                                                      count=number(r["nondigit_count"])))
    names = list(nets)
    shown_names = [network_name(n) for n in names]
    by_relation = {rel: [k for k, v in kinds.items() if v["relation"] == rel]
                   for rel in RELATIONS}
    overview = Table(
        [_("network"), _("test accuracy"), _("ECE (T = 1)"), _("ECE (as reported)"), "T",
         *[_("mean AUROC, {relation}").format(relation=relation_name(rel))
           for rel in RELATIONS], _("training (s)")],
        [[network_name(name), pct(n["test_accuracy"]), pct(n["ece_uncalibrated"]), pct(n["ece"]),
          "—" if n["temperature"] is None else number(n["temperature"], 2),
          *[_auroc(_mean_auroc(n, by_relation[rel])) for rel in RELATIONS],
          number(n["seconds"], 0)] for name, n in nets.items()],
        _("The four networks on the test digits and, by the top probability, against the "
          "non-digit kinds"))
    ordered = [k for rel in RELATIONS for k in by_relation[rel]]
    confidence = Table(
        [_("input"), _("relation"), *shown_names],
        [[_("real test digits"), "—",
          *[number(nets[n]["median_top_digits"], 3) for n in names]]]
        + [[kind_title(k), relation_name(kinds[k]["relation"]),
            *[number(nets[n]["kinds"][k]["median_top"], 3) for n in names]] for k in ordered],
        _("Median top probability on each input"))
    separation = Table(
        [_("non-digit kind"), _("relation"), *shown_names],
        [[kind_title(k), relation_name(kinds[k]["relation"]),
          *[f"{_auroc(nets[n]['kinds'][k]['auroc'])} ({pct(nets[n]['kinds'][k]['rejected'], 0)})"
            for n in names]] for k in ordered],
        _("AUROC of test digits against each kind by the top probability; in brackets the share "
          "answered 'not a digit' at the threshold that accepts {accepted} of the test "
          "digits").format(accepted=pct(0.95, 0)))
    figures = [Figure(path, _(FIGURES[key].caption)) for key, path in r["figures"].items()]
    configs = {_("{network} network").format(network=network_name(name)): nets[name]["config"]
               for name in names}
    return Section("honesty", _("Does it know what it doesn't know?"), " ".join(intro),
                   honesty_findings(r), figures, [overview, confidence, separation], configs)


# ---------------------------------------------------------------------------------------- overview
def overview_section(results: dict[str, Any]) -> Section:
    """The assignment's questions answered in one list, from the stages' measured results."""
    found = []
    if "assignment" in results:
        r = results["assignment"]
        found.append(_("The assignment's 784-784-10 tanh network, trained example by example "
                       "with equations (1)–(2) for {epochs}, reads {accuracy} of the held-out "
                       "digits correctly.").format(
            epochs=epochs_for(len(r["history"]["epochs"])),
            accuracy=pct(r["final"]["test_accuracy"])))
    if "final" in results:
        r = results["final"]
        sizes = "-".join(str(n) for n in [N_PIXELS, *r["config"]["hidden"], N_CLASSES])
        found.append(_("The final {sizes} {activation} network with {optimizer} reaches "
                       "{accuracy}.").format(
            sizes=sizes, activation=r["config"]["activation"], optimizer=r["config"]["optimizer"],
            accuracy=pct(r["final"]["test_accuracy"])))
    if "beyond" in results:
        rows = {row["variant"]: row for row in results["beyond"]["rows"]}
        found.append(_("Beyond the assignment ({epochs}, {seeds}): the lab recipe reaches "
                       "{lab}, the 'best' preset's recipe {best}, an ensemble of those networks "
                       "{ensemble}.").format(
            epochs=epochs_count(results["beyond"]["epochs"]),
            seeds=seeds_count(results["beyond"]["seeds"]), lab=pct(rows["lab recipe"]["mean"]),
            best=pct(rows["+ all"]["mean"]), ensemble=pct(rows["+ ensemble"]["mean"])))
    if "analysis" in results:
        found += _analysis_overview(results["analysis"])
    if "studies" in results:
        for study in results["studies"].studies.values():
            ranked = study.best_points()
            if ranked:
                series, point = ranked[0]
                found.append(_("{study}: best {series} at {parameter} = {value} "
                               "({accuracy}).").format(
                    study=stored_text(study.title), series=series, parameter=study.parameter,
                    value=_value(point.value), accuracy=_pm(point)))
    if "dream" in results:
        r = results["dream"]
        right = sum(d.predicted_digit == d.digit for d in r.dreams)
        found.append(ngettext(
            "Deep dream from {start}: {right} of {n} dreamed digit is read as the digit it was "
            "dreamed for (lowest probability of its digit {lowest}).",
            "Deep dream from {start}: {right} of {n} dreamed digits are read as the digit they "
            "were dreamed for (lowest probability of its digit {lowest}).", len(r.dreams)).format(
            start=start_image(r.start), right=right, n=len(r.dreams),
            lowest=number(r.min_final_target_probability, 3)))
    if "honesty" in results:
        nets = results["honesty"]["networks"]
        if "letters" in results["honesty"]["kinds"] and {"plain", "honest"} <= set(nets):
            plain, honest = nets["plain"], nets["honest"]
            found.append(_(
                "Does it know what it doesn't know: the honest network (adversarial training, "
                "outlier exposure, calibration) answers 'not a digit' to {honest} of letters, "
                "never trained on, the plain one to {plain}; ECE on the test digits {honest_ece} "
                "against {plain_ece}.").format(
                honest=pct(honest["kinds"]["letters"]["rejected"]),
                plain=pct(plain["kinds"]["letters"]["rejected"]), honest_ece=pct(honest["ece"]),
                plain_ece=pct(plain["ece"])))
    return Section("overview", _("Answers at a glance"),
                   _("What this run measured, in brief; the sections below give the details."),
                   found)


def _analysis_overview(r: AnalysisResult) -> list[str]:
    found = []
    worst = r.worst_digit
    found.append(_("Its worst digit is {digit} ({accuracy} correct).").format(
        digit=worst.digit, accuracy=pct(worst.accuracy)))
    if r.confused_pairs:
        pair = r.confused_pairs[0]
        found.append(ngettext(
            "Its most frequent confusion is {true} read as {predicted} ({n} test image).",
            "Its most frequent confusion is {true} read as {predicted} ({n} test images).",
            pair.count).format(true=pair.true, predicted=pair.predicted, n=pair.count))
    retraining = r.retraining
    if retraining:
        found.append(ngettext(
            "Retrained with {n} other seed it reaches {accuracy} ± {std} percentage points.",
            "Retrained with {n} other seeds it reaches {accuracy} ± {std} percentage points.",
            len(retraining.accuracies)).format(
            n=len(retraining.accuracies), accuracy=pct(retraining.accuracy_mean),
            std=number(100 * (retraining.accuracy_std or 0), 2)))
    if r.nondigits:
        confident = np.mean([k.share_confident for k in r.nondigits.values()])
        found.append(ngettext(
            "It answers every input with a digit: on {n} kind of non-digit images it is "
            "confident {share} of the time, against {real} for real digits.",
            "It answers every input with a digit: on {n} kinds of non-digit images it is "
            "confident {share} of the time, against {real} for real digits.",
            len(r.nondigits)).format(n=len(r.nondigits), share=pct(confident),
                                     real=pct(r.real_digits.share_confident)))
    return found
