"""Real-browser tests: Debian's Chromium, its flags, and the steps of driving a notebook server
(a free port, waiting for it, waiting for the kernel, Run All). Recipe and traps:
shared/docs/browser-testing.md. Never `playwright install` (it downloads a browser)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: The notebook servers' token (their URLs carry it).
TOKEN = "qnb-browser-test"
#: Chromium's flags here: no sandbox as root, nothing fetched from outside, media that plays.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]

#: Plays a new ``<audio>`` or ``<video>`` of `src` (muted) until 0.5 s have played; answers its
#: duration and width, or fails with the media error (``page.evaluate(PLAY, [tag, src])``).
PLAY = """async ([tag, src]) => {
  const el = document.createElement(tag);
  el.muted = true; el.src = src; document.body.appendChild(el);
  await el.play();
  await new Promise((done, fail) => {
    const check = () => el.currentTime > 0.5 ? done() : setTimeout(check, 50);
    el.onerror = () => fail(new Error('media error ' + (el.error && el.error.code)));
    check();
  });
  return {duration: el.duration, width: el.videoWidth || 0, error: el.error};
}"""


class Server(Protocol):
    """A notebook server under test: its base URL (prefix included, no trailing slash)."""

    base: str


def require_browser(*modules: str) -> None:
    """Skip the test (fail it in CI) unless Chromium, Playwright and `modules` are installed."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("Debian's chromium (scripts/ensure-chromium)")
    for name in ("playwright", *modules):
        if importlib.util.find_spec(name) is None:
            missing.append(f"{name} (pip install -e '.[dev]')")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, server: subprocess.Popen[bytes]) -> None:
    """Wait until the server accepts connections (a GET on Voila would run the notebook)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise AssertionError("the notebook server did not start")
        time.sleep(0.2)


def stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (it may have exited already)."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def wait_for_kernel(base: str, page: Any) -> None:
    """Poll the sessions API; pause with the page's clock so Playwright keeps serving routes
    (with the sync API, routed requests hang while Python sleeps)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            sessions = requests.get(f"{base}/api/sessions?token={TOKEN}", timeout=5).json()
        except requests.RequestException:
            sessions = []
        kernels = [s["kernel"] for s in sessions if s.get("kernel")]
        if any(
            k.get("connections", 0) >= 1 and k.get("execution_state") == "idle" for k in kernels
        ):
            return
        page.wait_for_timeout(300)
    raise AssertionError("the kernel never became idle")


def run_all(server: Server, page: Any) -> None:
    """Run every cell from the menu bar, once the kernel is connected and idle (keys pressed
    before then are lost)."""
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    wait_for_kernel(server.base, page)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.locator(".lm-MenuBar .lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def bare_chromium() -> Iterator[Any]:
    """A headless Chromium for bare pages (no notebook server), for a module-scoped fixture:
    ``browser = pytest.fixture(scope="module")(bare_chromium)``."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()
