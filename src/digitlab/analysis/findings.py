"""The findings as sentences, each written from the measured numbers in ``analysis.json``.

Nothing here is a fixed claim: every digit, count and share comes from the analysis dict, and a
sentence is left out when its numbers are missing (no mistakes, no retraining, a kind skipped).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlab.formatting import listed, pct
from digitlab.i18n import domain, number

_report = domain("report")
_, ngettext, npgettext = _report.gettext, _report.ngettext, _report.npgettext


def epochs_for(n: int) -> str:
    """"10 epochs" as how long something is trained (in Slovenian the accusative: 1 epoho,
    2 epohi, 5 epoh)."""
    return npgettext("for how long", "{n} epoch", "{n} epochs", n).format(n=n)


def images(count: int) -> str:
    """'1 image', '12 images' (in Slovenian: 1 slika, 2 sliki, 3 slike, 5 slik)."""
    return ngettext("{n} image", "{n} images", count).format(n=number(count))


def pair_text(pair: dict[str, Any]) -> str:
    """'4 → 9 (12 images, 2.4 % of the 4s)'."""
    return _("{true} → {predicted} ({images}, {share} of the {true}s)").format(
        true=pair["true"], predicted=pair["predicted"], images=images(pair["count"]),
        share=pct(pair["share"]))


def probability_name(analysis: dict[str, Any]) -> str:
    """How to name the top probability: softmax outputs are probabilities; other outputs are
    normalised first, and the first sentence that uses the name says how."""
    if analysis["model"]["output_activation"] == "softmax":
        return _("top probability")
    return _("top probability (outputs normalised as p_k = (y_k + 1) / Σ_j (y_j + 1))")


def test_findings(a: dict[str, Any]) -> list[str]:
    """Accuracy, worst and best digit, the most frequent confusions, the least reliable answer."""
    lines = [ngettext("The network answers {accuracy} of the {n} test image correctly "
                      "({wrong} wrong).",
                      "The network answers {accuracy} of the {n} test images correctly "
                      "({wrong} wrong).", a["n_test"]).format(
        accuracy=pct(a["accuracy"]), n=number(a["n_test"]), wrong=images(a["n_mistakes"]))]
    worst, best, pairs = a["worst_digit"], a["best_digit"], a["confused_pairs"]
    if not pairs:
        lines.append(_("It makes no mistake on the test split."))
        return lines
    lines.append(_("The worst digit is {digit} ({accuracy} correct); the most frequent "
                   "confusion is {pair}.").format(digit=worst["digit"],
                                                 accuracy=pct(worst["accuracy"]),
                                                 pair=pair_text(pairs[0])))
    if len(pairs) > 1:
        rest = [pair_text(p) for p in pairs[1:3]]
        lines.append(_("Next come {pairs}.").format(pairs=listed(rest)))
    lines.append(_("The best digit is {digit} ({accuracy} correct).").format(
        digit=best["digit"], accuracy=pct(best["accuracy"])))
    both = a["confused_pairs_either_way"][0]
    first, second = both["digits"]
    lines.append(_("Counted in both directions, {a} and {b} are confused most ({images}: "
                   "{a_to_b} × {a} → {b}, {b_to_a} × {b} → {a}).").format(
        a=first, b=second, images=images(both["count"]), a_to_b=both["a_to_b"],
        b_to_a=both["b_to_a"]))
    low = a["lowest_precision_digit"]
    lines.append(ngettext("The least reliable answer is {digit}: {share} of the {n} answer "
                          "{digit} is right.",
                          "The least reliable answer is {digit}: {share} of the {n} answers "
                          "{digit} are right.", low["predicted_count"]).format(
        digit=low["digit"], share=pct(low["precision"]), n=number(low["predicted_count"])))
    return lines


def mistake_findings(a: dict[str, Any]) -> list[str]:
    """How sure the network is when it is wrong; near misses; the most confident mistake."""
    m = a["mistakes"]
    if not m["count"]:
        return []
    top = m["most_confident"][0]
    return [
        _("When it is wrong the network is less sure: mean {name} {wrong} on mistakes against "
          "{right} on correct answers.").format(
            name=probability_name(a), wrong=number(m["mean_confidence_wrong"], 2),
            right=number(m["mean_confidence_right"], 2)),
        _("For {share} of the mistakes the true digit was the network's second choice (a near "
          "miss).").format(share=pct(m["second_choice_right"])),
        _("The most confident mistake is a {true} answered as {predicted} (top probability "
          "{confidence}); the galleries of misclassified images show whether a person would "
          "read them the same way.").format(true=top["true"], predicted=top["predicted"],
                                            confidence=number(top["confidence"], 2)),
    ]


def data_findings(a: dict[str, Any]) -> list[str]:
    """The largest class imbalance, and how closely the test split follows the training one."""
    d = a["data"]
    imb = d["largest_imbalance"]
    gap = float(np.max(np.abs(np.subtract(d["train_shares"], d["test_shares"]))))
    values = dict(most=imb["most"], most_images=images(imb["most_count"]), least=imb["least"],
                  least_images=images(imb["least_count"]), gap=number(100 * gap, 2))
    if imb["ratio"] is None:
        return [_("In the training split the most frequent digit is {most} ({most_images}) and "
                  "the least frequent is {least} ({least_images}); the class shares of the test "
                  "split differ from the training split's by at most {gap} percentage "
                  "points.").format(**values)]
    return [_("In the training split the most frequent digit is {most} ({most_images}) and the "
              "least frequent is {least} ({least_images}), a ratio of {ratio}; the class shares "
              "of the test split differ from the training split's by at most {gap} percentage "
              "points.").format(ratio=number(imb["ratio"], 2), **values)]


def _seeds(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds))


def retraining_findings(a: dict[str, Any]) -> list[str]:
    """Accuracy mean ± std over the retrainings, the recurring worst digit and confusions."""
    r = a.get("retraining")
    if not r:
        reason = a.get("retraining_skipped")
        return [_("Retraining was skipped: {reason}.").format(reason=reason)] if reason else []
    if not r["seeds"]:
        return [_("Every retraining diverged (seeds {seeds}).").format(
            seeds=_seeds(r["diverged"]))]
    k = len(r["seeds"])
    config = a["model"].get("config") or {}
    own = config.get("epochs")
    values = dict(k=k, epochs=epochs_for(r["epochs"]), own=own, mean=pct(r["accuracy_mean"]),
                  std=pct(r["accuracy_std"], 2), low=pct(r["accuracy_min"]),
                  high=pct(r["accuracy_max"]), accuracy=pct(a["accuracy"]))
    if own is not None and own != r["epochs"]:
        first = ngettext("Over {k} retraining with another seed ({epochs} each, the "
                         "analysed network had {own}) the test accuracy is {mean} ± {std} (min "
                         "{low}, max {high}); the analysed network has {accuracy}.",
                         "Over {k} retrainings with other seeds ({epochs} each, the "
                         "analysed network had {own}) the test accuracy is {mean} ± {std} (min "
                         "{low}, max {high}); the analysed network has {accuracy}.", k)
    else:
        first = ngettext("Over {k} retraining with another seed ({epochs} each) the test "
                         "accuracy is {mean} ± {std} (min {low}, max {high}); the analysed "
                         "network has {accuracy}.",
                         "Over {k} retrainings with other seeds ({epochs} each) the test "
                         "accuracy is {mean} ± {std} (min {low}, max {high}); the analysed "
                         "network has {accuracy}.", k)
    lines = [first.format(**values)]
    counts = r["worst_digit_counts"]
    mode = int(np.argmax(counts))
    if a["worst_digit"]["digit"] == mode:
        sentence = ngettext("Digit {digit} is the worst digit in {count} of {k} retraining and "
                            "in the analysed network.",
                            "Digit {digit} is the worst digit in {count} of {k} retrainings and "
                            "in the analysed network.", k)
    else:
        sentence = ngettext("Digit {digit} is the worst digit in {count} of {k} retraining; in "
                            "the analysed network it is {own}.",
                            "Digit {digit} is the worst digit in {count} of {k} retrainings; in "
                            "the analysed network it is {own}.", k)
    lines.append(sentence.format(digit=mode, count=counts[mode], k=k,
                                 own=a["worst_digit"]["digit"]))
    if r["recurring_confusions"]:
        c = r["recurring_confusions"][0]
        lines.append(ngettext(
            "The confusion {true} → {predicted} is among the top {top} confusions in {runs} of "
            "{k} retraining ({mean} images on average).",
            "The confusion {true} → {predicted} is among the top {top} confusions in {runs} of "
            "{k} retrainings ({mean} images on average).", k).format(
            true=c["true"], predicted=c["predicted"], top=r["top"], runs=c["runs"], k=k,
            mean=number(c["mean_count"], 1)))
    if k > 1:
        spread = np.std(np.asarray(r["mistakes_by_digit"], dtype=float), axis=0, ddof=1)  # (10,)
        d = int(np.argmax(spread))
        mean = float(np.mean(np.asarray(r["mistakes_by_digit"])[:, d]))
        lines.append(_("The number of mistakes varies most for digit {digit} ({mean} ± {std} "
                       "images across the retrainings).").format(
            digit=d, mean=number(mean, 1), std=number(spread[d], 1)))
    if r["diverged"]:
        lines.append(_("Training diverged for seeds {seeds}.").format(
            seeds=_seeds(r["diverged"])))
    return lines


def nondigit_findings(a: dict[str, Any]) -> list[str]:
    """What the network answers to non-digits, how sure it is, and how well scores tell them
    apart from real digits."""
    from digitlab.analysis.nondigits import kind_title

    kinds, real = a["nondigits"], a["real_digits"]
    if not kinds:
        return []
    margin = a["model"]["output_activation"] != "softmax"
    confident = np.mean([k["share_confident"] for k in kinds.values()])
    values = dict(n=len(kinds), share=pct(confident), threshold=number(a["confident_threshold"]),
                  real=pct(real["share_confident"]),
                  top=number(real["mean_top_probability"], 2),
                  margin=number(real["mean_margin"], 2))
    if margin:
        first = ngettext(
            "The network answers every image with a digit, also images that are not digits: "
            "over {n} kind of non-digit images {share} of the answers are confident (top "
            "probability ≥ {threshold}), against {real} for real test digits (mean top "
            "probability {top}, mean output margin {margin}).",
            "The network answers every image with a digit, also images that are not digits: "
            "over {n} kinds of non-digit images {share} of the answers are confident (top "
            "probability ≥ {threshold}), against {real} for real test digits (mean top "
            "probability {top}, mean output margin {margin}).", len(kinds))
    else:
        first = ngettext(
            "The network answers every image with a digit, also images that are not digits: "
            "over {n} kind of non-digit images {share} of the answers are confident (top "
            "probability ≥ {threshold}), against {real} for real test digits (mean top "
            "probability {top}).",
            "The network answers every image with a digit, also images that are not digits: "
            "over {n} kinds of non-digit images {share} of the answers are confident (top "
            "probability ≥ {threshold}), against {real} for real test digits (mean top "
            "probability {top}).", len(kinds))
    lines = [first.format(**values)]
    if margin and real["share_confident"] < 0.5:
        lines.append(_("The normalised outputs of this network seldom reach that level even on "
                       "real digits, so the output margin (top − second output) is the clearer "
                       "measure of how sure it is."))
    for name, k in kinds.items():
        lines.append(_kind_sentence(kind_title(name), k, margin))
    by_auroc = sorted(kinds.items(), key=lambda item: item[1]["auroc"])
    (hard, hardest), (easy, easiest) = by_auroc[0], by_auroc[-1]
    lines.append(_("Hardest to tell from real digits by top probability: {hard} (AUROC "
                   "{hard_auroc}); easiest: {easy} (AUROC {easy_auroc}).").format(
        hard=kind_title(hard), hard_auroc=number(hardest["auroc"], 2), easy=kind_title(easy),
        easy_auroc=number(easiest["auroc"], 2)))
    better = sum(k["auroc_energy"] > k["auroc"] for k in kinds.values())
    lines.append(ngettext("The energy score separates better than the top probability for "
                          "{better} of {n} kind.",
                          "The energy score separates better than the top probability for "
                          "{better} of {n} kinds.", len(kinds)).format(better=better,
                                                                       n=len(kinds)))
    if a.get("nondigits_skipped"):
        lines.append(_("Left out: {items}.").format(items="; ".join(
            f"{kind_title(name)} ({why})" for name, why in a["nondigits_skipped"].items())))
    return lines


def _kind_sentence(title: str, k: dict[str, Any], margin: bool) -> str:
    """One kind of non-digit: the parts of its sentence, each a whole clause of the catalog."""
    parts = [_("{kind}: answered mostly as {digit} ({share}), mean top probability {top}, "
               "{confident} confident").format(
        kind=title[0].upper() + title[1:], digit=k["most_predicted_digit"],
        share=pct(k["most_predicted_share"]), top=number(k["mean_top_probability"], 2),
        confident=pct(k["share_confident"]))]
    if margin:
        parts.append(_(", mean output margin {margin}").format(margin=number(k["mean_margin"], 2)))
    if k["share_tied"] > 0.5:
        parts.append(_(" (all outputs equal for {share}: no real answer, the first digit wins "
                       "the tie)").format(share=pct(k["share_tied"])))
    if k.get("same_as_source") is not None:
        parts.append(_("; {share} still answered as the digit they were made from").format(
            share=pct(k["same_as_source"])))
    parts.append(_("; AUROC against real digits {auroc} by top probability, {energy} by "
                   "energy").format(auroc=number(k["auroc"], 2),
                                    energy=number(k["auroc_energy"], 2)))
    if min(k["auroc"], k["auroc_energy"]) < 0.5:
        parts.append(_(" (below 0.5: that score rates these as more digit-like than real "
                       "digits)"))
    return "".join(parts) + "."


def findings_sentences(analysis: dict[str, Any]) -> list[str]:
    """All findings, in the order of the assignment's questions, in the active language."""
    return (test_findings(analysis) + mistake_findings(analysis) + data_findings(analysis)
            + retraining_findings(analysis) + nondigit_findings(analysis))
