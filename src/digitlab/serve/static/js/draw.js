// The Draw panel: the sheet, live answers of the active network (and of a second one), the
// image it reads, its saliency map and the hidden units that vote hardest for the answer.

import { ApiError, predictImage } from "./api.js";
import { chance, probabilityBars } from "./charts.js";
import { _, number, say, significant } from "./i18n.js";
import { drawNetwork } from "./network.js";
import { DrawingPad } from "./pad.js";
import { clearPicture, paintDiverging, paintGray, pictureCanvas } from "./pictures.js";
import { $, architecture, ENSEMBLE_NOTE, knowsNotADigit, lab, modelLabel, showError } from "./state.js";

// While the pen moves the answer follows it: a question at most every this many ms, never two
// on their way at once (the drawing as it is when the last answer arrives is asked next).
const WHILE_DRAWING_MS = 60;
// a phone held upright (lab.css): the second network's chooser is in a narrow column
const PHONE = window.matchMedia("(max-width: 560px)");
const ACCEPTED = ["image/png", "image/jpeg"];

export function setupDraw() {
  const pad = new DrawingPad($("draw-canvas"));
  const bars = probabilityBars($("bars"), () => _("Probability of each digit"));
  const compareBars = probabilityBars($("compare-bars"), () => _("Probability of each digit, second network"));
  let asking = false; // a question is on its way to the server
  let again = false; // the drawing changed meanwhile: ask again when the answer arrives
  let timer = null;
  let compareTouched = false; // the person chose (or removed) the second network
  let version = 0; // bumped by every change; answers for older versions are dropped
  let answers = 0; // answers shown so far (while drawing too)

  function reset() {
    say($("prediction"), "");
    $("prediction").classList.remove("not-digit");
    $("compare-prediction").classList.remove("not-digit");
    $("prediction-placeholder").hidden = false;
    say($("prediction-sure"), "");
    say($("compare-prediction"), "");
    say($("compare-sure"), "");
    showCalibration("prediction-calibration", null);
    showCalibration("compare-calibration", null);
    saliencyCaption(null);
    say($("runner-up"), "");
    say($("answer-status"), "");
    $("turn-into").hidden = true;
    bars(null);
    compareBars(null);
    drawNetwork($("network-canvas"), null);
    drawNetwork($("compare-network-canvas"), null);
    clearPicture($("prepared"));
    clearPicture($("saliency"), "#fff");
    $("units").replaceChildren();
    $("units").dataset.count = "0";
    lab.setDrawing(null);
  }

  function showAnswer(answer) {
    showDigit("prediction", "prediction-sure", answer);
    showCalibration("prediction-calibration", answer);
    $("prediction-placeholder").hidden = true;
    bars(answer.probabilities, answer.digit);
    const order = answer.probabilities.map((p, d) => [p, d]).sort((a, b) => b[0] - a[0]);
    $("turn-into").hidden = false;
    say($("runner-up"), () => _("Next most likely: {second} ({p2}), then {third} ({p3}).", {
      second: order[1][1], p2: chance(order[1][0]), third: order[2][1], p3: chance(order[2][0]) }));
    paintGray($("prepared"), answer.prepared);
    $("prepared").dataset.updated = String(Date.now());
    const members = lab.model(answer.model)?.members; // an ensemble: no one network to show
    if (answer.saliency) {
      paintDiverging($("saliency"), answer.saliency, answer.prepared);
      $("saliency").dataset.updated = String(Date.now());
      saliencyCaption(answer.digit);
    } else {
      clearPicture($("saliency"), "#fff");
      say($("saliency-caption"), members ? () => ENSEMBLE_NOTE(members) : "");
    }
    showUnits(answer.hidden || [], answer.digit, members);
    showNetwork("network-canvas", "network-caption", answer);
    if (!pad.isDrawing) { // a screen reader hears the answer once the pen is lifted
      const sure = () => chance(answer.probabilities[answer.digit]);
      say($("answer-status"), () => (answer.is_digit === false
        ? _("The network says this is not a digit (its best guess, {digit}, is {sure} sure).",
          { digit: answer.digit, sure: sure() })
        : _("The network reads {digit}, {sure} sure.", { digit: answer.digit, sure: sure() })));
    }
    lab.setDrawing({ prepared: answer.prepared, digit: answer.digit, probabilities: answer.probabilities });
  }

  // The answer: the digit, or, where a calibrated network's tests fail, "not a digit" with its
  // best guess still named, and why: too unsure (below its threshold), or sure enough but
  // unlike any digit in its first hidden layer (its second test).
  function showDigit(digitId, sureId, answer) {
    const sure = () => chance(answer.probabilities[answer.digit]);
    const notDigit = answer.is_digit === false;
    const unlike = notDigit && answer.hidden_test && answer.threshold != null
      && answer.probabilities[answer.digit] >= answer.threshold;
    say($(digitId), () => (notDigit ? _("not a digit") : String(answer.digit)));
    $(digitId).classList.toggle("not-digit", notDigit);
    $(digitId).dataset.digit = String(answer.digit);
    $(digitId).dataset.why = !notDigit ? "" : unlike ? "unlike" : "unsure";
    say($(sureId), () => (!notDigit ? _("{sure} sure", { sure: sure() })
      : unlike ? _("best guess {guess}, {sure} sure, but unlike any digit inside the network",
        { guess: answer.digit, sure: sure() })
        : _("best guess {guess}, only {sure} sure", { guess: answer.digit, sure: sure() })));
  }

  // Under the saliency map: what red pushes toward (the answer's digit, once there is one).
  function saliencyCaption(digit) {
    say($("saliency-caption"), () => {
      const answer = digit === null ? _("the answer") : _("a {digit}", { digit });
      return _('<span class="key red">Red</span> pixels push toward <b>{answer}</b>, ' +
        '<span class="key blue">blue</span> ones away; your ink is shaded grey.', { answer });
    }, { html: true });
  }

  // Whether the probabilities shown are calibrated (a temperature fitted on held-out digits).
  function showCalibration(id, answer) {
    const note = $(id);
    note.classList.toggle("calibrated", Boolean(answer?.calibrated));
    if (!answer) {
      say(note, "");
      say(note, "", { attribute: "title" });
    } else if (answer.calibrated) {
      const temperature = Number(answer.temperature);
      // an answer about an input less digit-like than nearly every real digit is flattened
      const flattened = answer.flattening != null && answer.flattening > 1;
      const factor = () => significant(Number(answer.flattening));
      const unlike = () => chance(1 - Number(answer.typicality));
      say(note, () => _("calibrated (T = {temperature})", { temperature: significant(temperature) }) +
        (flattened ? _(", flattened ×{factor}: less digit-like than {share} of real digits",
          { factor: factor(), share: unlike() }) : ""));
      note.dataset.flattened = flattened ? "1" : "0";
      say(note, () => _("Temperature scaling fitted on digits the network never trained on: " +
        "among answers shown p sure, about p are right.") + (answer.threshold != null
        ? " " + _("Below {threshold} the answer is “not a digit”.", { threshold: chance(answer.threshold) })
        : "") + (flattened ? " " + _("Inside the network this drawing looks less like a digit " +
          "than {share} of the real digits it was calibrated on, so its answer is flattened " +
          "toward uniform: {factor}× the temperature.", { share: unlike(), factor: factor() })
        : ""), { attribute: "title" });
    } else {
      say(note, () => _("not calibrated"));
      say(note, () => _("This network's confidence is not a probability it has earned."), { attribute: "title" });
    }
  }

  function showUnits(units, digit, members = null) {
    const cards = units.map((unit) => {
      const card = document.createElement("figure");
      card.className = "unit";
      const picture = pictureCanvas(() => _("Incoming weights of hidden unit {unit}", { unit: unit.unit }), "picture");
      paintDiverging(picture, unit.weights);
      const caption = document.createElement("figcaption");
      const vote = () => (unit.contribution >= 0 ? "+" : "") + number(unit.contribution, 2);
      say(caption, () => _("<b>unit {unit}</b><span>act {output}</span><span>vote {vote}</span>", {
        unit: unit.unit, output: number(unit.activation, 2), vote: vote() }), { html: true });
      say(card, () => _("Unit {unit} of layer {layer}: output {output}, moves the answer {answer} by {vote}", {
        unit: unit.unit, layer: unit.layer, output: number(unit.activation, 3), answer: digit, vote: vote() }),
      { attribute: "title" });
      card.append(picture, caption);
      return card;
    });
    if (!cards.length) {
      const note = document.createElement("p");
      note.className = "muted";
      say(note, () => (members ? ENSEMBLE_NOTE(members)
        : _("This network has no hidden layer: its inputs vote directly.")));
      cards.push(note);
    }
    $("units").replaceChildren(...cards);
    $("units").dataset.count = String(units.length);
  }

  // the whole network, lit (the network's sizes and activations from the list of networks)
  function showNetwork(canvasId, captionId, answer) {
    const model = answer ? lab.model(answer.model) : null;
    drawNetwork($(canvasId), answer, model?.sizes, model?.activations);
    if (model) say($(captionId), () => `${model.name || model.id}: ${architecture(model)}`);
  }

  function showCompare(answer) {
    $("compare-network").hidden = !answer;
    if (!answer) {
      say($("compare-prediction"), "");
      $("compare-prediction").classList.remove("not-digit");
      say($("compare-sure"), "");
      showCalibration("compare-calibration", null);
      compareBars(null);
      return;
    }
    showDigit("compare-prediction", "compare-sure", answer);
    showCalibration("compare-calibration", answer);
    compareBars(answer.probabilities, answer.digit);
    showNetwork("compare-network-canvas", "compare-network-caption", answer);
  }

  async function ask() {
    if (!lab.active) {
      showError("draw-error", () => _("no trained network yet — train one first (the button above)"));
      return;
    }
    if (asking) {
      again = true;
      return;
    }
    asking = true;
    again = false;
    const asked = version;
    try {
      const image = await pad.image();
      const compare = $("compare-model").value;
      const [answer, second] = await Promise.all([
        predictImage(image, { model: lab.active, explain: true, layers: true }),
        compare ? predictImage(image, { model: compare, layers: true }) : Promise.resolve(null),
      ]);
      // while the pen moves every answer is shown (it is for the drawing of a moment ago);
      // once it is lifted only the answer for the finished drawing
      if (asked === version || (pad.isDrawing && !pad.isEmpty)) {
        showError("draw-error", null);
        showAnswer(answer);
        showCompare(second);
        answers += 1;
        $("prediction").dataset.answers = String(answers);
        $("prediction").dataset.model = answer.model;
        $("prediction").dataset.version = String(asked); // the drawing this answer is for
      }
    } catch (error) {
      if (asked === version) {
        const blank = error instanceof ApiError && error.status === 422;
        showError("draw-error", blank
          ? () => _("{problem} — draw a little more.", { problem: error.message }) : error.message);
        $("draw-error").dataset.version = String(asked);
      }
    } finally {
      asking = false;
      if (again && !pad.isEmpty) ask();
    }
  }

  function changed(drawing) {
    version += 1;
    $("draw-canvas").dataset.version = String(version);
    $("sheet-hint").hidden = !pad.isEmpty;
    if (pad.isEmpty) {
      clearTimeout(timer);
      timer = null;
      again = false;
      showError("draw-error", null);
      reset();
      return;
    }
    if (drawing && timer !== null) return; // a question is due soon: it will see this change
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      ask();
    }, drawing ? WHILE_DRAWING_MS : 0);
  }

  pad.addEventListener("change", (event) => changed(event.detail.drawing));
  $("turn-into").addEventListener("click", () => { // the Dream panel, starting from this drawing
    document.querySelector('#dream-form input[name="start"][value="image"]').click();
    document.getElementById("tab-dream").click();
  });
  $("undo").addEventListener("click", () => pad.undo());
  $("clear").addEventListener("click", () => pad.clear());
  $("pen-size").addEventListener("input", (event) => {
    pad.penWidth = Number(event.target.value) / 100;
  });
  pad.penWidth = Number($("pen-size").value) / 100;

  async function upload(file) {
    if (!file) return;
    if (!ACCEPTED.includes(file.type)) {
      showError("draw-error", () => _("{file}: not a PNG or JPEG image", { file: file.name }));
      return;
    }
    try {
      pad.clear();
      await pad.addPicture(file);
    } catch {
      showError("draw-error", () => _("{file}: this picture cannot be read", { file: file.name }));
    }
  }
  $("upload").addEventListener("change", (event) => {
    upload(event.target.files[0]);
    event.target.value = "";
  });
  const wrap = $("sheet-wrap");
  wrap.addEventListener("dragover", (event) => {
    event.preventDefault();
    wrap.classList.add("dropping");
  });
  wrap.addEventListener("dragleave", () => wrap.classList.remove("dropping"));
  wrap.addEventListener("drop", (event) => {
    event.preventDefault();
    wrap.classList.remove("dropping");
    upload(event.dataTransfer.files[0]);
  });

  document.addEventListener("keydown", (event) => {
    if ($("panel-draw").hidden || event.target.closest("input, select, textarea")) return;
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      pad.undo();
    } else if (event.key === "Escape") {
      pad.clear();
    }
  });

  function fillCompare() {
    const select = $("compare-model");
    const chosen = select.value;
    const others = lab.models.filter((m) => m.id !== lab.active);
    const none = new Option("", "");
    say(none, () => _("— no second network —"));
    select.replaceChildren(none, ...others.map((m) => {
      const option = new Option("", m.id);
      say(option, () => modelLabel(m, PHONE.matches ? "name" : "short")); // a narrow column
      say(option, () => modelLabel(m), { attribute: "title" });
      return option;
    }));
    if (others.some((m) => m.id === chosen)) select.value = chosen;
    else if (!compareTouched && others.length) select.value = contrastFor(lab.model(lab.active), others);
    select.disabled = others.length === 0;
    select.hidden = others.length === 0; // nothing to choose: the note says why
    if (select.value !== chosen) { // the second network is gone, replaced or new: ask again
      showCompare(null);
      if (!pad.isEmpty) changed(false);
    }
    $("compare-note").hidden = others.length > 0 && Boolean(select.value);
    say($("compare-note"), () => (others.length
      ? _("Pick a second network to see both answer the same drawing.")
      : _("Train a second network to compare two answers to the same drawing.")));
  }

  // The second network shown by default is the contrast: one that can answer "not a digit"
  // (a threshold from outlier exposure, the honest preset) beside one that cannot, whichever
  // way round; else the first network ready.
  function contrastFor(active, others) {
    const ready = others.filter((m) => !m.training);
    const wanted = knowsNotADigit(active) ? ready.find((m) => !knowsNotADigit(m))
      : ready.find(knowsNotADigit);
    return (wanted || ready[0])?.id || "";
  }

  function activeChanged() {
    const model = lab.model(lab.active);
    activeVersion = model?.modified ?? null;
    say($("draw-model-name"), model ? `(${model.name || model.id})` : "");
    fillCompare();
    if (!pad.isEmpty) changed(false);
  }

  let activeVersion = null; // the active run's checkpoint time: a new epoch answers again
  lab.addEventListener("models", () => {
    fillCompare();
    const modified = lab.model(lab.active)?.modified ?? null;
    if (activeVersion !== null && modified !== activeVersion && !pad.isEmpty) changed(false);
    activeVersion = modified;
  });
  lab.addEventListener("active", activeChanged);
  PHONE.addEventListener("change", fillCompare);
  $("compare-model").addEventListener("change", () => {
    compareTouched = true;
    $("compare-note").hidden = Boolean($("compare-model").value);
    if (!$("compare-model").value) showCompare(null);
    if (!pad.isEmpty) changed(false);
  });
  reset();
  return pad;
}
