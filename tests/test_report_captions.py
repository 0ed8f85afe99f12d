"""Every figure the report shows takes its caption from the table where the figure is made."""

from digitlab.analysis.figures import FIGURES as ANALYSIS_FIGURES
from digitlab.dream.study import FIGURES as DREAM_FIGURES
from digitlab.reporting import stages


def written(caption: str, key: str) -> bool:
    return caption != key and caption != key.replace("_", " ") and len(caption.split()) >= 4


def test_every_analysis_figure_gets_its_written_caption():
    r = {"figures": {key: f"analysis/{spec.file}" for key, spec in ANALYSIS_FIGURES.items()},
         "per_digit": [{"digit": 0, "recall": 0.9, "precision": 0.8, "count": 10}],
         "findings": []}
    section = stages.analysis_section(None, r)
    assert len(section.figures) == len(ANALYSIS_FIGURES) == 11
    for figure, (key, spec) in zip(section.figures, ANALYSIS_FIGURES.items(), strict=True):
        assert figure.caption == spec.caption and written(figure.caption, key)


def test_every_dream_figure_gets_its_written_caption():
    dreams = [{"digit": d, "steps": 5, "final_target_probability": 0.99, "predicted_digit": d,
               "converged": True} for d in range(10)]
    r = {"figures": {key: f"dream/{spec.file}" for key, spec in DREAM_FIGURES.items()},
         "dreams": dreams, "start": "black", "options": {}}
    section = stages.dream_section(None, r)
    for figure, (key, spec) in zip(section.figures, DREAM_FIGURES.items(), strict=True):
        assert figure.caption == spec.caption and written(figure.caption, key)
