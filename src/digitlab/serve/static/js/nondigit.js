// The "Not a digit" panel: the network answers noise, letters, shapes and the drawing; its top
// probability (the out-of-distribution score) is shown against that of real test digits.

import { getJSON, postJSON, query } from "./api.js";
import { chance, histogram, percent } from "./charts.js";
import { paintGray, pictureCanvas } from "./pictures.js";
import { $, lab, NO_NETWORK, showError } from "./state.js";

const PROBE_COLORS = ["#d9730d", "#c2185b", "#6a1b9a", "#00897b", "#5d4037", "#1565c0", "#ef6c00", "#2e7d32"];

export function setupNonDigits() {
  let kinds = [];
  let loaded = false;
  let lastProbe = null; // re-run on a model change

  // `own`: the model's own "not a digit" threshold (a calibrated honest network), or null; with
  // one, each probe is flagged by the network's own answer (`is_digit`).
  function show(reference, probes, title, own = null) {
    const drawing = title === "your drawing"; // a person's digit: "passes", never "fooled"
    const isFlagged = (probe) => (own !== null && probe.is_digit !== undefined
      ? probe.is_digit === false
      : reference.threshold !== undefined && probe.score < reference.threshold);
    const cards = probes.map((probe, i) => {
      const card = document.createElement("figure");
      card.className = "probe";
      const color = PROBE_COLORS[i % PROBE_COLORS.length];
      card.style.setProperty("--probe", color);
      const picture = pictureCanvas(`${title} ${i + 1}: the network says ${probe.digit}`, "picture");
      paintGray(picture, probe.image);
      const caption = document.createElement("figcaption");
      const flagged = isFlagged(probe);
      const flag = flagged ? (drawing ? "flagged: not a digit" : "not a digit ✓")
        : drawing ? "passes as a digit" : "fooled";
      const style = flagged ? "flag-odd" : drawing ? "flag-passes" : "flag-fooled";
      caption.innerHTML = `<span class="probe-answer">says <b>${probe.digit}</b></span>
        <span class="probe-score">${chance(probe.score)} sure</span>
        <span class="probe-flag ${style}" data-testid="probe-flag">${flag}</span>`;
      card.append(picture, caption);
      return card;
    });
    $("nondigit-probes").replaceChildren(...cards);
    $("nondigit-probes").dataset.kind = title;
    const real = reference.real_digit_scores || [];
    histogram($("nondigit-histogram"), real, {
      threshold: reference.threshold ?? null,
      markers: probes.map((p, i) => ({ value: p.score, color: PROBE_COLORS[i % PROBE_COLORS.length] })),
      xLabel: `${reference.score_name || "top probability"}: real test digits (grey) and ${title} (marks)`,
    });
    const threshold = reference.threshold;
    const fooled = probes.filter((p) => threshold === undefined || p.score >= threshold).length;
    const below = real.length && threshold !== undefined
      ? real.filter((v) => v < threshold).length / real.length : null;
    const cut = threshold === undefined ? "" : `the threshold ${threshold.toFixed(2)}`;
    const realShare = below === null ? "" : ` (${percent(below, 1)} of real digits fall below it)`;
    const verdict = (probe) => (isFlagged(probe) ? "is flagged as not a digit" : "passes as a digit");
    $("nondigit-summary").textContent = probes.length === 1 && own !== null
      ? `The network is ${chance(probes[0].score)} sure your drawing is a ${probes[0].digit}: ` +
        `by its own threshold (${percent(own, 1)}) it ${verdict(probes[0])}.`
      : probes.length === 1
        ? `The network is ${chance(probes[0].score)} sure your drawing is a ${probes[0].digit}: ` +
          `${probes[0].score >= threshold ? "above" : "below"} ${cut}${realShare}, so it ${verdict(probes[0])}.`
      : `${fooled} of ${probes.length} fool the network: it is as sure of them as of a real digit, ` +
        `above ${cut}${realShare}.`;
  }

  async function probeKind(kind) {
    if (!lab.active) {
      showError("nondigit-error", NO_NETWORK);
      return;
    }
    lastProbe = () => probeKind(kind);
    markKind(kind.name);
    $("nondigit-note").textContent = `Asking the network about ${kind.description || kind.name} …`;
    try {
      const answer = await getJSON(`/api/nondigits/${encodeURIComponent(kind.name)}` + query({ model: lab.active, n: 8, seed: 0 }));
      const probes = answer.images.map((image, i) => ({ image, ...answer.answers[i] }));
      show(answer.reference, probes, kind.description || kind.name, answer.threshold ?? null);
      $("nondigit-note").textContent = `${probes.length} images of ${kind.description || kind.name}, as the network reads them` +
        `${calibrationNote(answer)}:`;
      showError("nondigit-error", null);
    } catch (error) {
      showError("nondigit-error", error.message);
    }
  }

  async function probeDrawing() {
    if (!lab.active) {
      showError("nondigit-error", NO_NETWORK);
      return;
    }
    if (!lab.drawing) {
      showError("nondigit-error", "draw something in the Draw tab first — a digit, or anything else");
      return;
    }
    lastProbe = probeDrawing;
    markKind(null);
    try {
      const image = Array.from(lab.drawing.prepared);
      const answer = await postJSON("/api/ood" + query({ model: lab.active }), { image });
      show(answer.reference, [{ image, digit: answer.digit, score: answer.score, is_digit: answer.is_digit }],
        "your drawing", answer.threshold ?? null);
      $("nondigit-note").textContent = `Your drawing, as the network reads it${calibrationNote(answer)}:`;
      $("nondigit-summary").textContent += ` Your drawing is surer than ${percent(answer.percentile / 100)} of the real digits.`;
      showError("nondigit-error", null);
    } catch (error) {
      showError("nondigit-error", error.message);
    }
  }

  function calibrationNote(answer) {
    if (!answer.calibrated) return " (probabilities not calibrated)";
    return answer.threshold != null
      ? ` (calibrated probabilities; the network's own “not a digit” threshold is ${percent(answer.threshold, 1)})`
      : " (calibrated probabilities)";
  }

  function markKind(name) {
    for (const button of $("nondigit-kinds").children) {
      button.setAttribute("aria-pressed", String(button.dataset.kind === name));
    }
  }

  async function load() {
    loaded = true;
    try {
      kinds = (await getJSON("/api/nondigits")).kinds || [];
    } catch (error) {
      loaded = false;
      showError("nondigit-error", error.message);
      return;
    }
    $("nondigit-kinds").replaceChildren(...kinds.map((kind) => {
      const button = document.createElement("button");
      button.textContent = kind.description || kind.name.replaceAll("_", " ");
      button.dataset.kind = kind.name;
      button.dataset.testid = `nondigit-${kind.name}`;
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => probeKind(kind));
      return button;
    }));
    if (kinds.length) probeKind(kinds[0]);
  }

  $("nondigit-drawing").addEventListener("click", probeDrawing);
  lab.addEventListener("active", () => {
    if (!$("panel-nondigit").hidden && lastProbe) lastProbe();
  });
  return {
    shown() {
      if (!loaded) load();
    },
  };
}
