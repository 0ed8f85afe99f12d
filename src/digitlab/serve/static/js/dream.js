// The Dream panel: equation (3) run on the server, its image streamed step by step (NDJSON),
// from black or from the current drawing ("turn my drawing into a …").

import { streamNDJSON } from "./api.js";
import { chance, probabilityBars } from "./charts.js";
import { clearPicture, fingerprint, paintGray, pictureCanvas } from "./pictures.js";
import { $, lab, NO_NETWORK, showError } from "./state.js";

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
  const bars = probabilityBars($("dream-bars"), "The network's probabilities for the dream");
  let digit = 3;
  let controller = null;

  const radios = Array.from({ length: 10 }, (_, d) => {
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
    $("dream-start").textContent = fromDrawing() ? `Turn my drawing into a ${digit}` : `Dream a ${digit}`;
  }

  function options() {
    if (!lab.active) throw new Error(NO_NETWORK);
    const body = { digit, start: startFrom(), model: lab.active };
    for (const input of $("dream-form").querySelectorAll("details input")) {
      if (input.value === "") continue;
      const value = Number(input.value);
      if (!isFinite(value) || value < 0) throw new Error(`${input.name}: expected a number ≥ 0, got “${input.value}”`);
      body[input.name] = value;
    }
    if (body.start === "image") {
      if (!lab.drawing) throw new Error("draw a digit in the Draw tab first, then turn it into another");
      body.image = Array.from(lab.drawing.prepared);
    }
    return body;
  }

  /** The filmstrip: the start, the latest frame and evenly spaced ones between them. */
  function showFilm(frames) {
    const shown = frames.length <= FILM_FRAMES ? frames : Array.from({ length: FILM_FRAMES },
      (_, i) => frames[Math.round((i * (frames.length - 1)) / (FILM_FRAMES - 1))]);
    $("dream-film").replaceChildren(...shown.map(({ image, step }) => {
      const frame = document.createElement("figure");
      const picture = pictureCanvas(step === 0 ? "The start" : `The dream at step ${step}`, "picture");
      paintGray(picture, image);
      const caption = document.createElement("figcaption");
      caption.textContent = step === 0 ? "start" : `step ${step}`;
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
      showError("dream-error", error.message);
      return;
    }
    showError("dream-error", null);
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    $("dream-start").disabled = true;
    $("dream-stop").disabled = false;
    $("dream-film").replaceChildren();
    $("dream-contrast").textContent = "";
    $("dream-title").textContent = body.start === "image" ? `Your drawing, turning into a ${digit}` : `Dreaming a ${digit}`;
    if (body.start === "image") paintGray($("dream-image"), body.image);
    else clearPicture($("dream-image"));
    const dreamImage = $("dream-image");
    dreamImage.dataset.frames = "0";
    dreamImage.dataset.distinct = "0";
    delete dreamImage.dataset.done;
    dreamImage.dataset.start = body.start;
    const seen = new Set();
    const frames = body.start === "noise" ? [] : [{ image: body.image || new Array(784).fill(0), step: 0 }];
    const finished = body.start === "image"
      ? `Your ${lab.drawing.digit}, turned into a ${digit}` : `The network's ${digit}, dreamed from ${body.start}`;
    try {
      await streamNDJSON("/api/dream", body, (line) => {
        if (mine !== controller) return;
        if (line.error) {
          showError("dream-error", line.error);
          $("dream-title").textContent = `The dream of a ${digit} failed`;
          return;
        }
        const gain = paintVisible(dreamImage, line.image);
        $("dream-contrast").textContent = gain > 1
          ? `Shown ${gain.toFixed(1)}× brighter than it is: the dream itself is faint (its brightest pixel ${(1 / gain).toFixed(2)}).`
          : "";
        dreamImage.dataset.gain = gain.toFixed(3);
        seen.add(fingerprint(dreamImage)); // what is shown, not merely what arrived
        dreamImage.dataset.frames = String(Number(dreamImage.dataset.frames) + 1);
        dreamImage.dataset.distinct = String(seen.size);
        $("dream-probability").textContent = chance(line.probability);
        if (line.done) {
          $("dream-step").textContent = `${line.steps} (done)`;
          $("dream-title").textContent = `${finished}: ${chance(line.probability)} sure after ${line.steps} steps`;
          dreamImage.dataset.done = "1";
          if (line.probabilities) bars(line.probabilities, digit);
          if (frames.at(-1)?.step !== line.steps) frames.push({ image: line.image, step: line.steps });
          showFilm(frames);
          return;
        }
        $("dream-step").textContent = String(line.step);
        if (line.probabilities) bars(line.probabilities, line.probabilities.indexOf(Math.max(...line.probabilities)));
        frames.push({ image: line.image, step: line.step });
        showFilm(frames);
      }, controller.signal);
    } catch (error) {
      if (error.name !== "AbortError") {
        showError("dream-error", error.message);
        if (!dreamImage.dataset.done) $("dream-title").textContent = "The dream";
      } else if (mine === controller) $("dream-title").textContent += " (stopped)";
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
}
