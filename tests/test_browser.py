"""Real-browser tests: Debian's Chromium runs the quickstart where people run it, and checks that
the viewer shows the task and its audio loads and plays (with a negative control).

Hosts: JupyterLab; JupyterLab as on Binder (under a hub prefix, files through
jupyter-server-proxy); Notebook 7; Voila. Recipe and traps: shared/docs/browser-testing.md.
Never `playwright install` (it downloads a browser).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
HOST_MODULES = {"lab": "jupyterlab", "binder": "jupyter_server_proxy", "notebook7": "notebook",
                "voila": "voila"}

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@dataclass
class Host:
    name: str
    base: str
    page_url: str


def _require(module: str) -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("Debian's chromium (scripts/ensure-chromium)")
    for name in ("playwright", module):
        if importlib.util.find_spec(name) is None:
            missing.append(f"{name} (pip install -e '.[dev]')")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command(name: str, port: int, work: Path, prefix: str) -> list[str]:
    if name == "voila":
        return [sys.executable, "-m", "voila", "quickstart.ipynb", "--no-browser",
                f"--Voila.port={port}", "--Voila.ip=127.0.0.1"]
    app = "notebook" if name == "notebook7" else "jupyterlab"
    return [sys.executable, "-m", app, "--no-browser", "--allow-root",
            f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}",
            f"--ServerApp.base_url={prefix}"]


@pytest.fixture(params=list(HOST_MODULES))
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    name = request.param
    _require(HOST_MODULES[name])
    prefix = "/user/qnb-test/" if name == "binder" else "/"
    home = tmp_path / "home"
    settings = home / "lab-settings"
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    work = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", work)
    env = {k: v for k, v in os.environ.items()
           if k not in ("QUBICO_API_KEY", "PIAPI_API_KEY", "QUBICO_BASE_URL",
                        "QUBICO_SANDBOX_URL", "JUPYTERHUB_SERVICE_PREFIX")}
    env.update(HOME=str(home), TMPDIR=str(tmp_path), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    if name == "binder":
        env["JUPYTERHUB_SERVICE_PREFIX"] = prefix
    port = _free_port()
    server = subprocess.Popen(_command(name, port, work, prefix), cwd=work, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}{prefix.rstrip('/')}"
    pages = {"voila": f"{base}/", "notebook7": f"{base}/notebooks/quickstart.ipynb?token={TOKEN}"}
    try:
        _wait_for_port(port, server)
        yield Host(name, base, pages.get(name, f"{base}/lab/tree/quickstart.ipynb?token={TOKEN}"))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _wait_for_port(port: int, server: subprocess.Popen[bytes]) -> None:
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


def _wait_for_kernel(base: str, page: Any) -> None:
    """Poll the sessions API; pause with the page's clock so Playwright keeps serving routes
    (with the sync API, routed requests hang while Python sleeps)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            sessions = requests.get(f"{base}/api/sessions?token={TOKEN}", timeout=5).json()
        except requests.RequestException:
            sessions = []
        kernels = [s["kernel"] for s in sessions if s.get("kernel")]
        if any(k.get("connections", 0) >= 1 and k.get("execution_state") == "idle"
               for k in kernels):
            return
        page.wait_for_timeout(300)
    raise AssertionError("the kernel never became idle")


def _run_all(host: Host, page: Any) -> None:
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    _wait_for_kernel(host.base, page)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=60_000)
    page.locator(".lm-MenuBar .lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text="Run All Cells").first.click()


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


def test_quickstart_shows_the_task_and_plays_its_audio(host: Host) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context()
            context.route("**/*", lambda route: route.continue_()
                          if route.request.url.startswith(("http://127.0.0.1", "http://localhost"))
                          else route.abort())
            page = context.new_page()
            if host.name == "voila":  # Voila runs the notebook itself; its page links a CDN
                page.goto(host.page_url, wait_until="commit")
            else:
                page.goto(host.page_url)
                _run_all(host, page)

            meta = page.locator(".qnb-viewer .qnb-meta").first
            meta.wait_for(timeout=90_000)
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
            if host.name == "binder":  # the file came through the hub's proxy path
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
                page.screenshot(path=os.environ["QNB_SCREENSHOT"].replace(".png",
                                                                          f"-{host.name}.png"))
        finally:
            browser.close()
