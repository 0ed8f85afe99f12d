"""The findings as sentences, each written from the measured numbers in ``analysis.json``.

Nothing here is a fixed claim: every digit, count and share comes from the analysis dict, and a
sentence is left out when its numbers are missing (no mistakes, no retraining, a kind skipped).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlab.formatting import pct


def plural(count: int, noun: str) -> str:
    """'1 image', '12 images'."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def images(count: int) -> str:
    return plural(count, "image")


def pair_text(pair: dict[str, Any]) -> str:
    """'4 → 9 (12 images, 2.4 % of the 4s)'."""
    return (f"{pair['true']} → {pair['predicted']} ({images(pair['count'])}, "
            f"{pct(pair['share'])} of the {pair['true']}s)")


def probability_name(analysis: dict[str, Any]) -> str:
    """How to name the top probability: softmax outputs are probabilities; other outputs are
    normalised first, and the first sentence that uses the name says how."""
    if analysis["model"]["output_activation"] == "softmax":
        return "top probability"
    return "top probability (outputs normalised as p_k = (y_k + 1) / Σ_j (y_j + 1))"


def test_findings(a: dict[str, Any]) -> list[str]:
    """Accuracy, worst and best digit, the most frequent confusions, the least reliable answer."""
    lines = [f"The network answers {pct(a['accuracy'])} of the {a['n_test']} test images "
             f"correctly ({images(a['n_mistakes'])} wrong)."]
    worst, best, pairs = a["worst_digit"], a["best_digit"], a["confused_pairs"]
    if not pairs:
        lines.append("It makes no mistake on the test split.")
        return lines
    lines.append(f"The worst digit is {worst['digit']} ({pct(worst['accuracy'])} correct); the "
                 f"most frequent confusion is {pair_text(pairs[0])}.")
    if len(pairs) > 1:
        rest = [pair_text(p) for p in pairs[1:3]]
        lines.append("Next come " + " and ".join(rest) + ".")
    lines.append(f"The best digit is {best['digit']} ({pct(best['accuracy'])} correct).")
    both = a["confused_pairs_either_way"][0]
    first, second = both["digits"]
    lines.append(f"Counted in both directions, {first} and {second} are confused most "
                 f"({images(both['count'])}: {both['a_to_b']} × {first} → {second}, "
                 f"{both['b_to_a']} × {second} → {first}).")
    low = a["lowest_precision_digit"]
    lines.append(f"The least reliable answer is {low['digit']}: {pct(low['precision'])} of the "
                 f"{low['predicted_count']} answers {low['digit']} are right.")
    return lines


def mistake_findings(a: dict[str, Any]) -> list[str]:
    """How sure the network is when it is wrong; near misses; the most confident mistake."""
    m = a["mistakes"]
    if not m["count"]:
        return []
    top = m["most_confident"][0]
    return [
        f"When it is wrong the network is less sure: mean {probability_name(a)} "
        f"{m['mean_confidence_wrong']:.2f} on mistakes against {m['mean_confidence_right']:.2f} "
        f"on correct answers.",
        f"For {pct(m['second_choice_right'])} of the mistakes the true digit was the network's "
        f"second choice (a near miss).",
        f"The most confident mistake is a {top['true']} answered as {top['predicted']} "
        f"(top probability {top['confidence']:.2f}); the galleries of misclassified images show "
        f"whether a person would read them the same way.",
    ]


def data_findings(a: dict[str, Any]) -> list[str]:
    """The largest class imbalance, and how closely the test split follows the training one."""
    d = a["data"]
    imb = d["largest_imbalance"]
    gap = float(np.max(np.abs(np.subtract(d["train_shares"], d["test_shares"]))))
    ratio = f", a ratio of {imb['ratio']:.2f}" if imb["ratio"] is not None else ""
    return [
        f"In the training split the most frequent digit is {imb['most']} "
        f"({images(imb['most_count'])}) and the least frequent is {imb['least']} "
        f"({images(imb['least_count'])}){ratio}; the class shares of the test split differ "
        f"from the training split's by at most {100 * gap:.2f} percentage points."
    ]


def retraining_findings(a: dict[str, Any]) -> list[str]:
    """Accuracy mean ± std over the retrainings, the recurring worst digit and confusions."""
    r = a.get("retraining")
    if not r:
        reason = a.get("retraining_skipped")
        return [f"Retraining was skipped: {reason}."] if reason else []
    if not r["seeds"]:
        return [f"Every retraining diverged (seeds {', '.join(map(str, r['diverged']))})."]
    k = len(r["seeds"])
    config = a["model"].get("config") or {}
    own = config.get("epochs")
    epochs = plural(r["epochs"], "epoch") + " each"
    if own is not None and own != r["epochs"]:
        epochs += f", the analysed network had {own}"
    lines = [
        f"Over {plural(k, 'retraining')} with other seeds ({epochs}) the test accuracy is "
        f"{pct(r['accuracy_mean'])} ± {pct(r['accuracy_std'], 2)} (min {pct(r['accuracy_min'])},"
        f" max {pct(r['accuracy_max'])}); the analysed network has {pct(a['accuracy'])}."
    ]
    counts = r["worst_digit_counts"]
    mode = int(np.argmax(counts))
    same = a["worst_digit"]["digit"] == mode
    lines.append(f"Digit {mode} is the worst digit in {counts[mode]} of {k} retrainings"
                 + (" and in the analysed network." if same else
                    f"; in the analysed network it is {a['worst_digit']['digit']}."))
    if r["recurring_confusions"]:
        c = r["recurring_confusions"][0]
        lines.append(f"The confusion {c['true']} → {c['predicted']} is among the top "
                     f"{r['top']} confusions in {c['runs']} of {k} retrainings "
                     f"({c['mean_count']:.1f} images on average).")
    if k > 1:
        spread = np.std(np.asarray(r["mistakes_by_digit"], dtype=float), axis=0, ddof=1)  # (10,)
        d = int(np.argmax(spread))
        mean = float(np.mean(np.asarray(r["mistakes_by_digit"])[:, d]))
        lines.append(f"The number of mistakes varies most for digit {d} ({mean:.1f} ± "
                     f"{spread[d]:.1f} images across the retrainings).")
    if r["diverged"]:
        lines.append(f"Training diverged for seed(s) {', '.join(map(str, r['diverged']))}.")
    return lines


def nondigit_findings(a: dict[str, Any]) -> list[str]:
    """What the network answers to non-digits, how sure it is, and how well scores tell them
    apart from real digits."""
    kinds, real = a["nondigits"], a["real_digits"]
    if not kinds:
        return []
    margin = a["model"]["output_activation"] != "softmax"
    confident = np.mean([k["share_confident"] for k in kinds.values()])
    lines = [
        f"The network answers every image with a digit, also images that are not digits: over "
        f"{len(kinds)} kinds of non-digit images {pct(confident)} of the answers are confident "
        f"(top probability ≥ {a['confident_threshold']}), against {pct(real['share_confident'])} "
        f"for real test digits (mean top probability {real['mean_top_probability']:.2f}"
        + (f", mean output margin {real['mean_margin']:.2f}" if margin else "") + ")."
    ]
    if margin and real["share_confident"] < 0.5:
        lines.append("The normalised outputs of this network seldom reach that level even on "
                     "real digits, so the output margin (top − second output) is the clearer "
                     "measure of how sure it is.")
    for k in kinds.values():
        line = (f"{k['title'][0].upper() + k['title'][1:]}: answered mostly as "
                f"{k['most_predicted_digit']} ({pct(k['most_predicted_share'])}), mean top "
                f"probability {k['mean_top_probability']:.2f}, {pct(k['share_confident'])} "
                f"confident")
        if margin:
            line += f", mean output margin {k['mean_margin']:.2f}"
        if k["share_tied"] > 0.5:
            line += (f" (all outputs equal for {pct(k['share_tied'])}: no real answer, the "
                     f"first digit wins the tie)")
        if k.get("same_as_source") is not None:
            line += f"; {pct(k['same_as_source'])} still answered as the digit they were made from"
        line += (f"; AUROC against real digits {k['auroc']:.2f} by top probability, "
                 f"{k['auroc_energy']:.2f} by energy")
        if min(k["auroc"], k["auroc_energy"]) < 0.5:
            line += " (below 0.5: that score rates these as more digit-like than real digits)"
        lines.append(line + ".")
    by_auroc = sorted(kinds.values(), key=lambda k: k["auroc"])
    lines.append(f"Hardest to tell from real digits by top probability: {by_auroc[0]['title']} "
                 f"(AUROC {by_auroc[0]['auroc']:.2f}); easiest: {by_auroc[-1]['title']} "
                 f"(AUROC {by_auroc[-1]['auroc']:.2f}).")
    better = sum(k["auroc_energy"] > k["auroc"] for k in kinds.values())
    lines.append(f"The energy score separates better than the top probability for {better} of "
                 f"{len(kinds)} kinds.")
    if a.get("nondigits_skipped"):
        lines.append("Left out: " + "; ".join(f"{name} ({why})" for name, why
                                               in a["nondigits_skipped"].items()) + ".")
    return lines


def findings_sentences(analysis: dict[str, Any]) -> list[str]:
    """All findings, in the order of the assignment's questions."""
    return (test_findings(analysis) + mistake_findings(analysis) + data_findings(analysis)
            + retraining_findings(analysis) + nondigit_findings(analysis))
