// Verdicts on their way to the kernel. A verdict shows at once and stays pending (drawn over
// the kernel's marks) until the kernel acknowledges it: "saved" (on disk), "waiting" (the store
// is busy: the kernel keeps it and retries) or "refused" (why is in the board's message). So
// quick successive keys never flicker back to an older value, and "saved" means on disk.

/** A verdict the kernel has not confirmed within this long is called out (ms). */
export const UNCONFIRMED_MS = 4000;

export class VerdictLedger {
  /** `send(message)` sends a rate message; `now()` is the clock (ms). */
  constructor({ send, now = () => Date.now() }) {
    this.send = send;
    this.now = now;
    this.prefix = Math.random().toString(36).slice(2, 10);
    this.sent = 0;
    this.pending = []; // {seq, number, key, fields, at, waiting}
    this.refusedAfter = -1; // the number of the last verdict refused; -1: none since a save
    this.refused = 0;
    this.anySaved = false;
    this.listeners = new Set();
  }

  /** Send a change of one card's verdict (`playback`: how the card plays, if it has audio yet);
   *  returns its seq. */
  rate(key, fields, playback) {
    const number = ++this.sent, seq = `${this.prefix}:${number}`;
    this.pending.push({ seq, number, key, fields, at: this.now(), waiting: "" });
    this.send({ type: "rate", key, seq, ...fields, ...(playback ? { playback } : {}) });
    this.changed();
    return seq;
  }

  /** An ack from the kernel: {seq, state, why}. */
  acknowledge({ seq, state, why }) {
    const item = this.pending.find((p) => p.seq === seq);
    if (!item) return;
    if (state === "waiting") {
      item.waiting = why || "the store is busy";
    } else {
      this.pending.splice(this.pending.indexOf(item), 1);
      if (state === "refused") {
        this.refused += 1;
        this.refusedAfter = Math.max(this.refusedAfter, item.number);
      } else if (state === "saved") {
        this.anySaved = true;
        if (item.number > this.refusedAfter) this.refused = 0; // a later verdict went through
      }
    }
    this.changed();
  }

  /** The card's marks as the rater should see them: the kernel's, then what is pending. */
  shown(key, marks) {
    let mark = { ...((marks?.[key]) || {}) };
    for (const item of this.pending) if (item.key === key) mark = { ...mark, ...item.fields };
    return mark;
  }

  /** {text, alert} for the board's header: is every verdict on disk? */
  status() {
    const n = this.pending.length;
    if (!n) {
      if (this.refused) return { text: `${this.refused} verdict(s) not saved (see the message)`, alert: true };
      return { text: this.anySaved ? "✓ all verdicts saved" : "", alert: false };
    }
    const waiting = this.pending.find((p) => p.waiting);
    if (waiting) {
      return { text: `${n} verdict(s) not saved yet (${waiting.waiting}); the kernel keeps them and retries`, alert: true };
    }
    if (this.pending.some((p) => this.now() - p.at > UNCONFIRMED_MS)) {
      return { text: `${n} verdict(s) not yet confirmed by the kernel: is it busy or stopped?`, alert: true };
    }
    return { text: `saving ${n}…`, alert: false };
  }

  /** Call `listener()` on every change; returns the function that stops it. */
  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed() {
    for (const listener of [...this.listeners]) listener();
  }
}
