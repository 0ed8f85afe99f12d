// The Models panel: every run found, its configuration, test accuracy and learning curves;
// choosing the active network.

import { getJSON } from "./api.js";
import { lineChart } from "./charts.js";
import { _, number, onLanguage, percent, pgettext, say, significant } from "./i18n.js";
import { $, architecture, lab, nameLoss, showError } from "./state.js";

export const COLORS = { train: "#1f5fbf", validation: "#8a5cc2", test: "#d9730d" };

const fmtAccuracy = (a) => (a === null || a === undefined ? "–" : percent(a, 1));

export function setupModels() {
  let shown = null; // the id whose curves are drawn
  let detail = null; // its GET /api/models/{id} answer

  function render() {
    const rows = lab.models.map((model) => {
      const row = document.createElement("tr");
      row.dataset.model = model.id;
      row.tabIndex = 0;
      row.classList.toggle("is-active", model.id === lab.active);
      row.classList.toggle("is-shown", model.id === shown);
      row.setAttribute("aria-label", _("Show the curves of {model}", { model: model.name || model.id }));
      const lr = model.lr === null || model.lr === undefined ? "?" : number(model.lr);
      const cells = [
        model.name || model.id,
        architecture(model),
        (model.activations || [])[0] || "",
        `${model.optimizer || ""} η ${lr}` +
          (model.batch_size > 1 ? _(", batch {size}", { size: model.batch_size }) : ""),
        model.epochs ?? "",
        fmtAccuracy(model.test_accuracy),
      ];
      for (const text of cells) {
        const cell = document.createElement("td");
        cell.textContent = String(text);
        row.append(cell);
      }
      row.cells[0].classList.add("name");
      if (model.training) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = _("training");
        row.cells[0].append(" ", tag);
      }
      row.cells[5].classList.add("num");
      const use = document.createElement("td");
      const button = document.createElement("button");
      button.textContent = model.id === lab.active ? _("active") : _("Use");
      button.disabled = model.id === lab.active;
      button.className = model.id === lab.active ? "ghost" : "";
      button.dataset.testid = "use-model";
      button.setAttribute("aria-label", _("Use {model}", { model: model.name || model.id }));
      button.addEventListener("click", async (event) => {
        event.stopPropagation();
        try {
          await lab.choose(model.id);
          showError("models-error", null);
        } catch (error) {
          showError("models-error", error.message);
        }
      });
      use.append(button);
      row.append(use);
      row.addEventListener("click", () => showDetail(model.id));
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          showDetail(model.id);
        }
      });
      return row;
    });
    if (!rows.length) {
      const row = document.createElement("tr");
      const cell = document.createElement("td");
      cell.colSpan = 7;
      cell.className = "muted";
      cell.textContent = _("No trained network yet — train one in the Train tab.");
      row.append(cell);
      rows.push(row);
    }
    $("models-body").replaceChildren(...rows);
  }

  async function showDetail(id) {
    if (!id) return;
    shown = id;
    render();
    let answer;
    try {
      answer = await getJSON(`/api/models/${id.split("/").map(encodeURIComponent).join("/")}`);
    } catch (error) {
      showError("models-error", error.message);
      return;
    }
    if (shown !== id) return;
    detail = answer;
    showFacts();
    nameLoss($("model-detail"), detail.loss);
    drawCurves(detail.history || {}, $("detail-loss"), $("detail-accuracy"));
    $("model-detail").dataset.shown = id;
  }

  /** The shown run's settings, in the page's language. */
  function showFacts() {
    say($("detail-title"), _("Learning curves of {model}", { model: detail.name || detail.id }));
    const config = detail.config || {};
    const facts = [
      [_("layers"), architecture(detail)],
      ["f", (detail.activations || []).join(", ")],
      [pgettext("setting", "loss"), detail.loss],
      [_("optimizer"), `${detail.optimizer}, η = ${number(detail.lr)}`],
      [_("batch"), detail.batch_size],
      [_("parameters"), number(Number(detail.parameters))],
      [_("seed"), config.seed],
      [_("data"), config.dataset],
      [_("test accuracy"), fmtAccuracy(detail.test_accuracy)],
      [_("probabilities"), detail.calibrated
        ? _("calibrated, T = {temperature}", { temperature: significant(Number(detail.temperature)) }) +
          (detail.threshold != null
            ? (detail.hidden_test
              ? _("; “not a digit” below {threshold} or where its first hidden layer sees no digit", { threshold: fmtAccuracy(detail.threshold) })
              : _("; “not a digit” below {threshold}", { threshold: fmtAccuracy(detail.threshold) })) : "")
        : _("not calibrated")],
    ].filter(([, v]) => v !== undefined && v !== null && v !== "");
    $("detail-config").replaceChildren(...facts.flatMap(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = String(v);
      return [dt, dd];
    }));
  }

  lab.addEventListener("models", () => {
    render();
    if (!shown || !lab.model(shown)) showDetail(lab.active);
    else if (lab.model(shown)?.training) showDetail(shown);
  });
  lab.addEventListener("active", () => {
    render();
    showDetail(lab.active);
  });
  onLanguage(() => {
    render();
    if (detail && detail.id === shown) {
      showFacts();
      drawCurves(detail.history || {}, $("detail-loss"), $("detail-accuracy"));
    }
  });
}

/** E and accuracy per epoch for train, validation and test, from a run's history. */
export function drawCurves(history, lossSvg, accuracySvg) {
  const epochs = history.epoch || [];
  const series = (key, name, color) => ({
    name, color, points: epochs.map((e, i) => [e, (history[key] || [])[i] ?? null]),
  });
  const options = { xLabel: pgettext("axis", "epoch"), integerX: true, xMin: 0.8, xMax: Math.max(1.2, epochs.length + 0.2) };
  const names = { train: pgettext("legend", "train"), validation: pgettext("legend", "validation"),
    test: pgettext("legend", "test") };
  lineChart(lossSvg, [
    series("train_loss", names.train, COLORS.train),
    series("validation_loss", names.validation, COLORS.validation),
    series("test_loss", names.test, COLORS.test),
  ], { ...options, yMin: 0 });
  lineChart(accuracySvg, [
    series("train_accuracy", names.train, COLORS.train),
    series("validation_accuracy", names.validation, COLORS.validation),
    series("test_accuracy", names.test, COLORS.test),
  ], { ...options, yLimits: [0, 1], yFormat: (v) => percent(v) });
}
