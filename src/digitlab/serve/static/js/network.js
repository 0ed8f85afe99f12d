// The whole network, lit: for the drawing, the 784 inputs as the image the network reads, every
// hidden layer as a grid of its units (warm: positive output, cool: negative, brighter: larger),
// the ten outputs, and the strongest connections from the last hidden layer into the answer.

import { _, ngettext, onLanguage } from "./i18n.js";

const WARM = [214, 96, 77];
const COOL = [67, 147, 195];
const LINK_PLUS = "rgba(178, 24, 43, 0.55)";
const LINK_MINUS = "rgba(33, 102, 172, 0.55)";
const watched = new WeakSet();
const pixelRatio = () => Math.min(2, Math.max(1, window.devicePixelRatio || 1));

/** Paint `answer` (with `layers` and `links`, see docs/serve-api.md) of a network of `sizes`
 * and hidden activations `activations` on `canvas`; `null` clears it. */
export function drawNetwork(canvas, answer, sizes = [], activations = []) {
  canvas.lastDrawn = [answer, sizes, activations];
  if (!watched.has(canvas)) { // drawn again, sharp and unstretched, whenever its size changes
    watched.add(canvas);
    new ResizeObserver(() => {
      if (canvas.clientWidth && canvas.width !== Math.round(canvas.clientWidth * pixelRatio())) {
        drawNetwork(canvas, ...canvas.lastDrawn);
      }
    }).observe(canvas);
  }
  const ratio = pixelRatio();
  const cssWidth = canvas.clientWidth || 600;
  const hidden = answer?.layers || [];
  const columns = hidden.length + 2; // the inputs, each hidden layer, the outputs
  const side = Math.max(24, Math.min(200, (cssWidth / columns) * 0.72));
  const top = 6;
  const cssHeight = Math.round(top + side + 40); // the pictures and two lines of labels
  canvas.style.height = `${cssHeight}px`;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, cssWidth, cssHeight);
  if (!answer || !answer.layers) {
    canvas.dataset.layers = "0";
    canvas.dataset.links = "0";
    return;
  }
  const step = cssWidth / columns;
  const centre = (c) => step * c + step / 2;
  context.font = "12px system-ui, sans-serif";
  context.textAlign = "center";
  context.fillStyle = "#5b6878";

  // the inputs: the 28×28 image as it is read
  const inputLeft = centre(0) - side / 2;
  const pixel = side / 28;
  (answer.prepared || []).forEach((v, i) => {
    const g = Math.round(255 * Math.max(0, Math.min(1, v)));
    context.fillStyle = `rgb(${g},${g},${g})`;
    context.fillRect(inputLeft + (i % 28) * pixel, top + Math.floor(i / 28) * pixel, pixel + 0.5, pixel + 0.5);
  });
  label(context, centre(0), top + side,
    [ngettext("{n} input", "{n} inputs", sizes[0] || 784), _("your drawing")]);

  // the hidden layers: one cell per unit
  const cells = hidden.map((values, l) => {
    const n = values.length;
    const across = Math.ceil(Math.sqrt(n));
    const size = side / across;
    const left = centre(l + 1) - side / 2;
    const scale = Math.max(1e-9, ...values.map((v) => Math.abs(v)));
    context.fillStyle = "#111a24";
    context.fillRect(left, top, side, Math.ceil(n / across) * size);
    values.forEach((v, j) => {
      const strength = Math.min(1, Math.abs(v) / scale);
      const [r, g, b] = v >= 0 ? WARM : COOL;
      context.fillStyle = `rgba(${r},${g},${b},${(0.08 + 0.92 * strength).toFixed(3)})`;
      context.fillRect(left + (j % across) * size, top + Math.floor(j / across) * size,
        Math.max(1, size - (size > 4 ? 1 : 0)), Math.max(1, size - (size > 4 ? 1 : 0)));
    });
    const on = values.filter((v) => Math.abs(v) > 0.5 * scale).length;
    label(context, centre(l + 1), top + side, [
      ngettext("layer {layer}: {n} {f} unit", "layer {layer}: {n} {f} units", n,
        { layer: l + 1, f: activations[l] || "" }),
      ngettext("{n} strongly on", "{n} strongly on", on)]);
    return { left, size, across };
  });

  // the outputs: ten rows, the answer's filled
  const outputLeft = centre(columns - 1) - side / 4;
  const row = side / 10;
  const probabilities = answer.probabilities || [];
  probabilities.forEach((p, d) => {
    const y = top + d * row;
    context.fillStyle = "#eef1f5";
    context.fillRect(outputLeft, y + 1, side / 2, row - 2);
    context.fillStyle = d === answer.digit ? "#1f5fbf" : "#9aa7b8";
    context.fillRect(outputLeft, y + 1, (side / 2) * Math.max(0, Math.min(1, p)), row - 2);
    context.fillStyle = d === answer.digit ? "#1f5fbf" : "#5b6878";
    context.textAlign = "right";
    context.font = `${Math.max(7, Math.min(12, row - 1)).toFixed(1)}px system-ui, sans-serif`;
    context.fillText(String(d), outputLeft - 4, y + row / 2 + 4);
  });
  context.textAlign = "center";
  context.font = "12px system-ui, sans-serif";
  label(context, centre(columns - 1), top + side,
    [ngettext("{n} output", "{n} outputs", probabilities.length), _("answer {answer}", { answer: answer.digit })]);

  // the strongest connections into the answer, from the last hidden layer
  const links = answer.links || [];
  if (cells.length && links.length) {
    const last = cells[cells.length - 1];
    const most = Math.max(1e-9, ...links.map((link) => Math.abs(link.contribution)));
    const target = [outputLeft, top + answer.digit * row + row / 2];
    for (const link of links) {
      const x = last.left + (link.unit % last.across) * last.size + last.size / 2;
      const y = top + Math.floor(link.unit / last.across) * last.size + last.size / 2;
      context.strokeStyle = link.contribution >= 0 ? LINK_PLUS : LINK_MINUS;
      context.lineWidth = 0.6 + 3.4 * (Math.abs(link.contribution) / most);
      context.beginPath();
      context.moveTo(x, y);
      context.lineTo(...target);
      context.stroke();
    }
  }
  canvas.dataset.layers = String(hidden.length);
  canvas.dataset.links = String(links.length);
}

// painted words: painted again in the new language
onLanguage(() => {
  for (const canvas of document.querySelectorAll("canvas.network")) {
    if (canvas.lastDrawn) drawNetwork(canvas, ...canvas.lastDrawn);
  }
});

function label(context, x, y, lines) {
  context.fillStyle = "#5b6878";
  lines.forEach((text, i) => context.fillText(text, x, y + 15 + i * 14));
}
