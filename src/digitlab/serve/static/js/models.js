// The Models panel: every run found, its configuration, test accuracy and learning curves;
// choosing the active network.

import { getJSON } from "./api.js";
import { lineChart } from "./charts.js";
import { $, lab, nameLoss, showError } from "./state.js";

export const COLORS = { train: "#1f5fbf", validation: "#8a5cc2", test: "#d9730d" };

const fmtAccuracy = (a) => (a === null || a === undefined ? "–" : `${(100 * a).toFixed(1)} %`);

export function setupModels() {
  let shown = null; // the id whose curves are drawn

  function render() {
    const rows = lab.models.map((model) => {
      const row = document.createElement("tr");
      row.dataset.model = model.id;
      row.tabIndex = 0;
      row.classList.toggle("is-active", model.id === lab.active);
      row.classList.toggle("is-shown", model.id === shown);
      row.setAttribute("aria-label", `Show the curves of ${model.name || model.id}`);
      const cells = [
        model.name || model.id,
        model.sizes.join("-"),
        (model.activations || [])[0] || "",
        `${model.optimizer || ""} η ${model.lr ?? "?"}${model.batch_size > 1 ? `, batch ${model.batch_size}` : ""}`,
        model.epochs ?? "",
        fmtAccuracy(model.test_accuracy),
      ];
      for (const text of cells) {
        const cell = document.createElement("td");
        cell.textContent = String(text);
        row.append(cell);
      }
      row.cells[0].classList.add("name");
      if (model.training) row.cells[0].insertAdjacentHTML("beforeend", ' <span class="tag">training</span>');
      row.cells[5].classList.add("num");
      const use = document.createElement("td");
      const button = document.createElement("button");
      button.textContent = model.id === lab.active ? "active" : "Use";
      button.disabled = model.id === lab.active;
      button.className = model.id === lab.active ? "ghost" : "";
      button.dataset.testid = "use-model";
      button.setAttribute("aria-label", `Use ${model.name || model.id}`);
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
      row.innerHTML = '<td colspan="7" class="muted">No trained network yet — train one in the Train tab.</td>';
      rows.push(row);
    }
    $("models-body").replaceChildren(...rows);
  }

  async function showDetail(id) {
    if (!id) return;
    shown = id;
    render();
    let detail;
    try {
      detail = await getJSON(`/api/models/${id.split("/").map(encodeURIComponent).join("/")}`);
    } catch (error) {
      showError("models-error", error.message);
      return;
    }
    if (shown !== id) return;
    $("detail-title").textContent = `Learning curves of ${detail.name || detail.id}`;
    const config = detail.config || {};
    const facts = [
      ["layers", detail.sizes.join("-")],
      ["f", (detail.activations || []).join(", ")],
      ["loss", detail.loss],
      ["optimizer", `${detail.optimizer}, η = ${detail.lr}`],
      ["batch", detail.batch_size],
      ["parameters", Number(detail.parameters).toLocaleString("en")],
      ["seed", config.seed],
      ["data", config.dataset],
      ["test accuracy", fmtAccuracy(detail.test_accuracy)],
      ["probabilities", detail.calibrated
        ? `calibrated, T = ${Number(detail.temperature).toPrecision(3)}` +
          (detail.threshold != null ? `; “not a digit” below ${fmtAccuracy(detail.threshold)}` : "")
        : "not calibrated"],
    ].filter(([, v]) => v !== undefined && v !== null && v !== "");
    $("detail-config").replaceChildren(...facts.flatMap(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = String(v);
      return [dt, dd];
    }));
    nameLoss($("model-detail"), detail.loss);
    drawCurves(detail.history || {}, $("detail-loss"), $("detail-accuracy"));
    $("model-detail").dataset.shown = id;
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
}

/** E and accuracy per epoch for train, validation and test, from a run's history. */
export function drawCurves(history, lossSvg, accuracySvg) {
  const epochs = history.epoch || [];
  const series = (key, name, color) => ({
    name, color, points: epochs.map((e, i) => [e, (history[key] || [])[i] ?? null]),
  });
  const options = { xLabel: "epoch", integerX: true, xMin: 0.8, xMax: Math.max(1.2, epochs.length + 0.2) };
  lineChart(lossSvg, [
    series("train_loss", "train", COLORS.train),
    series("validation_loss", "validation", COLORS.validation),
    series("test_loss", "test", COLORS.test),
  ], { ...options, yMin: 0 });
  lineChart(accuracySvg, [
    series("train_accuracy", "train", COLORS.train),
    series("validation_accuracy", "validation", COLORS.validation),
    series("test_accuracy", "test", COLORS.test),
  ], { ...options, yLimits: [0, 1], yFormat: (v) => `${Math.round(v * 100)}%` });
}
