"""Analysis of a trained network: which digits it confuses and determines worst, its mistakes,
how results change between retrainings, and what it answers to images that are not digits.

Modules, one idea each: :mod:`confusion` (matrix, per-digit metrics, confused pairs),
:mod:`mistakes` (misclassified images, most confident first), :mod:`retrain` (retraining
variance), :mod:`balance` (class frequencies), :mod:`nondigits` (generators of non-digit
images), :mod:`responses` (logits, probabilities, margin, energy of one forward pass),
:mod:`ood` (scores and AUROC), :mod:`findings` (sentences from the numbers), :mod:`figures`,
:mod:`pipeline` (:func:`analyze`, which does it all) and :mod:`results` (:class:`AnalysisResult`,
the typed form of ``analysis.json``).
"""

from digitlab.analysis.confusion import confusion_analysis
from digitlab.analysis.figures import FIGURES
from digitlab.analysis.nondigits import KINDS, generate
from digitlab.analysis.ood import auroc
from digitlab.analysis.pipeline import ANALYSIS_FILE, analyze

__all__ = ["ANALYSIS_FILE", "FIGURES", "KINDS", "analyze", "auroc", "confusion_analysis",
           "generate"]
