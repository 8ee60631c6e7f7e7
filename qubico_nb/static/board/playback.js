// One transport per row: the row's clock, which card is heard, its loop, and the video that
// follows it. Cards play from decoded AudioBuffers (Web Audio), every card of the row started
// together so they stay sample-aligned, all silent but the one heard: a switch crossfades two
// gains over FADE_S with equal power, so the new card is heard from the very sample the old one
// reached, with no gap, no click and no drift, however late the switch is scheduled. A card Web
// Audio cannot decode plays through an <audio> element instead (to about 0.1 s).

/** The equal-power crossfade of a switch (s). */
export const FADE_S = 0.008;
/** A switch is scheduled at least this far ahead of the audio clock, and more than the
 *  context's own render latency, so it lands when planned, never late (s). */
export const AHEAD_S = 0.006;
/** A video further than this from the clock seeks to it; closer, its speed pulls it in (s). */
export const VIDEO_SEEK_S = 0.25;
/** How hard the video's speed pulls it onto the clock (per s of drift), and the most it may. */
export const VIDEO_PULL = 3, VIDEO_MAX_RATE = 0.15;
/** The shortest loop (s). */
export const MIN_LOOP_S = 0.05;
/** Switches remembered for instrumentation (`RowTransport.switches`). */
const SWITCH_LOG = 64;

let sharedContext;

/** The page's one AudioContext (null where Web Audio is missing). Browsers cap how many a page
 *  may have, so every board shares it; it starts suspended and resumes on a click or key. */
export function audioContext() {
  if (sharedContext !== undefined) return sharedContext;
  const Context = globalThis.AudioContext || globalThis.webkitAudioContext;
  try {
    sharedContext = Context ? new Context({ latencyHint: "interactive" }) : null;
  } catch {
    sharedContext = null;
  }
  return sharedContext;
}

/** Linear amplitude of a gain in dB (not finite: 1, unchanged). */
export function dbToGain(db) {
  return Number.isFinite(db) ? 10 ** (db / 20) : 1;
}

/** Equal-power fade curves of `n` points: [out (cos), in (sin)]; out² + in² = 1 throughout. */
export function fadeCurves(n = 32) {
  const out = new Float32Array(n), into = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = (i / (n - 1)) * (Math.PI / 2);
    out[i] = Math.cos(x);
    into[i] = Math.sin(x);
  }
  return [out, into];
}
const [FADE_OUT, FADE_IN] = fadeCurves();

/** Run a fade `curve` on a gain from `t0`, cutting short any fade still running then. */
function fadeTo(gain, curve, t0) {
  try {
    if (gain.cancelAndHoldAtTime) gain.cancelAndHoldAtTime(t0); else gain.cancelScheduledValues(t0);
    gain.setValueCurveAtTime(curve, t0, FADE_S);
  } catch { // a curve still running at t0 (two switches within FADE_S): a plain ramp instead
    gain.cancelScheduledValues(0);
    gain.setValueAtTime(gain.value, t0);
    gain.linearRampToValueAtTime(curve[curve.length - 1], t0 + FADE_S);
  }
}

/** Where a clock is `elapsed` seconds after it read `offset`, inside `loop` ({start, end})
 *  if there is one (the offset is then inside it too), and never past `length`. */
export function advance(offset, elapsed, loop, length) {
  let position = offset + Math.max(0, elapsed);
  if (loop && position >= loop.end) position = loop.start + ((position - loop.start) % (loop.end - loop.start));
  return Math.min(position, length);
}

export class RowTransport {
  /** `duration(index)` is a card's length (s); `onEnd()` runs when playback reaches the end. */
  constructor({ count, duration, onEnd = () => {}, context = audioContext() }) {
    this.count = count;
    this.duration = duration;
    this.onEnd = onEnd;
    this.context = context;
    this.sources = new Array(count).fill(null); // {buffer} or {element}, per card
    this.gains = new Array(count).fill(1);
    this.selected = 0;
    this.playing = false;
    this.stored = 0; // the position while paused
    this.when = 0; // the clock: at context time `when` the position was `offset`
    this.offset = 0;
    this.group = null; // every decoded card, started together: {started, offset, voices, audible}
    this.element = null; // the <audio> heard instead, when the selected card has only that
    this.loop = null; // {start, end}
    this.video = null;
    this.output = null; // the node the row plays into (null: the speakers); a meter may listen here
    // the audio thread renders in chunks: never schedule inside the one it may be rendering
    this.ahead = context ? Math.max(AHEAD_S, (context.baseLatency || 0) + 0.002) : AHEAD_S;
    this.seekLead = 0.05; // how long the video takes to land after a seek (learnt)
    this.seekStarted = 0;
    this.switches = [];
    this.onVideoSeeked = () => {
      if (this.seekStarted) this.seekLead = 0.7 * this.seekLead + 0.3 * Math.min(0.5, (performance.now() - this.seekStarted) / 1000);
      this.seekStarted = 0;
    };
  }

  // -- sources ---------------------------------------------------------------------------------
  attachBuffer(index, buffer) { this.attach(index, { buffer }); }

  attachElement(index, element) {
    element.addEventListener("ended", () => { if (this.element === element) this.ended(); });
    this.attach(index, { element });
  }

  /** A card's file is here; a playing row takes it in (all cards restart together, aligned). */
  attach(index, source) {
    this.sources[index] = source;
    if (source.element) source.element.volume = Math.min(1, this.gains[index]);
    if (this.playing && source.buffer && !this.element) this.begin(this.position());
  }

  /** The card's file was released: it cannot play until attached again. */
  detach(index) {
    if (this.playing && index === this.selected) this.pause();
    const voice = this.group?.voices.get(index);
    if (voice) { voice.source.stop(); this.group.voices.delete(index); }
    this.sources[index] = null;
  }

  has(index) { return !!this.sources[index]; }

  /** Play card `index` at this linear gain (level matching); a sounding card follows in 20 ms. */
  setGain(index, gain) {
    this.gains[index] = gain;
    const source = this.sources[index];
    if (source?.element) source.element.volume = Math.min(1, gain);
    const voice = this.group?.voices.get(index);
    if (voice) voice.level.gain.setTargetAtTime(gain, this.context.currentTime, 0.02);
  }

  // -- the clock -------------------------------------------------------------------------------
  /** The length of the selected card (else of the longest). */
  length() {
    return this.duration(this.selected) || Math.max(0, ...Array.from({ length: this.count }, (_, i) => this.duration(i) || 0));
  }

  /** The row's position at context time `t` (the scheduling clock). */
  positionAt(t) {
    if (!this.playing) return this.stored;
    if (this.element) return this.element.currentTime;
    return advance(this.offset, t - this.when, this.loop, this.length());
  }

  /** The position now, as the audio graph schedules it. */
  position() { return this.positionAt(this.context ? this.context.currentTime : 0); }

  /** The position being heard now (the output's timestamp, extrapolated to this moment). */
  heard() {
    if (!this.playing || !this.context || this.element) return this.position();
    const stamp = this.context.getOutputTimestamp ? this.context.getOutputTimestamp() : null;
    if (!stamp?.contextTime) return this.position();
    return this.positionAt(stamp.contextTime + (performance.now() - stamp.performanceTime) / 1000);
  }

  /** Where playing would start: the paused position, inside the loop, not at the very end. */
  startingPoint() {
    let position = this.stored;
    if (position >= this.length() - 0.05) position = 0;
    if (this.loop && (position < this.loop.start || position >= this.loop.end)) position = this.loop.start;
    return position;
  }

  // -- playing ---------------------------------------------------------------------------------
  /** Start playing; false when the selected card has nothing to play yet. */
  play() {
    if (!this.sources[this.selected]) return false;
    if (this.context && this.context.state !== "running") this.context.resume().catch(() => {});
    this.playing = true;
    this.begin(this.startingPoint());
    this.videoTo(this.position(), true);
    return true;
  }

  pause() {
    this.stored = this.position();
    this.release(this.group, this.context ? this.context.currentTime : 0);
    if (this.element) this.element.pause();
    this.group = null;
    this.element = null;
    this.playing = false;
    this.videoTo(this.stored, false);
  }

  /** Go to `seconds` (inside the loop when there is one); playing rows continue from there. */
  seek(seconds) {
    let position = Math.max(0, Math.min(this.length() || 0, seconds));
    if (this.loop) position = Math.max(this.loop.start, Math.min(this.loop.end - 0.001, position));
    if (!this.playing) { this.stored = position; this.videoTo(position, false); return; }
    this.begin(position);
    this.videoTo(position, true);
  }

  /** Make card `index` the one heard, at the same sample; false if it has nothing to play and
   *  the row was playing (the row then pauses). */
  select(index, requestedAt = performance.now()) {
    if (index === this.selected) return true;
    if (!this.playing) { this.selected = index; this.stored = Math.min(this.stored, this.length()); return true; }
    if (!this.sources[index]) { this.pause(); this.selected = index; return false; }
    const before = this.selected, group = this.group;
    this.selected = index;
    if (group && !this.element && group.voices.has(before) && group.voices.has(index)) {
      // Both sound already, started together: the switch is a crossfade of their gains at t0,
      // so the new card is heard from the very sample the old one reached, whatever the timing.
      const t0 = this.context.currentTime + this.ahead;
      fadeTo(group.voices.get(before).fade.gain, FADE_OUT, t0);
      fadeTo(group.voices.get(index).fade.gain, FADE_IN, t0);
      group.audible = index;
      const at = this.positionAt(t0);
      this.log({ requestedAt, scheduledAt: t0, contextAt: this.context.currentTime, from: before, to: index,
        startOffset: at, oldElapsed: advance(group.offset, t0 - group.started, this.loop, Infinity) });
    } else {
      this.begin(this.position()); // an element on either side, or a card that came later
      this.log({ requestedAt, from: before, to: index, restarted: true });
    }
    return true;
  }

  /** Loop [start, end) for the whole row (null: no loop); a playing row stays in step. */
  setLoop(start, end) {
    const length = this.length();
    let loop = null;
    if (start !== null && start !== undefined) {
      const a = Math.max(0, Math.min(start, end)), b = Math.min(length, Math.max(start, end));
      if (b - a < MIN_LOOP_S) return false;
      loop = { start: a, end: b };
    }
    // Where the row is, read under the loop it has been playing in: under the new one (or none)
    // the time since the last start would not wrap, and the row would leap ahead.
    let at = this.positionAt(this.context ? this.context.currentTime + this.ahead : 0);
    this.loop = loop;
    if (this.playing) {
      if (this.loop && (at < this.loop.start || at >= this.loop.end)) at = this.loop.start;
      this.begin(at);
      this.videoTo(at, true);
    } else if (this.loop && (this.stored < this.loop.start || this.stored >= this.loop.end)) {
      this.stored = this.loop.start;
      this.videoTo(this.stored, false);
    }
    return true;
  }

  // -- voices ----------------------------------------------------------------------------------
  /** Start every decoded card of the row together at `position` (sample-aligned, silent but the
   *  selected one, which fades in), fading out what sounded before; the clock restarts there. A
   *  selected card that only has an element plays through it (the group keeps the clock). */
  begin(position) {
    const previous = this.group, element = this.element;
    this.group = null;
    this.element = null;
    const t0 = this.context ? this.context.currentTime + this.ahead : 0;
    if (this.context && this.sources.some((source) => source?.buffer)) {
      const group = { started: t0, offset: position, voices: new Map(), audible: -1 };
      this.sources.forEach((source, index) => {
        if (source?.buffer) group.voices.set(index, this.startBuffer(index, t0, position, group));
      });
      this.group = group;
      this.when = t0;
      this.offset = position;
    }
    this.release(previous, t0);
    if (element) element.pause();
    const selected = this.sources[this.selected];
    if (selected?.buffer && this.group) {
      fadeTo(this.group.voices.get(this.selected).fade.gain, FADE_IN, t0);
      this.group.audible = this.selected;
    } else if (selected?.element) {
      selected.element.currentTime = position;
      selected.element.volume = Math.min(1, this.gains[this.selected]);
      selected.element.play().catch(() => this.pause());
      this.element = selected.element;
    }
  }

  startBuffer(index, t0, position, group) {
    const context = this.context;
    const source = context.createBufferSource();
    source.buffer = this.sources[index].buffer;
    if (this.loop) { source.loop = true; source.loopStart = this.loop.start; source.loopEnd = this.loop.end; }
    const fade = context.createGain(), level = context.createGain();
    fade.gain.value = 0;
    level.gain.value = this.gains[index];
    source.connect(fade).connect(level).connect(this.output || context.destination);
    source.start(t0, position);
    source.onended = () => {
      level.disconnect();
      if (this.group === group && group.audible === index && this.playing) this.ended();
    };
    return { source, fade, level };
  }

  /** Fade out what a group lets be heard at `t0`, and stop all of it just after. */
  release(group, t0) {
    if (!group) return;
    const at = Math.max(group.started, t0);
    const heard = group.voices.get(group.audible);
    if (heard) fadeTo(heard.fade.gain, FADE_OUT, at);
    for (const voice of group.voices.values()) voice.source.stop(at + FADE_S + 0.002);
  }

  /** The voice heard now: {index, source, fade, level, started, offset} or {index, element}. */
  get voice() {
    if (this.element) return { index: this.selected, element: this.element };
    const voice = this.group?.voices.get(this.group.audible);
    return voice ? { index: this.group.audible, ...voice, started: this.group.started, offset: this.group.offset } : null;
  }

  ended() {
    this.group = null;
    this.element = null;
    this.playing = false;
    this.stored = this.length();
    this.videoTo(this.stored, false);
    this.onEnd();
  }

  log(entry) {
    this.switches.push(entry);
    if (this.switches.length > SWITCH_LOG) this.switches.shift();
  }

  // -- the video -------------------------------------------------------------------------------
  setVideo(video) {
    if (this.video) this.video.removeEventListener("seeked", this.onVideoSeeked);
    this.video = video;
    if (video) video.addEventListener("seeked", this.onVideoSeeked);
  }

  /** Where the video should be for an audio position (it may be shorter than the audio). */
  videoTime(seconds) {
    return Math.min(seconds, this.video?.duration || seconds);
  }

  videoTo(seconds, playing) {
    const video = this.video;
    if (!video) return;
    video.playbackRate = 1;
    this.seekStarted = performance.now();
    video.currentTime = this.videoTime(seconds + (playing ? this.seekLead : 0));
    if (playing && seconds < (video.duration || Infinity)) video.play().catch(() => {});
    else video.pause();
  }

  /** Called every frame while playing: the video follows the row's clock, by its speed when
   *  close (no visible jumps), by a seek when far (a loop's wrap, a video that stalled). */
  follow() {
    const video = this.video;
    if (!video || !this.playing || video.readyState < 1 || video.seeking) return;
    const target = this.heard();
    if (target >= (video.duration || Infinity)) { if (!video.paused) video.pause(); return; }
    const drift = video.currentTime - target;
    if (Math.abs(drift) > VIDEO_SEEK_S || video.paused) { this.videoTo(target, true); return; }
    video.playbackRate = 1 - Math.max(-VIDEO_MAX_RATE, Math.min(VIDEO_MAX_RATE, drift * VIDEO_PULL));
  }

  dispose() {
    if (this.playing) this.pause();
    this.setVideo(null);
    for (const source of this.sources) if (source?.element) source.element.pause();
    this.sources.fill(null);
  }
}
