"""The review board in a real browser (headless Chromium, no Jupyter server): the figures of
issue 16, each beside today's element-based board measured in the same run.

    python benchmarks/board.py            # prints the board's rows of the table
    python benchmarks/bench.py            # the whole table, these rows included

The page is the one ``tests/test_review_page.py`` drives: the board's module in a bare page, a
fake anywidget model wired to a real `Review` made from local files (the local cache).

* **Switching.** Card A's samples count up (+n / 2^24), card B's count down (-n / 2^24), so the
  sound itself says which card plays and at which sample. An AudioWorklet records the row's
  output (the element baseline's elements are routed into it too). Per switch: the latency from
  the key press to the first sample that is not A's continuation, and the position error: B's
  sample index once the crossfade is over against where A would be at that moment (the start
  offset of the new source against the elapsed position of the old one, read from the sound).
* **Video drift.** 30 s of play, looping 0.5-7.5 s of the 8 s clip with switches and a seek on
  the way; |video.currentTime - the row's heard position| over the last second before 30 s.
* **Fifty rows.** 50 rows x 4 cards: kernel time of `review()`, time until the first row plays
  (DOM built, its four cards decoded), bytes the kernel sent by then, and the page's memory
  (JS heap plus decoded samples) after scrolling through every row; the baseline measures every
  file first and sends it all, as the board did before.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Records what reaches it, one 128-frame block at a time with its frame number (on the audio
#: thread: nothing is dropped however busy the page is).
RECORDER = """class Recorder extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    if (input.length) this.port.postMessage({frame: currentFrame, data: input[0].slice()});
    return true;
  }
}
registerProcessor('qnb-recorder', Recorder);"""

#: Route the row into the recorder (Web Audio: the transport's output; elements: each element).
ATTACH_RECORDER = """async ({code, element}) => {
  const context = window.qnb.mod.audioContext();
  await context.resume();
  const url = URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
  await context.audioWorklet.addModule(url);
  const node = new AudioWorkletNode(context, 'qnb-recorder',
    {channelCount: 1, channelCountMode: 'explicit'});
  node.connect(context.destination);
  window.qnbRecorded = [];
  node.port.onmessage = (e) => window.qnbRecorded.push(e.data);
  const transport = window.qnb.transport('r0');
  if (element) {
    for (const audio of document.querySelectorAll('.qnb-rv-row[data-key=r0] audio')) {
      audio.muted = false;
      context.createMediaElementSource(audio).connect(node);
    }
  } else {
    transport.output = node;
  }
  return context.sampleRate; }"""

#: Press a digit in the board and note the audio clock's frame at that moment.
PRESS = """(digit) => { const context = window.qnb.mod.audioContext();
  const frame = Math.round(context.currentTime * context.sampleRate);
  document.querySelector('.qnb-rv').dispatchEvent(new KeyboardEvent('keydown',
    {key: String(digit), code: 'Digit' + digit, bubbles: true}));
  return frame; }"""

SCALE = 2.0**24


def ramp_wav(folder: Path, name: str, rate: int, seconds: float, sign: float) -> Path:
    """A WAV whose sample n is sign * (n + 1) / 2^24, exactly (32-bit float)."""
    import soundfile

    samples = sign * (np.arange(int(rate * seconds), dtype=np.float64) + 1) / SCALE
    path = folder / name
    soundfile.write(path, samples.astype(np.float32), rate, subtype="FLOAT")
    return path


def tone_wav(folder: Path, name: str, seconds: float, frequency: float, rate: int = 44_100) -> Path:
    import soundfile

    t = np.arange(int(rate * seconds)) / rate
    path = folder / name
    soundfile.write(
        path, (0.2 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), rate, subtype="PCM_16"
    )
    return path


def _frame(paths: list[list[Path]], *, video: bool = False) -> Any:
    import pandas as pd

    records = []
    for r, row in enumerate(paths):
        for c, path in enumerate(row):
            records.append(
                {
                    "task_id": f"bench-{r}-{c}",
                    "prompt": f"prompt {r}",
                    "seed": c + 1,
                    "status": "completed",
                    "audio_url": None,
                    "local_path": str(path),
                    "video": "https://cdn.example.com/clips/demo.mp4" if video else None,
                }
            )
    return pd.DataFrame.from_records(records)


class Bench:
    """One browser for every measurement; each opens its own page."""

    def __init__(self, play: Any, folder: Path) -> None:
        from tests.helpers.browser import ARGS, CHROMIUM

        self.browser = play.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, "--enable-precise-memory-info"], headless=True
        )
        self.folder = folder
        self.rate = self._context_rate()

    def _context_rate(self) -> int:
        page = self.browser.new_page()
        try:
            return int(page.evaluate("() => new AudioContext().sampleRate"))
        finally:
            page.close()

    def open(self, frame: Any, **options: Any) -> Any:
        """A board over `frame` in a page of its own (`BoardPage`), bytes sent counted."""
        from qubico_nb.review_board import review

        session = options.pop("session", {})
        board = review(
            frame, rater="bench", store=self.folder / f"{time.monotonic_ns()}.jsonl", **options
        )
        return CountingPage(self.browser, board, **session)

    def close(self) -> None:
        self.browser.close()


def _counting_page() -> type:
    from tests.test_review_page import SYNCED, BoardPage

    class CountingPage(BoardPage):  # type: ignore[misc, valid-type]
        """A `BoardPage` that counts what the kernel sends (message text, buffers, state)."""

        sent_bytes = 0

        def __init__(self, browser: Any, board: Any, **options: Any) -> None:
            super().__init__(browser, board, **options)
            synced = {name: getattr(board, name) for name in SYNCED}
            self.sent_bytes += len(json.dumps(synced))  # the state the page starts from

        def _from_kernel(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
            self.sent_bytes += len(json.dumps(content)) + sum(len(b) for b in buffers or [])
            super()._from_kernel(content, buffers)

        def _state_changed(self, change: dict[str, Any]) -> None:
            self.sent_bytes += len(json.dumps(change["new"], default=str))
            super()._state_changed(change)

    return CountingPage


CountingPage: Any = None


# -- switching -------------------------------------------------------------------------------


def _recorded(page: Any) -> tuple[np.ndarray, int]:
    """The recorder's blocks as one array of samples, and the frame of its first sample."""
    blocks = page.js("() => window.qnbRecorded.map((b) => [b.frame, Array.from(b.data)])")
    first = blocks[0][0]
    out = np.zeros(blocks[-1][0] + len(blocks[-1][1]) - first)
    for frame, data in blocks:
        out[frame - first : frame - first + len(data)] = data
    return out, first


def _switch_figures(
    sound: np.ndarray, first: int, presses: list[int], rate: int, fade_frames: int, element: bool
) -> list[tuple[float, float]]:
    """(latency ms, position error ms) of each switch, read from the recorded sound.

    The latency runs from the key press (the audio clock's frame when the key was pressed)
    to the first sample where the new card dominates (its sign: mid-crossfade for Web Audio);
    an element stops the old card at the press and its output reaches the graph through a
    buffer of its own, so there it runs from the old card's last sample to the new one's
    first (the gap, a lower bound). The position error compares the new card's sample number
    once only it sounds with the old card's number just before plus the samples since: 0 when
    the new card continues at the old one's very sample, minus the gap when it resumes where
    the old one stopped.
    """
    index = np.rint(np.abs(sound) * SCALE) - 1  # the sample number each sample carries
    sign = np.sign(sound)
    out = []
    for press in presses:
        at = press - first
        before = at - 1
        while before > 0 and sign[before] == 0:
            before -= 1
        old = sign[before]
        onset = at
        while onset < len(sound) and sign[onset] != -old:
            onset += 1
        clean = onset + fade_frames + 16
        while clean < len(sound) and sign[clean] != -old:
            clean += 1
        if clean >= len(sound) or old == 0:
            continue
        error = index[clean] - (index[before] + (clean - before))
        start = at
        if element:  # from the old card's last sample
            start = onset - 1
            while start > 0 and sign[start] != old:
                start -= 1
        out.append(((onset - start) / rate * 1000, error / rate * 1000))
    return out


def measure_switching(bench: Bench, element: bool, switches: int = 6) -> list[tuple[float, float]]:
    a = ramp_wav(bench.folder, "up.wav", bench.rate, 12.0, +1.0)
    b = ramp_wav(bench.folder, "down.wav", bench.rate, 12.0, -1.0)
    page = bench.open(
        _frame([[a, b]]),
        level_match=False,
        session={"playback": "element" if element else "webaudio"},
    )
    try:
        assert page.board.wait(60)
        page.settle()
        page.js(ATTACH_RECORDER, {"code": RECORDER, "element": element})
        page.js("() => document.querySelector('.qnb-rv').focus()")
        page.key("1")
        page.key("Space")
        page.page.wait_for_timeout(800)
        presses = []
        for n in range(switches):
            presses.append(page.js(PRESS, 2 if n % 2 == 0 else 1))
            page.page.wait_for_timeout(600)
        page.key("Space")
        page.page.wait_for_timeout(100)
        sound, first = _recorded(page)
        fade = page.js(
            "() => Math.ceil(window.qnb.mod.FADE_S * window.qnb.mod.audioContext().sampleRate)"
        )
        return _switch_figures(sound, first, presses, bench.rate, fade, element)
    finally:
        page.close()


# -- video ------------------------------------------------------------------------------------

DRIFT = """() => { const t = window.qnb.transport('r0'), v = document.querySelector('video');
  return [performance.now(), v.currentTime - t.heard(), v.seeking]; }"""

#: Today's rule (the element-based board): every frame, seek the video to the audio when it
#: is more than 50 ms off.
SEEK_WHEN_OFF = """() => { const t = window.qnb.transport('r0');
  t.follow = function () { const v = this.video;
    if (!v || !this.playing || v.readyState < 1) return;
    const at = this.heard();
    if (at < (v.duration || Infinity) && Math.abs(v.currentTime - at) > 0.05) v.currentTime = at;
    if (v.paused) v.play().catch(() => {}); }; }"""


def measure_drift(bench: Bench, todays_rule: bool, seconds: float = 30.0) -> float:
    """Median |video - heard position| (ms) over the last second before `seconds` of play,
    looping 0.5-7.5 s with switches and a seek on the way; `todays_rule`: the video follows
    by the element-based board's rule instead of ours."""
    from qubico_nb.review_board import media
    from qubico_nb.sandbox.assets import ASSETS_DIR, DEMO_VIDEO

    video = (Path(ASSETS_DIR) / DEMO_VIDEO).read_bytes()
    fetch = media.fetch_video
    media.fetch_video = lambda url, client: video  # the clip, as the kernel would fetch it
    sounds = [tone_wav(bench.folder, f"tone{i}.wav", 10.0, 300.0 + 200 * i) for i in range(2)]
    page = bench.open(_frame([sounds], video=True))
    try:
        assert page.board.wait(60)
        page.settle()
        page.page.wait_for_function(
            "() => { const v = document.querySelector('video'); return v && v.readyState >= 2; }",
            timeout=30_000,
        )
        page.js("() => document.querySelector('.qnb-rv').focus()")
        page.key("1")
        if todays_rule:
            page.js(SEEK_WHEN_OFF)
        page.js("() => window.qnb.transport('r0').setLoop(0.5, 7.5)")
        page.key("Space")
        started = time.monotonic()
        samples: list[float] = []
        events = {5.0: "2", 11.0: "ArrowRight", 17.0: "1", 23.0: "2"}
        while time.monotonic() - started < seconds:
            elapsed = time.monotonic() - started
            for at, key in list(events.items()):
                if elapsed >= at:
                    page.key(key)
                    del events[at]
            _, drift, seeking = page.js(DRIFT)
            if elapsed > seconds - 1.0 and not seeking:
                samples.append(abs(drift) * 1000)
            page.page.wait_for_timeout(50)
        page.key("Space")
        return statistics.median(samples) if samples else float("nan")
    finally:
        media.fetch_video = fetch
        page.close()


# -- fifty rows --------------------------------------------------------------------------------

FIRST_ROW_READY = """() => document.querySelectorAll(
  '.qnb-rv-row[data-key=r0] [data-playback]').length === 4"""


def measure_fifty_rows(bench: Bench, rows: int, measure_first: bool) -> dict[str, float]:
    """Kernel time of review(), time until the first row plays, bytes sent by then; and the
    page's memory after scrolling through every row. `measure_first`: today's board (every
    file measured before the page gets anything, every file sent, kept as element blobs)."""
    sounds = [tone_wav(bench.folder, f"fifty{i}.wav", 8.0, 200.0 + 40 * i) for i in range(24)]
    paths = [[sounds[(r * 4 + c) % len(sounds)] for c in range(4)] for r in range(rows)]
    frame = _frame(paths)
    from qubico_nb.review_board import review
    from tests.test_review_page import BoardPage  # noqa: F401 (CountingPage needs it loaded)

    started = time.perf_counter()
    board = review(frame, rater="bench", store=bench.folder / f"{time.monotonic_ns()}.jsonl")
    kernel = time.perf_counter() - started
    if measure_first:
        assert board.wait(600)
        kernel = time.perf_counter() - started
    page = CountingPage(bench.browser, board, playback="element" if measure_first else "webaudio")
    try:
        if measure_first:  # the old page asked for every row, two at a time on a timer
            keys = [c.key for r in board._rows for c in r.cards]
            page.js("(keys) => window.qnb.session.want('all', {keys, rows: []})", keys)
        while not page.js(FIRST_ROW_READY):
            page.page.wait_for_timeout(10)
            page.pump()
        interactive = kernel + time.perf_counter() - page.mounted_at  # not the new tab itself
        sent = page.sent_bytes
        for r in range(rows):  # scroll through every row, as a rater would
            page.js("(r) => document.querySelectorAll('.qnb-rv-row')[r].scrollIntoView()", r)
            page.page.wait_for_timeout(30)
            page.pump()
        page.settle()
        board.wait(600)
        page.settle()
        cdp = page.context.new_cdp_session(page.page)
        cdp.send("Performance.enable")
        cdp.send("HeapProfiler.collectGarbage")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        held = page.js("() => window.qnb.session.decodedBytes()")
        blobs = (
            sum(len(Path(str(c.local_path)).read_bytes()) for c in board._cards.values())
            if measure_first
            else 0
        )
        memory = (metrics.get("JSHeapUsedSize", 0) + held + blobs) / 2**20
        return {
            "kernel": kernel,
            "interactive": interactive,
            "sent": sent / 2**20,
            "memory": memory,
            "total_sent": page.sent_bytes / 2**20,
        }
    finally:
        page.close()


def run(rounds: int = 1, quick: bool = False) -> dict[str, Any]:
    """Every figure, ours and the baseline's, `rounds` times."""
    global CountingPage
    from playwright.sync_api import sync_playwright

    CountingPage = _counting_page()
    out: dict[str, Any] = {"rounds": rounds}
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as play:
        os.environ.setdefault("QUBICO_NB_CACHE_DIR", str(Path(folder) / "cache"))
        bench = Bench(play, Path(folder))
        try:
            out["switch"] = [measure_switching(bench, element=False) for _ in range(rounds)]
            out["switch_element"] = [measure_switching(bench, element=True) for _ in range(rounds)]
            seconds = 10.0 if quick else 30.0
            out["drift"] = [measure_drift(bench, False, seconds) for _ in range(rounds)]
            out["drift_todays_rule"] = [measure_drift(bench, True, seconds) for _ in range(rounds)]
            for rows in (6, 50) if not quick else (6,):
                out[f"rows{rows}"] = [measure_fifty_rows(bench, rows, False) for _ in range(rounds)]
                out[f"rows{rows}_first"] = [
                    measure_fifty_rows(bench, rows, True) for _ in range(rounds)
                ]
        finally:
            bench.close()
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=1, default=float))
