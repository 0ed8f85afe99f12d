// The "Not a digit" panel: the network answers noise, letters, shapes and the drawing; its top
// probability (the out-of-distribution score) is shown against that of real test digits.

import { getJSON, postJSON, query } from "./api.js";
import { chance, histogram } from "./charts.js";
import { _, currentLanguage, ngettext, number, onLanguage, percent, say } from "./i18n.js";
import { paintGray, pictureCanvas } from "./pictures.js";
import { $, lab, NO_NETWORK, panelNetwork, showError } from "./state.js";

const PROBE_COLORS = ["#d9730d", "#c2185b", "#6a1b9a", "#00897b", "#5d4037", "#1565c0", "#ef6c00", "#2e7d32"];

export function setupNonDigits() {
  let kinds = [];
  let loaded = false;
  let lastProbe = null; // re-run on a model change
  let lastShown = null; // the arguments of the last show(): shown again in a new language
  let lastPercentile = null; // where the probed drawing lies among the real digits (%)
  let pressed = null; // the kind whose button is pressed
  let lastNote = null; // what the line above the probes says

  // `kind`: the kind probed ({name, description}), or null for the person's drawing (a person's
  // digit: "passes", never "fooled"); `own`: the model's own "not a digit" threshold (a
  // calibrated honest network), or null; with one, each probe is flagged by the network's own
  // answer (`is_digit`).
  function show(reference, probes, kind, own = null) {
    lastShown = [reference, probes, kind, own];
    const drawing = kind === null;
    const title = drawing ? _("your drawing") : kind.description || kind.name;
    const isFlagged = (probe) => (own !== null && probe.is_digit !== undefined
      ? probe.is_digit === false
      : reference.threshold !== undefined && probe.score < reference.threshold);
    const cards = probes.map((probe, i) => {
      const card = document.createElement("figure");
      card.className = "probe";
      const color = PROBE_COLORS[i % PROBE_COLORS.length];
      card.style.setProperty("--probe", color);
      const picture = pictureCanvas(_("{kind} {i}: the network says {answer}", { kind: title, i: i + 1, answer: probe.digit }),
        "picture");
      paintGray(picture, probe.image);
      const caption = document.createElement("figcaption");
      const flagged = isFlagged(probe);
      const flag = flagged ? (drawing ? _("flagged: not a digit") : _("not a digit ✓"))
        : drawing ? _("passes as a digit") : _("fooled");
      const style = flagged ? "flag-odd" : drawing ? "flag-passes" : "flag-fooled";
      const says = document.createElement("span");
      says.className = "probe-answer";
      says.innerHTML = _("says <b>{answer}</b>", { answer: probe.digit });
      const score = document.createElement("span");
      score.className = "probe-score";
      score.textContent = _("{sure} sure", { sure: chance(probe.score) });
      const mark = document.createElement("span");
      mark.className = `probe-flag ${style}`;
      mark.dataset.testid = "probe-flag";
      mark.textContent = flag;
      caption.append(says, score, mark);
      card.append(picture, caption);
      return card;
    });
    $("nondigit-probes").replaceChildren(...cards);
    $("nondigit-probes").dataset.kind = drawing ? "drawing" : kind.name;
    const real = reference.real_digit_scores || [];
    histogram($("nondigit-histogram"), real, {
      threshold: reference.threshold ?? null,
      markers: probes.map((p, i) => ({ value: p.score, color: PROBE_COLORS[i % PROBE_COLORS.length] })),
      xLabel: _("{score}: real test digits (grey) and {kind} (marks)",
        { score: _("top probability"), kind: title }),
    });
    const threshold = reference.threshold;
    const fooled = probes.filter((p) => !isFlagged(p)).length;
    const below = real.length && threshold !== undefined
      ? real.filter((v) => v < threshold).length / real.length : null;
    const realShare = below === null ? "" : _(" ({share} of real digits fall below it)", { share: percent(below, 1) });
    const cut = threshold === undefined ? "" : number(threshold, 2);
    const shown = probes[0];
    const facts = { sure: shown ? chance(shown.score) : "", digit: shown?.digit, threshold: cut, realShare };
    let summary;
    if (drawing && own !== null) {
      facts.threshold = percent(own, 1);
      summary = isFlagged(shown)
        ? _("The network is {sure} sure your drawing is a {digit}: by its own tests (at least {threshold} sure, and a first hidden layer that sees a digit in it) it is flagged as not a digit.", facts)
        : _("The network is {sure} sure your drawing is a {digit}: by its own tests (at least {threshold} sure, and a first hidden layer that sees a digit in it) it passes as a digit.", facts);
    } else if (own !== null) {
      summary = ngettext("{n} of {total} fools the network: its own tests (how sure it is, and what its first hidden layer sees) take it for a digit.",
        "{n} of {total} fool the network: its own tests (how sure it is, and what its first hidden layer sees) take them for digits.",
        fooled, { total: probes.length });
    } else if (drawing) {
      summary = isFlagged(shown)
        ? _("The network is {sure} sure your drawing is a {digit}: below the threshold {threshold}{realShare}, so it is flagged as not a digit.", facts)
        : _("The network is {sure} sure your drawing is a {digit}: above the threshold {threshold}{realShare}, so it passes as a digit.", facts);
    } else {
      summary = ngettext("{n} of {total} fools the network: it is as sure of it as of a real digit, above the threshold {threshold}{realShare}.",
        "{n} of {total} fool the network: it is as sure of them as of a real digit, above the threshold {threshold}{realShare}.",
        fooled, { total: probes.length, threshold: cut, realShare });
    }
    $("nondigit-summary").textContent = summary + (drawing && lastPercentile !== null
      ? " " + _("Your drawing is surer than {share} of the real digits.", { share: percent(lastPercentile / 100) }) : "");
  }

  async function probeKind(kind) {
    if (!network.id) {
      showError("nondigit-error", NO_NETWORK);
      return;
    }
    lastProbe = () => probeKind(kind);
    markKind(kind.name);
    const name = () => described(kind).description || kind.name;
    note(() => _("Asking the network: {kind} …", { kind: name() }));
    try {
      const answer = await getJSON(`/api/nondigits/${encodeURIComponent(kind.name)}` + query({ model: network.id, n: 8, seed: 0 }));
      const probes = answer.images.map((image, i) => ({ image, ...answer.answers[i] }));
      lastPercentile = null;
      show(answer.reference, probes, kind, answer.threshold ?? null);
      note(() => ngettext("{kind}: {n} image as the network reads it{note}:",
        "{kind}: {n} images as the network reads them{note}:", probes.length,
        { kind: name(), note: calibrationNote(answer) }));
      showError("nondigit-error", null);
    } catch (error) {
      showError("nondigit-error", error.message);
    }
  }

  async function probeDrawing() {
    if (!network.id) {
      showError("nondigit-error", NO_NETWORK);
      return;
    }
    if (!lab.drawing) {
      showError("nondigit-error", () => _("draw something in the Draw tab first — a digit, or anything else"));
      return;
    }
    lastProbe = probeDrawing;
    markKind(null);
    try {
      const image = Array.from(lab.drawing.prepared);
      const answer = await postJSON("/api/ood" + query({ model: network.id }), { image });
      lastPercentile = answer.percentile;
      show(answer.reference, [{ image, digit: answer.digit, score: answer.score, is_digit: answer.is_digit }],
        null, answer.threshold ?? null);
      note(() => _("Your drawing, as the network reads it{note}:", { note: calibrationNote(answer) }));
      showError("nondigit-error", null);
    } catch (error) {
      showError("nondigit-error", error.message);
    }
  }

  function calibrationNote(answer) {
    if (!answer.calibrated) return _(" (probabilities not calibrated)");
    return answer.threshold != null
      ? _(" (calibrated probabilities; the network's own “not a digit” threshold is {threshold})",
        { threshold: percent(answer.threshold, 1) })
      : _(" (calibrated probabilities)");
  }

  // the kind as the server names it in the page's language now (its list is asked again)
  function described(kind) {
    return kinds.find((k) => k.name === kind.name) || kind;
  }

  function markKind(name) {
    pressed = name;
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
    showKinds();
    if (kinds.length) probeKind(kinds[0]);
  }

  // the line above the probes (made again with the kinds' names of a new language)
  function note(make) {
    lastNote = make;
    say($("nondigit-note"), make);
  }

  function showKinds() {
    $("nondigit-kinds").dataset.language = currentLanguage(); // the language of their names
    $("nondigit-kinds").replaceChildren(...kinds.map((kind) => {
      const button = document.createElement("button");
      button.textContent = kind.description || kind.name.replaceAll("_", " ");
      button.dataset.kind = kind.name;
      button.dataset.testid = `nondigit-${kind.name}`;
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => probeKind(kind));
      return button;
    }));
    markKind(pressed);
  }

  $("nondigit-drawing").addEventListener("click", probeDrawing);
  const network = panelNetwork($("nondigit-model"), () => { // the honest network, by default
    if (!$("panel-nondigit").hidden && lastProbe) lastProbe();
  });
  // a new language: the kinds' names from the server in it, the probes and the chart again
  onLanguage(async () => {
    if (!loaded || !kinds.length) return;
    try {
      kinds = (await getJSON("/api/nondigits")).kinds || kinds;
    } catch {
      return; // the names stay as they were
    }
    showKinds();
    if (lastNote) note(lastNote);
    if (lastShown) {
      const [reference, probes, kind, own] = lastShown;
      show(reference, probes, kind && described(kind), own);
    }
  });
  return {
    shown() {
      if (!loaded) load();
    },
  };
}
