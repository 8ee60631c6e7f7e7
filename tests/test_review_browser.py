"""The review board in a real browser (Debian's Chromium) in JupyterLab, Notebook 7 and Voila,
running notebooks/review.ipynb against an embedded sandbox: waveforms drawn, blind until Reveal,
keys select, play, score and pick, the kernel stores the verdict, A/B switching starts the
other card at the same sample (Web Audio), the video follows the audio. One notebook per host,
every check on it.

Recipe and traps: shared/docs/browser-testing.md. Never `playwright install`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qubico_nb.sandbox import Sandbox

from .helpers.browser import ARGS, CHROMIUM, TOKEN
from .helpers.browser import free_port as _free_port
from .helpers.browser import require_browser as _require
from .helpers.browser import run_all as _run_all
from .helpers.browser import wait_for_port as _wait_for_port

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "review.ipynb"
STORE = "listening-test.verdicts.jsonl"
PROMPTS = ("waves crashing on a beach, seagulls", "a steam train passing")
RATER = "browser-test"
HOSTS = ("lab", "notebook7", "voila")
#: What each host needs installed.
HOST_MODULES = {"lab": "jupyterlab", "notebook7": "notebook", "voila": "voila"}


@dataclass(frozen=True)
class Host:
    name: str
    base: str
    page_url: str


pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _command(name: str, port: int, work: Path) -> list[str]:
    if name == "voila":
        return [
            sys.executable,
            "-m",
            "voila",
            NOTEBOOK,
            "--no-browser",
            f"--Voila.port={port}",
            "--Voila.ip=127.0.0.1",
        ]
    app = "notebook" if name == "notebook7" else "jupyterlab"
    return [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--allow-root",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={work}",
    ]


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Host, Path]]:
    name = request.param
    _require(HOST_MODULES[name])
    home = tmp_path / "home"
    settings = home / "lab-settings"
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "QUBICO_API_KEY",
            "PIAPI_API_KEY",
            "QUBICO_BASE_URL",
            "QUBICO_SANDBOX_URL",
            "QUBICO_DEMO_VIDEO",
            "JUPYTERHUB_SERVICE_PREFIX",
        )
    }
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp_path),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        QUBICO_RATER=RATER,
        QUBICO_NB_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    files = None
    if not hasattr(Sandbox, "demo_video_url"):  # a sandbox that does not serve the clip yet
        files = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                str(files_port := _free_port()),
            ],
            cwd=ROOT / "qubico_nb" / "sandbox" / "assets",
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        env["QUBICO_DEMO_VIDEO"] = f"http://127.0.0.1:{files_port}/demo.mp4"
    port = _free_port()
    server = subprocess.Popen(
        _command(name, port, work),
        cwd=work,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    pages = {
        "voila": f"{base}/",
        "notebook7": f"{base}/notebooks/{NOTEBOOK}?token={TOKEN}",
        "lab": f"{base}/lab/tree/{NOTEBOOK}?token={TOKEN}",
    }
    try:
        _wait_for_port(port, server)
        yield Host(name, base, pages[name]), work
    finally:
        for process in (server, files):
            if process is None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


#: Every drawn waveform canvas has ink (non-transparent pixels).
INKED = """(board) => [...board.querySelectorAll('canvas.qnb-rv-wave')].map((c) => {
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0; for (let i = 3; i < data.length; i += 4) if (data[i]) ink++;
  return ink; })"""
#: The live board's view (the module registers its views for instrumentation).
VIEW = """async () => { for (const mod of Object.values(globalThis.__qnbReview || {})) {
    const views = [...(await mod).VIEWS]; if (views.length) return views[0]; } return null; }"""
#: Every card decoded for Web Audio and the first row's video ready to play.
READY = """(board) => board.querySelectorAll('[data-playback=webaudio]').length === 6
  && !!board.querySelector('video') && board.querySelector('video').readyState >= 2"""
#: The first row's transport: playing past `s` seconds?
PLAYING_PAST = f"""async (s) => {{ const view = await ({VIEW})();
  const t = view && view.rowViews.get('r0').transport;
  return !!t && t.playing && t.position() > s; }}"""
#: The first row's last switch, as the audio graph scheduled it, and the row's state.
SWITCHED = f"""async () => {{ const t = (await ({VIEW})()).rowViews.get('r0').transport;
  return {{last: t.switches[t.switches.length - 1], selected: t.selected,
           playing: t.playing}}; }}"""
#: The first row's heard position and its video, read in the same task.
DRIFT = f"""async () => {{ const t = (await ({VIEW})()).rowViews.get('r0').transport;
  const video = document.querySelector('.qnb-rv-row video');
  return {{audio: t.heard(), video: video.currentTime, videoPaused: video.paused,
          muted: video.muted}}; }}"""


#: The lowest WCAG contrast ratio of any visible text in the board, with the element it is on.
CONTRAST = """(board) => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => c[i] * c[3] + v * (1 - c[3]));
    return out; };
  let worst = {ratio: 99, text: '', where: ''};
  for (const el of board.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || !el.getClientRects().length || style.visibility === 'hidden'
        || el.closest('.qnb-rv-live')) continue;
    const bg = background(el), fg = parse(style.color);
    const mixed = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const [a, b] = [lum(mixed), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < worst.ratio) {
      worst = {ratio, text: el.textContent.slice(0, 30), where: el.className};
    }
  }
  return worst; }"""


#: Show the board's two warning texts (normally rare) so their colours are measured.
SHOW_WARNINGS = """(board) => {
  board.querySelector('.qnb-rv-message').textContent = 'not saved: (contrast check)';
  const late = document.createElement('span');
  late.className = 'qnb-rv-saved qnb-rv-late'; late.textContent = '1 verdict not confirmed';
  board.querySelector('.qnb-rv-head').append(late); }"""
#: ...and take them away again before a picture is taken.
HIDE_WARNINGS = """(board) => { board.querySelector('.qnb-rv-message').textContent = '';
  board.querySelector('.qnb-rv-head .qnb-rv-late').remove(); }"""


def _dark_theme(page: Any) -> None:
    """Switch JupyterLab to its dark theme from the menu bar (Settings > Theme)."""
    page.locator(".lm-MenuBar .lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text="JupyterLab Dark").first.click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)


def _board_text(board: Any) -> str:
    return str(board.evaluate("(b) => b.innerText + ' ' + b.innerHTML"))


def test_review_board_plays_rates_and_stays_blind(host: tuple[Host, Path]) -> None:
    from playwright.sync_api import sync_playwright

    where, work = host
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(
                        ("http://127.0.0.1", "http://localhost", "blob:")
                    )
                    else route.abort()
                ),
            )
            page = context.new_page()
            page.on("dialog", lambda dialog: dialog.accept())
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            if where.name == "voila":
                page.goto(where.page_url, wait_until="commit")
            else:
                page.goto(where.page_url)
                _run_all(where, page)

            board = page.locator(".qnb-rv").first
            board.wait_for(timeout=180_000)
            page.wait_for_function(
                "() => document.querySelectorAll('.qnb-rv canvas.qnb-rv-wave[data-drawn]')"
                ".length === 6",
                timeout=60_000,
            )
            assert all(ink > 100 for ink in board.evaluate(INKED))

            # Blind: letters only, nothing that names a card, until Reveal.
            text = _board_text(board)
            assert "Row 1" in text and "Reveal" in text
            for secret in (*PROMPTS, "seed", "steps", ".wav"):
                assert secret not in text, secret

            page.wait_for_function(
                f"() => ({READY})(document.querySelector('.qnb-rv'))", timeout=60_000
            )
            board.locator(".qnb-rv-rowlabel").first.click()  # focus the board
            page.keyboard.press("1")
            first = board.locator(".qnb-rv-row").first.locator(".qnb-rv-select").first
            assert first.get_attribute("aria-pressed") == "true"
            page.keyboard.press(" ")
            page.wait_for_function(PLAYING_PAST, arg=1.0, timeout=30_000)

            page.keyboard.press("2")  # A -> B while playing: B starts at A's very sample
            switch = page.evaluate(SWITCHED)
            last = switch["last"]
            assert switch["selected"] == 1 and switch["playing"], switch
            assert abs(last["startOffset"] - last["oldElapsed"]) < 1e-4, switch
            page.wait_for_timeout(2200)  # 2 s of playback on B with the video following
            drift = page.evaluate(DRIFT)
            assert drift["audio"] > last["startOffset"] + 1.5, drift
            assert drift["muted"] and not drift["videoPaused"]
            assert abs(drift["video"] - drift["audio"]) <= 0.1, drift

            # Keys score and pick the selected card (B); the kernel appends it to the store.
            page.keyboard.press("Shift+4")
            page.keyboard.press("b")
            page.keyboard.press(" ")
            card = board.locator(".qnb-rv-card[data-key=r0c1]")
            assert (
                card.locator(".qnb-rv-score[data-score='4']").get_attribute("aria-pressed")
                == "true"
            )
            page.wait_for_function(
                "() => document.querySelector('.qnb-rv-card[data-key=r0c1] .qnb-rv-bestbtn')"
                ".getAttribute('aria-pressed') === 'true'",
                timeout=10_000,
            )
            page.wait_for_function(
                "() => document.querySelector('.qnb-rv-saved').textContent"
                ".includes('all verdicts saved')",
                timeout=15_000,
            )
            store = work / STORE
            deadline_ms = 0
            while deadline_ms < 15_000 and not (
                store.is_file() and '"best":true' in store.read_text()
            ):
                page.wait_for_timeout(200)
                deadline_ms += 200
            lines = [json.loads(line) for line in store.read_text().splitlines()]
            latest = {line["task_id"]: line for line in lines}
            picked = [v for v in latest.values() if v["best"]]
            assert len(picked) == 1 and picked[0]["score"] == 4.0, lines
            assert picked[0]["position"] == "B" and picked[0]["blind"] is True
            assert picked[0]["rater"] == RATER and len(picked[0]["task_id"]) > 8
            # Arrows seek, "s" shows the spectrograms of the row.
            page.keyboard.press("Home")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            assert "0:02.0" in board.locator(".qnb-rv-time").first.inner_text()
            page.keyboard.press("s")
            spectrogram = board.locator(".qnb-rv-card[data-key=r0c1] canvas.qnb-rv-spec")
            assert spectrogram.is_visible()
            assert board.evaluate("""(b) => { const c = b.querySelector(
                '.qnb-rv-card[data-key=r0c1] canvas.qnb-rv-spec');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let lit = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 40) lit++;
                return c.width > 10 && lit > 100; }""")

            # README pictures: `QUBICO_NB_SCREENSHOT_DIR=docs pytest ...` (never the checkout
            # by default: a test run must leave it clean)
            shots = Path(os.environ.get("QUBICO_NB_SCREENSHOT_DIR") or work)
            shots.mkdir(parents=True, exist_ok=True)
            suffix = "" if where.name == "lab" else f"-{where.name}"
            board.screenshot(path=str(shots / f"review-board{suffix}.png"))
            board.evaluate(SHOW_WARNINGS)  # the error styles are measured too
            worst = board.evaluate(CONTRAST)
            assert worst["ratio"] >= 4.5, worst
            page.keyboard.press("s")
            if where.name == "lab":
                _dark_theme(page)
                worst = board.evaluate(CONTRAST)
                assert worst["ratio"] >= 4.5, ("dark theme", worst)
                board.evaluate(HIDE_WARNINGS)
                board.screenshot(path=str(shots / "review-board-dark.png"))

            board.locator(".qnb-rv-reveal").click()
            page.wait_for_function(
                f"() => document.querySelector('.qnb-rv').innerText.includes({PROMPTS[0]!r})",
                timeout=15_000,
            )
            assert "seed" in _board_text(board)
            if os.environ.get("QNB_SCREENSHOT"):
                page.screenshot(
                    path=os.environ["QNB_SCREENSHOT"].replace(".png", f"-review-{where.name}.png")
                )
        except Exception:
            print("browser console:\n" + "\n".join(console[-40:]))
            print(
                page.evaluate("""() => JSON.stringify({
              cards: [...document.querySelectorAll('.qnb-rv-card')].map((c) => [c.dataset.key,
                c.dataset.playback]),
              video: [...document.querySelectorAll('.qnb-rv video')].map((v) => [v.src.slice(0, 60),
                v.readyState, v.currentTime, v.paused, v.error && v.error.code])})""")
            )
            print(page.locator("body").inner_text()[-1500:])
            raise
        finally:
            browser.close()
