// The board's keys, in one table: it drives the key handler, the help text and the accessible
// labels (aria-keyshortcuts and the board's description). Add a key here and all three follow.

/** The digit of a key press (top row or keypad), or null. */
export function digitOf(event) {
  const match = /^(?:Digit|Numpad)([0-9])$/.exec(event.code || "");
  return match ? Number(match[1]) : null;
}

const is = (...names) => (event) => names.includes(event.key);

/** Each key: the action it runs, how the help writes it, what it does, its aria-keyshortcuts
 *  value, which presses match it (modifiers other than Shift never reach the table), and the
 *  test designs it belongs to (all when not given), and the board option it needs (left out
 *  when that option is false). The first entry that matches wins. */
export const KEYS = [
  { action: "select", shown: "1–9", does: "select a card", aria: "1",
    match: (e) => !e.shiftKey && digitOf(e) >= 1 },
  { action: "reference", shown: "R", does: "select the reference", aria: "R", designs: ["mushra"],
    match: is("r", "R") },
  { action: "score", shown: "Shift+1–9", does: "score the selected card", aria: "Shift+1", designs: ["score", "mushra"],
    match: (e) => e.shiftKey && digitOf(e) !== null },
  { action: "preferA", shown: "A", does: "A is better", aria: "A", designs: ["pairwise"], match: is("a", "A") },
  { action: "preferB", shown: "B", does: "B is better", aria: "B", designs: ["pairwise"], match: is("b", "B") },
  { action: "tie", shown: "T", does: "no preference", aria: "T", designs: ["pairwise"], needs: "noPreference", match: is("t", "T") },
  { action: "toggle", shown: "Space or K", does: "play / pause", aria: "Space K", match: is(" ", "k", "K") },
  { action: "back", shown: "←", does: "back 1 s (Shift: 5 s)", aria: "ArrowLeft", match: is("ArrowLeft") },
  { action: "forward", shown: "→", does: "forward 1 s (Shift: 5 s)", aria: "ArrowRight", match: is("ArrowRight") },
  { action: "start", shown: "Home", does: "back to the start", aria: "Home", match: is("Home") },
  { action: "previousRow", shown: "↑", does: "previous row", aria: "ArrowUp", match: is("ArrowUp") },
  { action: "nextRow", shown: "↓", does: "next row", aria: "ArrowDown", match: is("ArrowDown") },
  { action: "raise", shown: "+", does: "raise the score", aria: "+", designs: ["score", "mushra"], match: is("+", "=") },
  { action: "lower", shown: "−", does: "lower the score", aria: "-", designs: ["score", "mushra"], match: is("-", "_") },
  { action: "best", shown: "B", does: "best in row", aria: "B", designs: ["score"], match: is("b", "B") },
  { action: "note", shown: "N", does: "write a note (Esc leaves it)", aria: "N", designs: ["score"], match: is("n", "N") },
  { action: "spectrogram", shown: "S", does: "spectrograms on / off", aria: "S", designs: ["score", "pairwise"], match: is("s", "S") },
  { action: "loopStart", shown: "[", does: "loop from here (or drag across a card)", aria: "[", match: is("[") },
  { action: "loopEnd", shown: "]", does: "loop to here", aria: "]", match: is("]") },
  { action: "loopClear", shown: "Esc", does: "end the loop", aria: "Escape", match: is("Escape") },
  { action: "levels", shown: "L", does: "level matching on / off", aria: "L", needs: "levels", match: is("l", "L") },
  { action: "help", shown: "?", does: "this help", aria: "?", match: is("?") },
];

/** The keys of a test design, in table order. `options`: {levels: false} when levels cannot
 *  be changed (an exported test), {noPreference: false} when a pair has no "no preference". */
export function keysFor(design = "score", options = {}) {
  return KEYS.filter((k) => (!k.designs || k.designs.includes(design)) && !(k.needs && options[k.needs] === false));
}

/** The table's entry for an action. */
export function keyOf(action) {
  const entry = KEYS.find((k) => k.action === action);
  if (!entry) throw new Error(`no key for ${action}`);
  return entry;
}

/** Whether a key press belongs to the host, never the board: Ctrl, Alt or Meta held (the
 *  host's shortcuts), Shift+Enter (run the cell). */
export function leftToHost(event) {
  return event.ctrlKey || event.metaKey || event.altKey || (event.shiftKey && event.key === "Enter");
}

/** The action a key press runs ({action, digit, shift}) in a design, or null. */
export function actionFor(event, design = "score", options = {}) {
  if (leftToHost(event)) return null;
  const entry = keysFor(design, options).find((k) => k.match(event));
  return entry ? { action: entry.action, digit: digitOf(event), shift: !!event.shiftKey } : null;
}

/** The help, as [keys, what they do] pairs in table order. */
export function helpItems(design = "score", options = {}) {
  return keysFor(design, options).map((k) => [k.shown, k.does]);
}

/** One sentence for the board's accessible description. */
export function keysSentence(design = "score", options = {}) {
  return `Keys: ${keysFor(design, options).map((k) => `${k.shown} ${k.does}`).join("; ")}.`;
}
