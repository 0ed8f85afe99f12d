// "Would you make the same mistake?": the active network's misread test digits, one at a
// time without their label; the person answers, then sees the truth and the network's answer.

import { getJSON, postJSON, query } from "./api.js";
import { chance, probabilityBars } from "./charts.js";
import { _, say } from "./i18n.js";
import { paintGray } from "./pictures.js";
import { $, NO_NETWORK, panelNetwork, showError } from "./state.js";

export function setupQuiz() {
  const score = { rounds: 0, person: 0, other: 0, same: 0 }; // the network is always wrong here
  const bars = probabilityBars($("quiz-bars"), () => _("The network's probabilities for this digit"));
  let current = null; // {model, index, count}
  let answered = false;
  let index = 0;
  let loaded = false;

  const buttons = Array.from({ length: 10 }, (unused, d) => {
    const button = document.createElement("button");
    button.className = "digit";
    button.textContent = String(d);
    button.dataset.digit = d;
    button.dataset.testid = `quiz-guess-${d}`;
    say(button, () => _("I read {digit}", { digit: d }), { attribute: "aria-label" });
    button.addEventListener("click", () => answer(d));
    return button;
  });
  $("quiz-digits").append(...buttons);

  function showScore() {
    $("score-rounds").textContent = score.rounds;
    $("score-person").textContent = score.person;
    $("score-other").textContent = score.other;
    $("score-same").textContent = score.same;
  }

  async function load() {
    if (!network.id) {
      buttons.forEach((b) => {
        b.disabled = true;
      });
      say($("quiz-count"), "");
      showError("quiz-error", NO_NETWORK);
      return;
    }
    loaded = true;
    answered = false;
    buttons.forEach((b) => {
      b.disabled = true;
      b.className = "digit";
    });
    $("quiz-reveal").hidden = true;
    $("quiz-why").hidden = true;
    $("quiz-next").disabled = true;
    say($("quiz-count"), () => _("finding the network's mistakes …"));
    try {
      const asked = network.id;
      const item = await getJSON("/api/quiz" + query({ model: asked, index }));
      if (asked !== network.id) return; // another network was chosen meanwhile
      current = { model: item.model || asked, index: item.index, count: item.count };
      showError("quiz-error", null);
      if (!item.count) {
        say($("quiz-count"), "");
        showError("quiz-error", () => _("This network reads every test digit right — nothing to quiz on."));
        return;
      }
      paintGray($("quiz-image"), item.image);
      $("quiz-image").dataset.index = String(item.index);
      say($("quiz-count"), () => _("mistake {k} of {count}", { k: (item.index % item.count) + 1, count: item.count }));
      buttons.forEach((b) => {
        b.disabled = false;
      });
    } catch (error) {
      showError("quiz-error", error.message);
    }
  }

  async function answer(guess) {
    if (!network.id) {
      showError("quiz-error", NO_NETWORK);
      return;
    }
    if (!current || answered) return;
    answered = true;
    buttons.forEach((b) => {
      b.disabled = true;
    });
    try {
      const result = await postJSON("/api/quiz/answer", { model: current.model, index: current.index, guess });
      score.rounds += 1;
      score.person += result.person_right ? 1 : 0;
      score.other += !result.person_right && !result.same_mistake ? 1 : 0;
      score.same += result.same_mistake ? 1 : 0;
      showScore();
      buttons[result.true_label].classList.add("is-true");
      buttons[result.network_answer].classList.add("is-network");
      if (!result.person_right) buttons[guess].classList.add("is-wrong");
      const digits = { truth: result.true_label, network: result.network_answer, guess };
      const verdict = () => (result.person_right
        ? _("You read it right: it is a {truth}. The network said {network}.", digits)
        : result.same_mistake
          ? _("Same mistake! It is a {truth}; you and the network both read {guess}.", digits)
          : _("It is a {truth}. You read {guess}, the network {network}.", digits));
      const reveal = $("quiz-reveal");
      reveal.replaceChildren();
      const line = document.createElement("p");
      line.className = result.person_right ? "verdict good" : result.same_mistake ? "verdict same" : "verdict bad";
      say(line, verdict);
      const detail = document.createElement("p");
      detail.className = "muted";
      const p = result.network_probabilities;
      say(detail, () => {
        const shares = { ...digits, sure: chance(p[result.network_answer]), chance: chance(p[result.true_label]) };
        return result.calibrated
          ? _("The network was {sure} sure (calibrated) of {network}; it gave the true {truth} only {chance}.", shares)
          : _("The network was {sure} sure of {network}; it gave the true {truth} only {chance}.", shares);
      });
      const legend = document.createElement("p");
      legend.className = "legend-line muted";
      say(legend, () => _('<span class="swatch true"></span>the true digit<span class="swatch network"></span>' +
        'the network\'s answer<span class="swatch wrong"></span>your answer, when wrong'), { html: true });
      reveal.append(line, detail, legend);
      reveal.hidden = false;
      reveal.dataset.trueLabel = result.true_label;
      reveal.dataset.networkAnswer = result.network_answer;
      bars(p, result.network_answer);
      $("quiz-why").hidden = false;
      $("quiz-next").disabled = false;
      $("quiz-next").focus();
    } catch (error) {
      answered = false;
      buttons.forEach((b) => {
        b.disabled = false;
      });
      showError("quiz-error", error.message);
    }
  }

  $("quiz-next").addEventListener("click", () => {
    index += 1;
    load();
  });
  document.addEventListener("keydown", (event) => {
    if ($("panel-quiz").hidden || event.target.closest("input, select, textarea")) return;
    if (/^[0-9]$/.test(event.key) && !answered) answer(Number(event.key));
    else if ((event.key === "Enter" || event.key === "n") && answered && event.target === document.body) $("quiz-next").click();
  });
  const network = panelNetwork($("quiz-model"), () => { // the honest network, by default
    index = 0;
    current = null;
    if (!$("panel-quiz").hidden) load();
    else loaded = false;
  });
  showScore();
  return {
    shown() {
      if (!loaded) load();
    },
  };
}
