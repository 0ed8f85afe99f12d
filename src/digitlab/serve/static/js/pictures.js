// 28×28 pictures: the network's input (white ink on black, as MNIST) and signed maps
// (saliency, incoming weights) in a red/blue diverging scale: red +, white 0, blue −.

import { say } from "./i18n.js";

export const SIDE = 28;

const RED = [178, 24, 43];
const BLUE = [33, 102, 172];

/** The 2-D context of a small picture, kept in memory: it is read back (tests, frames). */
function context2d(canvas) {
  return canvas.getContext("2d", { willReadFrequently: true });
}

/** A <canvas> of 28×28 pixels, shown larger by CSS (image-rendering: pixelated); `label`
 * (text, or a function that writes it in the page's language) says what it shows. */
export function pictureCanvas(label, className = "picture") {
  const canvas = document.createElement("canvas");
  canvas.width = SIDE;
  canvas.height = SIDE;
  canvas.className = className;
  canvas.setAttribute("role", "img");
  say(canvas, label, { attribute: "aria-label" });
  return canvas;
}

/** Paint 784 values in [0, 1] as white ink on black. */
export function paintGray(canvas, values) {
  const context = context2d(canvas);
  const pixels = context.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, values[i] || 0)));
    pixels.data.set([v, v, v, 255], 4 * i);
  }
  context.putImageData(pixels, 0, 0);
}

/**
 * Paint 784 signed values: red where positive, blue where negative, scaled by max |v|.
 * With `under` (784 values in [0, 1], the input), its ink shows through as a light shade.
 */
export function paintDiverging(canvas, values, under = null) {
  const context = context2d(canvas);
  const pixels = context.createImageData(SIDE, SIDE);
  let scale = 0;
  for (let i = 0; i < SIDE * SIDE; i++) scale = Math.max(scale, Math.abs(values[i] || 0));
  scale = scale || 1;
  for (let i = 0; i < SIDE * SIDE; i++) {
    const t = Math.max(-1, Math.min(1, (values[i] || 0) / scale));
    const end = t >= 0 ? RED : BLUE;
    const a = Math.abs(t);
    const shade = under ? 1 - 0.28 * Math.min(1, Math.max(0, under[i] || 0)) : 1;
    pixels.data.set([
      Math.round(shade * (255 + (end[0] - 255) * a)),
      Math.round(shade * (255 + (end[1] - 255) * a)),
      Math.round(shade * (255 + (end[2] - 255) * a)),
      255,
    ], 4 * i);
  }
  context.putImageData(pixels, 0, 0);
}

export function clearPicture(canvas, color = "#000") {
  const context = context2d(canvas);
  context.fillStyle = color;
  context.fillRect(0, 0, canvas.width, canvas.height);
}

/** A short fingerprint of what a picture canvas shows, so that two frames can be told apart. */
export function fingerprint(canvas) {
  const pixels = context2d(canvas).getImageData(0, 0, canvas.width, canvas.height).data;
  let hash = 0;
  for (let i = 0; i < pixels.length; i += 4) hash = (hash * 31 + pixels[i]) | 0;
  return (hash >>> 0).toString(16);
}
