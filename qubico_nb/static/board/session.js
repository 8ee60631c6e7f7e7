// What one board's model shares across its views: the files the kernel sent, what each view
// wants next, the verdicts on their way. Made in anywidget's `initialize`, ended with the model.

export class BoardSession {
  constructor(model) {
    this.model = model;
    this.page = Math.random().toString(36).slice(2, 10);
    this.media = new Map(); // card key -> {url, mime, duration, spectrogram, fine}
    this.videos = new Map(); // row key -> URL (blob: for bytes, else the kernel's http(s) URL)
    this.wants = new Map(); // view id -> {keys, rows}
    this.lastRequest = "";
    this.listeners = new Set();
    this.ledger = new VerdictLedger({ send: (message) => model.send(message) });
    this.handlers = {
      ack: (msg) => this.ledger.acknowledge(msg),
      code: null, // the loader's (static/loader.js): it asks for the module this is part of
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
    if (this.media.has(msg.key)) return;
    const [bins, frames] = msg.spectrogram || [0, 0];
    const file = new Blob([bytesOf(buffers[0])], { type: msg.mime || "audio/wav" });
    this.media.set(msg.key, {
      url: URL.createObjectURL(file),
      mime: msg.mime,
      duration: msg.duration,
      spectrogram: bins && frames ? { data: bytesOf(buffers[1]).slice(), bins, frames } : null,
      fine: buffers[2] ? new Int8Array(bytesOf(buffers[2]).slice().buffer) : null,
    });
    this.request(); // drop it from what is asked for
    this.emit("media", msg.key);
  }

  receiveVideo(msg, buffers) {
    if (this.videos.has(msg.row)) return;
    if (msg.url && !/^https?:\/\//i.test(msg.url)) return; // only http(s) URLs ever play
    const url = msg.url || URL.createObjectURL(new Blob([bytesOf(buffers[0])], { type: msg.mime || "video/mp4" }));
    this.videos.set(msg.row, url);
    this.request();
    this.emit("video", msg.row);
  }

  /** What a view wants now (card keys and row keys, most wanted first); replaces its last. */
  want(view, { keys, rows }) {
    this.wants.set(view, { keys, rows });
    this.request();
  }

  /** A view is gone: nothing more is asked for on its behalf. */
  forget(view) {
    this.wants.delete(view);
    this.request();
  }

  /** Ask the kernel for every wanted file not here yet (nothing new: no message). */
  request() {
    const keys = new Set(), rows = new Set();
    for (const want of this.wants.values()) {
      for (const key of want.keys) if (!this.media.has(key)) keys.add(key);
      for (const row of want.rows) if (!this.videos.has(row)) rows.add(row);
    }
    const message = { type: "media", page: this.page, keys: [...keys], rows: [...rows] };
    const text = JSON.stringify(message);
    if (text === this.lastRequest) return;
    this.lastRequest = text;
    this.model.send(message);
  }

  /** Call `listener(kind, key)` for "media" and "video" arrivals; returns the stopper. */
  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(kind, key) {
    for (const listener of [...this.listeners]) listener(kind, key);
  }

  dispose() {
    this.model.off("msg:custom", this.onMessage);
    this.wants.clear();
    for (const item of this.media.values()) URL.revokeObjectURL(item.url);
    for (const url of this.videos.values()) if (url.startsWith("blob:")) URL.revokeObjectURL(url);
    this.media.clear();
    this.videos.clear();
    this.listeners.clear();
    this.ledger.listeners.clear();
  }
}
