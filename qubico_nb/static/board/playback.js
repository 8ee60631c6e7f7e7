// One transport per row: the row's clock, which card sounds, and the video that follows it.

/** Re-align the video when it is further than this from the row's clock (s). */
export const VIDEO_SEEK_S = 0.05;

export class RowTransport {
  /** `duration(index)` is a card's length in seconds; `onEnd()` runs when playback ends. */
  constructor({ count, duration, onEnd = () => {} }) {
    this.count = count;
    this.duration = duration;
    this.onEnd = onEnd;
    this.elements = new Array(count).fill(null);
    this.selected = 0;
    this.playing = false;
    this.stored = 0; // the position while paused
    this.video = null;
    this.ended = () => { if (this.playing) { this.pause(); this.stored = this.length(); this.onEnd(); } };
  }

  /** The card at `index` plays through `element` (an <audio> with its file). */
  attach(index, element) {
    this.elements[index] = element;
    element.addEventListener("ended", this.ended);
    if (index === this.selected) element.currentTime = this.stored;
  }

  has(index) { return !!this.elements[index]; }

  /** The length of the selected card (else of the longest). */
  length() {
    return this.duration(this.selected) || Math.max(0, ...Array.from({ length: this.count }, (_, i) => this.duration(i) || 0));
  }

  position() {
    const element = this.elements[this.selected];
    return this.playing && element ? element.currentTime : this.stored;
  }

  /** Start playing; false when the selected card has no audio yet. */
  play() {
    const element = this.elements[this.selected];
    if (!element) return false;
    if (this.stored >= this.length() - 0.05) this.stored = 0;
    element.currentTime = this.stored;
    element.play().catch(() => this.pause());
    this.playing = true;
    if (this.video) { this.video.currentTime = this.videoTime(this.stored); this.video.play().catch(() => {}); }
    return true;
  }

  pause() {
    this.stored = this.position();
    for (const element of this.elements) if (element) element.pause();
    this.playing = false;
    if (this.video) { this.video.pause(); this.video.currentTime = this.videoTime(this.stored); }
  }

  seek(seconds) {
    this.stored = Math.max(0, Math.min(this.length() || 0, seconds));
    const element = this.elements[this.selected];
    if (element) element.currentTime = this.stored;
    if (this.video) this.video.currentTime = this.videoTime(this.stored);
  }

  /** Make card `index` the one that sounds, at the same position; false if it has no audio
   *  and the row was playing (the row then pauses). */
  select(index) {
    if (index === this.selected) return true;
    const position = this.position(), wasPlaying = this.playing;
    const before = this.elements[this.selected];
    if (before) before.pause();
    this.selected = index;
    this.stored = Math.min(position, this.length() || position);
    const after = this.elements[index];
    if (after) after.currentTime = this.stored;
    if (wasPlaying && after) { after.play().catch(() => this.pause()); return true; }
    if (wasPlaying) { this.pause(); return false; }
    return true;
  }

  /** Where the video should be for an audio position (it may be shorter than the audio). */
  videoTime(seconds) {
    return Math.min(seconds, (this.video && this.video.duration) || seconds);
  }

  /** Called every frame while playing: keep the video on the row's clock. */
  follow() {
    const video = this.video;
    if (!video || video.readyState < 1) return;
    const position = this.position();
    if (position >= (video.duration || Infinity)) return;
    if (Math.abs(video.currentTime - position) > VIDEO_SEEK_S) video.currentTime = position;
    if (video.paused && this.playing) video.play().catch(() => {});
  }

  dispose() {
    for (const element of this.elements) {
      if (!element) continue;
      element.pause();
      element.removeEventListener("ended", this.ended);
    }
    if (this.video) this.video.pause();
    this.elements.fill(null);
    this.playing = false;
  }
}
