// "Your own digits": label what was drawn and keep it (an IDX dataset in the runs folder), then
// see how well the network reads your handwriting next to the MNIST test digits.

import { getJSON, postJSON, query } from "./api.js";
import { percent } from "./charts.js";
import { $, lab, NO_NETWORK, showError } from "./state.js";

export function setupMine() {
  const buttons = Array.from({ length: 10 }, (_, d) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "digit";
    button.textContent = String(d);
    button.dataset.testid = `mine-label-${d}`;
    button.setAttribute("aria-label", `Keep this drawing as a ${d}`);
    button.addEventListener("click", () => keep(d));
    return button;
  });
  $("mine-digits").append(...buttons);
  let changes = 0; // digits kept on this page: a summary asked for before one is stale

  function showCounts(summary) {
    const counts = summary.per_digit.map((n, d) => [d, n]).filter(([, n]) => n > 0)
      .map(([d, n]) => `${n} × ${d}`).join(", ");
    $("mine-count").textContent = summary.count
      ? `${summary.count} of your digits kept (${counts}).`
      : "None of your digits kept yet.";
    $("mine-count").dataset.count = String(summary.count);
  }

  async function keep(label) {
    if (!lab.drawing) {
      showError("mine-error", "draw a digit first, then say which digit it is");
      return;
    }
    try {
      changes += 1;
      const summary = await postJSON("/api/my-digits", { image: Array.from(lab.drawing.prepared), label });
      showError("mine-error", null);
      showCounts(summary);
      $("mine-status").textContent = `Kept as a ${label}` +
        (label === lab.drawing.digit ? " — the network read it right." : ` — the network read ${lab.drawing.digit}.`);
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
      $("mine-result").textContent = result.count
        ? `${name} reads ${result.right} of your ${result.count} digit${result.count === 1 ? "" : "s"} right ` +
          `(${percent(result.accuracy, 1)})` +
          (result.test_accuracy != null ? `; ${percent(result.test_accuracy, 1)} of the MNIST test digits.` : ".")
        : "Keep a few of your digits first: draw one, then press the digit it is.";
      $("mine-result").dataset.accuracy = result.accuracy === null ? "" : String(result.accuracy);
    } catch (error) {
      showError("mine-error", error.message);
    }
  });

  $("mine").addEventListener("toggle", () => {
    if (!$("mine").open) return;
    const asked = changes;
    getJSON("/api/my-digits").then((summary) => {
      if (asked === changes) showCounts(summary);
    }).catch(() => {});
  });
}
