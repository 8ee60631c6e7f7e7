// An exported test's plan for one rater: the order of its rows, of the cards in each row and,
// for a pairwise test, of the pairs. Pure, and the same numbers as review_board/designs.py (a
// test keeps them equal): FNV-1a of "test \x1f rater \x1f what" seeds mulberry32, whose draws
// drive a Fisher-Yates shuffle.

const SEED_SEPARATOR = "\x1f";

/** The 32-bit FNV-1a hash of `text`'s UTF-8 bytes. */
export function fnv1a(text) {
  let value = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) value = Math.imul(value ^ byte, 0x01000193) >>> 0;
  return value >>> 0;
}

/** mulberry32: a function giving the next number in [0, 1) on each call. */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), 1 | t);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `items` in the order `rater` is shown them (`what`: "rows", "row:<key>", "pairs:<key>"). */
export function shuffledFor(items, test, rater, what) {
  const out = [...items];
  const random = mulberry32(fnv1a([test, rater, what].join(SEED_SEPARATOR)));
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** 0 or 1: which half of the counterbalanced pair orders `rater` gets. */
export function raterSlot(test, rater) {
  return fnv1a([test, rater, "slot"].join(SEED_SEPARATOR)) & 1;
}

/** Every pair of `n` cards once, as [shown first, shown second] indices (designs.pair_schedule). */
export function pairSchedule(n, row, slot) {
  const out = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) out.push((i + j + row + slot) % 2 ? [j, i] : [i, j]);
  }
  return out;
}

/** The trials `rater` works through, in order: the training row first (nothing of it is kept),
 *  then each row (score, MUSHRA) or each pair (pairwise) of the test. A trial is {id, row,
 *  reference, cards (in the order shown), training}. */
export function planTrials(test, rater) {
  const trial = (row, cards, id, training) => ({
    id, row: row.key, reference: row.cards.find((card) => card.role === "reference") || null, cards, training,
  });
  const rowTrials = (row, number, training) => {
    const candidates = row.cards.filter((card) => card.role !== "reference");
    const id = training ? "training" : row.key;
    if (test.design !== "pairwise") return [trial(row, shuffledFor(candidates, test.test, rater, `row:${id}`), id, training)];
    const schedule = shuffledFor(pairSchedule(candidates.length, number, raterSlot(test.test, rater)), test.test, rater, `pairs:${id}`);
    return schedule.map(([a, b]) => trial(row, [candidates[a], candidates[b]], `${id}/${candidates[a].key}/${candidates[b].key}`, training));
  };
  const out = test.training ? rowTrials(test.training, 0, true) : [];
  const numbered = test.rows.map((row, number) => ({ row, number }));
  for (const { row, number } of shuffledFor(numbered, test.test, rater, "rows")) out.push(...rowTrials(row, number, false));
  return out;
}
