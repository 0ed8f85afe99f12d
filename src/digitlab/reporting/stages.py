"""The report's stages, in order: each computes results (figures written to its own folder) and
describes them as a :class:`~digitlab.reporting.document.Section`.

The results of the analysis, the studies and the dream are typed records
(:class:`~digitlab.analysis.results.AnalysisResult`,
:class:`~digitlab.studies.results.StudiesSummary`,
:class:`~digitlab.dreaming.results.DreamStudyResult`); those of the data and training stages are
JSON-ready dicts. A stage's ``result_type`` rebuilds its record from the cached JSON.

Every sentence that states a finding is formatted from the measured numbers in ``results``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.analysis.results import AnalysisResult
from digitlab.config import preset
from digitlab.dreaming.results import DreamStudyResult
from digitlab.formatting import pct
from digitlab.records import Record
from digitlab.reporting.document import Figure, Section, Table
from digitlab.reporting.settings import ReportSettings
from digitlab.shapes import N_CLASSES, N_PIXELS
from digitlab.studies.results import StudiesSummary, StudyPoint
from digitlab.training import CURVES_FIGURE


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
    held_out = ("the dataset's official test split" if r["test_is_official"] else
                f"a stratified {pct(r['test_fraction'])} held out with the seed")
    findings = [
        f"{r['n_train']} training images and {r['n_test']} test images ({held_out}); "
        "pixels scaled to [0, 1].",
        f"The most frequent digit is {names[most]} ({counts[most]} images, {pct(shares[most])}), "
        f"the least frequent {names[least]} ({counts[least]}, {pct(shares[least])}): a ratio of "
        f"{counts[most] / counts[least]:.2f}.",
    ]
    table = Table(["digit", *names], [["train", *r["train_counts"]], ["test", *r["test_counts"]]],
                  "Images per digit")
    return Section("data", "The data", f"Source: {r['source']}", findings,
                   [Figure(r["figures"]["examples"], "Ten training examples of each digit")],
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
                       curves_title=f"{name} network")
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


def _training_findings(r: dict[str, Any]) -> list[str]:
    epochs = r["history"]["epochs"]
    final = r["final"]
    test = [e["test_accuracy"] for e in epochs]
    best = int(np.argmax(test))
    seconds = float(np.median([e["seconds"] for e in epochs]))
    findings = [
        f"After {len(epochs)} epoch{'s' if len(epochs) > 1 else ''}: test accuracy "
        f"{pct(final['test_accuracy'])}, mean test E {final['test_loss']:.4f}; training "
        f"accuracy {pct(final['train_accuracy'])} "
        "(running mean over the last epoch).",
        f"The best test accuracy was {pct(test[best])} after epoch {best + 1}; "
        f"one epoch took {seconds:.1f} s (median).",
    ]
    trace = r["history"]["trace"]
    if len(trace) >= 2:
        findings.append(
            f"During training the share of correct digits rose from {pct(trace[0]['accuracy'])} "
            f"over the first {trace[0]['samples']} samples to {pct(trace[-1]['accuracy'])} over "
            f"the last ones, and E fell from {trace[0]['loss']:.3f} to {trace[-1]['loss']:.3f}."
        )
    if len(epochs) >= 2:
        gain = test[-1] - test[0]
        findings.append(f"From epoch 1 to epoch {len(epochs)} the test accuracy changed by "
                        f"{100 * gain:+.1f} percentage points.")
    return findings


def _summary_table(r: dict[str, Any]) -> Table:
    rows = [list(row) for row in r["summary"]]
    rows.append(["total", "", r["n_parameters"]])
    return Table(["layer", "output shape", "parameters"], rows, "Model summary")


def assignment_section(ctx: Context, r: dict[str, Any]) -> Section:
    intro = ("The assignment's network: 784-784-10, f = tanh in every layer, targets +1/−1, "
             "E = ½‖y − t‖², trained sample by sample with equations (1)–(2), η = "
             f"{r['config']['lr']}, initial weights Gaussian of variance 2/fan-in, no bias.")
    return Section("assignment", "The assignment network", intro, _training_findings(r),
                   [Figure(r["figures"]["curves"], CURVES_FIGURE.caption)],
                   [_summary_table(r)], {"assignment network": r["config"]})


def final_section(ctx: Context, r: dict[str, Any]) -> Section:
    c = r["config"]
    sizes = "-".join(str(n) for n in [N_PIXELS, *c["hidden"], N_CLASSES])
    intro = (f"The lab report's final network: {sizes}, {c['activation']} hidden layers, "
             f"{c['output_activation']} output with cross-entropy, {c['optimizer']} "
             f"η = {c['lr']}, batch size {c['batch_size']}, {c['epochs']} epochs.")
    return Section("final", "The final network", intro, _training_findings(r),
                   [Figure(r["figures"]["curves"], CURVES_FIGURE.caption)],
                   [_summary_table(r)], {"final network": c})


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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def beyond_section(ctx: Context, r: dict[str, Any]) -> Section:
    rows = {row["variant"]: row for row in r["rows"]}
    lab, best = rows["lab recipe"], rows["+ all"]
    full_length = r["mode"] == "full"
    intro = (
        "How far a plain multilayer perceptron goes on the same digits, one ingredient at a "
        "time, from the lab's recipe (the final network above) to the 'best' preset: a one-cycle "
        "learning-rate schedule (linear warm-up, cosine decay, per batch), dropout on the hidden "
        "layers, and random affine distortions of every training digit, fresh each epoch "
        "(rotation, scaling, shear, translation; made in a background thread while the step "
        "runs). '+ all' is the 'best' preset (ReLU, batch 64, all three); '+ ensemble' averages "
        "the probabilities of its networks from all seeds. Every network is tested on the same "
        f"held-out digits. Here each variant was trained for {_plural(r['epochs'], 'epoch')} "
        f"with {_plural(r['seeds'], 'seed')}"
        + (f" on {r['samples']} training digits" if r["samples"] else "")
        + ("." if full_length else
           f" — shorter than the 'best' preset's {r['best_epochs']} epochs, so that the whole "
           "report stays within about ten minutes; 'digitlab report --full' runs it at full "
           "length, where augmentation has the epochs it needs to pay off.")
    )
    findings = []
    for name, row in rows.items():
        if name == "lab recipe":
            continue
        change = row["mean"] - lab["mean"]
        findings.append(f"{name}: {pct(row['mean'])} ({100 * change:+.2f} points against the "
                        f"lab recipe's {pct(lab['mean'])}).")
    gap = {name: row["train_minus_test"] for name, row in rows.items()
           if row.get("train_minus_test") is not None}
    if gap:
        narrower = gap["+ all"] < gap["lab recipe"]
        findings.append(
            "Overfitting, as the last epoch's running training accuracy minus the test "
            f"accuracy: {100 * gap['lab recipe']:+.1f} points for the lab recipe, "
            f"{100 * gap['+ all']:+.1f} for '+ all'"
            + (" — dropout and distorted digits narrow the gap." if narrower else "."))
    findings.append(f"Time per epoch (median): lab recipe {lab['seconds_per_epoch']:.1f} s, "
                    f"'+ all' {best['seconds_per_epoch']:.1f} s.")
    table = Table(
        ["variant", "test accuracy (mean ± std)", "seeds", "per seed", "s/epoch"],
        [[row["variant"], f"{pct(row['mean'])} ± {100 * row['std']:.2f}", row["n"],
          ", ".join(f"{100 * a:.1f}" for a in row["accuracies"]),
          "—" if row["variant"] == "+ ensemble" else f"{row['seconds_per_epoch']:.1f}"]
         for row in r["rows"]],
        "From the lab recipe to the best preset")
    from digitlab.studies.ablation import FIGURES

    figures = [Figure(path, FIGURES[key].caption) for key, path in r["figures"].items()]
    return Section("beyond", "Beyond the assignment", intro, findings, figures, [table],
                   {"best preset": best["config"]})


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
    spread = f" ± {100 * std:.1f}" if std is not None else ""
    return f"{100 * point.test_accuracy_mean:.1f}{spread} %"


def studies_section(ctx: Context, r: StudiesSummary) -> Section:
    findings, tables, figures = [], [], []
    for name, study in r.studies.items():
        ranked = study.best_points()
        if not ranked:
            findings.append(f"{study.title}: every trial failed.")
            continue
        (top_series, top), (low_series, low) = ranked[0], ranked[-1]
        findings.append(
            f"{study.title}: the best result was {top_series} at {study.parameter} = "
            f"{top.value} with test accuracy {_pm(top)}; the weakest series at its best was "
            f"{low_series} ({low.value}, {_pm(low)})."
        )
        if study.failed:
            findings.append(f"{study.failed} of {study.trials} trials of the {name} study "
                            "failed (diverged or invalid); they are counted, not averaged.")
        tables.append(Table(["series", f"best {study.parameter}", "test accuracy",
                             "train accuracy", "seeds"],
                            [[series, p.value, _pm(p), pct(p.train_accuracy_mean), p.n]
                             for series, p in ranked],
                            f"{study.title}: best point of each series (mean ± std over "
                            "seeds)"))
        if name in r.figures:
            figures.append(Figure(r.figures[name], study.title))
    findings.append(f"{r.trials} trials in all ({r.failed} failed), "
                    f"{r.seconds:.0f} s of wall time in this run.")
    intro = ("Accuracy against the number of epochs, the learning rate, the number of hidden "
             "layers and of neurons, for each hidden activation and optimizer at batch size 32. "
             "Single runs are noisy, so every point is the mean over several seeds with its "
             "standard deviation.")
    configs = {name: study.fixed for name, study in r.studies.items()}
    return Section("studies", "Hyperparameter studies", intro, findings, figures, tables, configs)


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

    figures = [Figure(path, FIGURES[key].caption) for key, path in r.figures.items()]
    table = Table(["digit", "accuracy (recall)", "precision", "test images"],
                  [[d.digit, pct(d.recall), pct(d.precision), d.count] for d in r.per_digit],
                  "Per digit on the test split")
    tables = [table]
    if r.nondigits:
        tables.append(Table(
            ["input", "most frequent answer", "mean top probability", "confident", "AUROC"],
            [[k.title, f"{k.most_predicted_digit} ({pct(k.most_predicted_share)})",
              pct(k.mean_top_probability), pct(k.share_confident), f"{k.auroc:.3f}"]
             for k in r.nondigits.values()],
            "Images that are not digits (AUROC: telling real test digits from them by the top "
            "probability)"))
    intro = ("Which digits the final network confuses, which it determines worst, how stable "
             "that is between retrainings, and what it answers to images that are not digits.")
    return Section("analysis", "Analysis of the final network", intro, list(r.findings),
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
        f"Starting from a {r.start} image, {converged} of {len(dreams)} dreamed digits "
        f"reached the stopping tolerance; every dream is read as its digit with probability at "
        f"least {min(probabilities):.3f} (lowest: digit {weakest.digit}).",
        f"The dreams took between {min(steps)} and {max(steps)} steps (most: digit "
        f"{slowest.digit}).",
        f"{sum(d.predicted_digit == d.digit for d in dreams)} of {len(dreams)} dreams are "
        "classified as the digit they were dreamed for.",
    ]
    turn = r.turn
    if turn:
        findings.append(
            f"Turn {turn.from_digit} into {turn.to_digit}: a correctly read test image of "
            f"{turn.from_digit} changed by L2 = {turn.l2_distance:.2f} and L∞ = "
            f"{turn.linf_distance:.2f} (pixels in [0, 1]) over {turn.steps} steps is read as "
            f"{turn.predicted_digit} with probability {turn.final_probability:.3f} "
            f"(the {turn.from_digit} kept {turn.final_probability_of_from_digit:.3f}). "
            "This is an adversarial example: a change a person would hardly notice flips the "
            "network's answer."
        )
    table = Table(["digit", "steps", "probability of the digit", "read as", "converged"],
                  [[d.digit, d.steps, f"{d.final_target_probability:.4f}", d.predicted_digit,
                    "yes" if d.converged else "no"] for d in dreams],
                  "Each dream's final state")
    from digitlab.dreaming.study import FIGURES

    figures = [Figure(path, FIGURES[key].caption) for key, path in (r.figures or {}).items()]
    intro = ("Equation (3) changes the input instead of the weights: starting from a black "
             "image, y⁰ ← y⁰ + η δ⁰ W⁰ until the network reads the chosen digit. Pixels stay in "
             "[0, 1]; a decay toward black, total variation, blur and jitter keep the images "
             "smooth (each can be switched off with `digitlab dream --plain`).")
    return Section("dream", "Deep dream", intro, findings, figures, [table],
                   {"dream options": r.options})


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
    return [k["title"] for k in r["kinds"].values() if k["relation"] == relation]


def _listed(words: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _mean_auroc(network: dict[str, Any], kinds: list[str]) -> float | None:
    values = [network["kinds"][k]["auroc"] for k in kinds
              if network["kinds"][k]["auroc"] is not None]
    return float(np.mean(values)) if values else None


def _auroc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def honesty_findings(r: dict[str, Any]) -> list[str]:
    """The section's sentences, every number from ``r`` (:func:`run_honesty`'s results)."""
    from digitlab.calibration import DIGITS_ACCEPTED

    nets, kinds = r["networks"], r["kinds"]
    names = list(nets)
    held = {name: net["config"].get("calibration_fraction", 0.0) for name, net in nets.items()}
    calibrated = [name for name in names if nets[name]["temperature"] is not None]
    findings = [
        "Test accuracy: " + ", ".join(f"{name} {pct(nets[name]['test_accuracy'])}"
                                      for name in names) + "."
        + (f" The {' and '.join(calibrated)} networks trained on "
           f"{pct(1 - max(held.values()), 0)} of the training digits: the rest fitted their "
           "temperature." if calibrated else "")
    ]
    if calibrated:
        def scaled(name: str) -> str:
            net = nets[name]
            if abs(net["temperature"] - 1.0) < 0.005:  # T = 1.00: the fit changed nothing
                return f"left the {name} network's at {pct(net['ece'])} (T = 1.00: none needed)"
            return (f"took the {name} network's from {pct(net['ece_uncalibrated'])} to "
                    f"{pct(net['ece'])} (T = {net['temperature']:.2f})")

        fitted = _listed([scaled(name) for name in calibrated])
        others = [name for name in names if name not in calibrated]
        findings.append(
            "Expected calibration error on the test digits (15 bins): temperature scaling "
            + fitted + ("; without it the ECE is " + _listed([
                f"{pct(nets[name]['ece'])} for the {name} network" for name in others])
                if others else "") + ".")
    rejected = pct(1 - DIGITS_ACCEPTED, 0)
    if "letters" in kinds and {"plain", "honest"} <= set(nets):
        plain, honest = nets["plain"]["kinds"]["letters"], nets["honest"]["kinds"]["letters"]
        findings.append(
            f"The honest network answers 'not a digit' to {pct(honest['rejected'])} of letters, "
            f"the plain one to {pct(plain['rejected'])} (each at the top probability below "
            f"which it rejects {rejected} of the test digits); the median top probability on "
            f"letters is {honest['median_top']:.2f} for the honest network and "
            f"{plain['median_top']:.2f} for the plain one.")
    words = {"trained": "the kinds outlier exposure trained on",
             "related": "kinds related to those",
             "unseen": "the kinds it never saw"}
    for relation, phrase in words.items():
        which = [k for k, v in kinds.items() if v["relation"] == relation]
        if which:
            findings.append(
                f"Telling test digits from {phrase} ({_listed(_titles(r, relation))}) by the "
                "top probability, mean AUROC: " + ", ".join(
                    f"{name} {_auroc(_mean_auroc(nets[name], which))}" for name in names) + ".")
    unseen = [k for k, v in kinds.items() if v["relation"] == "unseen"]
    if unseen and {"plain", "honest"} <= set(nets):
        gains = {k: (nets["honest"]["kinds"][k]["auroc"] or 0.0)
                 - (nets["plain"]["kinds"][k]["auroc"] or 0.0) for k in unseen}
        most, least = max(gains, key=gains.get), min(gains, key=gains.get)

        def change(k: str) -> str:
            return (f"{kinds[k]['title']} (AUROC {_auroc(nets['plain']['kinds'][k]['auroc'])} "
                    f"→ {_auroc(nets['honest']['kinds'][k]['auroc'])})")

        if abs(gains[least]) < 0.005:  # equal to two decimals
            last = f"is no better on {change(least)}"
        else:
            last = f"{'least' if gains[least] > 0 else 'loses most'} on {change(least)}"
        findings.append(f"Among the kinds never trained on, the honest network gains most "
                        f"against the plain one on {change(most)} and {last}.")
    dreamers = [name for name in names if nets[name].get("dreams")]
    if dreamers:
        findings.append("Dreams from a black image — " + "; ".join(
            f"{name} network: {nets[name]['dreams']['summary']}" for name in dreamers) + ".")
    if {"plain", "robust"} <= set(dreamers):
        plain, robust = nets["plain"]["dreams"], nets["robust"]["dreams"]
        closer = robust["median_cosine"] > plain["median_cosine"]
        findings.append(
            "The robust network's dreams are "
            + ("closer to real digits than the plain network's"
               if closer else "no closer to real digits than the plain network's")
            + f" (median cosine {robust['median_cosine']:.2f} against "
            f"{plain['median_cosine']:.2f}; {robust['n_readable']} against "
            f"{plain['n_readable']} readable).")
    if r.get("skipped"):
        findings.append("Left out: " + "; ".join(f"{k} ({why})"
                                                 for k, why in r["skipped"].items()) + ".")
    return findings


#: the outlier kinds of digitlab.data.outliers in words
OUTLIER_WORDS = {"scribbles": "pen scribbles", "noise": "uniform and smoothed noise",
                 "blobs": "Gaussian blobs", "pieces": "halves and quarters of digits",
                 "overlays": "two digits written over each other",
                 "fashion": "Fashion-MNIST's training images"}


def honesty_section(ctx: Context, r: dict[str, Any]) -> Section:
    from digitlab.data.outliers import TRAINING_KINDS
    from digitlab.studies.honesty import FIGURES, RELATIONS

    nets, kinds = r["networks"], r["kinds"]
    sizes = "-".join(str(n) for n in [N_PIXELS, *r["hidden"], N_CLASSES])
    trained_on = [OUTLIER_WORDS.get(k, k) for k in r.get("outlier_kinds") or TRAINING_KINDS]
    described = {"trained": "these were trained on", "related": "these resemble what was",
                 "unseen": "these were never trained on"}
    relations = "; ".join(f"{described[rel]}: {_listed(_titles(r, rel))}"
                          for rel in RELATIONS if _titles(r, rel))
    intro = (
        "Every network so far answers every input with a digit. Four networks, trained on the "
        "same digits and tested on the same held-out ones: plain (the 'best' preset's recipe), "
        "robust (half of every batch replaced by an L2 projected-gradient attack of radius "
        f"1.5, {_plural(r['attack_steps'], 'step')}), calibrated (plain with a tenth of the "
        "training digits held out to fit a temperature T) and honest (robust, plus outlier "
        "exposure — half a batch more of images that are not digits, taught to answer with "
        "the uniform distribution — and the same calibration). Outlier exposure trained on "
        f"{_listed(trained_on)}. Of the report's non-digit kinds, {relations}. Letters are "
        "never trained on; the Fashion-MNIST images shown are its test images, never trained "
        "on either, but of the same kind as its training images. "
        f"Here each network is {sizes}, trained for {_plural(r['epochs'], 'epoch')}"
        + (f" on {r['samples']} training digits" if r["samples"] else "")
        + f"; {r['nondigit_count']} images of each non-digit kind."
    )
    names = list(nets)
    by_relation = {rel: [k for k, v in kinds.items() if v["relation"] == rel]
                   for rel in RELATIONS}
    overview = Table(
        ["network", "test accuracy", "ECE (T = 1)", "ECE (as reported)", "T",
         *[f"mean AUROC, {rel}" for rel in RELATIONS], "training (s)"],
        [[name, pct(n["test_accuracy"]), pct(n["ece_uncalibrated"]), pct(n["ece"]),
          "—" if n["temperature"] is None else f"{n['temperature']:.2f}",
          *[_auroc(_mean_auroc(n, by_relation[rel])) for rel in RELATIONS],
          f"{n['seconds']:.0f}"] for name, n in nets.items()],
        "The four networks on the test digits and, by the top probability, against the "
        "non-digit kinds")
    ordered = [k for rel in RELATIONS for k in by_relation[rel]]
    confidence = Table(
        ["input", "relation", *names],
        [["real test digits", "—", *[f"{nets[n]['median_top_digits']:.3f}" for n in names]]]
        + [[kinds[k]["title"], kinds[k]["relation"],
            *[f"{nets[n]['kinds'][k]['median_top']:.3f}" for n in names]] for k in ordered],
        "Median top probability on each input")
    separation = Table(
        ["non-digit kind", "relation", *names],
        [[kinds[k]["title"], kinds[k]["relation"],
          *[f"{_auroc(nets[n]['kinds'][k]['auroc'])} ({pct(nets[n]['kinds'][k]['rejected'], 0)})"
            for n in names]] for k in ordered],
        "AUROC of test digits against each kind by the top probability; in brackets the share "
        "answered 'not a digit' at the threshold that accepts 95 % of the test digits")
    figures = [Figure(path, FIGURES[key].caption) for key, path in r["figures"].items()]
    configs = {f"{name} network": nets[name]["config"] for name in names}
    return Section("honesty", "Does it know what it doesn't know?", intro,
                   honesty_findings(r), figures, [overview, confidence, separation], configs)


# ---------------------------------------------------------------------------------------- overview
def overview_section(results: dict[str, Any]) -> Section:
    """The assignment's questions answered in one list, from the stages' measured results."""
    found = []
    if "assignment" in results:
        r = results["assignment"]
        found.append(f"The assignment's 784-784-10 tanh network, trained sample by sample with "
                     f"equations (1)–(2) for {len(r['history']['epochs'])} epoch(s), reads "
                     f"{pct(r['final']['test_accuracy'])} of the held-out digits correctly.")
    if "final" in results:
        r = results["final"]
        sizes = "-".join(str(n) for n in [N_PIXELS, *r["config"]["hidden"], N_CLASSES])
        found.append(f"The final {sizes} {r['config']['activation']} network with "
                     f"{r['config']['optimizer']} reaches {pct(r['final']['test_accuracy'])}.")
    if "beyond" in results:
        rows = {row["variant"]: row for row in results["beyond"]["rows"]}
        found.append(f"Beyond the assignment ({_plural(results['beyond']['epochs'], 'epoch')}, "
                     f"{_plural(results['beyond']['seeds'], 'seed')}): the lab recipe reaches "
                     f"{pct(rows['lab recipe']['mean'])}, the 'best' preset's recipe "
                     f"{pct(rows['+ all']['mean'])}, an ensemble of those networks "
                     f"{pct(rows['+ ensemble']['mean'])}.")
    if "analysis" in results:
        r = results["analysis"]
        worst = r.worst_digit
        found.append(f"Its worst digit is {worst.digit} ({pct(worst.accuracy)} correct).")
        if r.confused_pairs:
            pair = r.confused_pairs[0]
            found.append(f"Its most frequent confusion is {pair.true} read as "
                         f"{pair.predicted} ({pair.count} test images).")
        retraining = r.retraining
        if retraining:
            found.append(f"Retrained with {len(retraining.accuracies)} other seeds it reaches "
                         f"{pct(retraining.accuracy_mean)} ± "
                         f"{100 * (retraining.accuracy_std or 0):.2f} percentage points.")
        if r.nondigits:
            confident = np.mean([k.share_confident for k in r.nondigits.values()])
            found.append(f"It answers every input with a digit: on {len(r.nondigits)} kinds of "
                         f"non-digit images it is confident {pct(confident)} of the time, against "
                         f"{pct(r.real_digits.share_confident)} for real digits.")
    if "studies" in results:
        for study in results["studies"].studies.values():
            ranked = study.best_points()
            if ranked:
                series, point = ranked[0]
                found.append(f"{study.title}: best {series} at {study.parameter} = "
                             f"{point.value} ({_pm(point)}).")
    if "dream" in results:
        r = results["dream"]
        right = sum(d.predicted_digit == d.digit for d in r.dreams)
        found.append(f"Deep dream from a {r.start} image: {right} of {len(r.dreams)} "
                     "dreamed digits are read as the digit they were dreamed for (lowest "
                     f"probability of its digit {r.min_final_target_probability:.3f}).")
    if "honesty" in results:
        nets = results["honesty"]["networks"]
        if "letters" in results["honesty"]["kinds"] and {"plain", "honest"} <= set(nets):
            plain, honest = nets["plain"], nets["honest"]
            found.append(
                "Does it know what it doesn't know: the honest network (adversarial training, "
                "outlier exposure, calibration) answers 'not a digit' to "
                f"{pct(honest['kinds']['letters']['rejected'])} of letters, never trained on, "
                f"the plain one to {pct(plain['kinds']['letters']['rejected'])}; ECE on the test "
                f"digits {pct(honest['ece'])} against {pct(plain['ece'])}.")
    return Section("overview", "Answers at a glance",
                   "What this run measured, in brief; the sections below give the details.",
                   found)
