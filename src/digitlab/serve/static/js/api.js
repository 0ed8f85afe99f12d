// Talking to the lab's server: JSON requests, images, server-sent events and NDJSON streams.
// Every failure becomes an ApiError whose message is one line a person can read (the server
// writes its messages in the page's language: the language cookie travels with each request).

import { _ } from "./i18n.js";

export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

async function readError(response) {
  let text = "";
  try {
    const body = await response.json();
    text = body && (body.error || body.detail);
    if (typeof text !== "string") text = JSON.stringify(text);
  } catch {
    text = response.statusText;
  }
  return new ApiError(oneLine(text || _("the server answered {status}", { status: response.status })),
    response.status);
}

export function oneLine(text) {
  return String(text).split("\n")[0].slice(0, 300);
}

async function send(url, options = {}) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(_("the lab's server does not answer; is `digitlab serve` still running?"));
  }
  if (!response.ok) throw await readError(response);
  return response;
}

export function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return pairs.length ? "?" + new URLSearchParams(pairs).toString() : "";
}

export async function getJSON(url, options = {}) {
  return (await send(url, options)).json();
}

export async function postJSON(url, body, options = {}) {
  const response = await send(url, {
    ...options,
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return response.json();
}

/** POST a PNG/JPEG blob to /api/predict; the answer holds digit, probabilities, prepared. */
export async function predictImage(blob, { model, explain = false, layers = false, signal } = {}) {
  const url = "/api/predict" + query({ model, explain: explain ? 1 : null, layers: layers ? 1 : null });
  const response = await send(url, {
    method: "POST",
    headers: { "Content-Type": blob.type || "image/png" },
    body: blob,
    signal,
  });
  return response.json();
}

/** An image that is already 28×28 in [0, 1] (784 floats). */
export async function predictPrepared(image, { model, explain = false, signal } = {}) {
  const url = "/api/predict-prepared" + query({ model, explain: explain ? 1 : 0 });
  return postJSON(url, { image: Array.from(image) }, { signal });
}

/**
 * POST `body` as JSON and call `onLine(object)` for every line of the NDJSON answer.
 * Resolves when the stream ends; rejects with AbortError when `signal` aborts.
 */
export async function streamNDJSON(url, body, onLine, signal) {
  const response = await send(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) onLine(JSON.parse(line));
    }
  }
  if (buffer.trim()) onLine(JSON.parse(buffer));
}

/** Server-sent events of the training job: handlers.progress/epoch/done(data). Returns a closer. */
export function trainingEvents(handlers) {
  const source = new EventSource("/api/train/events");
  for (const name of ["progress", "epoch", "done"]) {
    source.addEventListener(name, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      handlers[name]?.(data);
      if (name === "done") source.close();
    });
  }
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) handlers.lost?.();
  };
  return () => source.close();
}
