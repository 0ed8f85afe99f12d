// The lab's entry point: tabs, the network chooser, the language switch, the first-start empty
// state, and the panels (each in its own module) wired to the shared state. i18n.js, imported
// first, has put the page in its language before any of this runs.

import * as i18n from "./i18n.js";
import { setupDraw } from "./draw.js";
import { setupDream } from "./dream.js";
import { setupMine } from "./mine.js";
import { setupModels } from "./models.js";
import { setupNonDigits } from "./nondigit.js";
import { setupQuiz } from "./quiz.js";
import { $, lab, modelLabel, showError } from "./state.js";
import { setupTrain } from "./train.js";

const MODEL_POLL_MS = 4000; // while a run trains, look for its newest checkpoint this often

function setupTabs(onShow) {
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  function select(tab, focus = false) {
    for (const other of tabs) {
      const chosen = other === tab;
      other.setAttribute("aria-selected", String(chosen));
      other.tabIndex = chosen ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !chosen;
    }
    if (focus) tab.focus();
    if (location.hash !== `#${tab.dataset.panel}`) history.replaceState(null, "", `#${tab.dataset.panel}`);
    onShow(tab.dataset.panel);
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) select(tabs[(i + step + tabs.length) % tabs.length], true);
      else if (event.key === "Home") select(tabs[0], true);
      else if (event.key === "End") select(tabs[tabs.length - 1], true);
    });
  });
  const fromHash = () => tabs.find((t) => `#${t.dataset.panel}` === location.hash);
  window.addEventListener("hashchange", () => {
    const tab = fromHash();
    if (tab && tab.getAttribute("aria-selected") !== "true") select(tab);
  });
  select(fromHash() || tabs[0]);
}

function setupChooser() {
  const select = $("active-model");
  function fill() {
    select.replaceChildren(...(lab.models.length ? lab.models : [null]).map((m) => {
      const option = new Option("", m ? m.id : "");
      i18n.say(option, () => (m ? modelLabel(m) : i18n._("no network yet")));
      return option;
    }));
    select.value = lab.active || "";
    select.disabled = lab.models.length === 0;
    $("empty-state").hidden = lab.models.length > 0;
    document.body.classList.toggle("no-models", lab.models.length === 0);
  }
  lab.addEventListener("models", fill);
  lab.addEventListener("active", fill);
  select.addEventListener("change", async () => {
    try {
      await lab.choose(select.value);
      showError("global-error", null);
    } catch (error) {
      showError("global-error", error.message);
      select.value = lab.active || "";
    }
  });
}

async function boot() {
  i18n.setupLanguageSwitch();
  setupChooser();
  const pad = setupDraw();
  window.digitlab = { lab, pad, i18n }; // for the browser's console (and the browser tests)
  setupMine();
  setupModels();
  const resumeTraining = setupTrain();
  const quiz = setupQuiz();
  setupDream();
  const nondigits = setupNonDigits();
  setupTabs((panel) => {
    if (panel === "models" && document.body.dataset.ready) lab.refreshModels().catch(() => {});
    if (panel === "quiz") quiz.shown();
    if (panel === "nondigit") nondigits.shown();
  });
  try {
    await lab.refreshModels();
    if (!lab.models.length) lab.emit("models");
    await resumeTraining();
    document.body.dataset.ready = "1";
  } catch (error) {
    showError("global-error", error.message);
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) lab.refreshModels().catch(() => {}); // runs trained meanwhile
  });
  setInterval(() => {
    const training = lab.models.some((m) => m.training) || !$("training-pill").hidden;
    if (training && !document.hidden) lab.refreshModels().catch(() => {});
  }, MODEL_POLL_MS);
}

boot();
