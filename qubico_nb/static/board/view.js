// One view of the board: its DOM, its rows' transports, keys, and nothing left behind when it
// is disposed (timers, listeners, observers, requests to the kernel).

/** The views alive on this page (what the benchmark and the host tests instrument). */
export const VIEWS = new Set();
/** The keys a focused score slider keeps for itself. */
const SLIDER_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);
/** How long a card must be heard to count as played (s), or all of a shorter one. */
export const HEARD_S = 1.0;

export class BoardView {
  constructor({ model, el, session }) {
    this.model = model;
    this.session = session;
    this.id = Math.random().toString(36).slice(2, 10);
    this.rows = [];
    this.rowViews = new Map(); // row key -> parts and transport
    this.cardViews = new Map(); // card key -> parts
    this.current = 0;
    this.visible = new Set(); // row keys on screen
    this.frame = 0;
    this.timers = new Set();
    this.showHelp = false;
    this.stops = [];
    this.design = model.get("design") || "score";
    // MUSHRA cards draw one plain timeline: a waveform would show which is the hidden reference.
    this.pictures = this.design !== "mushra";
    this.standalone = !!model.get("standalone"); // an exported test: no Reveal, levels fixed
    this.keyOptions = { levels: !this.standalone, noPreference: model.get("no_preference") !== false };
    this.heardFor = new Map(); // card key -> seconds heard (the rules of an exported test)

    this.live = h("div", { class: "qnb-rv-live", "aria-live": "polite" });
    this.message = h("div", { class: "qnb-rv-message", role: "status" });
    this.info = h("div", { class: "qnb-rv-info" });
    this.header = h("div", { class: "qnb-rv-head" });
    this.saved = h("span", { class: "qnb-rv-saved", role: "status" });
    this.help = h("div", { class: "qnb-rv-help", hidden: true }, ...helpNodes(this.design, this.keyOptions));
    this.body = h("div", { class: "qnb-rv-rows" });
    this.root = h("div", {
      class: "qnb-rv", tabindex: "0", role: "region", "data-lm-suppress-shortcuts": "true",
      "aria-label": `Review board. Click it first. ${keysSentence(this.design, this.keyOptions)}`,
    }, this.header, this.info, this.message, this.help, this.body, this.live);
    el.append(this.root);

    this.listen(this.root, "keydown", (event) => this.onKey(event));
    for (const name of ["rows", "revealed"]) this.onModel(`change:${name}`, () => this.update());
    for (const name of ["rater", "off_board", "blind", "title", "scale", "measuring", "raters"]) this.onModel(`change:${name}`, () => this.paintHeader());
    this.onModel("change:marks", () => this.paintMarks());
    this.onModel("change:level_match", () => this.update());
    this.onModel("change:message", () => this.paintMessage());
    this.stops.push(session.ledger.onChange(() => this.onLedger()));
    this.stops.push(session.on((kind, key) => {
      if (kind === "media") this.attachMedia(key);
      else if (kind === "drawing") this.attachDrawing(key);
      else if (kind === "video") this.attachVideo(key);
      else if (kind === "released") this.releaseMedia(key);
    }));
    const resize = new ResizeObserver(() => this.later(() => this.redraw()));
    resize.observe(this.body);
    this.stops.push(() => resize.disconnect());
    // JupyterLab marks a theme change on <body>: the waveform colours follow it.
    const theme = new MutationObserver(() => this.later(() => this.redraw()));
    theme.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
    this.stops.push(() => theme.disconnect());
    this.sightings = new IntersectionObserver((entries) => this.onSighting(entries), { rootMargin: "200px 0px" });
    this.stops.push(() => this.sightings.disconnect());

    this.build();
    this.paintMessage();
    VIEWS.add(this);
  }

  // -- plumbing ------------------------------------------------------------------------------
  listen(target, type, handler) {
    target.addEventListener(type, handler);
    this.stops.push(() => target.removeEventListener(type, handler));
  }

  onModel(event, handler) {
    this.model.on(event, handler);
    this.stops.push(() => this.model.off(event, handler));
  }

  /** Run `fn` after `ms` (0: next frame); every such timer ends with the view. */
  later(fn, ms = 0) {
    if (ms === 0) {
      const id = requestAnimationFrame(() => { this.timers.delete(tag); fn(); });
      const tag = { cancel: () => cancelAnimationFrame(id) };
      this.timers.add(tag);
      return tag;
    }
    const id = setTimeout(() => { this.timers.delete(tag); fn(); }, ms);
    const tag = { cancel: () => clearTimeout(id) };
    this.timers.add(tag);
    return tag;
  }

  say(text) { this.live.textContent = text; }
  scale() { return this.model.get("scale") || [1, 5]; }
  blindNow() { return !!this.model.get("blind") && !this.model.get("revealed"); }
  marks() { return this.model.get("marks") || {}; }
  shown(key) { return this.session.ledger.shown(key, this.marks()); }

  // -- building and updating -----------------------------------------------------------------
  /** Structure changed (or first time): build every row; else update texts in place, so
   *  nothing that plays or shows a position is rebuilt (Reveal keeps the video's time). */
  update() {
    const rows = this.model.get("rows") || [];
    const same = rows.length === this.rows.length && rows.every((row, r) => row.key === this.rows[r].key
      && row.cards.length === this.rows[r].cards.length
      && row.cards.every((card, c) => card.key === this.rows[r].cards[c].key));
    if (!same) { this.build(); return; }
    this.rows = rows;
    for (const row of rows) {
      const parts = this.rowViews.get(row.key);
      parts.row = row;
      parts.section.setAttribute("aria-label", row.label);
      parts.label.textContent = row.label;
      row.cards.forEach((card, i) => { this.updateCard(this.cardViews.get(card.key), card, i); });
      this.paintRow(parts);
    }
    this.paintHeader();
    this.paintMarks();
    this.requestWanted();
  }

  build() {
    for (const parts of this.rowViews.values()) parts.transport.dispose();
    this.sightings.disconnect();
    this.rows = this.model.get("rows") || [];
    this.rowViews.clear();
    this.cardViews.clear();
    this.body.replaceChildren(...this.rows.map((row, r) => this.buildRow(row, r)));
    this.current = Math.min(this.current, Math.max(0, this.rows.length - 1));
    for (const key of this.session.media.keys()) this.attachMedia(key);
    for (const key of this.session.videos.keys()) this.attachVideo(key);
    this.paintHeader();
    this.paintMarks();
    for (const parts of this.rowViews.values()) this.paintRow(parts);
    this.later(() => this.redraw());
    this.requestWanted();
  }

  paintHeader() {
    const [low, high] = this.scale();
    const test = { score: `scale ${low}–${high}`, mushra: "MUSHRA 0–100", pairwise: "pairwise" }[this.design];
    const meta = ` · rater ${this.model.get("rater")} · ${test}${this.blindNow() ? " · blind" : ""}`;
    this.header.replaceChildren(...present([
      h("span", { class: "qnb-rv-title", text: this.model.get("title") || "review" }),
      h("span", { class: "qnb-rv-meta", text: meta }),
      this.blindNow() && !this.standalone ? h("button", {
        class: "qnb-rv-reveal", type: "button", text: "Reveal", "aria-label": "Reveal what each card is (ends blind mode)",
        onclick: () => { if (window.confirm("Reveal which generation each card is? Blind mode ends for this board.")) this.model.send({ type: "reveal" }); },
      }) : null,
      this.standalone ? null : h("button", {
        class: "qnb-rv-levels", type: "button", text: "Level match", "aria-pressed": String(!!this.model.get("level_match")),
        "aria-keyshortcuts": keyOf("levels").aria,
        title: "Play every card of a row at its median loudness (ITU-R BS.1770), so louder is not better",
        "aria-label": `Level matching ${this.model.get("level_match") ? "on" : "off"}: each card at its row's median loudness`,
        onclick: () => this.toggleLevels(),
      }),
      h("button", {
        class: "qnb-rv-small", type: "button", text: "? Keys", "aria-label": "Show the keys", "aria-keyshortcuts": keyOf("help").aria,
        "aria-expanded": String(this.showHelp), onclick: () => this.toggleHelp(),
      }),
      this.saved,
    ]));
    const notes = [];
    const raters = this.model.get("raters") || [];
    if (raters.length > 1 && !this.standalone) { // one rater's progress is the board itself
      const done = raters.filter((r) => r.total && r.answered >= r.total).length;
      const each = raters.map((r) => `${r.rater} ${r.answered}/${r.total}${r.total && r.answered >= r.total ? " ✓" : ""}`);
      notes.push(`${raters.length} rater(s), ${done} complete: ${each.join(" · ")}.`);
    }
    const offBoard = this.model.get("off_board") || 0;
    if (offBoard) notes.push(`${offBoard} verdict(s) in this store are for tasks not on this board (an earlier run?); they are kept, not shown.`);
    const measuring = this.model.get("measuring") || 0;
    if (measuring) notes.push(`measuring ${measuring} file(s)…`);
    this.info.textContent = notes.join(" ");
    this.paintSaved();
  }

  paintMessage() { this.message.textContent = this.model.get("message") || ""; }

  paintSaved() {
    const { text, alert } = this.session.ledger.status();
    this.saved.textContent = text;
    this.saved.className = alert ? "qnb-rv-saved qnb-rv-late" : "qnb-rv-saved";
  }

  onLedger() {
    this.paintMarks();
    this.paintSaved();
    if (this.session.ledger.pending.length && !this.statusTimer) {
      this.statusTimer = this.later(() => { this.statusTimer = null; this.paintSaved(); }, UNCONFIRMED_MS + 50);
    }
  }

  buildRow(row, r) {
    const section = h("section", { class: "qnb-rv-row", "aria-label": row.label, "data-key": row.key });
    const label = h("h3", { class: "qnb-rv-rowlabel", text: row.label });
    const play = h("button", { class: "qnb-rv-play", type: "button", "aria-keyshortcuts": keyOf("toggle").aria,
      onclick: () => { this.current = r; this.toggle(parts); this.root.focus({ preventScroll: true }); } });
    const time = h("span", { class: "qnb-rv-time", "aria-live": "off" });
    const loopLabel = h("span", { class: "qnb-rv-looplabel" });
    const specButton = !this.pictures ? null : h("button", { class: "qnb-rv-small", type: "button", "aria-pressed": "false", text: "Spectrograms",
      "aria-label": `Spectrograms instead of waveforms in ${row.label}`, "aria-keyshortcuts": keyOf("spectrogram").aria,
      onclick: () => { this.current = r; this.toggleSpectrograms(parts); } });
    const loopClear = h("button", { class: "qnb-rv-small qnb-rv-loopclear", type: "button", text: "✕", hidden: true,
      "aria-label": `End the loop in ${row.label}`, "aria-keyshortcuts": keyOf("loopClear").aria,
      onclick: () => { this.current = r; this.setLoop(parts, null); } });
    const slider = h("input", { class: "qnb-rv-seek", type: "range", min: "0", step: "0.01", value: "0", "aria-label": `Position in ${row.label}` });
    slider.addEventListener("input", () => { this.current = r; this.seek(parts, Number(slider.value)); });
    let video = null;
    if (row.video) {
      video = h("video", { class: "qnb-rv-video", muted: true, playsinline: true, preload: "auto",
        "aria-label": `Source video of ${row.label} (muted, follows the selected audio)` });
      video.muted = true;
      video.addEventListener("click", () => { this.current = r; this.toggle(parts); });
    }
    const cards = h("div", { class: "qnb-rv-cards", "data-cards": String(row.cards.length) });
    const transport = new RowTransport({
      count: row.cards.length,
      duration: (i) => { const card = parts.row.cards[i]; const got = card && this.session.media.get(card.key); return (got?.duration) || (card?.duration) || 0; },
      onEnd: () => { this.countHeard(parts, transport.length(), performance.now()); parts.heardMark = null; this.paintRow(parts); },
      context: this.session.context,
    });
    transport.setVideo(video);
    const parts = { row, index: r, section, label, play, time, slider, video, cards, transport, loopLabel, loopClear, specButton, spectrograms: false };
    this.rowViews.set(row.key, parts);
    row.cards.forEach((card, i) => { cards.append(this.buildCard(parts, card, i)); });
    parts.choice = this.design === "pairwise" ? this.buildChoice(parts) : null;
    section.append(label, h("div", { class: "qnb-rv-rowbody" },
      video ? h("div", { class: "qnb-rv-videobox" }, video) : null,
      h("div", { class: "qnb-rv-main" }, h("div", { class: "qnb-rv-transport" }, play, slider, time, loopLabel, loopClear, specButton), cards, parts.choice)));
    section.addEventListener("focusin", () => { this.current = r; });
    this.sightings.observe(section);
    return section;
  }

  buildCard(parts, card, index) {
    const scale = this.scale();
    const [low, high] = scale;
    const root = h("div", { class: "qnb-rv-card", role: "group", "data-key": card.key });
    const letter = h("span", { class: "qnb-rv-letter" });
    const shortcut = cardKey(parts.row, index);
    const select = h("button", { class: "qnb-rv-select", type: "button", "aria-pressed": "false",
      "aria-keyshortcuts": shortcut, onclick: () => this.select(parts, index) },
      letter, shortcut ? h("kbd", { text: shortcut }) : null);
    const detail = h("div", { class: "qnb-rv-detail" });
    const figures = h("div", { class: "qnb-rv-figures" });
    const canvas = h("canvas", { class: "qnb-rv-wave", role: "img" });
    const spec = h("canvas", { class: "qnb-rv-spec", role: "img", hidden: true });
    const played = h("div", { class: "qnb-rv-played" });
    const head = h("div", { class: "qnb-rv-playhead" });
    const why = h("div", { class: "qnb-rv-why" });
    const band = h("div", { class: "qnb-rv-loopband", hidden: true });
    const fallback = h("div", { class: "qnb-rv-fallback", hidden: true });
    const box = h("div", { class: "qnb-rv-wavebox" }, canvas, spec, band, played, head, why);
    // A click seeks, a drag sets the row's loop; keyboard users have the slider, arrows, [ and ].
    this.listenForDrag(box, parts, index, () => view.playable);
    const scoreBar = h("div", { class: "qnb-rv-scores", role: "group" });
    const view = { key: card.key, index, parts, root, select, letter, detail, figures, canvas, spec, played, head, why, box, band, fallback,
      scoreBar, scores: [], slider: null, sliderOut: null, best: null, note: null, specOn: false, peaks: null, playable: false };
    const reference = card.role === "reference";
    const scored = !reference && this.design !== "pairwise";
    if (scored && hasScoreButtons(scale)) {
      for (let v = low; v <= high; v++) {
        const button = h("button", { class: "qnb-rv-score", type: "button", "data-score": String(v), text: String(v), "aria-pressed": "false",
          "aria-keyshortcuts": v >= 0 && v <= 9 ? `Shift+${v}` : null,
          onclick: () => { this.select(parts, index); this.rate(card.key, { score: this.shown(card.key).score === v ? null : v }); } });
        view.scores.push(button);
        scoreBar.append(button);
      }
    } else if (scored) {
      view.slider = h("input", { type: "range", min: String(low), max: String(high), step: String(scoreStep(scale) / 10),
        class: this.design === "mushra" ? "qnb-rv-slider qnb-rv-mushra" : "qnb-rv-slider" });
      view.sliderOut = h("output", { class: "qnb-rv-out", text: "–" });
      view.slider.addEventListener("change", () => this.rate(card.key, { score: Number(view.slider.value) }));
      view.slider.addEventListener("input", () => { view.sliderOut.textContent = view.slider.value; });
      view.slider.addEventListener("focus", () => this.select(parts, index));
      scoreBar.append(view.slider, view.sliderOut);
    }
    if (scored && this.design === "score") {
      view.best = h("button", { class: "qnb-rv-bestbtn", type: "button", "aria-pressed": "false", text: "★ Best",
        "aria-keyshortcuts": keyOf("best").aria,
        onclick: () => { this.select(parts, index); this.rate(card.key, { best: !this.shown(card.key).best }); } });
      view.note = h("textarea", { class: "qnb-rv-note", rows: "1", placeholder: "note", "aria-keyshortcuts": keyOf("note").aria });
      view.sendNote = () => {
        if (view.noteTimer) { view.noteTimer.cancel(); this.timers.delete(view.noteTimer); view.noteTimer = null; }
        if ((this.shown(card.key).note || "") !== view.note.value) this.rate(card.key, { note: view.note.value });
      };
      view.note.addEventListener("input", () => {
        if (view.noteTimer) view.noteTimer.cancel();
        view.noteTimer = this.later(view.sendNote, 800);
      });
      view.note.addEventListener("change", view.sendNote);
      view.note.addEventListener("blur", view.sendNote);
    }
    root.append(...present([h("div", { class: "qnb-rv-top" }, select, detail, figures), box, fallback,
      scored ? h("div", { class: "qnb-rv-tools" }, scoreBar, view.best) : null, view.note]));
    root.addEventListener("focusin", () => { this.current = parts.index; });
    this.cardViews.set(card.key, view);
    this.updateCard(view, card, index);
    return root;
  }

  /** Bring a card's texts, status and labels up to date with the kernel's state. */
  updateCard(view, card, index) {
    view.card = card;
    view.root.className = `qnb-rv-card qnb-rv-${card.status}${this.session.media.has(card.key) ? " qnb-rv-loaded" : ""}${card.role === "reference" ? " qnb-rv-refcard" : ""}`;
    view.root.setAttribute("aria-label", `Card ${card.label}`);
    view.letter.textContent = card.label;
    const shortcut = cardKey(view.parts.row, index);
    view.select.setAttribute("aria-label", `Select card ${card.label}${shortcut ? ` (key ${shortcut})` : ""}`);
    view.detail.textContent = card.detail || "";
    view.detail.hidden = !card.detail;
    const figures = [...(card.figures || [])];
    if (this.model.get("level_match") && !this.blindNow() && Number.isFinite(card.gain_db)) figures.push(`gain ${formatGain(card.gain_db)}`);
    view.figures.textContent = figures.join(" · ");
    view.figures.hidden = !figures.length;
    const peaks = decodePeaks(card.peaks);
    view.peaks = peaks;
    view.playable = card.status === "ready";
    const drawable = view.playable && (!this.pictures || peaks || this.session.drawings.has(card.key));
    view.canvas.hidden = !drawable || view.specOn;
    view.spec.hidden = !drawable || !view.specOn;
    view.played.hidden = view.head.hidden = !drawable;
    view.box.classList.toggle("qnb-rv-empty", !drawable);
    view.why.hidden = !!drawable;
    view.why.textContent = drawable ? "" : card.status === "ready" ? "measuring…" : card.reason || card.status;
    const got = this.session.media.get(card.key);
    view.fallback.hidden = !(got?.fallback);
    view.fallback.textContent = got?.fallback ? `${got.fallback}: it plays through the browser's audio element, so switching to and from it is not sample-exact.` : "";
    view.parts.transport.setGain(index, this.model.get("level_match") ? dbToGain(card.gain_db) : 1);
    view.canvas.setAttribute("aria-label", `${this.pictures ? "Waveform" : "Timeline"} of card ${card.label}, ${formatTime(card.duration || 0)} long (click to seek)`);
    view.spec.setAttribute("aria-label", `Spectrogram of card ${card.label}`);
    view.scoreBar.setAttribute("aria-label", `Score for card ${card.label}`);
    for (const button of view.scores) button.setAttribute("aria-label", `Score ${button.dataset.score} for card ${card.label}`);
    if (view.slider) view.slider.setAttribute("aria-label", `Score for card ${card.label}, ${this.scale()[0]} to ${this.scale()[1]}`);
    if (view.best) view.best.setAttribute("aria-label", `Best in row: card ${card.label}`);
    if (view.note) view.note.setAttribute("aria-label", `Note for card ${card.label}`);
    if (drawable) this.scheduleDraw(view);
  }

  // -- loops -----------------------------------------------------------------------------------
  /** On a waveform: a click selects the card and seeks; a drag sets the row's loop. */
  listenForDrag(box, parts, index, playable) {
    let start = null;
    const at = (event) => {
      const rect = box.getBoundingClientRect();
      return Math.max(0, Math.min(1, (event.clientX - rect.left) / rect.width)) * (parts.transport.length() || 0);
    };
    box.addEventListener("pointerdown", (event) => {
      if (!playable() || event.button !== 0) return;
      start = { x: event.clientX, t: at(event), dragging: false };
      box.setPointerCapture(event.pointerId);
    });
    box.addEventListener("pointermove", (event) => {
      if (!start) return;
      if (!start.dragging && Math.abs(event.clientX - start.x) < 5) return;
      start.dragging = true;
      this.paintLoop(parts, { start: Math.min(start.t, at(event)), end: Math.max(start.t, at(event)) });
    });
    const finish = (event, cancelled) => {
      if (!start) return;
      const begun = start;
      start = null;
      if (cancelled) { this.paintRow(parts); return; }
      this.current = parts.index;
      if (begun.dragging) this.setLoop(parts, [begun.t, at(event)]);
      else { this.select(parts, index); this.seek(parts, begun.t); }
      this.root.focus({ preventScroll: true });
    };
    box.addEventListener("pointerup", (event) => finish(event, false));
    box.addEventListener("pointercancel", (event) => finish(event, true));
  }

  /** Loop [a, b] for the row (null: no loop). */
  setLoop(parts, range) {
    const { transport } = parts;
    if (!range) {
      transport.setLoop(null);
      this.say("loop ended");
    } else if (!transport.setLoop(range[0], range[1])) {
      this.say("a loop needs its start before its end");
      return;
    } else {
      this.say(`looping ${formatTime(transport.loop.start)} to ${formatTime(transport.loop.end)}`);
    }
    this.paintRow(parts);
  }

  paintLoop(parts, loop) {
    const length = parts.transport.length() || 1;
    for (const card of parts.row.cards) {
      const view = this.cardViews.get(card.key);
      if (!view) continue;
      view.band.hidden = !loop || !view.playable;
      if (loop) { view.band.style.left = `${(loop.start / length) * 100}%`; view.band.style.width = `${((loop.end - loop.start) / length) * 100}%`; }
    }
    parts.loopLabel.textContent = loop ? `loop ${formatTime(loop.start)}–${formatTime(loop.end)}` : "";
    parts.loopClear.hidden = !loop;
  }

  // -- media ---------------------------------------------------------------------------------
  /** The rows this view wants files for, most wanted first: the current one and the next;
   *  once the current one can play, also those on screen and the one after each. */
  wantedRows() {
    const wanted = [];
    const add = (r) => { const row = this.rows[r]; if (row && !wanted.includes(row)) wanted.push(row); };
    add(this.current);
    add(this.current + 1);
    const current = this.rows[this.current];
    if (current?.cards.some((card) => card.status === "ready" && !this.session.media.has(card.key))) return wanted;
    this.rows.forEach((row, r) => { if (this.visible.has(row.key)) { add(r); add(r + 1); } });
    return wanted;
  }

  requestWanted() {
    const rows = this.wantedRows();
    this.session.want(this.id, {
      keys: rows.flatMap((row) => row.cards.filter((card) => card.status === "ready").map((card) => card.key)),
      rows: rows.filter((row) => row.video).map((row) => row.key),
    });
  }

  onSighting(entries) {
    for (const entry of entries) {
      const key = entry.target.dataset.key;
      if (!entry.isIntersecting) { this.visible.delete(key); continue; }
      this.visible.add(key);
      const parts = this.rowViews.get(key);
      if (parts) for (const card of parts.row.cards) this.drawCard(this.cardViews.get(card.key));
    }
    this.requestWanted();
  }

  attachMedia(key) {
    const view = this.cardViews.get(key), got = this.session.media.get(key);
    if (!view || !got || view.attached) return;
    view.attached = true;
    if (got.buffer) {
      view.parts.transport.attachBuffer(view.index, got.buffer);
    } else {
      view.audio = h("audio", { preload: "auto", class: "qnb-rv-audio", "data-key": key, src: got.url });
      view.box.append(view.audio);
      view.parts.transport.attachElement(view.index, view.audio);
    }
    view.root.dataset.playback = got.buffer ? "webaudio" : "element";
    this.updateCard(view, view.card, view.index);
    if (view.specOn) this.drawSpectrogram(view);
    this.paintRow(view.parts);
    if (view.parts.index === this.current) this.requestWanted(); // ready: the rows in view next
  }

  /** The card's fine waveform (and spectrogram) came: draw them. */
  attachDrawing(key) {
    const view = this.cardViews.get(key);
    if (!view) return;
    this.updateCard(view, view.card, view.index);
    if (view.specOn) this.drawSpectrogram(view);
  }

  /** The session let the card's decoded audio go (its row is far from view). */
  releaseMedia(key) {
    const view = this.cardViews.get(key);
    if (!view?.attached) return;
    view.attached = false;
    view.parts.transport.detach(view.index);
    if (view.audio) { view.audio.remove(); view.audio = null; }
    delete view.root.dataset.playback;
    this.updateCard(view, view.card, view.index);
    this.paintRow(view.parts);
  }

  attachVideo(rowKey) {
    const parts = this.rowViews.get(rowKey), url = this.session.videos.get(rowKey);
    if (parts?.video && url && parts.video.getAttribute("src") !== url) parts.video.src = url;
  }

  // -- drawing -------------------------------------------------------------------------------
  colours() {
    const style = getComputedStyle(this.root);
    return { wave: style.getPropertyValue("--qnb-wave").trim() || "#1565c0" };
  }

  drawCard(view) {
    if (view.canvas.hidden || !view.root.isConnected) return;
    if (!this.pictures) { drawTimeline(view.canvas, this.colours().wave); return; }
    const drawing = this.session.drawings.get(view.key);
    drawWaveform(view.canvas, (drawing?.fine) || view.peaks, this.colours().wave);
  }

  drawSpectrogram(view) {
    const drawing = this.session.drawings.get(view.key);
    if (drawing?.spectrogram) drawSpectrogram(view.spec, drawing.spectrogram);
  }

  /** Draw the rows on screen now, the others a few cards a frame (a 200-card board stays
   *  responsive while it draws). */
  redraw() {
    for (const view of this.cardViews.values()) this.scheduleDraw(view);
  }

  scheduleDraw(view) {
    if (this.visible.has(view.parts.row.key)) { this.later(() => this.drawCard(view)); return; }
    if (this.drawQueue) { this.drawQueue.add(view); return; }
    this.drawQueue = new Set([view]);
    const step = () => {
      const batch = [...this.drawQueue].slice(0, 16);
      for (const one of batch) { this.drawQueue.delete(one); this.drawCard(one); }
      if (this.drawQueue.size) this.later(step); else this.drawQueue = null;
    };
    this.later(step);
  }

  /** Spectrograms instead of waveforms for a whole row (or back). */
  toggleSpectrograms(parts) {
    if (!parts.specButton) return; // a MUSHRA row has none
    const on = !parts.spectrograms;
    parts.spectrograms = on;
    parts.specButton.setAttribute("aria-pressed", String(on));
    for (const card of parts.row.cards) this.toggleSpectrogram(card.key, on);
  }

  toggleSpectrogram(key, force) {
    const view = this.cardViews.get(key);
    if (!view?.playable || !this.pictures) return;
    view.specOn = force === undefined ? !view.specOn : force;
    view.spec.hidden = !view.specOn;
    view.canvas.hidden = view.specOn;
    if (view.specOn) {
      const drawing = this.session.drawings.get(key);
      if (drawing && !drawing.spectrogram) this.say("no spectrogram for this file");
      this.drawSpectrogram(view);
    } else {
      this.drawCard(view);
    }
  }

  paintRow(parts) {
    const { transport } = parts, t = transport.heard(), length = transport.length();
    this.paintLoop(parts, transport.loop);
    parts.row.cards.forEach((card, i) => {
      const view = this.cardViews.get(card.key);
      if (!view) return;
      const d = length || 1; // one clock and one time axis per row
      const f = Math.max(0, Math.min(1, t / d));
      view.head.style.left = `${f * 100}%`;
      view.played.style.width = `${f * 100}%`;
      const selected = i === transport.selected;
      view.root.classList.toggle("qnb-rv-selected", selected);
      view.select.setAttribute("aria-pressed", String(selected));
    });
    parts.play.textContent = transport.playing ? "❚❚ Pause" : "▶ Play";
    parts.play.setAttribute("aria-label", `${transport.playing ? "Pause" : "Play"} ${parts.row.label}`);
    parts.time.textContent = `${formatTime(t)} / ${formatTime(length)}`;
    parts.slider.max = String(length || 0);
    if (document.activeElement !== parts.slider) parts.slider.value = String(t);
    parts.section.classList.toggle("qnb-rv-current", this.rows[this.current] === parts.row);
  }

  paintMarks() {
    for (const view of this.cardViews.values()) this.paintMark(view);
    for (const parts of this.rowViews.values()) this.paintChoice(parts);
  }

  paintMark(view) {
    const mark = this.shown(view.key);
    const scored = mark.score !== undefined && mark.score !== null;
    for (const button of view.scores) button.setAttribute("aria-pressed", String(scored && Number(button.dataset.score) === mark.score));
    if (view.slider && document.activeElement !== view.slider) {
      view.slider.value = String(scored ? mark.score : this.scale()[0]);
      view.sliderOut.textContent = scored ? String(mark.score) : "–";
    }
    if (view.best) view.best.setAttribute("aria-pressed", String(!!mark.best));
    view.root.classList.toggle("qnb-rv-best", !!mark.best);
    if (view.note && document.activeElement !== view.note) view.note.value = mark.note || "";
  }

  /** A pairwise row's choice bar: A is better, no preference (when offered), B is better. */
  buildChoice(parts) {
    const [first] = parts.row.cards;
    const option = (choice, text, key) => h("button", {
      class: "qnb-rv-choose", type: "button", "data-choice": choice, text, "aria-pressed": "false",
      "aria-keyshortcuts": keyOf(key).aria,
      onclick: () => { this.current = parts.index; this.choose(parts, choice); },
    });
    const bar = h("div", { class: "qnb-rv-choice", role: "group", "aria-label": `Which is better in ${parts.row.label}?` },
      option("a", "A is better", "preferA"),
      this.model.get("no_preference") === false ? null : option("tie", "No preference", "tie"),
      option("b", "B is better", "preferB"));
    parts.choiceKey = first?.key;
    return bar;
  }

  /** The pair's choice (a click on the pressed one clears it). */
  choose(parts, choice) {
    const key = parts.row.cards[0]?.key;
    if (!key) return;
    const now = this.shown(key).answers?.choice ?? null;
    const next = now === choice ? null : choice;
    this.rate(key, { answers: { choice: next } });
    this.say(next === null ? "choice cleared" : { a: "A is better", b: "B is better", tie: "no preference" }[next]);
  }

  paintChoice(parts) {
    if (!parts.choice) return;
    const chosen = this.shown(parts.row.cards[0]?.key).answers?.choice ?? null;
    for (const button of parts.choice.children) button.setAttribute("aria-pressed", String(button.dataset.choice === chosen));
  }

  // -- actions -------------------------------------------------------------------------------
  rate(key, fields) { this.session.ledger.rate(key, fields, this.cardViews.get(key)?.root.dataset.playback); }

  currentParts() { const row = this.rows[this.current]; return row && this.rowViews.get(row.key); }

  select(parts, index, requestedAt) {
    if (index < 0 || index >= parts.row.cards.length) return;
    this.current = parts.index;
    this.requestWanted();
    this.countNow(parts); // what the card heard until now is its own, not the next one's
    if (!parts.transport.select(index, requestedAt)) this.say(`card ${parts.row.cards[index].position} has no audio`);
    else this.say(`card ${parts.row.cards[index].position} selected`);
    for (const other of this.rowViews.values()) this.paintRow(other);
  }

  toggle(parts) { if (parts.transport.playing) this.pause(parts); else this.play(parts); }

  play(parts) {
    for (const other of this.rowViews.values()) if (other !== parts && other.transport.playing) this.pause(other);
    if (!parts.transport.play()) {
      this.say(this.session.media.size ? "this card has no audio to play" : "audio is still loading");
      return;
    }
    parts.heardMark = { position: parts.transport.position(), time: performance.now() };
    this.loop();
    this.paintRow(parts);
  }

  pause(parts) { this.countNow(parts); parts.heardMark = null; parts.transport.pause(); this.paintRow(parts); }

  /** Count a playing row's listening up to this moment (before it pauses or switches). */
  countNow(parts) {
    if (parts.transport.playing) this.countHeard(parts, parts.transport.position(), performance.now());
  }

  seek(parts, seconds) { parts.transport.seek(seconds); this.paintRow(parts); }

  scoreBy(key, delta) {
    const value = nudgeScore(this.shown(key).score, delta, this.scale());
    this.rate(key, { score: value });
    this.say(`score ${value}`);
  }

  /** Level matching on or off, for the whole board (the kernel records it with each verdict). */
  toggleLevels() {
    const on = !this.model.get("level_match");
    this.model.set("level_match", on);
    this.model.save_changes();
    this.say(`level matching ${on ? "on" : "off"}`);
  }

  toggleHelp() {
    this.showHelp = !this.showHelp;
    this.help.hidden = !this.showHelp;
    this.paintHeader();
  }

  changeRow(step) {
    const next = this.current + step;
    if (next < 0 || next >= this.rows.length) return;
    const parts = this.currentParts();
    if (parts?.transport.playing) this.pause(parts);
    this.current = next;
    this.requestWanted();
    const now = this.currentParts();
    if (now) now.section.scrollIntoView({ block: "nearest" });
    for (const other of this.rowViews.values()) this.paintRow(other);
    this.say(this.rows[this.current].label);
  }

  /** Repaint playing rows every frame (their clock drives the playhead, slider and video). */
  loop() {
    if (this.frame) return;
    const tick = (now) => {
      this.frame = 0;
      let any = false;
      for (const parts of this.rowViews.values()) {
        if (!parts.transport.playing) { parts.heardMark = null; continue; }
        any = true;
        parts.transport.follow();
        this.countHeard(parts, parts.transport.position(), now);
        this.paintRow(parts);
      }
      if (any) this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  /** Add what the selected card of a playing row was heard for since the last count: how far
   *  its clock moved, never more than the time that passed (a seek is no listening), so a slow
   *  or hidden page, whose frames come seldom, counts what it played. Once a card has been heard
   *  for HEARD_S (or all of a shorter file) the session is told ("heard"). */
  countHeard(parts, position, now) {
    const card = parts.row.cards[parts.transport.selected], last = parts.heardMark;
    parts.heardMark = { position, time: now };
    if (!last || !card || this.session.heard.has(card.key)) return;
    const moved = Math.min(position - last.position, (now - last.time) / 1000 + 0.05);
    const total = (this.heardFor.get(card.key) || 0) + Math.max(0, moved);
    this.heardFor.set(card.key, total);
    const length = parts.transport.length() || HEARD_S;
    if (total >= Math.min(HEARD_S, Math.max(0.1, length - 0.1))) this.session.markHeard(card.key);
  }

  // -- keys ----------------------------------------------------------------------------------
  onKey(event) {
    if (leftToHost(event)) return;
    const typing = event.target.closest?.("textarea, input[type=text]");
    event.stopPropagation(); // keys in the board are the board's (no cell commands)
    if (typing) {
      if (event.key === "Escape") { event.target.blur(); this.root.focus({ preventScroll: true }); }
      return;
    }
    // A focused score slider moves by its own keys, as a slider does (the MUSHRA way to score).
    if (SLIDER_KEYS.has(event.key) && event.target.closest?.(".qnb-rv-scores input[type=range]")) return;
    const found = actionFor(event, this.design, this.keyOptions), parts = this.currentParts();
    if (!found || !parts) return;
    const selected = parts.row.cards[parts.transport.selected];
    const card = selected?.role === "reference" ? null : selected; // the reference is not rated
    const hasReference = parts.row.cards[0]?.role === "reference";
    const run = {
      select: () => this.select(parts, found.digit - (hasReference ? 0 : 1), event.timeStamp),
      reference: () => { if (hasReference) this.select(parts, 0, event.timeStamp); },
      preferA: () => this.choose(parts, "a"),
      preferB: () => this.choose(parts, "b"),
      tie: () => this.choose(parts, "tie"), // in the table only when the pair offers it
      score: () => {
        const value = card && scoreForDigit(found.digit, this.scale());
        if (value === null || !card) return;
        this.rate(card.key, { score: value });
        this.say(`card ${card.position}: score ${value}`);
      },
      toggle: () => this.toggle(parts),
      back: () => this.seek(parts, parts.transport.position() - (found.shift ? 5 : 1)),
      forward: () => this.seek(parts, parts.transport.position() + (found.shift ? 5 : 1)),
      start: () => this.seek(parts, 0),
      previousRow: () => this.changeRow(-1),
      nextRow: () => this.changeRow(1),
      raise: () => card && this.scoreBy(card.key, scoreStep(this.scale())),
      lower: () => card && this.scoreBy(card.key, -scoreStep(this.scale())),
      best: () => {
        if (!card) return;
        this.rate(card.key, { best: !this.shown(card.key).best });
        this.say(`card ${card.position}: best toggled`);
      },
      note: () => { const view = card && this.cardViews.get(card.key); if (view?.note) view.note.focus(); },
      spectrogram: () => this.toggleSpectrograms(parts),
      help: () => this.toggleHelp(),
      loopStart: () => {
        const loop = parts.transport.loop, here = parts.transport.position();
        this.setLoop(parts, [here, loop && loop.end > here ? loop.end : parts.transport.length()]);
      },
      loopEnd: () => {
        const loop = parts.transport.loop, here = parts.transport.position();
        this.setLoop(parts, [loop && loop.start < here ? loop.start : 0, here]);
      },
      loopClear: () => this.setLoop(parts, null),
      levels: () => this.toggleLevels(),
    }[found.action];
    run();
    event.preventDefault();
  }

  // -- the end -------------------------------------------------------------------------------
  dispose() {
    for (const view of this.cardViews.values()) if (view.noteTimer) view.sendNote(); // a note typed is kept
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    for (const timer of this.timers) timer.cancel();
    this.timers.clear();
    for (const parts of this.rowViews.values()) parts.transport.dispose();
    for (const stop of this.stops.splice(0)) stop();
    this.session.forget(this.id);
    this.root.remove();
    VIEWS.delete(this);
  }
}

/** The key that selects a row's card: R for an open reference, then 1-9 for the cards after
 *  it (what the keys table's "select" and "reference" run), or null past 9. */
function cardKey(row, index) {
  const offset = row.cards[0]?.role === "reference" ? 1 : 0;
  if (offset && index === 0) return keyOf("reference").shown;
  const digit = index + 1 - offset;
  return digit <= 9 ? String(digit) : null;
}

/** The help text, from the keys table. */
function helpNodes(design, options) {
  const nodes = [h("b", { text: "Keys" }), " (click the board first): "];
  helpItems(design, options).forEach(([keys, does], i) => {
    if (i) nodes.push(" · ");
    nodes.push(h("kbd", { text: keys }), ` ${does}`);
  });
  return nodes;
}
