"""The review board's page half (``static/board/``) in a bare headless Chromium page: no Jupyter
server, the module imported from a blob: URL as the loader does, a fake anywidget model whose
messages go to a real `Review` (made from local files, so no sandbox either). Keys, selection,
switching, acks, the blind DOM, the board's glitches, and a clean dispose, in seconds.

The full host tests (JupyterLab, Notebook 7, Voila) are in test_review_browser.py.
"""

from __future__ import annotations

import collections
import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qubico_nb.review_board import Review, protocol, review
from qubico_nb.review_board.assets import board_code

from .helpers.boards import PROMPTS, make_table
from .helpers.browser import ARGS, CHROMIUM, require_browser

pytestmark = [pytest.mark.browser]  # fast: no server, one browser for the module

ROOT = Path(__file__).resolve().parent.parent
DEMO_VIDEO = ROOT / "qubico_nb" / "sandbox" / "assets" / "demo.mp4"
PAGE = "<!doctype html><html><head><title>board</title></head><body></body></html>"
#: The traits the page reads from its model.
SYNCED = (
    "title",
    "rows",
    "scale",
    "blind",
    "revealed",
    "rater",
    "marks",
    "message",
    "level_match",
    "off_board",
    "measuring",
    "design",
    "no_preference",
    "raters",
)

#: A fake anywidget model: get/set/on/off/send/save_changes, and `kernel()` to deliver a
#: kernel message. What the page sends goes to the Python side through `qnbToKernel`.
SETUP = """async ({code, css, state, options}) => {
  class FakeModel {
    constructor(state) { this.state = {...state}; this.handlers = new Map(); this.sent = []; }
    get(name) { return this.state[name]; }
    set(name, value) { this.state[name] = value; this.emit(`change:${name}`); }
    save_changes() { window.qnbSaveChanges(JSON.stringify(this.state)); }
    on(event, fn) {
      if (!this.handlers.has(event)) this.handlers.set(event, new Set());
      this.handlers.get(event).add(fn);
    }
    off(event, fn) {
      if (!event) this.handlers.clear();
      else if (!fn) this.handlers.delete(event);
      else if (this.handlers.has(event)) this.handlers.get(event).delete(fn);
    }
    send(message) { this.sent.push(message); window.qnbToKernel(JSON.stringify(message)); }
    emit(event, ...args) { for (const fn of [...(this.handlers.get(event) || [])]) fn(...args); }
    kernel(message, buffers) { this.emit('msg:custom', message, buffers); }
    listening() { let n = 0; for (const set of this.handlers.values()) n += set.size; return n; }
  }
  const style = document.createElement('style'); style.textContent = css;
  document.head.append(style);
  const url = URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
  const mod = await import(url);
  const model = new FakeModel(state);
  const el = document.createElement('div'); el.id = 'host'; document.body.append(el);
  const session = new mod.BoardSession(model, options);
  const view = new mod.BoardView({model, el, session});
  window.qnb = {mod, model, el, session, view,
    endView: () => view.dispose(), endSession: () => session.dispose(),
    transport: (row) => view.rowViews.get(row).transport};
}"""


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return make_table(tmp_path_factory.mktemp("page-audio"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


class BufferServer(ThreadingHTTPServer):
    """Serves the bare page, and hands it each message buffer once (binary, over loopback, as
    a websocket would carry them: fast). Loopback is a secure context, as Jupyter on
    localhost is."""

    _shared: BufferServer | None = None

    def __init__(self) -> None:
        self.held: dict[str, bytes] = {}
        self.count = itertools.count()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                data = PAGE.encode() if name == "board" else server.held.pop(name, b"")
                self.send_response(200)
                self.send_header(
                    "Content-Type", "text/html" if name == "board" else "application/octet-stream"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = self
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @classmethod
    def shared(cls) -> BufferServer:
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def put(self, data: bytes) -> str:
        name = str(next(self.count))
        self.held[name] = data
        return self.url + name


class BoardPage:
    """A real `Review` and its page, with the comm between them in the test's hands."""

    def __init__(self, browser: Any, board: Review, width: int = 1100, **options: Any) -> None:
        self.board = board
        self.outbox: collections.deque[tuple[str, Any, list[bytes]]] = collections.deque()
        self.to_kernel: list[dict[str, Any]] = []
        board.send = self._from_kernel  # type: ignore[method-assign]
        board.observe(self._state_changed, names=list(SYNCED))
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.buffers = BufferServer.shared()
        self.context.route("**/*", self._serve)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.expose_function("qnbToKernel", self._to_kernel)
        self.page.expose_function("qnbSaveChanges", self._save_changes)
        self.page.goto(self.buffers.url + "board")
        self.mounted_at = time.perf_counter()  # the board from here on (not the new tab)
        code = board_code()
        state = {name: getattr(board, name) for name in SYNCED}
        self.page.evaluate(
            SETUP,
            {
                "code": code["js"],
                "css": code["css"],
                "state": state,
                "options": options,
            },
        )

    def _serve(self, route: Any) -> None:
        """The page and its buffers come from this machine; nothing else is reachable."""
        if route.request.url.startswith(self.buffers.url):
            route.continue_()
        else:
            route.abort()

    def _from_kernel(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.outbox.append(("message", content, list(buffers or [])))

    def _state_changed(self, change: dict[str, Any]) -> None:
        self.outbox.append(("state", (change["name"], change["new"]), []))

    def _to_kernel(self, text: str) -> None:
        message = json.loads(text)
        self.to_kernel.append(message)
        self.board._on_message(self.board, message, [])

    def _save_changes(self, text: str) -> None:
        state = json.loads(text)
        for name in ("level_match",):
            if state.get(name) != getattr(self.board, name):
                setattr(self.board, name, state[name])

    def pump(self) -> None:
        """Deliver what the kernel sent (messages and state) to the page, in order: every
        buffer fetched at once, then each message handed over as the comm would."""
        batch = []
        while self.outbox:
            kind, content, buffers = self.outbox.popleft()
            if kind == "state":
                name, value = content
                batch.append(["state", [name, json.loads(json.dumps(value))], []])
            else:
                batch.append(["message", content, [self.buffers.put(data) for data in buffers]])
        if batch:
            self.page.evaluate(
                """async (batch) => {
                  const fetched = await Promise.all(batch.map(([, , urls]) => Promise.all(
                    urls.map((u) => fetch(u).then((r) => r.arrayBuffer())
                      .then((b) => new DataView(b))))));
                  batch.forEach(([kind, content], i) => {
                    if (kind === 'state') window.qnb.model.set(content[0], content[1]);
                    else window.qnb.model.kernel(content, fetched[i]);
                  }); }""",
                batch,
            )

    def settle(self) -> None:
        """Let the kernel finish what it was asked, and the page hear and decode all of it."""
        for _ in range(50):
            self.page.wait_for_timeout(30)  # the page's own timers and frames
            assert self.board._jobs.idle(20) and self.board._writer.flush(10)
            self.page.wait_for_function("() => window.qnb.session.decoding.size === 0")
            if not self.outbox:
                return
            self.pump()
        raise AssertionError("the page and the kernel never settled")

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def key(self, name: str) -> None:
        self.page.keyboard.press(name)

    def text(self) -> str:
        return str(self.js("() => document.querySelector('.qnb-rv').innerText"))

    def close(self) -> None:
        self.context.close()
        assert not self.errors, self.errors


@pytest.fixture
def open_board(
    browser: Any, table: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    from qubico_nb.review_board import media

    monkeypatch.setattr(media, "fetch_video", lambda url, client: DEMO_VIDEO.read_bytes())
    opened: list[BoardPage] = []

    def make(**options: Any) -> BoardPage:
        options.setdefault("store", tmp_path / "page.verdicts.jsonl")
        width = options.pop("width", 1100)
        session = options.pop("session", {})
        board = review(options.pop("frame", table), rater="ann", **options)
        assert board.wait(30)
        page = BoardPage(browser, board, width=width, **session)
        opened.append(page)
        page.settle()
        page.js("() => document.querySelector('.qnb-rv').focus()")
        return page

    yield make
    for page in opened:
        page.close()


def test_the_page_handles_exactly_the_kernels_messages_of_the_protocol(open_board: Any) -> None:
    page = open_board()
    handled = page.js(
        "() => Object.keys(new window.qnb.mod.BoardSession({on() {}, send() {}}).handlers).sort()"
    )
    assert handled == sorted(protocol.types(protocol.KERNEL_TO_PAGE))
    table = page.js("() => window.qnb.mod.PROTOCOL")
    assert sorted(table["toKernel"]) == sorted(protocol.types(protocol.PAGE_TO_KERNEL))
    page.key("2")
    page.key("Shift+3")
    page.settle()
    sent = {m["type"] for m in page.to_kernel}
    assert {"media", "rate"} <= sent <= set(table["toKernel"])
    for message in page.to_kernel:  # every message the page sends is one the table allows
        assert set(message) - {"type"} <= set(table["toKernel"][message["type"]])


def pressed(page: BoardPage, selector: str) -> list[str]:
    return list(
        page.js(
            "(s) => [...document.querySelectorAll(s)].map((b) => b.getAttribute('aria-pressed'))",
            selector,
        )
    )


def test_keys_select_score_pick_and_the_kernel_stores_it(open_board: Any) -> None:
    page = open_board()
    page.key("2")
    assert pressed(page, ".qnb-rv-row[data-key=r0] .qnb-rv-select") == ["false", "true", "false"]
    page.key("Shift+4")
    page.key("b")
    # shown at once, before the kernel answers
    card = ".qnb-rv-card[data-key=r0c1]"
    assert pressed(page, f"{card} .qnb-rv-score") == ["false", "false", "false", "true", "false"]
    assert pressed(page, f"{card} .qnb-rv-bestbtn") == ["true"]
    page.settle()
    assert "all verdicts saved" in page.text()
    verdict = page.board.store.latest()[("ann", str(page.board._cards["r0c1"].task_id))]
    assert (verdict.score, verdict.best, verdict.position) == (4.0, True, "B")
    page.key("ArrowDown")  # the next row, where digits now select
    page.key("3")
    assert pressed(page, ".qnb-rv-row[data-key=r1] .qnb-rv-select") == ["false", "false", "true"]
    page.key("+")
    page.settle()
    assert page.board.marks["r1c2"]["score"] == 1.0  # + from nothing starts at the bottom


def test_one_table_of_keys_drives_the_handler_the_help_and_the_labels(open_board: Any) -> None:
    page = open_board()
    keys = page.js("() => window.qnb.mod.keysFor('score').map((k) => [k.shown, k.does, k.aria])")
    page.key("?")
    help_text = page.js("() => document.querySelector('.qnb-rv-help').innerText")
    label = page.js("() => document.querySelector('.qnb-rv').getAttribute('aria-label')")
    for shown, does, _ in keys:
        assert f"{shown} {does}" in help_text.replace("\n", " ")
        assert f"{shown} {does}" in label
    assert "Space or K" in help_text  # the key the old texts forgot
    shortcuts = set(
        page.js(
            "() => [...document.querySelectorAll('[aria-keyshortcuts]')]"
            ".map((e) => e.getAttribute('aria-keyshortcuts'))"
        )
    )
    assert {"1", "2", "3", "Shift+4", "Space K", "B", "N", "S", "?"} <= shortcuts
    page.key("k")
    assert page.js("() => document.querySelector('.qnb-rv-play').textContent") == "❚❚ Pause"
    page.key("k")
    assert page.js("() => document.querySelector('.qnb-rv-play').textContent") == "▶ Play"


def playing_past(page: BoardPage, row: str, seconds: float) -> None:
    page.page.wait_for_function(
        "([row, s]) => { const t = window.qnb.transport(row);"
        " return t.playing && t.position() > s; }",
        arg=[row, seconds],
        timeout=15_000,
    )


def test_a_switch_starts_the_other_card_at_the_same_sample(open_board: Any) -> None:
    page = open_board()
    assert page.js("() => document.querySelectorAll('[data-playback=webaudio]').length") == 6
    page.key("1")
    page.key("Space")
    playing_past(page, "r0", 0.4)
    page.key("2")
    page.key("3")
    playing_past(page, "r0", 0.8)
    switches = page.js("() => window.qnb.transport('r0').switches")
    assert [(s["from"], s["to"]) for s in switches] == [(0, 1), (1, 2)]
    for switch in switches:
        # the new source starts where the old one has got to at that moment, to the sample
        assert abs(switch["startOffset"] - switch["oldElapsed"]) < 1 / 48_000, switch
        assert 0 < switch["scheduledAt"] - switch["contextAt"] <= 0.02, switch
    state = page.js(
        "() => { const t = window.qnb.transport('r0'); return [t.playing, t.selected, "
        "t.voice.source.buffer.duration]; }"
    )
    assert state == [True, 2, pytest.approx(3.0, abs=0.01)]
    assert pressed(page, ".qnb-rv-row[data-key=r0] .qnb-rv-select") == ["false", "false", "true"]
    page.key("Space")


def test_element_playback_keeps_the_position_to_a_tenth(open_board: Any) -> None:
    page = open_board(session={"playback": "element"})  # the fallback, and boards before Web Audio
    assert page.js("() => document.querySelectorAll('audio').length") == 6
    page.key("1")
    page.key("Space")
    page.page.wait_for_function(
        "() => { const a = document.querySelector('audio[data-key=r0c0]');"
        " return a && !a.paused && a.currentTime > 0.5; }",
        timeout=10_000,
    )
    switch = page.js("""() => {
      const a = document.querySelector('audio[data-key=r0c0]');
      const b = document.querySelector('audio[data-key=r0c1]');
      const before = a.currentTime;
      document.querySelector('.qnb-rv').dispatchEvent(
        new KeyboardEvent('keydown', {key: '2', code: 'Digit2', bubbles: true}));
      return {before, after: b.currentTime, aPaused: a.paused}; }""")
    assert switch["aPaused"] and abs(switch["after"] - switch["before"]) <= 0.1, switch
    page.key("Space")


def test_a_file_web_audio_cannot_decode_plays_through_an_element_and_says_so(
    open_board: Any,
) -> None:
    page = open_board()
    page.js("() => window.qnb.session.media.delete('r1c0')")
    page.js("""() => { const s = window.qnb.session; s.recent.unshift('r1c0');
        window.qnb.view.releaseMedia('r1c0');
        s.receiveMedia({type: 'media', key: 'r1c0', mime: 'audio/wav', duration: 3,
          spectrogram: [0, 0]}, [new Uint8Array([1, 2, 3, 4])]); }""")
    page.page.wait_for_selector(".qnb-rv-card[data-key=r1c0][data-playback=element]")
    note = page.js(
        "() => document.querySelector('.qnb-rv-card[data-key=r1c0] .qnb-rv-fallback').innerText"
    )
    assert "Web Audio could not decode this file" in note and "not sample-exact" in note
    page.js("() => window.qnb.view.rate('r1c0', {score: 3})")
    page.settle()
    assert page.to_kernel[-1]["playback"] == "element"  # the kernel records the gain it had


def drag_across(page: Any, card: str, start: float, end: float) -> None:
    """A mouse drag across a card's waveform box, from one fraction of its width to another."""
    box = page.page.locator(f"{card} .qnb-rv-wavebox").bounding_box()
    y = box["y"] + box["height"] / 2
    page.page.mouse.move(box["x"] + box["width"] * start, y)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=5)
    page.page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.page.mouse.up()


def assert_a_loop_by_keys(page: Any) -> None:
    """From the start, one second on, [ ; one more, ] : row r0 loops 1-2 s."""
    for name in ("Home", "ArrowRight", "[", "ArrowRight", "]"):
        page.key(name)
    assert page.js("() => window.qnb.transport('r0').loop") == {"start": 1.0, "end": 2.0}


def test_a_loop_is_shared_by_the_row_and_switching_stays_in_it(open_board: Any) -> None:
    page = open_board()
    drag_across(page, ".qnb-rv-card[data-key=r0c0]", 0.2, 0.5)
    loop = page.js("() => window.qnb.transport('r0').loop")
    assert loop["start"] == pytest.approx(0.6, abs=0.05) and loop["end"] == pytest.approx(
        1.5, abs=0.05
    )
    bands = page.js(
        "() => [...document.querySelectorAll('.qnb-rv-row[data-key=r0] .qnb-rv-loopband')]"
        ".map((b) => !b.hidden)"
    )
    assert bands == [True, True, True]  # every card of the row shows it
    assert "loop 0:00.6–0:01.5" in page.text()
    page.key("Space")
    page.page.wait_for_timeout(1300)  # longer than the loop: it wrapped
    page.key("2")
    state = page.js("""() => { const t = window.qnb.transport('r0'), s = t.voice.source;
        return {position: t.position(), loop: s.loop, start: s.loopStart, end: s.loopEnd,
                offset: t.voice.offset}; }""")
    assert state["loop"] and (state["start"], state["end"]) == (loop["start"], loop["end"])
    assert loop["start"] <= state["offset"] < loop["end"]
    assert loop["start"] <= state["position"] < loop["end"]
    page.page.wait_for_timeout(1000)
    assert loop["start"] <= page.js("() => window.qnb.transport('r0').position()") < loop["end"]
    page.key("Escape")
    after = page.js(
        "() => { const t = window.qnb.transport('r0'); "
        "return {loop: t.loop, playing: t.playing, position: t.position()}; }"
    )
    # Ending the loop goes on from where the row was, inside the loop, not from the time played
    # since it began (which had leapt to the clip's end).
    assert after["loop"] is None and after["playing"]
    assert loop["start"] <= after["position"] <= loop["end"] + 0.1
    page.key("Space")
    assert_a_loop_by_keys(page)


def test_level_matching_plays_each_card_at_its_gain_and_the_verdict_records_it(
    open_board: Any,
) -> None:
    page = open_board(blind=True)
    gains = {c["key"]: c["gain_db"] for c in page.board.rows[0]["cards"]}
    assert len(set(gains.values())) == 3  # three loudnesses: three gains
    played = page.js("() => window.qnb.transport('r0').gains")
    assert played == [pytest.approx(10 ** (gains[f"r0c{i}"] / 20)) for i in range(3)]
    assert pressed(page, ".qnb-rv-levels") == ["true"]  # on by default when blind
    page.key("1")
    page.key("Shift+3")
    page.settle()
    card = page.board._cards["r0c0"]
    assert page.board.store.latest()[("ann", card.task_id)].gain_db == gains["r0c0"]
    page.key("l")
    page.settle()
    assert page.board.level_match is False and pressed(page, ".qnb-rv-levels") == ["false"]
    assert page.js("() => window.qnb.transport('r0').gains") == [1, 1, 1]
    page.key("Shift+4")
    page.settle()
    assert page.board.store.latest()[("ann", card.task_id)].gain_db == 0.0


def test_decoded_audio_is_released_for_rows_far_from_view(open_board: Any, tmp_path: Path) -> None:
    frame = make_table(tmp_path, prompts=[f"prompt {n}" for n in range(16)], seeds=[1, 2])
    page = open_board(frame=frame, session={"retain": 2})
    held = page.js("() => [...window.qnb.session.media.keys()]")
    assert "r4c0" in held and len(held) < 32  # only the rows in view and the next
    page.js("() => document.querySelector('.qnb-rv-row:last-child').scrollIntoView()")
    page.page.wait_for_timeout(300)
    page.settle()
    held = page.js("() => [...window.qnb.session.media.keys()]")
    assert "r15c0" in held and "r4c0" not in held  # far from view: let go
    assert {"r0c0", "r1c0"} <= set(held)  # the current row and the next stay ready
    assert len(held) <= 14 + 2  # what the view wants, and `retain` more
    released = "() => document.querySelector('.qnb-rv-card[data-key=r4c0]').dataset.playback"
    assert page.js(released) is None
    page.js("() => document.querySelector('.qnb-rv-row:nth-child(5)').scrollIntoView()")
    page.page.wait_for_timeout(300)
    page.settle()
    assert page.js(released) == "webaudio"  # asked for again, decoded again


def test_a_refused_verdict_warns_until_the_next_one_is_saved(open_board: Any) -> None:
    page = open_board()
    page.js("() => window.qnb.model.send({type: 'rate', key: 'r0c0', seq: 'x:1', score: 99})")
    page.settle()
    assert "outside the scale" in page.text()
    page.key("1")
    page.key("Shift+2")
    page.settle()
    text = page.text()
    assert "outside the scale" not in text and "not saved" not in text
    assert "all verdicts saved" in text


def test_the_ledger_clears_a_refusal_only_after_a_later_save(open_board: Any) -> None:
    page = open_board()
    states = page.js("""() => {
      const sent = [];
      const ledger = new window.qnb.mod.VerdictLedger({send: (m) => sent.push(m)});
      const a = ledger.rate('r0c0', {score: 2}), b = ledger.rate('r0c0', {score: 9});
      const out = [];
      ledger.acknowledge({seq: b, state: 'refused', why: 'outside'});
      out.push(ledger.status());
      ledger.acknowledge({seq: a, state: 'saved'});  // sent before the refusal
      out.push(ledger.status());
      const c = ledger.rate('r0c0', {score: 3});
      ledger.acknowledge({seq: c, state: 'waiting', why: 'locked'});
      out.push(ledger.status());
      ledger.acknowledge({seq: c, state: 'saved'});
      out.push(ledger.status());
      return out.map((s) => [s.text, s.alert]); }""")
    assert states == [
        ["saving 1…", False],
        ["1 verdict(s) not saved (see the message)", True],
        ["1 verdict(s) not saved yet (locked); the kernel keeps them and retries", True],
        ["✓ all verdicts saved", False],
    ]


def test_blind_means_nothing_identifying_in_the_page_until_reveal(open_board: Any) -> None:
    page = open_board(blind=True, shuffle_seed=3)
    page.key("1")
    page.key("Space")
    page.page.wait_for_timeout(600)
    page.key("Space")
    html = page.js("() => document.documentElement.outerHTML")
    for secret in [*PROMPTS, "task-", "seed", "steps", ".wav", "beach.mp4", "LUFS"]:
        assert secret not in html, secret
    assert "Row 1" in page.text() and "Reveal" in page.text()
    before = page.js("""() => ({time: document.querySelector('.qnb-rv-time').textContent})""")
    page.js("() => { window.confirm = () => true; }")
    page.page.click(".qnb-rv-reveal")
    page.settle()
    after = page.js("""() => ({time: document.querySelector('.qnb-rv-time').textContent,
        html: document.documentElement.outerHTML})""")
    assert PROMPTS[0] in after["html"] and "null" not in page.text()
    assert after["time"] == before["time"]


def test_reveal_keeps_the_video_and_its_position(open_board: Any) -> None:
    page = open_board(blind=True, shuffle_seed=3)
    page.page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 1; }",
        timeout=10_000,
    )
    page.js("() => { window.__video = document.querySelector('video'); }")
    page.key("ArrowRight")
    page.key("ArrowRight")
    page.page.wait_for_function(
        "() => Math.abs(document.querySelector('video').currentTime - 2) < 0.05", timeout=5000
    )
    page.js("() => { window.confirm = () => true; }")
    page.page.click(".qnb-rv-reveal")
    page.settle()
    state = page.js("""() => ({same: document.querySelector('video') === window.__video,
        video: document.querySelector('video').currentTime,
        time: document.querySelector('.qnb-rv-time').textContent})""")
    assert state["same"] and abs(state["video"] - 2.0) < 0.05, state
    assert state["time"].startswith("0:02.0"), state


@pytest.mark.parametrize("blind", [False, True])
def test_the_header_never_says_null(open_board: Any, blind: bool) -> None:
    page = open_board(blind=blind)
    assert "null" not in page.js("() => document.querySelector('.qnb-rv-head').textContent")
    if blind:
        page.js("() => { window.confirm = () => true; }")
        page.page.click(".qnb-rv-reveal")
        page.settle()
    assert "null" not in page.js("() => document.querySelector('.qnb-rv-head').textContent")


def test_best_moves_nothing(open_board: Any) -> None:
    page = open_board(width=1000)
    parts = ", ".join(
        f".qnb-rv-row[data-key=r0] {part}"
        for part in (".qnb-rv-card", ".qnb-rv-bestbtn", ".qnb-rv-note")
    )
    boxes = """(parts) => [...document.querySelectorAll(parts)].map((e) => {
        const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })"""
    before = page.js(boxes, parts)
    page.page.hover(".qnb-rv-card[data-key=r0c1] .qnb-rv-bestbtn")
    page.page.click(".qnb-rv-card[data-key=r0c1] .qnb-rv-bestbtn")
    page.settle()
    assert pressed(page, ".qnb-rv-card[data-key=r0c1] .qnb-rv-bestbtn") == ["true"]
    assert page.js(boxes, parts) == before


def test_the_lifecycle_hooks_make_a_session_and_its_views(open_board: Any) -> None:
    page = open_board()
    counts = page.js("""() => {
      const {mod, model} = window.qnb, before = model.listening();
      const widget = mod.default();
      const endSession = widget.initialize({model});
      const el = document.createElement('div'); document.body.append(el);
      const endView = widget.render({model, el});
      const rendered = [el.querySelectorAll('.qnb-rv-card').length, model.listening() - before];
      endView(); endSession();
      return [...rendered, model.listening() - before, el.childElementCount]; }""")
    assert counts[0] == 6 and counts[1] > 0 and counts[2:] == [0, 0]


def test_a_disposed_view_leaves_nothing_running_and_asks_for_nothing(open_board: Any) -> None:
    page = open_board()
    page.key("1")
    page.key("Space")
    page.page.wait_for_timeout(300)
    listening = page.js("() => window.qnb.model.listening()")
    page.js("() => { window.qnb.endView(); }")
    sent = len(page.to_kernel)
    assert page.to_kernel[-1] == {
        "type": "media",
        "page": page.to_kernel[-1]["page"],
        "keys": [],
        "rows": [],
    }  # what was asked for is cancelled
    assert page.js("() => document.querySelectorAll('.qnb-rv, audio').length") == 0
    assert page.js("() => window.qnb.model.listening()") < listening
    page.js("() => window.scrollTo(0, 500)")
    page.page.wait_for_timeout(5000)  # past every timer the view ever sets
    page.pump()
    assert len(page.to_kernel) == sent
    page.js("() => { window.qnb.endSession(); }")
    assert page.js("() => window.qnb.model.listening()") == 0


def test_the_header_says_how_many_stored_verdicts_are_not_on_the_board(
    open_board: Any, tmp_path: Path
) -> None:
    from qubico_nb.store.verdicts import Verdict, VerdictStore

    store = VerdictStore(tmp_path / "earlier.verdicts.jsonl")
    store.append_many([Verdict(task_id=f"old-{n}", rater="ann", score=3) for n in range(4)])
    page = open_board(store=store.path)
    assert "4 verdict(s) in this store are for tasks not on this board" in page.text()


# -- test designs ---------------------------------------------------------------------------------


def test_a_mushra_row_plays_its_reference_and_scores_0_to_100_by_key_and_slider(
    open_board: Any, table: pd.DataFrame, tmp_path: Path
) -> None:
    frame = table.assign(
        ref=table["local_path"]
        .where(table["seed"] == 11)
        .groupby(table["prompt"])
        .transform("first")
    )
    page = open_board(
        frame=frame, design="mushra", reference="ref", anchors=("lp3.5k",), blind=True
    )
    first = ".qnb-rv-row[data-key=r0]"
    cards = page.js(
        f"() => [...document.querySelectorAll('{first} .qnb-rv-card')].map("
        "(c) => [c.classList.contains('qnb-rv-refcard'), "
        "c.querySelectorAll('input[type=range]').length, "
        "c.querySelectorAll('.qnb-rv-bestbtn, .qnb-rv-note').length])"
    )
    assert cards[0] == [True, 0, 0]  # the open reference: no slider, no pick, no note
    assert cards[1:] == [[False, 1, 0]] * 5  # three seeds, the hidden reference, one anchor
    badges = page.js(
        f"() => [...document.querySelectorAll('{first} .qnb-rv-select kbd')]"
        ".map((k) => k.textContent)"
    )
    assert badges == ["R", "1", "2", "3", "4", "5"]
    assert "null" not in page.js(f"() => document.querySelector('{first}').innerText")
    page.key("r")
    assert page.js("() => window.qnb.transport('r0').selected") == 0
    page.key("2")  # digits count the rated cards: 2 is the second after the reference
    assert page.js("() => window.qnb.transport('r0').selected") == 2
    page.key("Shift+7")
    page.settle()
    assert page.board.marks["r0c1"]["score"] == 70.0
    slider = page.page.locator(f"{first} .qnb-rv-card[data-key=r0c3] input[type=range]")
    slider.fill("85")  # the mouse's way: a change event on the slider
    page.settle()
    assert page.board.marks["r0c3"]["score"] == 85.0
    slider.focus()  # a focused slider keeps its arrow keys: they score, not seek or change rows
    page.key("ArrowRight")
    page.key("ArrowUp")
    page.settle()
    assert page.board.marks["r0c3"]["score"] == 87.0
    assert page.js("() => window.qnb.transport('r0').position()") == 0
    help_text = page.js("() => document.querySelector('.qnb-rv-help').textContent")
    assert "R select the reference" in help_text and "best in row" not in help_text
    assert "MUSHRA 0–100" in page.text()


def test_mushra_cards_draw_one_plain_timeline_and_loops_still_work(
    open_board: Any, table: pd.DataFrame
) -> None:
    frame = table.assign(ref=table.groupby("prompt")["local_path"].transform("first"))
    page = open_board(frame=frame, design="mushra", reference="ref", anchors=("lp3.5k",))
    first = ".qnb-rv-row[data-key=r0]"
    page.page.wait_for_function(
        f"() => [...document.querySelectorAll('{first} canvas.qnb-rv-wave')]"
        ".every((c) => c.dataset.drawn === 'timeline')"
    )
    pictures = page.js(
        f"() => [...document.querySelectorAll('{first} canvas.qnb-rv-wave')]"
        ".map((c) => [c.hidden, c.toDataURL()])"
    )
    assert len(pictures) == 6 and not any(hidden for hidden, _ in pictures)
    assert len({url for _, url in pictures}) == 1  # the reference looks like every other card
    assert page.js("() => [...window.qnb.session.drawings.values()].every((d) => !d.fine.length)")
    assert page.js("() => document.querySelectorAll('.qnb-rv-spec:not([hidden])').length") == 0
    assert "Spectrograms" not in page.text()
    page.key("s")
    assert page.js("() => document.querySelectorAll('.qnb-rv-spec:not([hidden])').length") == 0
    help_text = page.js("() => document.querySelector('.qnb-rv-help').textContent")
    assert "spectrogram" not in help_text
    drag_across(page, f"{first} .qnb-rv-card[data-key=r0c1]", 0.2, 0.5)
    loop = page.js("() => window.qnb.transport('r0').loop")
    assert loop["start"] == pytest.approx(0.6, abs=0.05)
    assert loop["end"] == pytest.approx(1.5, abs=0.05)
    bands = page.js(
        f"() => [...document.querySelectorAll('{first} .qnb-rv-loopband')].map((b) => !b.hidden)"
    )
    assert bands == [True] * 6
    page.key("Escape")
    assert_a_loop_by_keys(page)
    heads = page.js(
        f"() => [...document.querySelectorAll('{first} .qnb-rv-playhead')].map((h) => h.hidden)"
    )
    assert heads == [False] * 6  # the playhead crosses the timeline


def test_a_pairwise_row_is_a_choice_by_key_and_mouse(open_board: Any) -> None:
    page = open_board(design="pairwise", blind=True)
    assert page.js("() => document.querySelectorAll('.qnb-rv-row').length") == 6
    assert page.js("() => document.querySelectorAll('.qnb-rv-score, .qnb-rv-bestbtn').length") == 0
    first = page.board._rows[0]
    assert "rater(s)" not in page.text()  # one rater: no progress line
    page.board.choose(first.cards[0].task_id, first.cards[1].task_id, "b", rater="bob")
    page.key("a")
    page.settle()
    assert page.board.marks == {first.cards[0].key: {"answers": {"choice": "a"}}}
    pressed = (
        "() => [...document.querySelectorAll('.qnb-rv-row[data-key=r0p0] .qnb-rv-choose')]"
        ".map((b) => [b.dataset.choice, b.getAttribute('aria-pressed')])"
    )
    assert page.js(pressed) == [["a", "true"], ["tie", "false"], ["b", "false"]]
    page.page.click(".qnb-rv-row[data-key=r0p1] .qnb-rv-choose[data-choice=tie]")
    page.key("ArrowDown")  # from the row clicked to the next
    page.key("b")
    page.settle()
    choices = {row.key: page.board.marks.get(row.cards[0].key) for row in page.board._rows[:3]}
    assert [m and m["answers"]["choice"] for m in choices.values()] == ["a", "tie", "b"]
    assert page.board.raters == [
        {"rater": "ann", "answered": 3, "total": 6},
        {"rater": "bob", "answered": 1, "total": 6},
    ]
    assert "2 rater(s), 0 complete: ann 3/6 · bob 1/6." in page.text()
    assert "task-" not in page.js("() => document.body.innerHTML")


def test_a_card_counts_as_heard_after_a_second_of_listening(open_board: Any) -> None:
    page = open_board()
    page.js(
        "() => { window.heard = []; window.qnb.session.on((kind, key) => "
        "{ if (kind === 'heard') window.heard.push(key); }); }"
    )
    # (position s, time ms) as the frame loop reads them: the clock's advance counts, never
    # more than the time that passed.
    count = "([s, ms]) => window.qnb.view.countHeard(window.qnb.view.rowViews.get('r0'), s, ms)"
    page.key("2")
    page.js(count, [0.0, 0])
    page.js(count, [2.5, 100])  # a seek: 2.5 s of clock in 0.1 s is 0.15 s heard at most
    page.js(count, [2.55, 150])
    assert page.js("() => window.heard") == []  # not yet a second
    page.js(count, [0.2, 200])  # back to the start (a loop's wrap): nothing added
    page.js(count, [1.1, 1100])  # one slow frame (a busy or hidden page) still counts its 0.9 s
    assert page.js("() => window.heard") == ["r0c1"]
    page.js(count, [2.0, 2000])
    assert page.js("() => window.heard") == ["r0c1"]  # said once
    # A clip that ends before any frame was drawn (a short clip on a slow page) counts at its end.
    page.key("3")
    page.js(
        "() => { const parts = window.qnb.view.rowViews.get('r0'); "
        "parts.heardMark = {position: 0, time: performance.now() - 1500}; "
        "parts.transport.onEnd(); }"
    )
    assert page.js("() => window.heard") == ["r0c1", "r0c2"]
    page.key("1")
    page.key("Space")  # the frame loop counts what is played
    page.page.wait_for_function("() => window.heard.includes('r0c0')", timeout=10000)
    assert page.js("() => window.heard") == ["r0c1", "r0c2", "r0c0"]


def test_a_forced_choice_has_no_tie_button_nor_key(open_board: Any) -> None:
    page = open_board(design="pairwise", no_preference=False)
    choices = "() => [...document.querySelectorAll('.qnb-rv-row[data-key=r0p0] .qnb-rv-choose')]"
    assert page.js(f"{choices}.map((b) => b.dataset.choice)") == ["a", "b"]
    assert "no preference" not in page.js(
        "() => document.querySelector('.qnb-rv-help').textContent"
    )
    page.key("t")
    page.key("b")
    page.settle()
    assert page.board.marks == {page.board._rows[0].cards[0].key: {"answers": {"choice": "b"}}}
