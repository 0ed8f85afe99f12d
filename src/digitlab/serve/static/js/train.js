// The Train panel: a form for a new run, its live progress over server-sent events (running
// E and accuracy, then E and accuracy per epoch), cancel; and the first-start offer to train
// the assignment's network when no run exists yet.

import { ApiError, getJSON, postJSON, trainingEvents } from "./api.js";
import { lineChart, percent } from "./charts.js";
import { COLORS } from "./models.js";
import { $, lab, nameLoss, showError } from "./state.js";

// The presets of `digitlab train --preset`, as the form shows them.
const PRESETS = {
  assignment: { hidden: [784], activation: "tanh", optimizer: "sgd", lr: 0.01, epochs: 10, batch_size: 1 },
  report: { hidden: [1024, 1024], activation: "swish", optimizer: "adam", lr: 0.001, epochs: 10, batch_size: 32 },
};
const FIRST_RUN = { preset: "assignment", epochs: 5 }; // the server names it (assignment, -2, …)
// A training that has sent no progress this long after its start is compiling its kernels
// (the first training on a new install): the page says so rather than "starting" for 40 s.
const COMPILING_AFTER_MS = 2000;
export const COMPILING = "preparing the compiled kernels (first time only, ~40 s)";

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
      $("train-state").textContent = `Starting ${model || "the training"}: ${COMPILING} …`;
      $("train-state").dataset.compiling = "1";
      showTrainingPill("training · preparing kernels");
      if (!$("empty-state").hidden) emptyProgress(0, `${COMPILING} …`);
    }, COMPILING_AFTER_MS);
  }

  function progressArrived() {
    clearTimeout(compilingTimer);
    compilingTimer = null;
    delete $("train-state").dataset.compiling;
  }

  function fillPreset(name) {
    const p = PRESETS[name];
    const outputs = (p.loss || (name === "report" ? "ce" : "mse")) === "ce"
      ? "softmax outputs, cross-entropy loss"
      : "tanh outputs, E = ½‖y − t‖² with ±1 targets";
    $("train-preset-help").textContent = `${outputs}${honesty(p)}; the fields below change the rest`;
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
    if (p.attack && p.attack !== "none") parts.push(`adversarial training (${p.attack})`);
    if (p.outlier_exposure > 0) parts.push("outlier exposure");
    if (p.calibration_fraction > 0) parts.push("calibrated probabilities");
    const says = p.outlier_exposure > 0 && p.calibration_fraction > 0 ? ": it can answer “not a digit”" : "";
    return parts.length ? `, ${parts.join(", ")}${says}` : "";
  }

  // Every preset the server has gets an option (assignment and report are in the page).
  function addPresetOptions() {
    const select = $("train-preset");
    const known = new Set([...select.options].map((o) => o.value));
    for (const [name, p] of Object.entries(PRESETS)) {
      if (known.has(name)) continue;
      const extras = [p.attack && p.attack !== "none" ? "adversarial" : "",
        p.outlier_exposure > 0 ? "outliers" : "", p.calibration_fraction > 0 ? "calibrated" : ""]
        .filter(Boolean);
      select.append(new Option(`${name}: ${p.activation}, ${p.optimizer === "adam" ? "Adam" : p.optimizer}` +
        (extras.length ? ` + ${extras.join(", ")}` : ""), name));
    }
  }

  function readForm() {
    const text = $("train-hidden").value.trim();
    const hidden = text === "" || text === "none" ? [] : text.split(/[\s,]+/).filter(Boolean).map(Number);
    if (hidden.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new Error(`hidden layers: expected widths like 256,128, got “${text}”`);
    }
    const number = (id, what, integer) => {
      const value = Number($(id).value);
      if ($(id).value === "" || !isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
        throw new Error(`${what}: expected a ${integer ? "whole " : ""}number above 0, got “${$(id).value}”`);
      }
      return value;
    };
    const name = $("train-name").value.trim();
    if (name && !/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new Error(`name: letters, digits, - and _ only, got “${name}”`);
    }
    return {
      preset: $("train-preset").value,
      hidden,
      activation: $("train-activation").value,
      optimizer: $("train-optimizer").value,
      lr: number("train-lr", "learning rate", false),
      epochs: number("train-epochs", "epochs", true),
      batch_size: number("train-batch", "batch size", true),
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
    $("train-model").textContent = model ? `(${model})` : "";
    $("train-epochs-body").replaceChildren();
    for (const id of ["train-running-loss", "train-running-accuracy", "train-test-accuracy"]) $(id).textContent = "–";
    setBar("train-epochs-bar", 0);
    setBar("train-samples-bar", 0);
    $("train-epoch-text").textContent = total ? `0 of ${total}` : "–";
    $("train-samples-text").textContent = "–";
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
    const options = { xLabel: "epoch", xMin: 0, xMax, integerX: true };
    lineChart($("train-loss-chart"), [
      { name: "running", color: "#9aa7b8", width: 1.5, dots: false, points: running.map((r) => [r[0], r[1]]) },
      { name: "train", color: COLORS.train, points: perEpoch.map((e) => [e.epoch, e.train_loss]) },
      { name: "test", color: COLORS.test, points: perEpoch.map((e) => [e.epoch, e.test_loss ?? null]) },
    ], { ...options, yMin: 0 });
    lineChart($("train-accuracy-chart"), [
      { name: "running", color: "#9aa7b8", width: 1.5, dots: false, points: running.map((r) => [r[0], r[2]]) },
      { name: "train", color: COLORS.train, points: perEpoch.map((e) => [e.epoch, e.train_accuracy]) },
      { name: "test", color: COLORS.test, points: perEpoch.map((e) => [e.epoch, e.test_accuracy ?? null]) },
    ], { ...options, yLimits: [0, 1], yFormat: (v) => `${Math.round(v * 100)}%` });
  }

  const fmt = (v, f) => (v === null || v === undefined ? "–" : f(v));

  function onProgress(data) {
    progressArrived();
    const fraction = data.total ? data.samples / data.total : 0;
    running.push([data.epoch - 1 + fraction, data.running_loss, data.running_accuracy]);
    $("train-running-loss").textContent = fmt(data.running_loss, (v) => v.toFixed(4));
    $("train-running-accuracy").textContent = fmt(data.running_accuracy, (v) => percent(v, 1));
    $("train-samples-text").textContent = `${data.samples.toLocaleString("en")} of ${data.total.toLocaleString("en")} digits`;
    setBar("train-samples-bar", fraction);
    const done = (data.epoch - 1 + fraction) / Math.max(1, total);
    setBar("train-epochs-bar", done);
    $("train-epoch-text").textContent = `${data.epoch} of ${total || "?"}`;
    $("train-state").textContent = `Training: epoch ${data.epoch} of ${total || "?"}, ${percent(fraction)} through it.`;
    showTrainingPill(`training · epoch ${data.epoch}/${total || "?"}`);
    emptyProgress(done, `epoch ${data.epoch} of ${total}: ${percent(fraction)}`);
    drawCharts();
  }

  function onEpoch(data) {
    progressArrived();
    if (epochs.has(data.epoch)) return;
    epochs.set(data.epoch, data);
    const row = document.createElement("tr");
    row.dataset.epoch = data.epoch;
    for (const text of [
      data.epoch,
      fmt(data.train_loss, (v) => v.toFixed(4)),
      fmt(data.train_accuracy, (v) => percent(v, 1)),
      fmt(data.test_loss, (v) => v.toFixed(4)),
      fmt(data.test_accuracy, (v) => percent(v, 1)),
      fmt(data.seconds, (v) => v.toFixed(1)),
    ]) {
      const cell = document.createElement("td");
      cell.textContent = String(text);
      row.append(cell);
    }
    $("train-epochs-body").append(row);
    $("train-test-accuracy").textContent = fmt(data.test_accuracy, (v) => percent(v, 1));
    setBar("train-epochs-bar", data.epoch / Math.max(1, total));
    setBar("train-samples-bar", 1);
    $("train-epoch-text").textContent = `${data.epoch} of ${total || "?"}`;
    drawCharts();
    refreshModels();
  }

  function onDone(data) {
    const words = {
      finished: "Finished", cancelled: "Cancelled", failed: "Failed",
    };
    const accuracy = data.test_accuracy === null || data.test_accuracy === undefined
      ? "" : ` — test accuracy ${percent(data.test_accuracy, 1)}`;
    const tail = data.message && data.state !== "finished" ? ` (${data.message})` : "";
    $("train-state").textContent = `${words[data.state] || data.state}: ${data.model || ""}${accuracy}${tail}`;
    $("train-state").dataset.state = data.state;
    $("train-use").hidden = !(data.state === "finished" && data.model);
    $("train-use").dataset.model = data.model || "";
    if (data.state === "failed") showError("train-error", data.message || "the training failed");
    // the server's message names what was kept and how to go on: the hint only without one
    if (data.state === "cancelled" && [undefined, null, "", "cancelled"].includes(data.message)) {
      $("train-state").textContent += " — the last checkpoint is kept; “digitlab train --resume” continues it.";
    }
    idle();
    refreshModels();
    hideTrainingPill();
    showError("empty-error", data.state === "failed" ? data.message || "the training failed" : null);
  }

  function listen() {
    closeEvents?.();
    closeEvents = trainingEvents({
      progress: onProgress,
      epoch: onEpoch,
      done: onDone,
      lost: () => {
        showError("train-error", "lost the connection to the training's progress; reload the page to reconnect");
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
    pill.textContent = text;
  }

  function hideTrainingPill() {
    $("training-pill").hidden = true;
  }

  function emptyProgress(fraction, text) {
    $("empty-progress").style.width = `${Math.round(100 * fraction)}%`;
    $("empty-status").textContent = text;
  }

  async function refreshModels() {
    if (refreshing) return refreshing;
    refreshing = lab.refreshModels().catch((error) => showError("global-error", error.message))
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  async function start(body, errorId) {
    showError(errorId, null);
    try {
      const job = await postJSON("/api/train", body);
      resetLive(job.model, body.epochs || PRESETS[body.preset]?.epochs, lossOf(body));
      $("train-state").textContent = `Starting ${job.model} …`;
      showTrainingPill("training · starting");
      busy();
      listen();
      waitForFirstProgress(job.model);
    } catch (error) {
      const busyNow = error instanceof ApiError && error.status === 409;
      showError(errorId, busyNow
        ? `Busy: ${error.message} — one training at a time; it is shown here: wait for it or cancel it.`
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
    $("train-state").textContent = `Training ${job.model}: epoch ${job.epoch} of ${job.epochs}.`;
    showTrainingPill(`training · epoch ${job.epoch}/${job.epochs}`);
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
      showError("train-error", error.message);
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
  $("empty-train").addEventListener("click", () => {
    emptyProgress(0, "starting …");
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
  getJSON("/api/presets").then((answer) => {
    Object.assign(PRESETS, answer.presets || {}); // the server's own presets, when it has them
    addPresetOptions();
    if (!$("train-start").disabled) fillPreset($("train-preset").value);
  }).catch(() => {});

  return follow;
}
