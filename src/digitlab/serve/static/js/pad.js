// The drawing pad: pointer strokes (mouse, pen, touch) on a white sheet, undo, clear, and an
// uploaded picture as a layer below the strokes. Points are kept in [0, 1] coordinates, so the
// drawing survives any resizing; the pad redraws itself from its history of actions.

// The sheet is sent 140 pixels wide, 5 per pixel of the 28×28 image the network reads (its
// digit, 20 pixels tall, is scaled down from about 100): a PNG the server decodes in a
// quarter of a millisecond, where a phone's 672-pixel canvas took several.
const UPLOAD_SIDE = 140;

export class DrawingPad extends EventTarget {
  #sent = null; // the canvas the sheet is painted on to be sent

  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.actions = []; // {kind: "stroke", points, width} | {kind: "picture", bitmap, blob}
    this.penWidth = 0.075; // stroke width as a fraction of the sheet's side
    this.current = null;
    canvas.style.touchAction = "none";
    this.#fit();
    new ResizeObserver(() => this.#fit()).observe(canvas);
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
      canvas.addEventListener(name, (e) => this.#up(e));
    }
    this.redraw();
  }

  /** Give the sheet as many pixels as it shows (sharp ink on any screen), then repaint it. */
  #fit() {
    const ratio = Math.min(2, Math.max(1, window.devicePixelRatio || 1));
    const side = Math.round((this.canvas.clientWidth || this.canvas.width) * ratio);
    if (side < 16 || side === this.canvas.width) return;
    this.canvas.width = side;
    this.canvas.height = side;
    this.redraw();
  }

  get isEmpty() {
    return this.actions.length === 0;
  }

  get isDrawing() {
    return this.current !== null;
  }

  /** The upload itself when nothing was drawn over it (read as `digitlab predict` reads files). */
  get pictureOnly() {
    return this.actions.length === 1 && this.actions[0].kind === "picture" ? this.actions[0].blob : null;
  }

  #point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height];
  }

  #down(event) {
    if (event.button !== undefined && event.button > 0) return;
    event.preventDefault();
    try {
      this.canvas.setPointerCapture(event.pointerId);
    } catch {
      // synthetic events have no active pointer to capture; drawing works the same
    }
    this.current = { kind: "stroke", points: [this.#point(event)], width: this.penWidth, id: event.pointerId };
    this.actions.push(this.current);
    this.#ink(this.current, 0);
    this.#changed(true);
  }

  #move(event) {
    if (!this.current || event.pointerId !== this.current.id) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    const from = this.current.points.length - 1;
    for (const e of events.length ? events : [event]) this.current.points.push(this.#point(e));
    this.#ink(this.current, from); // only the new piece: long drawings stay fast
    this.#changed(true);
  }

  #up(event) {
    if (!this.current || event.pointerId !== this.current.id) return;
    this.current = null;
    this.#changed(false);
  }

  #changed(drawing) {
    this.dispatchEvent(new CustomEvent("change", { detail: { drawing } }));
  }

  undo() {
    if (!this.actions.length) return;
    this.current = null;
    this.actions.pop();
    this.redraw();
    this.#changed(false);
  }

  clear() {
    this.current = null;
    this.actions = [];
    this.redraw();
    this.#changed(false);
  }

  /** Put an uploaded PNG/JPEG on the sheet (fitted, centred) below any later strokes. */
  async addPicture(blob) {
    const bitmap = await createImageBitmap(blob);
    this.actions.push({ kind: "picture", bitmap, blob });
    this.redraw();
    this.#changed(false);
  }

  /** Paint the whole sheet again from its actions (after undo, clear, upload). */
  redraw() {
    this.#paint(this.canvas, this.context);
  }

  /** Paint every action on `canvas` (square), white below. */
  #paint(canvas, context) {
    const side = canvas.width;
    context.fillStyle = "#fff";
    context.fillRect(0, 0, side, canvas.height);
    for (const action of this.actions) {
      if (action.kind === "picture") {
        const scale = Math.min(side / action.bitmap.width, canvas.height / action.bitmap.height);
        const w = action.bitmap.width * scale;
        const h = action.bitmap.height * scale;
        context.drawImage(action.bitmap, (side - w) / 2, (canvas.height - h) / 2, w, h);
      } else {
        this.#ink(action, 0, canvas, context);
      }
    }
  }

  /** Paint a stroke's points from index `from` on (a lone point is a dot). */
  #ink(stroke, from, canvas = this.canvas, context = this.context) {
    const [w, h] = [canvas.width, canvas.height];
    context.strokeStyle = "#111";
    context.fillStyle = "#111";
    context.lineCap = "round";
    context.lineJoin = "round";
    context.lineWidth = stroke.width * w;
    const points = stroke.points;
    if (points.length === 1) {
      context.beginPath();
      context.arc(points[0][0] * w, points[0][1] * h, (stroke.width * w) / 2, 0, 2 * Math.PI);
      context.fill();
      return;
    }
    context.beginPath();
    context.moveTo(points[Math.max(0, from)][0] * w, points[Math.max(0, from)][1] * h);
    for (let i = Math.max(1, from + 1); i < points.length; i++) context.lineTo(points[i][0] * w, points[i][1] * h);
    context.stroke();
  }

  /** The sheet as an image to send: the upload's own bytes when nothing was drawn over it,
   * else the drawing painted at UPLOAD_SIDE pixels, whatever the screen shows (the same
   * drawing reads the same on every screen, and a small PNG decodes fast). */
  async image() {
    const original = this.pictureOnly;
    if (original) return original;
    if (!this.#sent) {
      this.#sent = document.createElement("canvas");
      this.#sent.width = this.#sent.height = UPLOAD_SIDE;
    }
    this.#paint(this.#sent, this.#sent.getContext("2d"));
    return new Promise((resolve) => this.#sent.toBlob(resolve, "image/png"));
  }
}
