// An exported listening test: the board's own view and session (static/board/) run against an
// in-page model that stands in for the kernel. It answers the board's messages (protocol.py)
// from the files embedded in the page, keeps every answer in the browser's storage as it is
// given, and leads the rater through the trials (plan.js) under the test's rules: each card
// heard, and rated where the design asks, before the next one. Nothing leaves the page but the
// result file (a download) and, when the test names one, its POST to the submit URL.

/** The result file's format (review_board/results.py reads it). */
export const RESULT_FORMAT = "qubico-nb/listening-result";
export const RESULT_VERSION = 1;
const STORAGE_PREFIX = "qnb-listening-test";

/** The test the page carries (the JSON block the kernel wrote). */
export function readTest(doc = document) {
  return JSON.parse(doc.getElementById("qnb-test").textContent);
}

/** An embedded file's bytes (its base64 block decoded once, on first use). */
export class EmbeddedFiles {
  constructor(doc = document) {
    this.doc = doc;
    this.cache = new Map();
  }

  bytes(token) {
    if (!this.cache.has(token)) {
      const block = this.doc.querySelector(`script[data-file="${CSS.escape(token)}"]`);
      const text = atob(block ? block.textContent.trim() : "");
      const out = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
      this.cache.set(token, out);
    }
    return this.cache.get(token);
  }
}

/** The letters cards are shown as: A, B, ... Z, AA, ... (board.letters). */
export function positionName(i) {
  let name = "";
  for (let j = i; j >= 0; j = Math.floor(j / 26) - 1) name = String.fromCharCode(65 + (j % 26)) + name;
  return name;
}

/** A rater's name as typed, made comparable (as `rater_name` in results.py): NFKC, without
 * control or zero-width characters, stripped; "" when it holds a path separator (import refuses it). */
export function raterName(text) {
  const name = text.normalize("NFKC").replace(/[\p{Cc}\p{Cf}]/gu, "").trim();
  return /[/\\]/.test(name) ? "" : name;
}

/** A rater's name as it may appear in a file name. */
export function fileSafe(name) {
  return name.normalize("NFKC").replace(/[^\p{L}\p{N}_.-]+/gu, "_").replace(/^[._]+/, "").slice(0, 60) || "rater";
}

/** One rater's progress in the browser's storage: every answer kept as it is given. */
export class AnswerStore {
  constructor(test, rater, storage = globalThis.localStorage) {
    this.key = `${STORAGE_PREFIX}:${test.test}:${rater}`;
    this.storage = storage;
    this.error = "";
    let saved = null;
    try { saved = JSON.parse(storage.getItem(this.key) || "null"); } catch { saved = null; }
    this.data = saved && saved.version === RESULT_VERSION ? saved : {
      version: RESULT_VERSION, started_at: new Date().toISOString(), at: 0, trials: {}, heard: [], finished_at: null,
    };
  }

  trial(id) {
    if (!this.data.trials[id]) this.data.trials[id] = {};
    return this.data.trials[id];
  }

  /** Write it all; false (with `error` set) when the browser refuses (storage off or full). */
  save() {
    try {
      this.storage.setItem(this.key, JSON.stringify(this.data));
      this.error = "";
      return true;
    } catch (error) {
      this.error = `this browser did not keep the answer (${error.name}); keep this page open and finish the test`;
      return false;
    }
  }
}

/** The kernel's stand-in for one rater: the board's synced state, and its messages answered
 *  from the embedded files. Its `rows` are the current trial's one row. */
export class StandaloneModel {
  constructor(test, files, { title = "Listening test" } = {}) {
    this.test = test;
    this.files = files;
    this.state = {
      title, rows: [], scale: test.scale, blind: true, revealed: false, rater: "", marks: {}, message: "",
      level_match: !!test.level_match, off_board: 0, measuring: 0, design: test.design,
      no_preference: test.no_preference !== false, raters: [], standalone: true,
    };
    this.handlers = new Map();
    this.cards = new Map(); // view key -> the test's card
    this.videos = new Map(); // row key -> file token
    this.served = new Set(); // what was sent since the page last asked
    this.queue = [];
    this.timer = null;
    this.onRate = () => ({ state: "refused", why: "no trial open" });
  }

  get(name) { return this.state[name]; }

  set(name, value) {
    this.state[name] = value;
    this.emit(`change:${name}`);
  }

  save_changes() {}

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(fn);
  }

  off(event, fn) {
    if (!event) this.handlers.clear();
    else if (!fn) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(fn);
  }

  emit(event, ...args) { for (const fn of [...(this.handlers.get(event) || [])]) fn(...args); }

  /** A message from the board, answered on a later turn (as the kernel's would be). */
  send(message) { setTimeout(() => this.receive(message), 0); }

  receive(message) {
    if (message.type === "media") this.serve(message);
    else if (message.type === "rate") {
      const { seq, ...fields } = message;
      const answer = this.onRate(fields);
      this.emit("msg:custom", { type: "ack", seq, ...answer });
    }
  }

  /** Show a trial: its one row of cards (view keys: the trial's id and the card's key). */
  showTrial(row, cards, marks) {
    this.cards.clear();
    for (const card of cards) this.cards.set(card.view, card);
    this.set("marks", marks);
    this.set("rows", [row]);
  }

  /** Send what the page still lacks, one file a turn (the page can play the first at once). */
  serve({ keys, rows }) {
    const asked = new Set([...keys.map((key) => `card:${key}`), ...rows.map((row) => `row:${row}`)]);
    for (const item of [...this.served]) if (!asked.has(item)) this.served.delete(item);
    this.queue = [...asked].filter((item) => !this.served.has(item));
    if (!this.timer) this.timer = setTimeout(() => this.next(), 0);
  }

  next() {
    this.timer = null;
    const item = this.queue.shift();
    if (!item) return;
    this.served.add(item);
    const [kind, key] = [item.slice(0, item.indexOf(":")), item.slice(item.indexOf(":") + 1)];
    if (kind === "card" && this.cards.has(key)) {
      const card = this.cards.get(key), file = this.test.files[card.file];
      this.emit("msg:custom", { type: "media", key, mime: file.mime }, [this.files.bytes(card.file).slice().buffer]);
      const peaks = card.peaks ? decodePeaks(card.peaks) : new Int8Array(0);
      this.emit("msg:custom", { type: "drawing", key, spectrogram: [0, 0] }, [new ArrayBuffer(0), peaks.buffer]);
    } else if (kind === "row" && this.videos.has(key)) {
      const token = this.videos.get(key);
      this.emit("msg:custom", { type: "video", row: key, mime: this.test.files[token].mime }, [this.files.bytes(token).slice().buffer]);
    }
    if (this.queue.length) this.timer = setTimeout(() => this.next(), 0);
  }
}

/** What keeps a trial from being done: cards not heard yet, cards not rated, no choice. */
export function missing(test, trial, answers, heard) {
  const unheard = [trial.reference, ...trial.cards].filter((card) => card && !heard.has(card.view));
  let unrated = 0;
  if (test.design === "pairwise") unrated = answers[trial.cards[0].key]?.answers?.choice ? 0 : 1;
  else unrated = trial.cards.filter((card) => !Number.isFinite(answers[card.key]?.score)).length;
  return { unheard: unheard.length, unrated };
}

/** The sentence under a trial: what is left to do, or that it is done. */
export function rulesText(test, { unheard, unrated }) {
  const parts = [];
  if (unheard) parts.push(`play ${unheard === 1 ? "1 more card" : `${unheard} more cards`}`);
  if (unrated) parts.push(test.design === "pairwise" ? "choose which is better" : `rate ${unrated === 1 ? "1 more card" : `${unrated} more cards`}`);
  return parts.length ? `To go on: ${parts.join(", then ")}.` : "Done: go on when you are ready.";
}

/** The page: the start (name, instructions), one trial at a time, the end (file saved, sent). */
export class TestPage {
  constructor(root, { doc = document, storage = globalThis.localStorage, location = globalThis.location } = {}) {
    this.root = root;
    this.doc = doc;
    this.storage = storage;
    this.test = readTest(doc);
    this.files = new EmbeddedFiles(doc);
    this.parts = {
      start: root.querySelector("#qnb-x-start"), name: root.querySelector("#qnb-x-name"), begin: root.querySelector("#qnb-x-begin"),
      resume: root.querySelector("#qnb-x-resume"), trial: root.querySelector("#qnb-x-trial"), board: root.querySelector("#qnb-x-board"),
      progress: root.querySelector("#qnb-x-progress"), bar: root.querySelector("#qnb-x-bar"), rules: root.querySelector("#qnb-x-rules"),
      back: root.querySelector("#qnb-x-back"), next: root.querySelector("#qnb-x-next"), done: root.querySelector("#qnb-x-done"),
      save: root.querySelector("#qnb-x-save"), sent: root.querySelector("#qnb-x-sent"), resend: root.querySelector("#qnb-x-resend"),
    };
    const given = new URLSearchParams(location?.search || "").get("rater");
    if (given) { this.parts.name.value = given.slice(0, 100); this.parts.name.readOnly = true; }
    this.parts.name.addEventListener("input", () => this.paintStart());
    this.parts.begin.addEventListener("click", () => this.begin());
    this.parts.name.addEventListener("keydown", (event) => { if (event.key === "Enter") this.begin(); });
    this.parts.back.addEventListener("click", () => this.go(this.at - 1));
    this.parts.next.addEventListener("click", () => this.forward());
    this.parts.save.addEventListener("click", () => this.download());
    this.parts.resend.addEventListener("click", () => this.submit());
    // Enter goes on from anywhere but a text field (the board keeps its own keys to itself).
    doc.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.ctrlKey || event.metaKey || event.altKey) return;
      if (this.parts.trial.hidden || event.target.closest?.("textarea, input[type=text]")) return;
      event.preventDefault();
      event.stopPropagation();
      this.forward();
    }, true);
    this.paintStart();
  }

  rater() { return raterName(this.parts.name.value); }

  paintStart() {
    const rater = this.rater();
    this.parts.begin.disabled = !rater;
    const saved = rater ? new AnswerStore(this.test, rater, this.storage) : null;
    const count = saved ? Object.keys(saved.data.trials).length : 0;
    this.parts.resume.textContent = saved?.data.finished_at
      ? "You finished this test in this browser: starting again shows your answers, and Finish saves them again."
      : count ? "Your answers so far are kept in this browser: you will continue where you left off."
      : /[/\\]/.test(this.parts.name.value) ? "A name cannot hold / or \\." : "";
    this.parts.begin.textContent = count ? "Continue" : "Start";
  }

  begin() {
    const rater = this.rater();
    if (!rater || this.session) return;
    this.store = new AnswerStore(this.test, rater, this.storage);
    this.trials = planTrials(this.test, rater).map((trial) => ({
      ...trial,
      reference: trial.reference && { ...trial.reference, view: `${trial.id}|${trial.reference.key}` },
      cards: trial.cards.map((card) => ({ ...card, view: `${trial.id}|${card.key}` })),
    }));
    this.heard = new Set(this.store.data.heard);
    this.model = new StandaloneModel(this.test, this.files, { title: this.parts.start.dataset.title || "Listening test" });
    this.model.set("rater", rater);
    this.model.onRate = (message) => this.rate(message);
    this.session = new BoardSession(this.model, {});
    this.session.on((kind, key) => { if (kind === "heard") this.onHeard(key); });
    this.parts.start.hidden = true;
    this.parts.trial.hidden = false;
    this.store.save();
    this.go(Math.min(this.store.data.at || 0, this.trials.length - 1));
  }

  /** Open trial `at` (its row alone on the board). */
  go(at) {
    if (at < 0 || at >= this.trials.length) return;
    this.at = at;
    this.store.data.at = at;
    this.store.save();
    const trial = this.trials[at];
    const shown = [trial.reference, ...trial.cards].filter(Boolean);
    let letter = 0;
    const row = {
      key: trial.id,
      label: trial.training ? "Practice (nothing you answer here is kept)" : `Row ${this.rowNumber(at)} of ${this.rowCount()}`,
      video: !!this.test.rows.concat(this.test.training || []).find((r) => r.key === trial.row)?.video,
      cards: shown.map((card) => {
        const reference = card.role === "reference";
        const position = reference ? "Ref" : positionName(letter++);
        return {
          key: card.view, position, status: "ready", label: reference ? "Reference" : position, detail: "", reason: "",
          ...(reference ? { role: "reference" } : {}),
          ...(Number.isFinite(card.duration) ? { duration: card.duration } : {}),
          ...(card.peaks ? { peaks: card.peaks } : {}),
          ...(Number.isFinite(card.gain_db) ? { gain_db: card.gain_db } : {}),
        };
      }),
    };
    const source = this.test.rows.concat(this.test.training || []).find((r) => r.key === trial.row);
    this.model.videos.clear();
    if (source?.video) this.model.videos.set(trial.id, source.video);
    this.model.showTrial(row, shown, this.marksOf(trial));
    if (!this.view) this.view = new BoardView({ model: this.model, el: this.parts.board, session: this.session });
    this.view.current = 0;
    this.paintTrial();
    this.view.root.focus({ preventScroll: true });
  }

  /** Rows are counted without the training row; a pairwise test counts pairs. */
  rowNumber(at) { return this.trials.slice(0, at + 1).filter((trial) => !trial.training).length; }
  rowCount() { return this.trials.filter((trial) => !trial.training).length; }

  marksOf(trial) {
    const answers = this.store.trial(trial.id);
    const marks = {};
    for (const card of trial.cards) if (answers[card.key]) marks[card.view] = stripTime(answers[card.key]);
    return marks;
  }

  /** A verdict from the board: kept (in the browser's storage) as given, then acknowledged. */
  rate(message) {
    const trial = this.trials[this.at];
    const card = trial?.cards.find((c) => c.view === message.key);
    if (!card) return { state: "refused", why: "the reference is listened to, not rated" };
    const fields = {};
    for (const name of ["score", "best", "note", "answers"]) if (name in message) fields[name] = message[name];
    const why = checkFields(this.test, fields);
    if (why) { this.model.set("message", `not kept: ${why}`); return { state: "refused", why }; }
    const answers = this.store.trial(trial.id);
    const now = new Date().toISOString();
    if (fields.best) {
      for (const other of trial.cards) if (other !== card && answers[other.key]?.best) answers[other.key] = { ...answers[other.key], best: false, rated_at: now };
    }
    const entry = { ...(answers[card.key] || {}), ...fields, rated_at: now };
    if (entry.score === null) delete entry.score;
    if (entry.answers && entry.answers.choice === null) delete entry.answers.choice;
    answers[card.key] = entry;
    const kept = this.store.save();
    this.model.set("message", kept ? "" : this.store.error);
    this.model.set("marks", this.marksOf(trial));
    this.paintTrial();
    return kept ? { state: "saved" } : { state: "waiting", why: this.store.error };
  }

  onHeard(key) {
    if (this.heard.has(key)) return;
    this.heard.add(key);
    this.store.data.heard = [...this.heard];
    this.store.save();
    this.paintTrial();
  }

  paintTrial() {
    const trial = this.trials[this.at];
    const left = missing(this.test, trial, this.store.trial(trial.id), this.heard);
    const ready = !left.unheard && !left.unrated;
    const last = this.at === this.trials.length - 1;
    this.parts.rules.textContent = rulesText(this.test, left);
    this.parts.rules.classList.toggle("qnb-x-ready", ready);
    this.parts.next.disabled = !ready;
    this.parts.next.textContent = last ? "Finish" : trial.training ? "Start the test" : "Next";
    this.parts.back.disabled = this.at === 0;
    const total = this.rowCount(), done = this.trials.filter((t, i) => !t.training && (i < this.at || (i === this.at && ready))).length;
    this.parts.progress.textContent = trial.training ? "Practice" : `${this.rowNumber(this.at)} of ${total}`;
    this.parts.bar.max = total;
    this.parts.bar.value = done;
  }

  forward() {
    const trial = this.trials[this.at];
    const left = missing(this.test, trial, this.store.trial(trial.id), this.heard);
    if (left.unheard || left.unrated) return;
    if (this.at < this.trials.length - 1) this.go(this.at + 1);
    else this.finish();
  }

  /** The result file: every trial's cards in the order shown and the answers given. */
  result() {
    const trials = this.trials.filter((trial) => !trial.training).map((trial) => {
      const answers = this.store.trial(trial.id);
      const kept = {};
      for (const card of trial.cards) if (answers[card.key]) kept[card.key] = answers[card.key];
      return { row: trial.row, shown: trial.cards.map((card) => card.key), reference: trial.reference?.key || null, answers: kept };
    });
    return {
      format: RESULT_FORMAT, version: RESULT_VERSION, test: this.test.test, design: this.test.design, scale: this.test.scale,
      rater: this.rater(), started_at: this.store.data.started_at, finished_at: this.store.data.finished_at,
      level_match: !!this.test.level_match, trials,
    };
  }

  fileName() { return `${this.test.test}-${fileSafe(this.rater())}.json`; }

  finish() {
    this.store.data.finished_at = new Date().toISOString();
    this.store.save();
    for (const parts of this.view.rowViews.values()) if (parts.transport.playing) this.view.pause(parts);
    this.parts.trial.hidden = true;
    this.parts.done.hidden = false;
    this.parts.progress.textContent = "Finished";
    this.parts.bar.value = this.parts.bar.max;
    this.download();
    if (this.test.submit_url) this.submit();
    this.parts.save.focus();
  }

  download() {
    const blob = new Blob([JSON.stringify(this.result(), null, 1)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = this.doc.createElement("a");
    link.href = url;
    link.download = this.fileName();
    this.doc.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  /** POST the result to the test's submit URL (as text/plain: a simple request, no preflight). */
  async submit() {
    const { sent, resend } = this.parts;
    resend.hidden = true;
    sent.textContent = "Sending your answers…";
    try {
      const response = await fetch(this.test.submit_url, {
        method: "POST", body: JSON.stringify(this.result()), headers: { "Content-Type": "text/plain;charset=UTF-8" },
        credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store",
      });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      sent.textContent = "Your answers were sent. Thank you!";
    } catch (error) {
      sent.textContent = `Your answers could not be sent (${error.message}). Send the saved file instead, or try again.`;
      resend.hidden = false;
    }
  }
}

function stripTime({ rated_at: _, ...mark }) { return mark; }

/** Why a verdict's fields are not ones this test keeps ("" when they are). */
export function checkFields(test, fields) {
  const [low, high] = test.scale;
  if ("score" in fields && fields.score !== null && !(Number.isFinite(fields.score) && fields.score >= low && fields.score <= high)) {
    return `a score is a number from ${low} to ${high}`;
  }
  if ("best" in fields && typeof fields.best !== "boolean") return "best is true or false";
  if ("note" in fields && typeof fields.note !== "string") return "a note is text";
  if ("answers" in fields && (typeof fields.answers !== "object" || fields.answers === null || Array.isArray(fields.answers))) return "answers are an object";
  const choice = fields.answers?.choice;
  const allowed = test.no_preference === false ? ["a", "b"] : ["a", "b", "tie"];
  if (choice !== undefined && choice !== null && !allowed.includes(choice)) return `a choice is one of ${allowed.join(", ")}`;
  return "";
}

/** Start the page once it is parsed (the module runs after the document is). */
export function startTest() {
  const root = document.getElementById("qnb-x");
  if (!root || globalThis.qnbTest) return;
  const dark = globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches;
  document.body.dataset.jpThemeLight = String(!dark);
  globalThis.qnbTest = new TestPage(root);
  performance.mark("qnb-test-ready"); // the benchmark's "interactive"
}

startTest();
