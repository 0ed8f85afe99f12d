"""Every figure the report shows takes its caption from the table where the figure is made."""

from types import SimpleNamespace as Fake

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
    assert "10 epochs with 2 seeds" in section.intro and "--full" in section.intro
