// "Your own digits": label what was drawn and keep it (an IDX dataset in the runs folder), then
// see how well the network reads your handwriting next to the MNIST test digits.

import { getJSON, postJSON, query } from "./api.js";
import { _, ngettext, number, percent, say } from "./i18n.js";
import { $, lab, NO_NETWORK, showError } from "./state.js";

export function setupMine() {
  const buttons = Array.from({ length: 10 }, (unused, d) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "digit";
    button.textContent = String(d);
    button.dataset.testid = `mine-label-${d}`;
    say(button, () => _("Keep this drawing as a {digit}", { digit: d }), { attribute: "aria-label" });
    button.addEventListener("click", () => keep(d));
    return button;
  });
  $("mine-digits").append(...buttons);
  let changes = 0; // digits kept on this page: a summary asked for before one is stale

  function showCounts(summary) {
    say($("mine-count"), () => {
      const counts = summary.per_digit.map((n, d) => [d, n]).filter(([, n]) => n > 0)
        .map(([d, n]) => `${number(n)} × ${d}`).join(", ");
      return summary.count
        ? ngettext("{n} of your digits kept ({counts}).", "{n} of your digits kept ({counts}).", summary.count, { counts })
        : _("None of your digits kept yet.");
    });
    $("mine-count").dataset.count = String(summary.count);
  }

  async function keep(label) {
    if (!lab.drawing) {
      showError("mine-error", () => _("draw a digit first, then say which digit it is"));
      return;
    }
    try {
      changes += 1;
      const summary = await postJSON("/api/my-digits", { image: Array.from(lab.drawing.prepared), label });
      showError("mine-error", null);
      showCounts(summary);
      const read = lab.drawing.digit;
      say($("mine-status"), () => (label === read
        ? _("Kept as a {label} — the network read it right.", { label })
        : _("Kept as a {label} — the network read {read}.", { label, read })));
    } catch (error) {
      showError("mine-error", error.message);
    }
  }

  $("mine-accuracy").addEventListener("click", async () => {
    if (!lab.active) {
      showError("mine-error", NO_NETWORK);
      return;
    }
    try {
      const result = await getJSON("/api/my-digits/accuracy" + query({ model: lab.active }));
      showError("mine-error", null);
      const name = lab.model(result.model)?.name || result.model;
      say($("mine-result"), () => {
        if (!result.count) return _("Keep a few of your digits first: draw one, then press the digit it is.");
        const facts = { name, right: number(result.right), share: percent(result.accuracy, 1) };
        return result.test_accuracy != null
          ? ngettext("{name} reads {right} of your {n} digit right ({share}); {test} of the MNIST test digits.",
            "{name} reads {right} of your {n} digits right ({share}); {test} of the MNIST test digits.",
            result.count, { ...facts, test: percent(result.test_accuracy, 1) })
          : ngettext("{name} reads {right} of your {n} digit right ({share}).",
            "{name} reads {right} of your {n} digits right ({share}).", result.count, facts);
      });
      $("mine-result").dataset.accuracy = result.accuracy === null ? "" : String(result.accuracy);
    } catch (error) {
      showError("mine-error", error.message);
    }
  });

  // a copy of the network taught on these digits: the Train tab follows it
  $("mine-finetune").addEventListener("click", () => {
    if (!lab.active) {
      showError("mine-error", NO_NETWORK);
      return;
    }
    showError("mine-error", null);
    lab.emit("start-job", { url: "/api/finetune", body: { model: lab.active }, errorId: "mine-error",
      then: () => document.getElementById("tab-train").click() });
  });

  $("mine").addEventListener("toggle", () => {
    if (!$("mine").open) return;
    const asked = changes;
    getJSON("/api/my-digits").then((summary) => {
      if (asked === changes) showCounts(summary);
    }).catch(() => {});
  });
}
