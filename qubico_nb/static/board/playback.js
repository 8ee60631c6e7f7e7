// One transport per row: the row's clock, which card sounds, its loop, and the video that
// follows it. Cards play from decoded AudioBuffers (Web Audio): a switch starts the new card at
// the very sample the row's clock has reached and crossfades over FADE_S with equal power, so
// there is no gap, no click and no drift. A card Web Audio cannot decode plays through an
// <audio> element instead (the row's clock then follows the element, to about 0.1 s).

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
    this.voice = null; // what sounds now: {index, source, fade, level, started, offset} or {index, element}
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
    element.addEventListener("ended", () => { if (this.voice && this.voice.element === element) this.ended(); });
    this.attach(index, { element });
  }

  attach(index, source) {
    this.sources[index] = source;
    if (source.element) source.element.volume = Math.min(1, this.gains[index]);
  }

  /** The card's file was released: it cannot play until attached again. */
  detach(index) {
    if (this.voice && this.voice.index === index) this.pause();
    this.sources[index] = null;
  }

  has(index) { return !!this.sources[index]; }

  /** Play card `index` at this linear gain (level matching); a sounding card follows in 20 ms. */
  setGain(index, gain) {
    this.gains[index] = gain;
    const source = this.sources[index];
    if (source?.element) source.element.volume = Math.min(1, gain);
    if (this.voice && this.voice.index === index && this.voice.level) {
      this.voice.level.gain.setTargetAtTime(gain, this.context.currentTime, 0.02);
    }
  }

  // -- the clock -------------------------------------------------------------------------------
  /** The length of the selected card (else of the longest). */
  length() {
    return this.duration(this.selected) || Math.max(0, ...Array.from({ length: this.count }, (_, i) => this.duration(i) || 0));
  }

  /** The row's position at context time `t` (the scheduling clock). */
  positionAt(t) {
    if (!this.playing) return this.stored;
    if (this.voice?.element) return this.voice.element.currentTime;
    return advance(this.offset, t - this.when, this.loop, this.length());
  }

  /** The position now, as the audio graph schedules it. */
  position() { return this.positionAt(this.context ? this.context.currentTime : 0); }

  /** The position being heard now (the output's timestamp, extrapolated to this moment). */
  heard() {
    if (!this.playing || !this.context || this.voice?.element) return this.position();
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
    const source = this.sources[this.selected];
    if (!source) return false;
    if (this.context && this.context.state !== "running") this.context.resume().catch(() => {});
    this.playing = true;
    this.startVoice(this.selected, this.startingPoint(), null);
    this.videoTo(this.position(), true);
    return true;
  }

  pause() {
    this.stored = this.position();
    this.stopVoice(this.voice);
    this.voice = null;
    this.playing = false;
    this.videoTo(this.stored, false);
  }

  /** Go to `seconds` (inside the loop when there is one); playing rows continue from there. */
  seek(seconds) {
    let position = Math.max(0, Math.min(this.length() || 0, seconds));
    if (this.loop) position = Math.max(this.loop.start, Math.min(this.loop.end - 0.001, position));
    if (!this.playing) { this.stored = position; this.videoTo(position, false); return; }
    this.startVoice(this.selected, position, this.voice);
    this.videoTo(position, true);
  }

  /** Make card `index` the one that sounds, at the same sample; false if it has nothing to
   *  play and the row was playing (the row then pauses). */
  select(index, requestedAt = performance.now()) {
    if (index === this.selected) return true;
    if (!this.playing) { this.selected = index; this.stored = Math.min(this.stored, this.length()); return true; }
    if (!this.sources[index]) { this.pause(); this.selected = index; return false; }
    const before = this.voice;
    this.selected = index;
    if (before?.source && this.sources[index].buffer) {
      // Sample-exact: the new card starts at the clock's position at t0, the old fades out then.
      const t0 = this.context.currentTime + this.ahead, at = this.positionAt(t0);
      if (at >= this.length()) { this.pause(); this.stored = this.length(); return true; }
      const voice = this.startBuffer(index, t0, at, true);
      this.fadeOut(before, t0);
      this.voice = voice;
      this.log({ requestedAt, scheduledAt: t0, contextAt: this.context.currentTime, from: before.index, to: index,
        startOffset: at, oldElapsed: advance(before.offset, t0 - before.started, this.loop, Infinity) });
    } else {
      this.startVoice(index, this.position(), before); // an element on either side: close, not exact
      this.log({ requestedAt, from: before ? before.index : -1, to: index, element: true });
    }
    return true;
  }

  /** Loop [start, end) for the whole row (null: no loop); a playing row stays in step. */
  setLoop(start, end) {
    const length = this.length();
    if (start === null || start === undefined) {
      this.loop = null;
    } else {
      const a = Math.max(0, Math.min(start, end)), b = Math.min(length, Math.max(start, end));
      if (b - a < MIN_LOOP_S) return false;
      this.loop = { start: a, end: b };
    }
    if (this.playing) {
      const t0 = this.context ? this.context.currentTime + this.ahead : 0;
      let at = this.positionAt(t0);
      if (this.loop && (at < this.loop.start || at >= this.loop.end)) at = this.loop.start;
      this.startVoice(this.selected, at, this.voice);
      this.videoTo(at, true);
    } else if (this.loop && (this.stored < this.loop.start || this.stored >= this.loop.end)) {
      this.stored = this.loop.start;
      this.videoTo(this.stored, false);
    }
    return true;
  }

  // -- voices ----------------------------------------------------------------------------------
  /** Start card `index` at `position` now, fading `previous` out (a seek or a loop change on the
   *  same card fades too, so nothing clicks); the clock restarts there. */
  startVoice(index, position, previous) {
    const source = this.sources[index];
    if (source.buffer && this.context) {
      const t0 = this.context.currentTime + this.ahead;
      this.voice = this.startBuffer(index, t0, position, !!previous);
      if (previous) this.fadeOut(previous, t0); else this.stopVoice(previous);
      this.when = t0;
      this.offset = position;
    } else {
      this.stopVoice(previous);
      const element = source.element;
      element.currentTime = position;
      element.volume = Math.min(1, this.gains[index]);
      element.play().catch(() => this.pause());
      this.voice = { index, element };
    }
  }

  startBuffer(index, t0, position, fadeIn) {
    const context = this.context;
    const source = context.createBufferSource();
    source.buffer = this.sources[index].buffer;
    if (this.loop) { source.loop = true; source.loopStart = this.loop.start; source.loopEnd = this.loop.end; }
    const fade = context.createGain(), level = context.createGain();
    level.gain.value = this.gains[index];
    source.connect(fade).connect(level).connect(this.output || context.destination);
    if (fadeIn) { fade.gain.setValueAtTime(0, 0); fade.gain.setValueCurveAtTime(FADE_IN, t0, FADE_S); }
    source.start(t0, position);
    const voice = { index, source, fade, level, started: t0, offset: position };
    source.onended = () => {
      level.disconnect();
      if (this.voice === voice && this.playing) this.ended();
    };
    return voice;
  }

  fadeOut(voice, t0) {
    if (!voice) return;
    if (voice.element) { voice.element.pause(); return; }
    const gain = voice.fade.gain;
    try {
      if (gain.cancelAndHoldAtTime) gain.cancelAndHoldAtTime(t0); else gain.cancelScheduledValues(t0);
      gain.setValueCurveAtTime(FADE_OUT, t0, FADE_S);
    } catch { // a fade still running at t0 (two switches within FADE_S): a plain ramp instead
      gain.cancelScheduledValues(0);
      gain.setValueAtTime(gain.value, t0);
      gain.linearRampToValueAtTime(0, t0 + FADE_S);
    }
    voice.source.stop(t0 + FADE_S + 0.002);
  }

  stopVoice(voice) {
    if (!voice) return;
    if (voice.element) { voice.element.pause(); return; }
    this.fadeOut(voice, Math.max(voice.started, this.context.currentTime)); // a short fade, no click
  }

  ended() {
    this.voice = null;
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
