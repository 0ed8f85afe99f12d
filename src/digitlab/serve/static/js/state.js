// What the panels share: the list of networks, the active one, the latest drawing as the
// network read it, and the training job. Panels listen for "models", "active", "drawing" and
// "training" events instead of calling each other.

import { getJSON, postJSON } from "./api.js";

export const $ = (id) => document.getElementById(id);

/** What every panel says while the runs folder holds no network yet. */
export const NO_NETWORK = "There is no trained network yet: train one first " +
  "(the Train tab, or “Train the assignment network” at the top).";

/** Show `message` as the one-line error of an element (hide it with null). */
export function showError(element, message) {
  if (typeof element === "string") element = $(element);
  if (!element) return;
  element.textContent = message ? String(message).split("\n")[0] : "";
  element.hidden = !message;
}

/** A network as a chooser names it; `short`: its name and test accuracy alone. */
export function modelLabel(model, short = false) {
  const accuracy = model.test_accuracy === null || model.test_accuracy === undefined
    ? "" : ` · ${(100 * model.test_accuracy).toFixed(1)} %`;
  const training = model.training ? " · training" : "";
  if (short) return `${model.name || model.id}${accuracy}${training}`;
  return `${model.name || model.id} · ${model.sizes.join("-")}${accuracy}${training}`;
}

/** Name the loss in `scope`'s `.loss-name` spans: the assignment's error E for a squared-error
 * network, "loss" (cross-entropy) for a softmax one; a span marked `data-long` says "error E"
 * or "cross-entropy loss". */
export function nameLoss(scope, loss) {
  for (const span of scope.querySelectorAll(".loss-name")) {
    const long = Boolean(span.dataset.long);
    span.textContent = loss === "ce" ? (long ? "cross-entropy loss" : "loss") : long ? "error E" : "E";
  }
  scope.dataset.loss = loss || "";
}

class Lab extends EventTarget {
  constructor() {
    super();
    this.models = [];
    this.active = null;
    this.drawing = null; // {prepared: [784], digit, probabilities} of the latest drawing
    this.training = null; // the latest GET /api/train answer
  }

  emit(name, detail = null) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  model(id) {
    return this.models.find((m) => m.id === id) || null;
  }

  async refreshModels() {
    const answer = await getJSON("/api/models");
    const models = (answer.models || []).slice();
    models.sort((a, b) => String(b.modified || "").localeCompare(String(a.modified || "")));
    const before = JSON.stringify([this.models, this.active]);
    this.models = models;
    // the network chosen in this tab stays chosen, whatever another tab picks; the server's
    // choice (the last one made anywhere) is where a new tab starts
    let active = this.model(this.active) ? this.active : answer.active ?? null;
    if (!this.model(active)) active = models.length ? models[0].id : null;
    const activeChanged = active !== this.active;
    this.active = active;
    if (before !== JSON.stringify([this.models, this.active])) this.emit("models");
    if (activeChanged) this.emit("active");
  }

  /** Question `id` in this tab from now on (every request names it); it also becomes the
   * server's default, where the next tab opened starts. */
  async choose(id) {
    if (id === this.active) return;
    const answer = await postJSON("/api/models/active", { id });
    this.active = answer.active ?? id;
    this.emit("active");
  }

  setDrawing(drawing) {
    this.drawing = drawing;
    this.emit("drawing");
  }
}

export const lab = new Lab();
