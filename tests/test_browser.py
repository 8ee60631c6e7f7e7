"""Real-browser tests: Debian's Chromium runs the quickstart where people run it, and checks that
the viewer shows the task and its audio loads and plays (with a negative control).

Hosts: JupyterLab (light theme contrast, saved final state); JupyterLab as on Binder (under a
hub prefix, files through jupyter-server-proxy); Notebook 7; Voila (also playing a downloaded
copy, embedded); a hub without jupyter-server-proxy in JupyterLab's dark theme (audio
embedded, a downloaded copy played by path, text contrast measured in the page, saved final
state). Recipe and traps: shared/docs/browser-testing.md.
Never `playwright install` (it downloads a browser).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers.browser import (
    ARGS,
    CHROMIUM,
    TOKEN,
    free_port,
    require_browser,
    run_all,
    stop,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@dataclass(frozen=True)
class Scenario:
    """One host as a user meets it: which app, under which prefix, with which notebook."""

    name: str
    app: str  # "lab", "notebook7" or "voila"
    module: str  # what must be installed
    notebook: str = "quickstart.ipynb"
    prefix: str = "/"
    hub_proxy: bool | None = None  # None: not a hub
    dark: bool = False


QUICKSTART = [
    Scenario("lab", "lab", "jupyterlab"),
    Scenario("binder", "lab", "jupyter_server_proxy", prefix="/user/qnb-test/", hub_proxy=True),
    Scenario("notebook7", "notebook7", "notebook"),
    Scenario("voila", "voila", "voila"),
]


@dataclass
class Host:
    name: str
    base: str
    page_url: str
    work: Path
    scenario: Scenario


def _command(scenario: Scenario, port: int, work: Path) -> list[str]:
    if scenario.app == "voila":
        return [
            sys.executable,
            "-m",
            "voila",
            scenario.notebook,
            "--no-browser",
            f"--Voila.port={port}",
            "--Voila.ip=127.0.0.1",
        ]
    app = "notebook" if scenario.app == "notebook7" else "jupyterlab"
    command = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--allow-root",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={work}",
        f"--ServerApp.base_url={scenario.prefix}",
    ]
    if scenario.hub_proxy is False:  # a hub whose server has no jupyter-server-proxy
        command.append("--ServerApp.jpserver_extensions=jupyter_server_proxy=False")
    return command


NOTEBOOKS = {
    # Dark theme: a failed task (error text), a finished one (metadata, player), and a
    # downloaded copy of it (played by its path).
    "dark.ipynb": [
        "from qubico_nb import TaskViewer, connect, download\nclient = connect()",
        "bad = client.generate_audio('https://x/corrupt.mp4', 'rain')\n"
        "TaskViewer(bad.id, client=client)",
        "good = client.generate_audio('https://example.com/clips/beach.mp4', "
        "'waves crashing on a beach', seed=1)\nviewer = TaskViewer(good.id, client=client)\n"
        "viewer",
        "saved = download([client.wait(good, timeout=120)], 'downloads', client=client, "
        "progress=False)\nTaskViewer.from_task(client.get_task(good.id), "
        "local_files=saved)",
    ],
    # After download(): play the saved copy.
    "local.ipynb": [
        "from qubico_nb import TaskViewer, connect, download\nclient = connect()\n"
        "task = client.wait(client.generate_audio('https://example.com/clips/beach.mp4', "
        "'waves crashing on a beach', seed=1), timeout=120)\n"
        "saved = download([task], 'downloads', client=client, progress=False)",
        "TaskViewer.from_task(task, local_files=saved)",
    ],
}


def _write_notebook(path: Path, cells: list[str]) -> None:
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "id": f"c{i}",
                        "metadata": {},
                        "outputs": [],
                        "source": source,
                    }
                    for i, source in enumerate(cells)
                ],
                "metadata": {
                    "kernelspec": {
                        "display_name": "Python 3",
                        "language": "python",
                        "name": "python3",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )


@contextmanager
def _serve(scenario: Scenario, tmp_path: Path) -> Iterator[Host]:
    require_browser(scenario.module)
    home = tmp_path / "home"
    settings = home / "lab-settings"
    apputils = settings / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    if scenario.dark:
        (apputils / "themes.jupyterlab-settings").write_text(
            json.dumps({"theme": "JupyterLab Dark"})
        )
    work = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", work)
    if scenario.notebook in NOTEBOOKS:
        _write_notebook(work / scenario.notebook, NOTEBOOKS[scenario.notebook])
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "QUBICO_API_KEY",
            "PIAPI_API_KEY",
            "QUBICO_BASE_URL",
            "QUBICO_SANDBOX_URL",
            "JUPYTERHUB_SERVICE_PREFIX",
            "QUBICO_NB_HUB_PROXY",
        )
    }
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp_path),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        # Each test its own task store and sandbox task file: nothing reused from another test.
        QUBICO_NB_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(":"),
    )
    if scenario.hub_proxy is not None:
        env["JUPYTERHUB_SERVICE_PREFIX"] = scenario.prefix
        env["QUBICO_NB_HUB_PROXY"] = "1" if scenario.hub_proxy else "0"
    port = free_port()
    server = subprocess.Popen(
        _command(scenario, port, work),
        cwd=work,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}{scenario.prefix.rstrip('/')}"
    if scenario.app == "voila":
        page = f"{base}/"
    elif scenario.app == "notebook7":
        page = f"{base}/notebooks/{scenario.notebook}?token={TOKEN}"
    else:
        page = f"{base}/lab/tree/{scenario.notebook}?token={TOKEN}"
    try:
        wait_for_port(port, server)
        yield Host(scenario.name, base, page, work, scenario)
    finally:
        stop(server)


@pytest.fixture(params=QUICKSTART, ids=[s.name for s in QUICKSTART])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    with _serve(request.param, tmp_path) as served:
        yield served


@contextmanager
def _browser_page(host: Host) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context()
            context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(
                        ("http://127.0.0.1", "http://localhost", "data:")
                    )
                    else route.abort()
                ),
            )
            page = context.new_page()
            if host.scenario.app == "voila":  # Voila runs the notebook; its page links a CDN
                page.goto(host.page_url, wait_until="commit")
            else:
                page.goto(host.page_url)
                run_all(host, page)
            yield page
            if os.environ.get("QNB_SCREENSHOT"):  # to look at what a person sees
                page.screenshot(
                    path=os.environ["QNB_SCREENSHOT"].replace(".png", f"-{host.name}.png")
                )
        finally:
            browser.close()


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


#: The metadata of the first viewer whose status says completed, read in the same script run as
#: its status (so both come from one state of the page), or null while none has completed.
#: ``textContent``, not ``innerText``: Notebook 7 and JupyterLab 4 give cells
#: ``content-visibility: auto``, and Chromium's ``innerText`` of a cell scrolled out of view (Run
#: All scrolls down) is empty until the cell is painted again, though its content is all there.
COMPLETED_META = """() => {
  for (const viewer of document.querySelectorAll('.qnb-viewer')) {
    const status = viewer.querySelector('.qnb-status');
    if (status && status.textContent.includes('completed')) {
      const meta = viewer.querySelector('.qnb-meta');
      return {meta: meta ? meta.textContent : null};
    }
  }
  return null;
}"""


def test_quickstart_shows_the_task_and_plays_its_audio(host: Host) -> None:
    with _browser_page(host) as page:
        text = page.wait_for_function(COMPLETED_META, timeout=90_000).json_value()["meta"]
        assert text and "Task id" in text and "waves crashing on a beach" in text, text

        audio = page.locator(".qnb-viewer .qnb-player audio").first
        audio.wait_for(timeout=60_000)
        assert audio.get_attribute("aria-label", timeout=5_000).startswith("Generated audio")
        state = audio.evaluate(AUDIO_STATE)
        assert state["ready"], state
        assert state["duration"] == pytest.approx(8.0, abs=0.05)
        assert state["advanced"] > 0.3, state
        if host.name == "binder":  # the file came through the hub's proxy path
            assert "/user/qnb-test/proxy/" in state["src"], state
        assert state["src"].startswith("http"), state["src"][:80]
        _negative_control(page, f"{host.base}/files/qnb-missing.wav")
        if host.name in ("lab", "notebook7"):  # light theme: every text at least 4.5:1 too
            low = [r for r in page.evaluate(CONTRAST)["results"] if r["ratio"] < 4.5]
            assert not low, low
        if host.name == "lab":  # the viewer's cell is not the last one run: saved all the same
            _save_and_expect_final_state(page, host.work / host.scenario.notebook)


def _save_and_expect_final_state(page: Any, path: Path) -> None:
    """Save the notebook; the viewer's static part in the file must show the final state."""
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        outputs = [
            o for cell in json.loads(path.read_text())["cells"] for o in cell.get("outputs", ())
        ]
        htmls = ["".join(o.get("data", {}).get("text/html", "")) for o in outputs]
        viewers = [h for h in htmls if "qnb-viewer" in h]
        ended = all("qnb-badge-completed" in h or "qnb-badge-failed" in h for h in viewers)
        if viewers and ended and any("<audio" in h for h in viewers):
            return
    raise AssertionError("the saved notebook still shows the viewer's first snapshot")


def _negative_control(page: Any, missing: str) -> None:
    """The same check against a file that does not load must fail."""
    page.evaluate(
        """(src) => {
        const el = document.createElement('audio');
        el.id = 'qnb-negative-' + document.querySelectorAll('audio').length;
        el.innerHTML = `<source src="${src}">`;
        el.className = 'qnb-negative'; document.body.appendChild(el); }""",
        missing,
    )
    negative = page.locator("audio.qnb-negative").last.evaluate(AUDIO_STATE)
    assert not negative["ready"], negative


CONTRAST = """() => {
  const rgba = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    let layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const c = rgba(getComputedStyle(node).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0)) layers.push(c);
      if (c.length === 3 || (c.length === 4 && c[3] >= 1)) break;
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) { const a = c.length === 4 ? c[3] : 1;
      out = out.map((v, i) => c[i] * a + v * (1 - a)); }
    return out;
  };
  const results = [];
  const selector = '.qnb-viewer .qnb-meta th, .qnb-viewer .qnb-meta td, ' +
    '.qnb-viewer .qnb-error div, .qnb-viewer .qnb-times, .qnb-viewer .qnb-badge';
  for (const el of document.querySelectorAll(selector)) {
    if (!el.textContent.trim() || !el.offsetParent) continue;
    const bg = background(el);
    const fgRaw = rgba(getComputedStyle(el).color);
    const a = fgRaw.length === 4 ? fgRaw[3] : 1;
    const fg = fgRaw.slice(0, 3).map((v, i) => v * a + bg[i] * (1 - a));
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    results.push({text: el.textContent.trim().slice(0, 30), cls: el.className,
                  ratio: (hi + 0.05) / (lo + 0.05)});
  }
  return {results, dark: document.body.dataset.jpThemeLight === 'false'};
}"""


def test_hub_without_proxy_in_the_dark_theme(tmp_path: Path) -> None:
    """One JupyterLab for four things: a hub whose server has no jupyter-server-proxy (the
    sandbox's audio is embedded and plays), a downloaded copy (plays by its path), the dark
    theme (every text at least 4.5:1, measured in the page), and the saved notebook holding the
    final state of every viewer."""
    scenario = Scenario(
        "hub-no-proxy-dark",
        "lab",
        "jupyterlab",
        notebook="dark.ipynb",
        prefix="/user/qnb-test/",
        hub_proxy=False,
        dark=True,
    )
    with _serve(scenario, tmp_path) as host, _browser_page(host) as page:
        page.wait_for_function(
            "() => [...document.querySelectorAll('.qnb-viewer .qnb-status')]"
            ".some(e => e.textContent.includes('completed')) && "
            "[...document.querySelectorAll('.qnb-viewer .qnb-error div')]"
            ".some(e => e.textContent.includes('failed'))",
            timeout=90_000,
        )
        measured = page.evaluate(CONTRAST)
        assert measured["dark"], "JupyterLab did not switch to its dark theme"
        kinds = {r["cls"].split()[0] if r["cls"] else "cell" for r in measured["results"]}
        assert {"qnb-error", "qnb-times", "qnb-badge"} <= kinds, kinds
        low = [r for r in measured["results"] if r["ratio"] < 4.5]
        assert not low, low
        audio = page.locator(".qnb-viewer .qnb-player audio").first
        assert audio.get_attribute("aria-label").startswith("Generated audio")
        state = audio.evaluate(AUDIO_STATE)
        assert state["ready"] and state["advanced"] > 0.3, state
        assert state["src"].startswith("data:audio/wav;base64,"), state["src"][:80]
        assert state["duration"] == pytest.approx(8.0, abs=0.05)
        # The downloaded copy: JupyterLab serves the notebook's folder, so it plays by path.
        (saved,) = (host.work / "downloads").iterdir()
        local = page.locator(".qnb-viewer .qnb-player audio[src*='downloads']").first
        local.wait_for(timeout=60_000)
        state = local.evaluate(AUDIO_STATE)
        assert state["ready"] and state["advanced"] > 0.3, state
        assert f"/user/qnb-test/files/downloads/{saved.name}" in state["src"], state["src"]

        _save_and_expect_final_state(page, host.work / "dark.ipynb")


def test_voila_plays_a_downloaded_copy(tmp_path: Path) -> None:
    """After download(): Voila serves only images, so the copy is embedded (JupyterLab plays
    it by path: see the dark-theme test)."""
    scenario = Scenario("voila-local", "voila", "voila", notebook="local.ipynb")
    with _serve(scenario, tmp_path) as host, _browser_page(host) as page:
        audio = page.locator(".qnb-viewer .qnb-player audio").first
        audio.wait_for(timeout=90_000)
        state = audio.evaluate(AUDIO_STATE)
        assert state["ready"], state
        assert state["src"].startswith("data:audio/wav;base64,"), state["src"][:80]
        assert state["duration"] == pytest.approx(8.0, abs=0.05)
        assert state["advanced"] > 0.3, state
        # Why the fallback: Voila does not serve the saved file by its relative path.
        (saved,) = (host.work / "downloads").iterdir()
        _negative_control(page, f"downloads/{saved.name}")
