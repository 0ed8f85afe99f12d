"""Every figure the report shows takes its caption from the table where the figure is made."""

from types import SimpleNamespace as Fake

import numpy as np
import pytest

from digitlab.analysis.figures import FIGURES as ANALYSIS_FIGURES
from digitlab.dreaming.study import FIGURES as DREAM_FIGURES
from digitlab.reporting import stages


def written(caption: str, key: str) -> bool:
    return caption != key and caption != key.replace("_", " ") and len(caption.split()) >= 4


def test_every_analysis_figure_gets_its_written_caption():
    r = Fake(figures={key: f"analysis/{spec.file}" for key, spec in ANALYSIS_FIGURES.items()},
             per_digit=[Fake(digit=0, recall=0.9, precision=0.8, count=10)], nondigits={},
             findings=[])
    section = stages.analysis_section(None, r)
    assert len(section.figures) == len(ANALYSIS_FIGURES) == 11
    for figure, (key, spec) in zip(section.figures, ANALYSIS_FIGURES.items(), strict=True):
        assert figure.caption == spec.caption and written(figure.caption, key)


def test_every_dream_figure_gets_its_written_caption():
    dreams = [Fake(digit=d, steps=5, final_target_probability=0.99, predicted_digit=d,
                   converged=True) for d in range(10)]
    r = Fake(figures={key: f"dream/{spec.file}" for key, spec in DREAM_FIGURES.items()},
             dreams=dreams, start="black", options={}, turn=None)
    section = stages.dream_section(None, r)
    for figure, (key, spec) in zip(section.figures, DREAM_FIGURES.items(), strict=True):
        assert figure.caption == spec.caption and written(figure.caption, key)


def test_every_beyond_figure_gets_its_written_caption_and_numbers_make_the_sentences():
    from digitlab.studies.ablation import ALL, ENSEMBLE, FIGURES, VARIANTS

    rows = [{"variant": name, "n": 2, "mean": 0.9 + 0.01 * i, "std": 0.002,
             "accuracies": [0.9, 0.91], "seconds_per_epoch": 1.0, "train_minus_test": 0.05,
             "config": {}} for i, name in enumerate([*VARIANTS, ALL])]
    rows.append({**rows[-1], "variant": ENSEMBLE, "mean": 0.97, "train_minus_test": None})
    r = {"figures": {key: f"beyond/{spec.file}" for key, spec in FIGURES.items()},
         "rows": rows, "epochs": 10, "seeds": 2, "samples": 0, "best_epochs": 40,
         "mode": "default"}
    section = stages.beyond_section(None, r)
    for figure, (key, spec) in zip(section.figures, FIGURES.items(), strict=True):
        assert figure.caption == spec.caption and written(figure.caption, key)
    text = " ".join(section.findings)
    assert "+ all: 94.0 % (+4.00 points against the lab recipe's 90.0 %)" in text
    assert "+ ensemble: 97.0 %" in text
    assert "trained for 10 epochs, once per seed (2 seeds)" in section.intro
    assert "--full" in section.intro


def honesty_result(letters_rejected_by_honest: float = 0.87) -> dict:
    """A hand-made result of the honesty stage: two kinds, four networks."""
    from digitlab.studies.honesty import FIGURES

    def network(accuracy, ece, ece_uncalibrated, temperature, rejected, auroc, dreams=None):
        kinds = {"letters": {"median_top": 1 - rejected, "auroc": auroc, "rejected": rejected},
                 "uniform_noise": {"median_top": 0.5, "auroc": 0.9, "rejected": 0.6}}
        return {"test_accuracy": accuracy, "ece": ece, "ece_uncalibrated": ece_uncalibrated,
                "temperature": temperature, "median_top_digits": 0.99, "kinds": kinds,
                "config": {"calibration_fraction": 0.1 if temperature else 0.0},
                "seconds": 12.0, "dreams": dreams}

    def dreams(readable, cosine):
        return {"summary": f"{readable} of 10 dreams read as their digit by both judges; "
                           f"median cosine to the nearest real digit {cosine:.2f}",
                "n_readable": readable, "median_cosine": cosine}

    def letters(rejected: str, sure: dict[str, tuple[int, float]]) -> dict:
        """A–Z: "not a digit" for the letters in ``rejected``, digit and top from ``sure`` (a
        letter -> (digit, top)), 4 at 0.5 for the rest."""
        alphabet = [chr(ord("A") + i) for i in range(26)]
        return {"digit": [sure.get(c, (4, 0.5))[0] for c in alphabet],
                "top": [sure.get(c, (4, 0.5))[1] for c in alphabet],
                "not_digit": [c in rejected for c in alphabet]}

    answers = {"plain": letters("", {c: (9, 1.0) for c in "ABCDEFGHIJ"}),
               "honest": letters("KWX", {"O": (0, 0.999), "I": (1, 0.97), "D": (0, 0.98),
                                         "S": (5, 0.91)})}
    result = {
        "networks": {
            "plain": network(0.97, 0.021, 0.021, None, 0.03, 0.61, dreams(2, 0.55)),
            "robust": network(0.95, 0.03, 0.03, None, 0.10, 0.7, dreams(9, 0.72)),
            "calibrated": network(0.968, 0.008, 0.025, 1.4, 0.05, 0.65),
            "honest": network(0.95, 0.012, 0.041, 1.2, letters_rejected_by_honest, 0.93),
        },
        "kinds": {"letters": {"title": "letters A–Z", "relation": "unseen"},
                  "uniform_noise": {"title": "uniform noise", "relation": "trained"}},
        "figures": {key: f"honesty/{spec.file}" for key, spec in FIGURES.items()},
        "outlier_kinds": ["scribbles", "noise"], "skipped": {}, "hidden": [32], "epochs": 1,
        "samples": 1000, "attack_steps": 2, "nondigit_count": 100, "mode": "quick",
    }
    for name, given in answers.items():
        result["networks"][name]["letters"] = given
    honest = result["networks"]["honest"]
    honest["kinds"]["letters"]["rejected_own"] = 0.551
    honest.update(digits_rejected_own=0.056, hidden_test=True)
    honest["config"]["flatten_below"] = 0.03
    honest["flattening"] = [
        {"flatten_below": q, "ece": ece, "median_top": {"letters": top}}
        for q, ece, top in ((0.0, 0.009, 0.71), (0.01, 0.011, 0.6), (0.03, 0.018, 0.47))]
    return result


def test_every_honesty_figure_gets_its_written_caption_and_numbers_make_the_sentences():
    from digitlab.studies.honesty import FIGURES

    section = stages.honesty_section(None, honesty_result())
    assert len(section.figures) == len(FIGURES) == 6
    for figure, (key, spec) in zip(section.figures, FIGURES.items(), strict=True):
        assert figure.caption == spec.caption and written(figure.caption, key)
    text = " ".join(section.findings)
    assert ("The honest network answers 'not a digit' to 87.0 % of letters, the plain one to "
            "3.0 %") in text
    assert "and took the honest network's from 4.1 % to 1.2 % (T = 1.20)" in text
    assert "2.1 % for the plain network" in text
    assert "Test accuracy: plain 97.0 %, robust 95.0 %, calibrated 96.8 %, honest 95.0 %" in text
    assert "on letters A–Z (AUROC 0.61 → 0.93)" in text
    assert ("Of the 26 capital letters, the plain network reads 10 letters as a digit at least "
            "90 % sure, the honest network 4 letters.") in text
    assert "The honest network answers 'not a digit' to 3 letters: K, W, X." in text
    assert ("With its own two tests — its top probability and what its first hidden layer "
            "makes of the image — the honest network answers 'not a digit' to 55.1 % of letters "
            "and to 5.6 % of the test digits.") in text
    assert "most surely for digits: O as 0 (99.9 %), D as 0 (98.0 %), I as 1 (97.0 %)." in text
    assert ("The price: the honest network's ECE on the test digits is 0.9 % without "
            "flattening and 1.8 % with it. The use: on letters A–Z, the kind never trained on "
            "that it is surest of without flattening, its median top probability is 0.71 "
            "without and 0.47 with it.") in text
    assert "less digit-like than all but 3 % of the calibration digits" in text
    assert "closer to real digits than the plain network's (median cosine 0.72 against 0.55" \
        in text
    assert "never trained on: letters A–Z" in section.intro
    assert "these were trained on: uniform noise" in section.intro
    assert "pen scribbles and uniform and smoothed noise" in section.intro
    # other numbers, other sentences
    changed = " ".join(stages.honesty_findings(honesty_result(0.42)))
    assert "'not a digit' to 42.0 % of letters" in changed and "87.0 %" not in changed
    unchanged = honesty_result()
    unchanged["networks"]["calibrated"]["temperature"] = 1.0
    assert "left the calibrated network's at 0.8 % (T = 1.00: none needed)" in " ".join(
        stages.honesty_findings(unchanged))
    overview = " ".join(stages.overview_section({"honesty": honesty_result()}).findings)
    assert "87.0 % of letters" in overview and "1.2 % against 2.1 %" in overview


# ------------------------------------------------------------------ the same sections in Slovenian
def test_the_findings_are_whole_slovenian_sentences_with_the_numbers_written_the_slovenian_way():
    from digitlab import i18n
    from digitlab.studies.honesty import FIGURES

    with i18n.language("sl"):
        section = stages.honesty_section(None, honesty_result())
        overview = " ".join(stages.overview_section({"honesty": honesty_result()}).findings)
    text = " ".join(section.findings)
    assert section.title == "Ali ve, česa ne ve?"
    assert ("Mreža »poštena« odgovori »to ni števka« na 87,0 % črk, mreža »navadna« na 3,0 %"
            in text)
    assert "Točnost na testni množici: navadna 97,0 %, robustna 95,0 %" in text
    assert "pri mreži »poštena« padla s 4,1 % na 1,2 % (T = 1,20)" in text
    assert "pri vrsti črke A–Z (AUROC 0,61 → 0,93)" in text
    assert "prebere kot števko 10 črk, mreža »poštena« 4 črke." in text
    assert "»to ni števka« na 3 črke: K, W, X." in text and "O kot 0 (99,9 %)" in text
    assert "odgovori »to ni števka« na 55,1 % črk in na 5,6 % testnih števk." in text
    assert "87,0 % črk" in overview and "1,2 % proti 2,1 %" in overview
    assert [f.caption for f in section.figures] == [
        i18n.domain("report").gettext(spec.caption, "sl") for spec in FIGURES.values()]
    assert not any(f.caption == spec.caption for f, spec in zip(section.figures,
                                                                FIGURES.values(), strict=True))


@pytest.mark.parametrize("epochs, seeds, phrase", [
    (1, 1, "učena 1 epoho, enkrat za vsako seme (1 seme)"),
    (2, 2, "učena 2 epohi, enkrat za vsako seme (2 semeni)"),
    (3, 4, "učena 3 epohe, enkrat za vsako seme (4 semena)"),
    (5, 5, "učena 5 epoh, enkrat za vsako seme (5 semen)"),
    (101, 102, "učena 101 epoho, enkrat za vsako seme (102 semeni)"),
    (103, 105, "učena 103 epohe, enkrat za vsako seme (105 semen)"),
])
def test_counts_take_their_slovenian_plural_form_and_case(epochs, seeds, phrase):
    from digitlab import i18n
    from digitlab.studies.ablation import ALL, ENSEMBLE, VARIANTS

    rows = [{"variant": name, "n": 2, "mean": 0.9, "std": 0.002, "accuracies": [0.9, 0.91],
             "seconds_per_epoch": 1.25, "train_minus_test": 0.05, "config": {}}
            for name in [*VARIANTS, ALL, ENSEMBLE]]
    r = {"figures": {}, "rows": rows, "epochs": epochs, "seeds": seeds, "samples": 0,
         "best_epochs": 40, "mode": "default"}
    with i18n.language("sl"):
        section = stages.beyond_section(None, r)
    assert phrase in section.intro, section.intro
    assert "To je manj kot 40 epoh prednastavitve »best«" in section.intro
    assert "Čas na epoho (mediana): recept iz poročila 1,2 s" in " ".join(section.findings)


def test_the_letters_figure_writes_each_networks_answer_under_each_letter():
    """Every letter gets a line per network: the digit and its probability, or "not a digit"
    where that network rejects it — numbers the figure must take from the answers given."""
    from digitlab.plots.honesty import letter_answers_figure
    from digitlab.studies.honesty import letter_images

    answers = {"plain": {"digit": [9] * 26, "top": [1.0] * 26, "not_digit": [False] * 26},
               "honest": {"digit": [4] * 26, "top": [0.62] * 26,
                          "not_digit": [i % 2 == 0 for i in range(26)]}}
    fig = letter_answers_figure(letter_images(), answers)
    axes = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in axes] == [chr(ord("A") + i) for i in range(26)]
    for i, ax in enumerate(axes):
        lines = [t.get_text() for t in ax.texts]
        assert lines == ["9 · 100 %", "not a digit" if i % 2 == 0 else "4 · 62 %"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["plain network",
                                                                  "honest network"]


def test_a_row_of_digits_shows_each_image_framed_and_captioned_in_its_place():
    """show_digit_row: the images side by side in one picture, the paper between them left
    blank, a frame and a caption for each image given, room kept for ``columns``."""
    import matplotlib.pyplot as plt

    from digitlab.plots import show_digit_row

    images = np.stack([np.full(784, v) for v in (0.0, 0.5, 1.0)])
    fig, ax = plt.subplots()
    show_digit_row(ax, images, ["a", "b", "c"], columns=5, gap=6)
    (picture,) = ax.images
    strip = picture.get_array()
    assert strip.shape == (28, 5 * 28 + 4 * 6)
    for i, value in enumerate((0.0, 0.5, 1.0)):
        tile = strip[:, i * 34:i * 34 + 28]
        assert not np.ma.is_masked(tile) and np.all(tile == value)
    assert np.ma.getmaskarray(strip)[:, 28:34].all() and np.ma.getmaskarray(strip)[:, 102:].all()
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c"]
    assert [round(t.get_position()[0], 1) for t in ax.texts] == [13.5, 47.5, 81.5]
    assert len(ax.patches) == 3 and not ax.axison
    plt.close(fig)
    fig, ax = plt.subplots()
    show_digit_row(ax, images[:2], frame=False)
    assert not ax.patches and not ax.texts
    plt.close(fig)



def test_the_flattening_figure_draws_the_price_and_the_use_against_the_share():
    from digitlab.plots.honesty import flattening_figure

    rows = [{"flatten_below": q, "ece": e, "median_top": {"letters": a, "rotated_180": b}}
            for q, e, a, b in ((0.0, 0.009, 0.71, 0.6), (0.03, 0.018, 0.47, 0.4),
                               (0.1, 0.03, 0.3, 0.2))]
    fig = flattening_figure(rows, 0.03, {"letters": "letters A–Z",
                                         "rotated_180": "digits rotated 180°"})
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_xydata(), [[0, 0.9], [3, 1.8], [10, 3.0]])
    assert [line.get_label() for line in right.lines[:2]] == ["letters A–Z",
                                                              "digits rotated 180°"]
    np.testing.assert_allclose(right.lines[1].get_ydata(), [0.6, 0.4, 0.2])
    dashed = [line for ax in (left, right) for line in ax.lines if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in dashed] == [3, 3]  # the share trained with
    assert left.get_title() and right.get_title() and left.get_xlabel()
