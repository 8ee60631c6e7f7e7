// What one board's model shares across its views: the files the kernel sent (decoded once into
// AudioBuffers), what each view wants next, the verdicts on their way. Made in anywidget's
// `initialize`, ended with the model.

/** Decoded cards kept beyond those some view wants, most recently wanted first (each is a few
 *  MB of samples: rows far from view are released and asked for again when they come back). */
export const RETAIN_CARDS = 16;

export class BoardSession {
  /** `playback`: "webaudio" (decode into AudioBuffers, the default) or "element" (every card
   *  through an <audio> element, as boards did before Web Audio: for comparison); `retain`:
   *  how many decoded cards no view wants are kept. */
  constructor(model, { playback = "webaudio", retain = RETAIN_CARDS } = {}) {
    this.model = model;
    this.retain = retain;
    this.page = Math.random().toString(36).slice(2, 10);
    this.context = playback === "element" ? null : audioContext();
    this.media = new Map(); // card key -> {buffer} or {url, fallback}, with mime and duration
    this.drawings = new Map(); // card key -> {spectrogram, fine}: small, kept when media goes
    this.decoding = new Set();
    this.videos = new Map(); // row key -> URL (blob: for bytes, else the kernel's http(s) URL)
    this.wants = new Map(); // view id -> {keys, rows}
    this.recent = []; // card keys, most recently wanted first
    this.heard = new Set(); // card keys heard long enough to count as played (see view.js)
    this.lastRequest = "";
    this.listeners = new Set();
    this.ledger = new VerdictLedger({ send: (message) => model.send(message) });
    this.handlers = {
      ack: (msg) => this.ledger.acknowledge(msg),
      code: null, // the loader's (static/loader.js): it asks for the module this is part of
      drawing: (msg, buffers) => this.receiveDrawing(msg, buffers),
      media: (msg, buffers) => this.receiveMedia(msg, buffers),
      video: (msg, buffers) => this.receiveVideo(msg, buffers),
    };
    this.onMessage = (msg, buffers) => {
      const handle = msg && this.handlers[msg.type];
      if (handle) handle(msg, buffers || []);
    };
    model.on("msg:custom", this.onMessage);
  }

  receiveMedia(msg, buffers) {
    const key = msg.key;
    if (this.media.has(key) || this.decoding.has(key) || !this.isWanted(key)) return;
    const bytes = bytesOf(buffers[0]).slice(); // decodeAudioData takes the buffer away
    const keep = (entry) => {
      this.decoding.delete(key);
      if (this.disposed || !this.isWanted(key)) { if (entry.url) URL.revokeObjectURL(entry.url); return; }
      this.media.set(key, { mime: msg.mime, duration: entry.buffer ? entry.buffer.duration : null, ...entry });
      this.request();
      this.emit("media", key);
    };
    const asElement = (why) => ({
      url: URL.createObjectURL(new Blob([bytes], { type: msg.mime || "audio/wav" })), fallback: why,
    });
    if (!this.context) { keep(asElement("")); return; }
    this.decoding.add(key);
    this.context.decodeAudioData(bytes.slice().buffer).then(
      (buffer) => keep({ buffer }),
      (error) => keep(asElement(`Web Audio could not decode this file (${error?.message || "unknown format"})`)),
    );
  }

  /** A card's fine waveform and spectrogram (small: kept even when its audio is let go). */
  receiveDrawing(msg, buffers) {
    const [bins, frames] = msg.spectrogram || [0, 0];
    this.drawings.set(msg.key, {
      spectrogram: bins && frames ? { data: bytesOf(buffers[0]).slice(), bins, frames } : null,
      fine: buffers[1] ? new Int8Array(bytesOf(buffers[1]).slice().buffer) : null,
    });
    this.request();
    this.emit("drawing", msg.key);
  }

  receiveVideo(msg, buffers) {
    if (this.videos.has(msg.row)) return;
    if (msg.url && !/^https?:\/\//i.test(msg.url)) return; // only http(s) URLs ever play
    const url = msg.url || URL.createObjectURL(new Blob([bytesOf(buffers[0])], { type: msg.mime || "video/mp4" }));
    this.videos.set(msg.row, url);
    this.request();
    this.emit("video", msg.row);
  }

  isWanted(key) {
    for (const want of this.wants.values()) if (want.keys.includes(key)) return true;
    return this.recent.includes(key);
  }

  /** What a view wants now (card keys and row keys, most wanted first); replaces its last. */
  want(view, { keys, rows }) {
    this.wants.set(view, { keys, rows });
    this.recent = [...new Set([...keys, ...this.recent])];
    this.release();
    this.request();
  }

  /** A view is gone: nothing more is asked for on its behalf. */
  forget(view) {
    this.wants.delete(view);
    this.release();
    this.request();
  }

  /** Let go of decoded cards no view wants, beyond the `retain` most recently wanted. */
  release() {
    const wanted = new Set([...this.wants.values()].flatMap((want) => want.keys));
    const kept = this.recent.filter((key) => !wanted.has(key)).slice(0, this.retain);
    this.recent = [...this.recent.filter((key) => wanted.has(key)), ...kept];
    for (const key of [...this.media.keys()]) {
      if (wanted.has(key) || kept.includes(key)) continue;
      const entry = this.media.get(key);
      if (entry.url) URL.revokeObjectURL(entry.url);
      this.media.delete(key);
      this.emit("released", key);
    }
  }

  /** Ask the kernel for every wanted file not here yet (nothing new: no message). */
  request() {
    const keys = new Set(), rows = new Set();
    for (const want of this.wants.values()) {
      for (const key of want.keys) {
        if ((!this.media.has(key) && !this.decoding.has(key)) || !this.drawings.has(key)) keys.add(key);
      }
      for (const row of want.rows) if (!this.videos.has(row)) rows.add(row);
    }
    const message = { type: "media", page: this.page, keys: [...keys], rows: [...rows] };
    const text = JSON.stringify(message);
    if (text === this.lastRequest) return;
    this.lastRequest = text;
    this.model.send(message);
  }

  /** A card has been heard long enough to count as played: said once, to every listener. */
  markHeard(key) {
    if (this.heard.has(key)) return;
    this.heard.add(key);
    this.emit("heard", key);
  }

  /** Bytes of decoded samples held (for the benchmark's memory figure). */
  decodedBytes() {
    let total = 0;
    for (const entry of this.media.values()) if (entry.buffer) total += entry.buffer.length * entry.buffer.numberOfChannels * 4;
    return total;
  }

  /** Call `listener(kind, key)` on "media", "drawing", "video", "released" and "heard";
   *  returns the stopper. */
  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(kind, key) {
    for (const listener of [...this.listeners]) listener(kind, key);
  }

  dispose() {
    this.disposed = true;
    this.model.off("msg:custom", this.onMessage);
    this.wants.clear();
    for (const item of this.media.values()) if (item.url) URL.revokeObjectURL(item.url);
    for (const url of this.videos.values()) if (url.startsWith("blob:")) URL.revokeObjectURL(url);
    this.media.clear();
    this.drawings.clear();
    this.videos.clear();
    this.listeners.clear();
    this.ledger.listeners.clear();
  }
}
