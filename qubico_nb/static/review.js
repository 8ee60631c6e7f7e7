// qubico-nb review board: the browser half of qubico_nb.review_board.Review (an anywidget ES module).
// The kernel holds the truth (layout, verdicts, file bytes); this draws, plays and sends clicks.
// Audio arrives as custom-message buffers and plays from blob: URLs (never from synced state).

const STOPS = [[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]];
const LUT = (() => {
  const out = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (STOPS.length - 1), j = Math.min(Math.floor(x), STOPS.length - 2);
    const f = x - j;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(STOPS[j][c] * (1 - f) + STOPS[j + 1][c] * f);
  }
  return out;
})();
const SYNC_S = 0.05;
const UNCONFIRMED_MS = 4000; // a verdict the kernel has not confirmed by then is called out // re-align the video when it drifts further than this from the audio

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function decodePeaks(text) {
  if (!text) return null;
  const raw = atob(text), out = new Int8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = (raw.charCodeAt(i) << 24) >> 24;
  return out;
}

function fmt(seconds) {
  if (!isFinite(seconds)) return "0:00.0";
  const m = Math.floor(seconds / 60), s = seconds - m * 60;
  return `${m}:${s < 10 ? "0" : ""}${s.toFixed(1)}`;
}

function bytesOf(buffer) {
  if (!buffer) return new Uint8Array(0);
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function render({ model, el }) {
  const root = h("div", {
    class: "qnb-rv", tabindex: "0", role: "region", "data-lm-suppress-shortcuts": "true",
    "aria-label": "Review board. Keys: digits select a card, space plays, arrows seek and change rows, shift+digit or plus/minus score, b best, n note, s spectrogram, question mark help.",
  });
  el.append(root);
  const media = new Map();   // card key -> {audio, url, spec, peaks}
  const views = new Map();   // card key -> DOM parts
  const rowState = new Map(); // row key -> {selected, playing, position}
  let rows = [], current = 0, frame = 0, showHelp = false;
  const requested = new Set();

  const scale = () => model.get("scale") || [1, 5];
  const step = () => { const [lo, hi] = scale(); return hi - lo <= 10 ? 1 : (hi - lo) / 10; };
  const marks = () => model.get("marks") || {};
  const blindNow = () => model.get("blind") && !model.get("revealed");
  const say = (text) => { live.textContent = text; };

  const live = h("div", { class: "qnb-rv-live", "aria-live": "polite" });
  const note = h("div", { class: "qnb-rv-message", role: "status" });
  const header = h("div", { class: "qnb-rv-head" });
  const saved = h("span", { class: "qnb-rv-saved", role: "status" });
  const help = h("div", { class: "qnb-rv-help", hidden: true });
  help.innerHTML = "<b>Keys</b> (click the board first): <kbd>1</kbd>–<kbd>9</kbd> select a card · " +
    "<kbd>Space</kbd> play/pause · <kbd>←</kbd>/<kbd>→</kbd> seek 1 s (<kbd>Shift</kbd>: 5 s) · " +
    "<kbd>Home</kbd> start · <kbd>↑</kbd>/<kbd>↓</kbd> previous/next row · <kbd>Shift</kbd>+digit set score · " +
    "<kbd>+</kbd>/<kbd>−</kbd> raise/lower score · <kbd>b</kbd> best in row · <kbd>n</kbd> note " +
    "(<kbd>Esc</kbd> leaves it) · <kbd>s</kbd> spectrogram · <kbd>?</kbd> this help";
  const body = h("div", { class: "qnb-rv-rows" });
  root.append(header, note, help, body, live);

  function requestMedia(index) {
    const keys = [], rowKeys = [];
    for (const i of [index, index + 1]) {
      const row = rows[i];
      if (!row) continue;
      if (row.video && !requested.has(row.key)) { requested.add(row.key); rowKeys.push(row.key); }
      for (const card of row.cards) if (card.peaks && !requested.has(card.key)) { requested.add(card.key); keys.push(card.key); }
    }
    if (keys.length || rowKeys.length) {
      const stillKeys = [...requested].filter((k) => k.includes("c") && !media.has(k));
      const stillRows = [...requested].filter((k) => !k.includes("c") && !videoUrls.has(k));
      model.send({ type: "media", page: viewId, keys: stillKeys, rows: stillRows });
    }
  }

  const videoUrls = new Map(); // row key -> blob: URL (or the plain URL as a fallback)
  function attachVideo(rowKey) {
    const parts = rowViews.get(rowKey), url = videoUrls.get(rowKey);
    if (parts && parts.video && url && parts.video.getAttribute("src") !== url) parts.video.src = url;
  }

  function onCustom(msg, buffers) {
    if (msg && msg.type === "ack") { if (msg.state !== "waiting") acknowledge(msg.seq, msg.state === "saved"); return; }
    if (msg && msg.type === "video") {
      if (videoUrls.has(msg.row)) return;
      if (msg.url && !/^https?:\/\//i.test(msg.url)) return; // only http(s) URLs ever play
      const url = msg.url ? msg.url : URL.createObjectURL(new Blob([bytesOf(buffers[0])], { type: msg.mime || "video/mp4" }));
      videoUrls.set(msg.row, url);
      attachVideo(msg.row);
      return;
    }
    if (!msg || msg.type !== "media") return;
    const old = media.get(msg.key);
    if (old) return;
    const blob = new Blob([bytesOf(buffers[0])], { type: msg.mime || "audio/wav" });
    const url = URL.createObjectURL(blob);
    const audio = h("audio", { preload: "auto", class: "qnb-rv-audio", "data-key": msg.key });
    audio.src = url;
    const [bins, frames] = msg.spectrogram || [0, 0];
    const spec = bins && frames ? { data: bytesOf(buffers[1]).slice(), bins, frames } : null;
    const fine = buffers[2] ? new Int8Array(bytesOf(buffers[2]).slice().buffer) : null;
    media.set(msg.key, { audio, url, spec, fine });
    audio.addEventListener("ended", () => {
      const row = rowOf(msg.key);
      if (row && selectedKey(row) === msg.key) pause(row, true);
    });
    const view = views.get(msg.key);
    if (view) { view.box.append(audio); view.card.classList.add("qnb-rv-loaded"); drawWave(msg.key); if (view.specOn) drawSpec(msg.key); }
  }

  function rowOf(key) { return rows.find((row) => row.cards.some((c) => c.key === key)); }
  function stateOf(row) {
    if (!rowState.has(row.key)) rowState.set(row.key, { selected: 0, playing: false, position: 0 });
    return rowState.get(row.key);
  }
  function selectedKey(row) { const card = row.cards[stateOf(row).selected]; return card && card.key; }
  function audioOf(row) { const m = media.get(selectedKey(row)); return m ? m.audio : null; }
  function durationOf(row) {
    const card = row.cards[stateOf(row).selected];
    return (card && card.duration) || Math.max(0, ...row.cards.map((c) => c.duration || 0));
  }

  // -- drawing ------------------------------------------------------------------------------
  function colours() {
    const style = getComputedStyle(root);
    return { wave: style.getPropertyValue("--qnb-wave").trim() || "#1565c0",
             dim: style.getPropertyValue("--qnb-wave-dim").trim() || "#7a9cc6" };
  }

  function fitCanvas(canvas) {
    const ratio = window.devicePixelRatio || 1, width = canvas.clientWidth || 220, height = canvas.clientHeight || 56;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    return [canvas.width, canvas.height];
  }

  function drawWave(key) {
    const view = views.get(key);
    if (!view || !view.canvas) return;
    const loaded = media.get(key);
    const peaks = (loaded && loaded.fine) || view.peaks;
    const [w, hgt] = fitCanvas(view.canvas);
    const ctx = view.canvas.getContext("2d");
    ctx.clearRect(0, 0, w, hgt);
    if (!peaks || peaks.length < 2) return;
    const { wave } = colours(), n = peaks.length / 2, mid = hgt / 2;
    ctx.fillStyle = wave;
    for (let x = 0; x < w; x++) {
      const a = Math.floor((x * n) / w), b = Math.max(a + 1, Math.floor(((x + 1) * n) / w));
      let lo = 127, hi = -127;
      for (let i = a; i < b && i < n; i++) { lo = Math.min(lo, peaks[2 * i]); hi = Math.max(hi, peaks[2 * i + 1]); }
      const top = mid - (hi / 127) * mid, bottom = mid - (lo / 127) * mid;
      ctx.fillRect(x, top, 1, Math.max(1, bottom - top));
    }
    view.canvas.dataset.drawn = "1";
  }

  function drawSpec(key) {
    const view = views.get(key), loaded = media.get(key);
    if (!view || !loaded || !loaded.spec) return;
    const { data, bins, frames } = loaded.spec;
    const image = new ImageData(frames, bins);
    for (let b = 0; b < bins; b++) {
      for (let f = 0; f < frames; f++) {
        const v = data[b * frames + f], o = ((bins - 1 - b) * frames + f) * 4; // low bins at the bottom
        image.data[o] = LUT[v * 3]; image.data[o + 1] = LUT[v * 3 + 1]; image.data[o + 2] = LUT[v * 3 + 2]; image.data[o + 3] = 255;
      }
    }
    view.spec.width = frames; view.spec.height = bins;
    view.spec.getContext("2d").putImageData(image, 0, 0);
  }

  function toggleSpec(key, force) {
    const view = views.get(key);
    if (!view || !view.canvas) return;
    view.specOn = force === undefined ? !view.specOn : force;
    view.specButton.setAttribute("aria-pressed", String(view.specOn));
    view.spec.hidden = !view.specOn; view.canvas.hidden = view.specOn;
    if (view.specOn) {
      if (media.get(key) && !media.get(key).spec) say("no spectrogram for this file");
      drawSpec(key);
    }
  }

  function paintRow(row) {
    const state = stateOf(row), duration = durationOf(row);
    const t = state.position;
    for (const [i, card] of row.cards.entries()) {
      const view = views.get(card.key);
      if (!view) continue;
      const d = card.duration || duration || 1;
      const f = Math.max(0, Math.min(1, t / d));
      if (view.head) { view.head.style.left = `${f * 100}%`; view.played.style.width = `${f * 100}%`; }
      const selected = i === state.selected;
      view.card.classList.toggle("qnb-rv-selected", selected);
      view.select.setAttribute("aria-pressed", String(selected));
    }
    const parts = rowViews.get(row.key);
    if (parts) {
      parts.play.textContent = state.playing ? "❚❚ Pause" : "▶ Play";
      parts.play.setAttribute("aria-label", `${state.playing ? "Pause" : "Play"} ${row.label}`);
      parts.time.textContent = `${fmt(t)} / ${fmt(duration)}`;
      parts.seek.max = String(duration || 0);
      if (document.activeElement !== parts.seek) parts.seek.value = String(t);
      parts.section.classList.toggle("qnb-rv-current", rows[current] === row);
    }
  }

  // -- transport ------------------------------------------------------------------------------
  function videoOf(row) { const parts = rowViews.get(row.key); return parts && parts.video; }

  function play(row) {
    const audio = audioOf(row);
    if (!audio) { say(media.size ? "this card has no audio to play" : "audio is still loading"); return; }
    for (const other of rows) if (other !== row && stateOf(other).playing) pause(other);
    const state = stateOf(row);
    if (state.position >= (durationOf(row) || Infinity) - 0.05) state.position = 0;
    audio.currentTime = state.position;
    const video = videoOf(row);
    if (video) { video.currentTime = state.position; video.play().catch(() => {}); }
    audio.play().catch((error) => { say(`cannot play: ${error.message}`); pause(row); });
    state.playing = true;
    loop();
    paintRow(row);
  }

  function pause(row, ended = false) {
    const state = stateOf(row), audio = audioOf(row);
    if (audio) { audio.pause(); state.position = ended ? audio.duration || state.position : audio.currentTime; }
    const video = videoOf(row);
    if (video) { video.pause(); video.currentTime = Math.min(state.position, video.duration || state.position); }
    state.playing = false;
    paintRow(row);
  }

  function toggle(row) { if (stateOf(row).playing) pause(row); else play(row); }

  function seek(row, seconds) {
    const state = stateOf(row), duration = durationOf(row);
    state.position = Math.max(0, Math.min(duration || 0, seconds));
    const audio = audioOf(row);
    if (audio) audio.currentTime = state.position;
    const video = videoOf(row);
    if (video) video.currentTime = Math.min(state.position, video.duration || state.position);
    paintRow(row);
  }

  function select(row, index) {
    const state = stateOf(row);
    if (index < 0 || index >= row.cards.length) return;
    current = rows.indexOf(row);
    requestMedia(current);
    if (index === state.selected) { paintRow(row); return; }
    const before = audioOf(row), wasPlaying = state.playing;
    const position = before && wasPlaying ? before.currentTime : state.position;
    if (before) before.pause();
    state.selected = index;
    state.position = Math.min(position, durationOf(row) || position);
    const after = audioOf(row);
    if (wasPlaying && after) {
      after.currentTime = state.position;
      after.play().catch(() => pause(row));
    } else if (wasPlaying) {
      pause(row);
      say(`card ${row.cards[index].position} has no audio`);
    } else if (after) {
      after.currentTime = state.position;
    }
    say(`card ${row.cards[index].position} selected`);
    paintRow(row);
    for (const other of rows) if (other !== row) paintRow(other);
  }

  function loop() {
    if (frame) return;
    const tick = () => {
      frame = 0;
      let any = false;
      for (const row of rows) {
        const state = stateOf(row);
        if (!state.playing) continue;
        any = true;
        const audio = audioOf(row);
        if (!audio) continue;
        state.position = audio.currentTime;
        const video = videoOf(row);
        if (video && video.readyState >= 1) {
          const end = video.duration || Infinity;
          if (state.position < end) {
            if (Math.abs(video.currentTime - state.position) > SYNC_S) video.currentTime = state.position;
            if (video.paused && !audio.paused) video.play().catch(() => {});
          }
        }
        paintRow(row);
      }
      if (any) frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
  }

  // -- verdicts -------------------------------------------------------------------------------
  // Verdicts show at once; each stays pending (drawn over the kernel's marks) until the kernel
  // acknowledges it, so quick successive keys never flicker back to an older value.
  const viewId = Math.random().toString(36).slice(2);
  let sequence = 0;
  const pending = [];
  function shown(key) {
    let mark = { ...(marks()[key] || {}) };
    for (const item of pending) if (item.key === key) mark = { ...mark, ...item.fields };
    return mark;
  }
  function rate(key, fields) {
    const seq = `${viewId}:${++sequence}`;
    pending.push({ seq, key, fields, at: Date.now() });
    paintMark(key, shown(key));
    model.send({ type: "rate", key, seq, ...fields });
    paintSaved();
    setTimeout(paintSaved, UNCONFIRMED_MS + 50);
  }
  let refused = 0; // verdicts the kernel could not store (its message says why)
  function acknowledge(seq, ok) {
    const at = pending.findIndex((item) => item.seq === seq);
    if (at < 0) return;
    if (!ok) refused += 1;
    const done = pending.splice(0, at + 1);
    for (const item of done) paintMark(item.key, shown(item.key));
    paintSaved();
  }
  // Tell the rater whether the kernel has every verdict (a busy or stopped kernel holds them).
  function paintSaved() {
    if (!pending.length) {
      saved.textContent = refused ? `${refused} verdict(s) not saved (see the message)` : sequence ? "✓ all verdicts saved" : "";
      saved.className = refused ? "qnb-rv-saved qnb-rv-late" : "qnb-rv-saved";
      return;
    }
    const late = pending.some((item) => Date.now() - item.at > UNCONFIRMED_MS);
    saved.textContent = late
      ? `${pending.length} verdict(s) not yet confirmed by the kernel: is it busy or stopped?`
      : `saving ${pending.length}…`;
    saved.className = late ? "qnb-rv-saved qnb-rv-late" : "qnb-rv-saved";
  }

  function paintMark(key, mark) {
    const view = views.get(key);
    if (!view) return;
    mark = mark || {};
    for (const button of view.scores) {
      button.setAttribute("aria-pressed", String(mark.score !== undefined && mark.score !== null && Number(button.dataset.score) === mark.score));
    }
    if (view.slider) {
      view.slider.value = mark.score === null || mark.score === undefined ? String(scale()[0]) : String(mark.score);
      view.sliderOut.textContent = mark.score === null || mark.score === undefined ? "–" : String(mark.score);
    }
    view.best.setAttribute("aria-pressed", String(!!mark.best));
    view.card.classList.toggle("qnb-rv-best", !!mark.best);
    if (document.activeElement !== view.note) view.note.value = mark.note || "";
  }

  function scoreBy(key, delta) {
    const [lo, hi] = scale(), mark = shown(key);
    const base = mark.score === null || mark.score === undefined ? (delta > 0 ? lo - delta : hi - delta) : mark.score;
    const value = Math.max(lo, Math.min(hi, Math.round((base + delta) * 1000) / 1000));
    rate(key, { score: value });
    say(`score ${value}`);
  }

  // -- building -------------------------------------------------------------------------------
  const rowViews = new Map();

  function buildCard(row, card, index) {
    const [lo, hi] = scale();
    const cardEl = h("div", { class: `qnb-rv-card qnb-rv-${card.status}`, role: "group", "aria-label": `Card ${card.label}`, "data-key": card.key });
    const select = h("button", { class: "qnb-rv-select", type: "button", "aria-pressed": "false",
      "aria-label": `Select card ${card.label} (key ${index + 1})`, onclick: () => { select_(row, index); } });
    select.append(h("span", { class: "qnb-rv-letter", text: card.label }));
    if (index < 9) select.append(h("kbd", { text: String(index + 1) }));
    const top = h("div", { class: "qnb-rv-top" }, select, card.detail ? h("div", { class: "qnb-rv-detail", text: card.detail }) : null);
    const view = { card: cardEl, select, scores: [], specOn: false, peaks: decodePeaks(card.peaks) };
    const box = h("div", { class: "qnb-rv-wavebox" });
    view.box = box;
    if (card.status === "ready" && card.peaks) {
      // Pointer seeking; keyboard users seek with the row's position slider or the arrow keys.
      view.canvas = h("canvas", { class: "qnb-rv-wave", role: "img",
        "aria-label": `Waveform of card ${card.label}, ${fmt(card.duration || 0)} long (click to seek)` });
      view.spec = h("canvas", { class: "qnb-rv-spec", role: "img", hidden: true, "aria-label": `Spectrogram of card ${card.label}` });
      view.played = h("div", { class: "qnb-rv-played" });
      view.head = h("div", { class: "qnb-rv-playhead" });
      box.append(view.canvas, view.spec, view.played, view.head);
      box.addEventListener("click", (event) => {
        const rect = box.getBoundingClientRect(), f = (event.clientX - rect.left) / rect.width;
        select_(row, index);
        seek(row, f * (card.duration || durationOf(row)));
        root.focus({ preventScroll: true });
      });
      view.specButton = h("button", { class: "qnb-rv-small", type: "button", "aria-pressed": "false", text: "Spectrogram",
        "aria-label": `Show spectrogram of card ${card.label}`, onclick: () => toggleSpec(card.key) });
    } else {
      box.classList.add("qnb-rv-empty");
      box.append(h("div", { class: "qnb-rv-why", text: card.reason || card.status }));
    }
    const scoreBar = h("div", { class: "qnb-rv-scores", role: "group", "aria-label": `Score for card ${card.label}` });
    const integral = Number.isInteger(lo) && Number.isInteger(hi) && hi - lo <= 10;
    if (integral) {
      for (let v = lo; v <= hi; v++) {
        const button = h("button", { class: "qnb-rv-score", type: "button", "data-score": String(v), text: String(v),
          "aria-label": `Score ${v} for card ${card.label}`, "aria-pressed": "false",
          onclick: () => { select_(row, index); rate(card.key, { score: shown(card.key).score === v ? null : v }); } });
        view.scores.push(button); scoreBar.append(button);
      }
    } else {
      view.slider = h("input", { type: "range", min: String(lo), max: String(hi), step: String(step() / 10), class: "qnb-rv-slider",
        "aria-label": `Score for card ${card.label}, ${lo} to ${hi}` });
      view.sliderOut = h("output", { class: "qnb-rv-out", text: "–" });
      view.slider.addEventListener("change", () => rate(card.key, { score: Number(view.slider.value) }));
      view.slider.addEventListener("input", () => { view.sliderOut.textContent = view.slider.value; });
      scoreBar.append(view.slider, view.sliderOut);
    }
    view.best = h("button", { class: "qnb-rv-bestbtn", type: "button", "aria-pressed": "false", text: "★ Best",
      "aria-label": `Best in row: card ${card.label}`,
      onclick: () => { select_(row, index); rate(card.key, { best: !shown(card.key).best }); } });
    view.note = h("textarea", { class: "qnb-rv-note", rows: "1", placeholder: "note", "aria-label": `Note for card ${card.label}` });
    let timer = 0;
    const sendNote = () => { clearTimeout(timer); timer = 0; if ((shown(card.key).note || "") !== view.note.value) rate(card.key, { note: view.note.value }); };
    view.note.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(sendNote, 800); });
    view.note.addEventListener("change", sendNote);
    view.note.addEventListener("blur", sendNote);
    const tools = h("div", { class: "qnb-rv-tools" }, scoreBar, view.best, view.specButton || null);
    cardEl.append(top, box, tools, view.note);
    views.set(card.key, view);
    cardEl.addEventListener("focusin", () => { current = rows.indexOf(row); });
    return cardEl;
  }
  const select_ = (row, index) => select(row, index);

  function build() {
    for (const row of rows) if (stateOf(row).playing) pause(row);
    rows = model.get("rows") || [];
    views.clear(); rowViews.clear();
    body.replaceChildren();
    header.replaceChildren(
      h("span", { class: "qnb-rv-title", text: model.get("title") || "review" }),
      h("span", { class: "qnb-rv-meta", text: ` · rater ${model.get("rater")} · scale ${scale()[0]}–${scale()[1]}${blindNow() ? " · blind" : ""}` }),
      blindNow() ? h("button", { class: "qnb-rv-reveal", type: "button", text: "Reveal", "aria-label": "Reveal what each card is (ends blind mode)",
        onclick: () => { if (window.confirm("Reveal which generation each card is? Blind mode ends for this board.")) model.send({ type: "reveal" }); } }) : null,
      h("button", { class: "qnb-rv-small", type: "button", text: "? Keys", "aria-label": "Show keyboard help", onclick: () => { showHelp = !showHelp; help.hidden = !showHelp; } }),
      saved,
    );
    rows.forEach((row, r) => {
      const section = h("section", { class: "qnb-rv-row", "aria-label": row.label, "data-key": row.key });
      const play_ = h("button", { class: "qnb-rv-play", type: "button", onclick: () => { current = r; toggle(row); root.focus({ preventScroll: true }); } });
      const time = h("span", { class: "qnb-rv-time", "aria-live": "off" });
      const seekBar = h("input", { class: "qnb-rv-seek", type: "range", min: "0", step: "0.01", value: "0", "aria-label": `Position in ${row.label}` });
      seekBar.addEventListener("input", () => { current = r; seek(row, Number(seekBar.value)); });
      const transport = h("div", { class: "qnb-rv-transport" }, play_, seekBar, time);
      let video = null;
      if (row.video) {
        video = h("video", { class: "qnb-rv-video", muted: true, playsinline: true, preload: "auto",
          "aria-label": `Source video of ${row.label} (muted, follows the selected audio)` });
        video.muted = true;
        video.addEventListener("click", () => { current = r; toggle(row); });
      }
      const cards = h("div", { class: "qnb-rv-cards" });
      row.cards.forEach((card, i) => cards.append(buildCard(row, card, i)));
      section.append(h("h3", { class: "qnb-rv-rowlabel", text: row.label }),
        h("div", { class: "qnb-rv-rowbody" }, video ? h("div", { class: "qnb-rv-videobox" }, video) : null,
          h("div", { class: "qnb-rv-main" }, transport, cards)));
      section.addEventListener("focusin", () => { current = r; });
      body.append(section);
      rowViews.set(row.key, { section, play: play_, time, seek: seekBar, video });
      attachVideo(row.key);
    });
    for (const [key, loaded] of media) {
      const view = views.get(key);
      if (view && view.box && view.canvas) { view.box.append(loaded.audio); view.card.classList.add("qnb-rv-loaded"); }
    }
    current = Math.min(current, Math.max(0, rows.length - 1));
    requestAnimationFrame(() => { for (const key of views.keys()) drawWave(key); });
    for (const row of rows) paintRow(row);
    paintMarks();
    requestMedia(current);
    if (rows.length > 2) for (let i = 2; i < rows.length; i += 2) setTimeout(() => requestMedia(i), 300 * i);
  }

  function paintMarks() { for (const key of views.keys()) paintMark(key, shown(key)); }

  // -- keys -------------------------------------------------------------------------------
  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return; // leave the host's shortcuts alone
    if (event.shiftKey && event.key === "Enter") return; // run cell
    const typing = event.target.closest && event.target.closest("textarea, input[type=text]");
    event.stopPropagation(); // keys in the board are the board's (no cell commands)
    if (typing) { if (event.key === "Escape") { event.target.blur(); root.focus({ preventScroll: true }); } return; }
    const row = rows[current];
    if (!row) return;
    const state = stateOf(row), card = row.cards[state.selected];
    const digit = /^Digit([0-9])$/.exec(event.code || "") || /^Numpad([0-9])$/.exec(event.code || "");
    let handled = true;
    if (digit && event.shiftKey && card) {
      const [lo, hi] = scale(), n = Number(digit[1]);
      const value = hi - lo <= 10 ? n : lo + n * step();
      if (value >= lo && value <= hi) { rate(card.key, { score: value }); say(`card ${card.position}: score ${value}`); }
    } else if (digit && !event.shiftKey) {
      const n = Number(digit[1]);
      if (n >= 1) select(row, n - 1);
    } else if (event.key === " " || event.key === "k") toggle(row);
    else if (event.key === "ArrowLeft") seek(row, state.position - (event.shiftKey ? 5 : 1));
    else if (event.key === "ArrowRight") seek(row, state.position + (event.shiftKey ? 5 : 1));
    else if (event.key === "Home") seek(row, 0);
    else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      const next = current + (event.key === "ArrowUp" ? -1 : 1);
      if (next >= 0 && next < rows.length) {
        if (state.playing) pause(row);
        current = next; requestMedia(current);
        const parts = rowViews.get(rows[current].key);
        if (parts) parts.section.scrollIntoView({ block: "nearest" });
        for (const r of rows) paintRow(r);
        say(`${rows[current].label}`);
      }
    } else if ((event.key === "+" || event.key === "=") && card) scoreBy(card.key, step());
    else if ((event.key === "-" || event.key === "_") && card) scoreBy(card.key, -step());
    else if ((event.key === "b" || event.key === "B") && card) { rate(card.key, { best: !shown(card.key).best }); say(`card ${card.position}: best toggled`); }
    else if ((event.key === "n" || event.key === "N") && card) { const view = views.get(card.key); if (view) view.note.focus(); }
    else if ((event.key === "s" || event.key === "S")) { const on = !row.cards.some((c) => views.get(c.key) && views.get(c.key).specOn); for (const c of row.cards) toggleSpec(c.key, on); }
    else if (event.key === "?") { showHelp = !showHelp; help.hidden = !showHelp; }
    else handled = false;
    if (handled) event.preventDefault();
  }
  root.addEventListener("keydown", onKey);

  const onRows = () => build();
  const onMarks = () => paintMarks();
  const onMessage = () => { note.textContent = model.get("message") || ""; };
  model.on("change:rows", onRows);
  model.on("change:marks", onMarks);
  model.on("change:message", onMessage);
  model.on("change:revealed", onRows);
  model.on("msg:custom", onCustom);
  const redraw = () => { for (const key of views.keys()) drawWave(key); };
  const resize = new ResizeObserver(redraw);
  resize.observe(body);
  // JupyterLab marks a theme change on <body>: the waveform colours follow it.
  const theme = new MutationObserver(() => requestAnimationFrame(redraw));
  theme.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  build();
  onMessage();

  return () => {
    for (const row of rows) if (stateOf(row).playing) pause(row);
    if (frame) cancelAnimationFrame(frame);
    resize.disconnect();
    theme.disconnect();
    model.off("change:rows", onRows);
    model.off("change:marks", onMarks);
    model.off("change:message", onMessage);
    model.off("change:revealed", onRows);
    model.off("msg:custom", onCustom);
    for (const loaded of media.values()) { loaded.audio.pause(); URL.revokeObjectURL(loaded.url); }
    for (const url of videoUrls.values()) if (url.startsWith("blob:")) URL.revokeObjectURL(url);
  };
}

export default { render };
