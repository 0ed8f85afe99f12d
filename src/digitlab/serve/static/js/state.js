// What the panels share: the list of networks, the active one, the latest drawing as the
// network read it, and the training job. Panels listen for "models", "active", "drawing" and
// "training" events instead of calling each other.

import { getJSON, postJSON } from "./api.js";
import { _, N_, ngettext, percent, say } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

/** What every panel says while the runs folder holds no network yet. */
export const NO_NETWORK = () => _("There is no trained network yet: train one first " +
  "(the Train tab, or “Train the assignment network” at the top).");

/** Show `message` as the one-line error of an element (hide it with null): a string (the
 * server's words, already in the page's language) or a function that writes it. */
export function showError(element, message) {
  if (typeof element === "string") element = $(element);
  if (!element) return;
  say(element, () => {
    const text = typeof message === "function" ? message() : message;
    return text ? String(text).split("\n")[0] : "";
  });
  element.hidden = !message;
}

/** An Error the page raises itself, its message made by `make` in the page's language, now and
 * after a change of language (`showError(id, error.say || error.message)`). */
export function pageError(make) {
  const error = new Error(make());
  error.say = make;
  return error;
}

/** A network as a chooser names it: "full" (name, layers, test accuracy), "short" (name and
 * test accuracy) or "name" alone (a phone's narrow column). */
export function modelLabel(model, length = "full") {
  if (length === "name") return model.name || model.id;
  const accuracy = model.test_accuracy === null || model.test_accuracy === undefined
    ? "" : ` · ${percent(model.test_accuracy, 1)}`;
  const training = model.training ? ` · ${_("training")}` : "";
  if (length === "short") return `${model.name || model.id}${accuracy}${training}`;
  return `${model.name || model.id} · ${architecture(model)}${accuracy}${training}`;
}

/** A network's layers ("784-48-10"), or what an ensemble is made of. */
export function architecture(model) {
  return model.members
    ? ngettext("ensemble of {n} network", "ensemble of {n} networks", model.members)
    : model.sizes.join("-");
}

/** Whether a network can answer "not a digit" (a threshold from outlier exposure and
 * calibration: the honest preset). */
export const knowsNotADigit = (model) => model?.threshold !== null && model?.threshold !== undefined;

/** The network a tab questions, chosen in its own `select`: by default the active network,
 * unless that one cannot say "not a digit" and another can — then the most accurate of those
 * (the honest network), as the Draw tab puts it beside the plain one. A choice made in the tab
 * holds until another network is made the active one. `onChange()` when it changes. */
export function panelNetwork(select, onChange) {
  let touched = false;
  let current = null;
  function preferred() {
    const active = lab.model(lab.active);
    if (!active || knowsNotADigit(active)) return lab.active;
    const honest = lab.models.filter((m) => !m.training && knowsNotADigit(m))
      .sort((a, b) => (b.test_accuracy ?? -1) - (a.test_accuracy ?? -1))[0];
    return honest ? honest.id : lab.active;
  }
  function fill() {
    select.replaceChildren(...lab.models.map((m) => {
      const option = new Option("", m.id);
      say(option, () => modelLabel(m, "short"));
      say(option, () => modelLabel(m), { attribute: "title" });
      return option;
    }));
    select.value = (touched && lab.model(current) ? current : preferred()) || "";
    select.disabled = lab.models.length === 0;
    changed();
  }
  function changed() {
    const id = select.value || null;
    if (id === current) return;
    current = id;
    onChange();
  }
  lab.addEventListener("models", fill);
  lab.addEventListener("active", () => {
    touched = false;
    fill();
  });
  select.addEventListener("change", () => {
    touched = true;
    changed();
  });
  return { get id() { return current; } };
}

/** Why an ensemble's answer comes without a saliency map, hidden units and lit layers. */
export const ENSEMBLE_NOTE = (n) => ngettext(
  "An ensemble averages the probabilities of its {n} network: there is no one network's pixels, units or layers to show.",
  "An ensemble averages the probabilities of its {n} networks: there is no one network's pixels, units or layers to show.", n);

/** The texts that name the loss, by the `data-loss-text` of the element that shows them: for a
 * squared-error network the assignment's error E, for a softmax one the cross-entropy loss. */
const LOSS_TEXTS = {
  mean: [N_("Mean error E per epoch"), N_("Mean cross-entropy loss per epoch")],
  running: [N_("running E"), N_("running loss")],
  curve: [N_("E: running (thin) and per epoch (dots)"), N_("Loss: running (thin) and per epoch (dots)")],
  train: [N_("train E"), N_("train loss")],
  test: [N_("test E"), N_("test loss")],
};

/** Name the loss in `scope`'s `[data-loss-text]` elements ("ce": cross-entropy, else E). */
export function nameLoss(scope, loss) {
  for (const element of scope.querySelectorAll("[data-loss-text]")) {
    const [squared, crossEntropy] = LOSS_TEXTS[element.dataset.lossText];
    const message = loss === "ce" ? crossEntropy : squared;
    say(element, () => _(message));
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
