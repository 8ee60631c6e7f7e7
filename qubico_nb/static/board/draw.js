// Drawing a card's waveform and spectrogram on canvases.

const STOPS = [[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]];

/** The spectrogram's colour map (magma-like), 256 RGB triplets, dark for quiet. */
export const COLOUR_MAP = (() => {
  const out = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (STOPS.length - 1), j = Math.min(Math.floor(x), STOPS.length - 2);
    const f = x - j;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(STOPS[j][c] * (1 - f) + STOPS[j + 1][c] * f);
  }
  return out;
})();

/** Size a canvas's pixels to its box on this screen; returns [width, height]. */
export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round((canvas.clientWidth || 220) * ratio), height = Math.round((canvas.clientHeight || 56) * ratio);
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  return [width, height];
}

/** The (min, max) of each of `width` columns of int8 peak pairs, scaled to ±1. */
export function columnsOf(peaks, width) {
  const n = peaks.length / 2, out = new Float32Array(width * 2);
  for (let x = 0; x < width; x++) {
    const a = Math.floor((x * n) / width), b = Math.max(a + 1, Math.floor(((x + 1) * n) / width));
    let low = 127, high = -127;
    for (let i = a; i < b && i < n; i++) { low = Math.min(low, peaks[2 * i]); high = Math.max(high, peaks[2 * i + 1]); }
    out[2 * x] = low / 127; out[2 * x + 1] = high / 127;
  }
  return out;
}

/** Draw int8 (min, max) peaks across the canvas in `colour`; false when there is nothing. */
export function drawWaveform(canvas, peaks, colour) {
  const [width, height] = fitCanvas(canvas);
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, width, height);
  if (!peaks || peaks.length < 2) return false;
  const columns = columnsOf(peaks, width), middle = height / 2;
  context.fillStyle = colour;
  for (let x = 0; x < width; x++) {
    const top = middle - columns[2 * x + 1] * middle, bottom = middle - columns[2 * x] * middle;
    context.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
  canvas.dataset.drawn = "1";
  return true;
}

/** Draw a plain timeline (a centre line, a tick every tenth) in `colour`: the same picture
 *  for every card, where a waveform would tell the cards apart (a MUSHRA test). */
export function drawTimeline(canvas, colour) {
  const [width, height] = fitCanvas(canvas);
  const context = canvas.getContext("2d"), middle = Math.floor(height / 2);
  context.clearRect(0, 0, width, height);
  context.fillStyle = colour;
  context.fillRect(0, middle, width, 1);
  for (let i = 0; i <= 10; i++) {
    const x = Math.min(width - 1, Math.round((i * width) / 10)), tall = i % 5 === 0 ? height / 4 : height / 8;
    context.fillRect(x, middle - tall, 1, 2 * tall + 1);
  }
  canvas.dataset.drawn = "timeline";
  return true;
}

/** Draw a uint8 spectrogram ({data, bins, frames}, row 0 the lowest band) low bands at the bottom. */
export function drawSpectrogram(canvas, { data, bins, frames }) {
  const image = new ImageData(frames, bins);
  for (let b = 0; b < bins; b++) {
    for (let f = 0; f < frames; f++) {
      const v = data[b * frames + f] * 3, o = ((bins - 1 - b) * frames + f) * 4;
      image.data[o] = COLOUR_MAP[v]; image.data[o + 1] = COLOUR_MAP[v + 1]; image.data[o + 2] = COLOUR_MAP[v + 2]; image.data[o + 3] = 255;
    }
  }
  canvas.width = frames; canvas.height = bins;
  canvas.getContext("2d").putImageData(image, 0, 0);
}
