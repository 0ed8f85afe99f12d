// The Train panel: a form for a new run, its live progress over server-sent events (running
// E and accuracy, then E and accuracy per epoch), cancel; and the first-start offer to train
// the assignment's network when no run exists yet.

import { ApiError, getJSON, postJSON, trainingEvents } from "./api.js";
import { lineChart } from "./charts.js";
import { _, ngettext, number, onLanguage, percent, pgettext, say } from "./i18n.js";
import { COLORS } from "./models.js";
import { $, lab, nameLoss, pageError, showError } from "./state.js";

// The presets of `digitlab train --preset`, as the form shows them.
const PRESETS = {
  assignment: { hidden: [784], activation: "tanh", optimizer: "sgd", lr: 0.01, epochs: 10, batch_size: 1 },
  report: { hidden: [1024, 1024], activation: "swish", optimizer: "adam", lr: 0.001, epochs: 10, batch_size: 32 },
};
const FIRST_RUN = { preset: "assignment", epochs: 5 }; // the server names it (assignment, -2, …)
// A training that has sent no progress this long after its start is compiling its kernels
// (the first training on a new install): the page says so rather than "starting" for 40 s.
const COMPILING_AFTER_MS = 2000;
const COMPILING = () => _("preparing the compiled kernels (first time only, ~40 s)");

export function setupTrain() {
  let closeEvents = null;
  let epochs = new Map(); // epoch -> its event
  let running = []; // [[fractional epoch, running E, running accuracy]]
  let total = 0; // epochs planned
  let refreshing = null;
  let compilingTimer = null; // shows COMPILING while a started training has sent nothing yet

  function waitForFirstProgress(model) {
    clearTimeout(compilingTimer);
    compilingTimer = setTimeout(() => {
      compilingTimer = null;
      say($("train-state"), () => (model
        ? _("Starting {model}: {what} …", { model, what: COMPILING() })
        : _("Starting the training: {what} …", { what: COMPILING() })));
      $("train-state").dataset.compiling = "1";
      showTrainingPill(() => _("training · preparing kernels"));
      if (!$("empty-state").hidden) emptyProgress(0, () => `${COMPILING()} …`);
    }, COMPILING_AFTER_MS);
  }

  function progressArrived() {
    clearTimeout(compilingTimer);
    compilingTimer = null;
    delete $("train-state").dataset.compiling;
  }

  function fillPreset(name) {
    const p = PRESETS[name];
    const crossEntropy = (p.loss || (name === "report" ? "ce" : "mse")) === "ce";
    say($("train-preset-help"), () => {
      const outputs = crossEntropy ? _("softmax outputs, cross-entropy loss")
        : _("tanh outputs, E = ½‖y − t‖² with ±1 targets");
      return _("{outputs}{honesty}; the fields below change the rest", { outputs, honesty: honesty(p) });
    });
    $("train-hidden").value = p.hidden.join(",");
    $("train-activation").value = p.activation;
    $("train-optimizer").value = p.optimizer;
    $("train-lr").value = p.lr;
    $("train-epochs").value = p.epochs;
    $("train-batch").value = p.batch_size;
  }

  // What a preset adds to make its network know what it doesn't know.
  function honesty(p) {
    const parts = [];
    if (p.attack && p.attack !== "none") parts.push(_("adversarial training ({attack})", { attack: p.attack }));
    if (p.outlier_exposure > 0) parts.push(_("outlier exposure"));
    if (p.calibration_fraction > 0) parts.push(_("calibrated probabilities"));
    const says = p.outlier_exposure > 0 && p.calibration_fraction > 0 ? _(": it can answer “not a digit”") : "";
    return parts.length ? `, ${parts.join(", ")}${says}` : "";
  }

  // Every preset the server has gets an option (assignment and report are in the page).
  function addPresetOptions() {
    const select = $("train-preset");
    const known = new Set([...select.options].map((o) => o.value));
    for (const [name, p] of Object.entries(PRESETS)) {
      if (known.has(name)) continue;
      const option = new Option("", name);
      say(option, () => {
        const extras = [p.attack && p.attack !== "none" ? _("adversarial") : "",
          p.outlier_exposure > 0 ? _("outliers") : "", p.calibration_fraction > 0 ? _("calibrated") : ""]
          .filter(Boolean);
        return `${name}: ${p.activation}, ${p.optimizer === "adam" ? "Adam" : p.optimizer}` +
          (extras.length ? ` + ${extras.join(", ")}` : "");
      });
      select.append(option);
    }
  }

  function readForm() {
    const text = $("train-hidden").value.trim();
    const hidden = text === "" || text === "none" ? [] : text.split(/[\s,]+/).filter(Boolean).map(Number);
    if (hidden.some((n) => !Number.isInteger(n) || n < 1)) {
      throw pageError(() => _("hidden layers: expected widths like 256,128, got “{text}”", { text }));
    }
    const positive = (id, what, integer) => {
      const typed = $(id).value;
      const value = Number(typed);
      if (typed === "" || !isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
        throw pageError(() => (integer
          ? _("{what}: expected a whole number above 0, got “{typed}”", { what: what(), typed })
          : _("{what}: expected a number above 0, got “{typed}”", { what: what(), typed })));
      }
      return value;
    };
    const name = $("train-name").value.trim();
    if (name && !/^[A-Za-z0-9_-]+$/.test(name)) {
      throw pageError(() => _("name: letters, digits, - and _ only, got “{name}”", { name }));
    }
    return {
      preset: $("train-preset").value,
      hidden,
      activation: $("train-activation").value,
      optimizer: $("train-optimizer").value,
      lr: positive("train-lr", () => _("learning rate"), false),
      epochs: positive("train-epochs", () => _("epochs"), true),
      batch_size: positive("train-batch", () => _("batch size"), true),
      ...(name ? { name } : {}),
    };
  }

  // the loss a training body asks for: its own, else its preset's
  function lossOf(body) {
    const preset = PRESETS[body.preset] || {};
    return body.loss || preset.loss || (body.preset === "report" ? "ce" : "mse");
  }

  function resetLive(model, planned, loss = null) {
    nameLoss(document.querySelector(".train-live"), loss);
    epochs = new Map();
    running = [];
    total = planned || 0;
    say($("train-model"), model ? `(${model})` : "");
    $("train-epochs-body").replaceChildren();
    for (const id of ["train-running-loss", "train-running-accuracy", "train-test-accuracy"]) say($(id), "–");
    setBar("train-epochs-bar", 0);
    setBar("train-samples-bar", 0);
    say($("train-epoch-text"), () => (total ? _("{done} of {total}", { done: 0, total }) : "–"));
    say($("train-samples-text"), "–");
    drawCharts();
  }

  function setBar(id, fraction) {
    const value = Math.round(100 * Math.max(0, Math.min(1, fraction)));
    $(id).querySelector("span").style.width = `${value}%`;
    $(id).setAttribute("aria-valuenow", String(value));
  }

  function drawCharts() {
    const perEpoch = [...epochs.values()].sort((a, b) => a.epoch - b.epoch);
    const xMax = Math.max(1, total, ...perEpoch.map((e) => e.epoch));
    const options = { xLabel: pgettext("axis", "epoch"), xMin: 0, xMax, integerX: true };
    const names = { running: pgettext("legend", "running"), train: pgettext("legend", "train"),
      test: pgettext("legend", "test") };
    lineChart($("train-loss-chart"), [
      { name: names.running, color: "#9aa7b8", width: 1.5, dots: false, points: running.map((r) => [r[0], r[1]]) },
      { name: names.train, color: COLORS.train, points: perEpoch.map((e) => [e.epoch, e.train_loss]) },
      { name: names.test, color: COLORS.test, points: perEpoch.map((e) => [e.epoch, e.test_loss ?? null]) },
    ], { ...options, yMin: 0 });
    lineChart($("train-accuracy-chart"), [
      { name: names.running, color: "#9aa7b8", width: 1.5, dots: false, points: running.map((r) => [r[0], r[2]]) },
      { name: names.train, color: COLORS.train, points: perEpoch.map((e) => [e.epoch, e.train_accuracy]) },
      { name: names.test, color: COLORS.test, points: perEpoch.map((e) => [e.epoch, e.test_accuracy ?? null]) },
    ], { ...options, yLimits: [0, 1], yFormat: (v) => percent(v) });
  }

  const fmt = (v, f) => (v === null || v === undefined ? "–" : f(v));
  const loss = (v) => number(v, 4);
  const share = (v) => percent(v, 1);

  function onProgress(data) {
    progressArrived();
    const fraction = data.total ? data.samples / data.total : 0;
    running.push([data.epoch - 1 + fraction, data.running_loss, data.running_accuracy]);
    say($("train-running-loss"), () => fmt(data.running_loss, loss));
    say($("train-running-accuracy"), () => fmt(data.running_accuracy, share));
    say($("train-samples-text"), () => ngettext("{done} of {n} digit", "{done} of {n} digits", data.total,
      { done: number(data.samples) }));
    setBar("train-samples-bar", fraction);
    const done = (data.epoch - 1 + fraction) / Math.max(1, total);
    setBar("train-epochs-bar", done);
    const planned = total || "?";
    say($("train-epoch-text"), () => _("{done} of {total}", { done: data.epoch, total: planned }));
    say($("train-state"), () => _("Training: epoch {epoch} of {total}, {share} through it.",
      { epoch: data.epoch, total: planned, share: percent(fraction) }));
    showTrainingPill(() => _("training · epoch {epoch}/{total}", { epoch: data.epoch, total: planned }));
    emptyProgress(done, () => _("epoch {epoch} of {total}: {share}",
      { epoch: data.epoch, total: planned, share: percent(fraction) }));
    drawCharts();
  }

  function onEpoch(data) {
    progressArrived();
    if (epochs.has(data.epoch)) return;
    epochs.set(data.epoch, data);
    $("train-epochs-body").append(epochRow(data));
    say($("train-test-accuracy"), () => fmt(data.test_accuracy, share));
    setBar("train-epochs-bar", data.epoch / Math.max(1, total));
    setBar("train-samples-bar", 1);
    const planned = total || "?";
    say($("train-epoch-text"), () => _("{done} of {total}", { done: data.epoch, total: planned }));
    drawCharts();
    refreshModels();
  }

  function epochRow(data) {
    const row = document.createElement("tr");
    row.dataset.epoch = data.epoch;
    for (const text of [
      data.epoch,
      fmt(data.train_loss, loss),
      fmt(data.train_accuracy, share),
      fmt(data.test_loss, loss),
      fmt(data.test_accuracy, share),
      fmt(data.seconds, (v) => number(v, 1)),
    ]) {
      const cell = document.createElement("td");
      cell.textContent = String(text);
      row.append(cell);
    }
    return row;
  }

  function onDone(data) {
    const words = {
      finished: () => _("Finished"), cancelled: () => _("Cancelled"), failed: () => _("Failed"),
    };
    say($("train-state"), () => {
      const accuracy = data.test_accuracy === null || data.test_accuracy === undefined || data.finetune
        ? "" : _(" — test accuracy {accuracy}", { accuracy: share(data.test_accuracy) });
      // the server's message (in the language asked for then) names what was kept and how to go
      // on: the hint only without one
      const tail = data.message && data.state !== "finished" ? ` (${data.message})`
        : data.state === "cancelled" && !data.message
          ? _(" — the last checkpoint is kept; “digitlab train --resume” continues it.") : "";
      return `${words[data.state]?.() || data.state}: ${data.model || ""}${accuracy}${tail}` +
        (data.finetune ? `. ${finetuned(data.finetune)}` : "");
    });
    $("train-state").dataset.state = data.state;
    $("train-use").hidden = !(data.state === "finished" && data.model);
    $("train-use").dataset.model = data.model || "";
    const failure = () => data.message || _("the training failed");
    if (data.state === "failed") showError("train-error", failure);
    idle();
    refreshModels();
    hideTrainingPill();
    showError("empty-error", data.state === "failed" ? failure : null);
  }

  // what a fine-tuning measured: the held-out digits of the person, and the test digits
  function finetuned(measured) {
    const facts = { n: measured.held_out, ownBefore: share(measured.before.own),
      ownAfter: share(measured.after.own), testBefore: share(measured.before.test),
      testAfter: share(measured.after.test) };
    return ngettext("Your {n} held-out digit: {ownBefore} → {ownAfter} read right; the test digits: {testBefore} → {testAfter}.",
      "Your {n} held-out digits: {ownBefore} → {ownAfter} read right; the test digits: {testBefore} → {testAfter}.",
      measured.held_out, facts);
  }

  function listen() {
    closeEvents?.();
    closeEvents = trainingEvents({
      progress: onProgress,
      epoch: onEpoch,
      done: onDone,
      lost: () => {
        showError("train-error", () => _("lost the connection to the training's progress; reload the page to reconnect"));
        idle();
      },
    });
  }

  function busy() {
    $("train-use").hidden = true;
    $("train-start").disabled = true;
    $("train-cancel").disabled = false;
    $("empty-train").disabled = true;
    $("train-state").dataset.state = "running";
  }

  function idle() {
    progressArrived();
    $("train-start").disabled = false;
    $("train-cancel").disabled = true;
    $("empty-train").disabled = false;
    closeEvents?.();
    closeEvents = null;
  }

  function showTrainingPill(text) {
    const pill = $("training-pill");
    pill.hidden = false;
    say(pill, text);
  }

  function hideTrainingPill() {
    $("training-pill").hidden = true;
  }

  function emptyProgress(fraction, text) {
    $("empty-progress").style.width = `${Math.round(100 * fraction)}%`;
    say($("empty-status"), text);
  }

  async function refreshModels() {
    if (refreshing) return refreshing;
    refreshing = lab.refreshModels().catch((error) => showError("global-error", error.message))
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  async function start(body, errorId, url = "/api/train", then = null) {
    showError(errorId, null);
    try {
      const job = await postJSON(url, body);
      const loss = url === "/api/train" ? lossOf(body) : lab.model(body.model)?.loss ?? null;
      resetLive(job.model, job.epochs || body.epochs || PRESETS[body.preset]?.epochs, loss);
      then?.();
      say($("train-state"), () => _("Starting {model} …", { model: job.model }));
      showTrainingPill(() => _("training · starting"));
      busy();
      listen();
      waitForFirstProgress(job.model);
    } catch (error) {
      const busyNow = error instanceof ApiError && error.status === 409;
      showError(errorId, busyNow
        ? () => _("Busy: {problem} — one training at a time; it is shown here: wait for it or cancel it.",
          { problem: error.message })
        : error.message);
      if (busyNow) follow().catch(() => {});
    }
  }

  /** The form as the running job was asked for (after a reload: not the preset's defaults). */
  function showSettings(settings) {
    const preset = $("train-preset");
    if ([...preset.options].some((o) => o.value === settings.preset)) preset.value = settings.preset;
    const fields = { "train-hidden": (settings.hidden || []).join(","), "train-activation": settings.activation,
      "train-optimizer": settings.optimizer, "train-lr": settings.lr, "train-epochs": settings.epochs,
      "train-batch": settings.batch_size }; // not its name: that run folder exists now
    for (const [id, value] of Object.entries(fields)) {
      if (value !== undefined && value !== null) $(id).value = String(value);
    }
  }

  /** Show the job the server is running now (after a reload, or one started elsewhere). */
  async function follow() {
    const job = await getJSON("/api/train");
    lab.training = job;
    if (job.state !== "running" || closeEvents) return;
    resetLive(job.model, job.epochs, job.settings?.loss ?? lab.model(job.model)?.loss ?? null);
    running = (job.trace || []).filter((point) => point[1] !== null); // the curve so far
    drawCharts();
    if (job.settings) showSettings(job.settings);
    say($("train-state"), () => _("Training {model}: epoch {epoch} of {total}.",
      { model: job.model, epoch: job.epoch, total: job.epochs }));
    showTrainingPill(() => _("training · epoch {epoch}/{total}", { epoch: job.epoch, total: job.epochs }));
    busy();
    listen();
    if (!job.samples && !job.epoch) waitForFirstProgress(job.model);
  }

  $("train-preset").addEventListener("change", (event) => fillPreset(event.target.value));
  $("train-form").addEventListener("submit", (event) => {
    event.preventDefault();
    let body;
    try {
      body = readForm();
    } catch (error) {
      showError("train-error", error.say || error.message);
      return;
    }
    start(body, "train-error");
  });
  $("train-cancel").addEventListener("click", async () => {
    try {
      await postJSON("/api/train/cancel", {});
    } catch (error) {
      showError("train-error", error.message);
    }
  });
  lab.addEventListener("start-job", ({ detail }) => start(detail.body, detail.errorId, detail.url,
    detail.then)); // a fine-tuning, started from the Draw tab
  $("empty-train").addEventListener("click", () => {
    emptyProgress(0, () => _("starting …"));
    start(FIRST_RUN, "empty-error");
  });
  $("train-use").addEventListener("click", async () => {
    try {
      await refreshModels();
      await lab.choose($("train-use").dataset.model);
      document.getElementById("tab-draw").click();
    } catch (error) {
      showError("train-error", error.message);
    }
  });
  $("training-pill").addEventListener("click", () => document.getElementById("tab-train").click());

  fillPreset("assignment");
  resetLive(null, 0);
  say($("train-state"), () => _("No training running. Choose the settings and press Start: the " +
    "loss and the accuracy appear here as the network learns."));
  onLanguage(() => { // what is painted or listed: again, in the new language
    drawCharts();
    const rows = [...epochs.values()].sort((a, b) => a.epoch - b.epoch).map(epochRow);
    $("train-epochs-body").replaceChildren(...rows);
  });
  getJSON("/api/presets").then((answer) => {
    Object.assign(PRESETS, answer.presets || {}); // the server's own presets, when it has them
    addPresetOptions();
    if (!$("train-start").disabled) fillPreset($("train-preset").value);
  }).catch(() => {});

  return follow;
}
