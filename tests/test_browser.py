"""One real-browser test: JupyterLab + Debian's Chromium run the quickstart; a person would hear it.

Recipe and traps: shared/docs/browser-testing.md. Never `playwright install` (it downloads).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "qnb-browser-test"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--autoplay-policy=no-user-gesture-required"]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _require_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("Debian's chromium (scripts/ensure-chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[dev]')")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["lab", "binder"])
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """JupyterLab as on a laptop, or as on Binder: under a hub prefix, where the browser can
    reach the kernel's sandbox only through jupyter-server-proxy."""
    _require_browser()
    prefix = "/user/qnb-test/" if request.param == "binder" else "/"
    home = tmp_path / "home"
    settings = home / "lab-settings"
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    work = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", work)
    env = {k: v for k, v in os.environ.items()
           if k not in ("QUBICO_API_KEY", "PIAPI_API_KEY", "QUBICO_BASE_URL",
                        "QUBICO_SANDBOX_URL")}
    env.update(HOME=str(home), TMPDIR=str(tmp_path), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    if prefix != "/":
        env["JUPYTERHUB_SERVICE_PREFIX"] = prefix
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}",
         f"--ServerApp.base_url={prefix}"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}{prefix.rstrip('/')}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/api/status?token={TOKEN}", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise AssertionError("JupyterLab did not start")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _wait_for_kernel(base: str, page: Any) -> None:
    """Poll the sessions API; pause with the page's clock so Playwright keeps serving routes
    (with the sync API, routed requests hang while Python sleeps)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        sessions = requests.get(f"{base}/api/sessions?token={TOKEN}", timeout=5).json()
        kernels = [s["kernel"] for s in sessions if s.get("kernel")]
        if any(k.get("connections", 0) >= 1 and k.get("execution_state") == "idle"
               for k in kernels):
            return
        page.wait_for_timeout(300)
    raise AssertionError("the kernel never became idle")


AUDIO_STATE = """async (el) => {
  const ready = await new Promise((resolve) => {
    if (el.readyState >= 1) return resolve(true);
    const timer = setTimeout(() => resolve(false), 15000);
    el.addEventListener('loadedmetadata', () => { clearTimeout(timer); resolve(true); });
    const source = el.querySelector('source') || el;
    source.addEventListener('error', () => { clearTimeout(timer); resolve(false); });
    el.load();
  });
  if (!ready) return {ready: false, duration: null, advanced: 0, src: el.currentSrc};
  el.muted = true;
  await el.play();
  const start = el.currentTime;
  await new Promise((r) => setTimeout(r, 1500));
  return {ready: true, duration: el.duration, advanced: el.currentTime - start,
          src: el.currentSrc};
}"""


def test_quickstart_shows_the_task_and_plays_its_audio(lab: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context()
            context.route("**/*", lambda route: route.continue_()
                          if route.request.url.startswith(("http://127.0.0.1", "http://localhost"))
                          else route.abort())
            page = context.new_page()
            page.goto(f"{lab}/lab/tree/quickstart.ipynb?token={TOKEN}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            _wait_for_kernel(lab, page)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=60_000)
            page.locator(".lm-MenuBar .lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu .lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            meta = page.locator(".qnb-viewer .qnb-meta").first
            meta.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.qnb-viewer .qnb-status')]"
                ".some(e => e.textContent.includes('completed'))", timeout=60_000)
            text = meta.inner_text()
            assert "task_id" in text and "waves crashing on a beach" in text

            audio = page.locator(".qnb-viewer .qnb-player audio").first
            audio.wait_for(timeout=60_000)
            state = audio.evaluate(AUDIO_STATE)
            assert state["ready"], state
            assert state["duration"] == pytest.approx(8.0, abs=0.05)
            assert state["advanced"] > 0.3, state
            if "/user/" in lab:  # Binder: the file came through the hub's proxy path
                assert "/user/qnb-test/proxy/" in state["src"], state

            # Negative control: the same check against a missing file must fail.
            missing = state["src"].rsplit("/", 1)[0] + "/missing.wav"
            page.evaluate("""(src) => {
                const el = document.createElement('audio');
                el.id = 'qnb-negative'; el.innerHTML = `<source src="${src}">`;
                document.body.appendChild(el); }""", missing)
            negative = page.locator("#qnb-negative").evaluate(AUDIO_STATE)
            assert not negative["ready"]
            if os.environ.get("QNB_SCREENSHOT"):  # to look at what a person sees
                page.screenshot(path=os.environ["QNB_SCREENSHOT"])
        finally:
            browser.close()
