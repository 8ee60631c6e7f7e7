// Small pure helpers: building elements, formatting, reading the kernel's encodings, scores.

/** An element with attributes (`text`, `class`, `on<event>` handled) and children (nullish
 *  and false children are skipped, never written as "null"). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...present(children));
  return node;
}

/** The children worth appending: no null, undefined or false. */
export function present(children) {
  return children.filter((child) => child !== null && child !== undefined && child !== false);
}

/** 75.25 -> "1:15.3" (minutes, seconds to a tenth). */
export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const tenths = Math.round(seconds * 10);
  const m = Math.floor(tenths / 600), s = (tenths - m * 600) / 10;
  return `${m}:${s < 10 ? "0" : ""}${s.toFixed(1)}`;
}

/** A gain in dB as a person reads it: "+1.5 dB", "−3.0 dB", "0.0 dB". */
export function formatGain(db) {
  if (!Number.isFinite(db)) return "";
  const rounded = Math.round(db * 10) / 10;
  const sign = rounded > 0 ? "+" : rounded < 0 ? "−" : "";
  return `${sign}${Math.abs(rounded).toFixed(1)} dB`;
}

export function clamp(value, low, high) {
  return Math.max(low, Math.min(high, value));
}

/** The kernel's waveform text (base64 of int8 min, max pairs) as an Int8Array. */
export function decodePeaks(text) {
  if (!text) return null;
  const raw = atob(text), out = new Int8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = (raw.charCodeAt(i) << 24) >> 24;
  return out;
}

/** A message buffer (ArrayBuffer, DataView or typed array) as bytes, without copying. */
export function bytesOf(buffer) {
  if (!buffer) return new Uint8Array(0);
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

// -- scores --------------------------------------------------------------------------------

/** Whether a scale gets one button per score (whole numbers, at most eleven). */
export function hasScoreButtons([low, high]) {
  return Number.isInteger(low) && Number.isInteger(high) && high - low <= 10;
}

/** What + and - move a score by. */
export function scoreStep([low, high]) {
  return high - low <= 10 ? 1 : (high - low) / 10;
}

/** The score Shift+digit gives, or null when that digit is off the scale. */
export function scoreForDigit(digit, scale) {
  const [low, high] = scale;
  const value = high - low <= 10 ? digit : low + digit * scoreStep(scale);
  return value >= low && value <= high ? value : null;
}

/** The score after + (delta > 0) or - from `current` (null: nothing yet), kept on the scale. */
export function nudgeScore(current, delta, scale) {
  const [low, high] = scale;
  const base = current === null || current === undefined ? (delta > 0 ? low - delta : high - delta) : current;
  return clamp(Math.round((base + delta) * 1000) / 1000, low, high);
}
