// The Dream panel: equation (3) run on the server, its image streamed step by step (NDJSON),
// from black or from the current drawing ("turn my drawing into a …").

import { streamNDJSON } from "./api.js";
import { chance, probabilityBars } from "./charts.js";
import { _, ngettext, number, say } from "./i18n.js";
import { clearPicture, fingerprint, paintGray, pictureCanvas } from "./pictures.js";
import { $, lab, NO_NETWORK, pageError, showError } from "./state.js";

const FILM_FRAMES = 8; // snapshots kept along the way
const FAINT = 0.5; // a dream whose brightest pixel is below this is shown brightened (and said so)

/** Paint a dream so that it can be seen: a faint one scaled up to full white. The factor used. */
function paintVisible(canvas, image) {
  const brightest = Math.max(...image);
  const gain = brightest > 0 && brightest < FAINT ? 1 / brightest : 1;
  paintGray(canvas, gain === 1 ? image : image.map((v) => v * gain));
  return gain;
}

export function setupDream() {
  const bars = probabilityBars($("dream-bars"), () => _("The network's probabilities for the dream"));
  let digit = 3;
  let controller = null;

  const radios = Array.from({ length: 10 }, (unused, d) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "digit";
    button.textContent = String(d);
    button.setAttribute("role", "radio");
    button.dataset.testid = `dream-digit-${d}`;
    button.addEventListener("click", () => pick(d));
    button.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (step) {
        event.preventDefault();
        pick((d + step + 10) % 10);
        radios[digit].focus();
      }
    });
    return button;
  });
  $("dream-digits").append(...radios);

  function pick(d) {
    digit = d;
    radios.forEach((r, i) => {
      r.setAttribute("aria-checked", String(i === d));
      r.tabIndex = i === d ? 0 : -1;
      r.classList.toggle("is-picked", i === d);
    });
    updateTitle();
  }

  function startFrom() {
    return document.querySelector('#dream-form input[name="start"]:checked').value;
  }

  function fromDrawing() {
    return startFrom() === "image";
  }

  function updateTitle() {
    const shown = digit;
    say($("dream-start"), fromDrawing()
      ? () => _("Turn my drawing into a {digit}", { digit: shown }) : () => _("Dream a {digit}", { digit: shown }));
  }

  function options() {
    if (!lab.active) throw pageError(NO_NETWORK);
    const body = { digit, start: startFrom(), model: lab.active };
    for (const input of $("dream-form").querySelectorAll("details input")) {
      if (input.value === "") continue;
      const value = Number(input.value);
      if (!isFinite(value) || value < 0) {
        const [name, typed] = [input.name, input.value];
        throw pageError(() => _("{name}: expected a number ≥ 0, got “{typed}”", { name, typed }));
      }
      body[input.name] = value;
    }
    if (body.start === "image") {
      if (!lab.drawing) throw pageError(() => _("draw a digit in the Draw tab first, then turn it into another"));
      body.image = Array.from(lab.drawing.prepared);
    }
    return body;
  }

  /** The filmstrip: the start, the latest frame and evenly spaced ones between them. */
  function showFilm(frames) {
    const shown = frames.length <= FILM_FRAMES ? frames : Array.from({ length: FILM_FRAMES },
      (unused, i) => frames[Math.round((i * (frames.length - 1)) / (FILM_FRAMES - 1))]);
    $("dream-film").replaceChildren(...shown.map(({ image, step }) => {
      const frame = document.createElement("figure");
      const picture = pictureCanvas(() => (step === 0 ? _("The start") : _("The dream at step {step}", { step })), "picture");
      paintGray(picture, image);
      const caption = document.createElement("figcaption");
      say(caption, () => (step === 0 ? _("start") : _("step {step}", { step })));
      frame.append(picture, caption);
      return frame;
    }));
  }

  async function run(event) {
    event.preventDefault();
    let body;
    try {
      body = options();
    } catch (error) {
      showError("dream-error", error.say || error.message);
      return;
    }
    showError("dream-error", null);
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    $("dream-start").disabled = true;
    $("dream-stop").disabled = false;
    $("dream-film").replaceChildren();
    say($("dream-contrast"), "");
    const wanted = digit;
    let stopped = false;
    const title = (make) => say($("dream-title"), () => make() + (stopped ? _(" (stopped)") : ""));
    let titled = () => (body.start === "image"
      ? _("Your drawing, turning into a {digit}", { digit: wanted }) : _("Dreaming a {digit}", { digit: wanted }));
    title(titled);
    if (body.start === "image") paintGray($("dream-image"), body.image);
    else clearPicture($("dream-image"));
    const dreamImage = $("dream-image");
    dreamImage.dataset.frames = "0";
    dreamImage.dataset.distinct = "0";
    delete dreamImage.dataset.done;
    dreamImage.dataset.start = body.start;
    const seen = new Set();
    const frames = body.start === "noise" ? [] : [{ image: body.image || new Array(784).fill(0), step: 0 }];
    const drawn = body.start === "image" ? lab.drawing.digit : null;
    const finished = () => (drawn !== null
      ? _("Your {drawn}, turned into a {digit}", { drawn, digit: wanted })
      : body.start === "noise"
        ? _("The network's {digit}, dreamed from noise", { digit: wanted })
        : _("The network's {digit}, dreamed from black", { digit: wanted }));
    try {
      await streamNDJSON("/api/dream", body, (line) => {
        if (mine !== controller) return;
        if (line.error) {
          showError("dream-error", line.error);
          titled = () => _("The dream of a {digit} failed", { digit: wanted });
          title(titled);
          return;
        }
        const gain = paintVisible(dreamImage, line.image);
        say($("dream-contrast"), () => (gain > 1
          ? _("Shown {gain}× brighter than it is: the dream itself is faint (its brightest pixel {brightest}).",
            { gain: number(gain, 1), brightest: number(1 / gain, 2) })
          : ""));
        dreamImage.dataset.gain = gain.toFixed(3);
        seen.add(fingerprint(dreamImage)); // what is shown, not merely what arrived
        dreamImage.dataset.frames = String(Number(dreamImage.dataset.frames) + 1);
        dreamImage.dataset.distinct = String(seen.size);
        say($("dream-probability"), () => chance(line.probability));
        if (line.done) {
          if (line.contrast_gain > 1) {
            say($("dream-contrast"), () => _("Brought to full contrast at the end: {gain}× brighter, and the network is at least as sure of it.",
              { gain: number(line.contrast_gain, 1) }));
          }
          dreamImage.dataset.contrastGain = String(line.contrast_gain ?? 1);
          say($("dream-step"), () => _("{steps} (done)", { steps: line.steps }));
          titled = () => ngettext("{what}: {sure} sure after {n} step", "{what}: {sure} sure after {n} steps",
            line.steps, { what: finished(), sure: chance(line.probability) });
          title(titled);
          dreamImage.dataset.done = "1";
          if (line.probabilities) bars(line.probabilities, digit);
          if (frames.at(-1)?.step !== line.steps) frames.push({ image: line.image, step: line.steps });
          showFilm(frames);
          return;
        }
        say($("dream-step"), String(line.step));
        if (line.probabilities) bars(line.probabilities, line.probabilities.indexOf(Math.max(...line.probabilities)));
        frames.push({ image: line.image, step: line.step });
        showFilm(frames);
      }, controller.signal);
    } catch (error) {
      if (error.name !== "AbortError") {
        showError("dream-error", error.message);
        if (!dreamImage.dataset.done) say($("dream-title"), () => _("The dream"));
      } else if (mine === controller) {
        stopped = true;
        title(titled);
      }
    } finally {
      if (mine === controller) {
        $("dream-start").disabled = false;
        $("dream-stop").disabled = true;
        controller = null;
      }
    }
  }

  $("dream-form").addEventListener("submit", run);
  $("dream-form").addEventListener("change", updateTitle);
  $("dream-stop").addEventListener("click", () => controller?.abort());
  clearPicture($("dream-image"));
  bars(null);
  pick(digit);
  say($("dream-title"), () => _("The dream"));
}
