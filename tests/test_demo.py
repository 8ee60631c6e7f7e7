"""`qubico-nb demo` works on a copy of the notebooks, so the checkout stays clean."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from qubico_nb import demo
from qubico_nb.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "checkout" / "notebooks"
    folder.mkdir(parents=True)
    (folder / "quickstart.ipynb").write_text('{"cells": []}')
    (folder / "compare-batches.ipynb").write_text('{"cells": [1]}')
    return folder


def test_workspace_is_a_fresh_copy_outside_the_checkout(source: Path, tmp_path: Path) -> None:
    workspace = demo.prepare_workspace(source, tmp_path / "ws")
    assert sorted(p.name for p in workspace.glob("*.ipynb")) == [
        "compare-batches.ipynb",
        "quickstart.ipynb",
    ]
    # JupyterLab autosaves outputs, download() writes files: all of it lands in the copy
    (workspace / "quickstart.ipynb").write_text('{"cells": ["with outputs"]}')
    (workspace / "downloads").mkdir()
    (workspace / "downloads" / "a.wav").write_bytes(b"RIFF")
    demo.prepare_workspace(source, workspace)  # the next run
    assert (workspace / "quickstart.ipynb").read_text() == '{"cells": []}'  # refreshed
    assert (workspace / "downloads" / "a.wav").exists()  # the user's files stay
    assert not list(workspace.glob(".*.partial"))
    assert sorted(p.name for p in source.iterdir()) == ["compare-batches.ipynb", "quickstart.ipynb"]


def test_workspace_inside_the_notebooks_is_refused(source: Path) -> None:
    with pytest.raises(ValueError, match="must be outside"):
        demo.prepare_workspace(source, source / "copy")
    with pytest.raises(ValueError, match="must be outside"):
        demo.prepare_workspace(source, source)


def test_default_workspace_is_per_user_data(tmp_path: Path) -> None:
    assert demo.default_workspace({"QUBICO_NB_DEMO_DIR": str(tmp_path)}) == tmp_path
    assert demo.default_workspace({"XDG_DATA_HOME": str(tmp_path)}) == (
        tmp_path / "qubico-nb" / "demo"
    )
    assert demo.default_workspace({}) == Path.home() / ".local/share/qubico-nb/demo"


def test_lab_opens_the_workspace_not_the_checkout(source: Path, tmp_path: Path) -> None:
    workspace = demo.prepare_workspace(source, tmp_path / "ws")
    command = demo.lab_command(workspace, lab_port=9999, open_browser=False)
    assert f"--ServerApp.root_dir={workspace}" in command
    assert not any(str(source) in part for part in command)
    assert "--no-browser" in command and "--ServerApp.port=9999" in command


def test_lab_gets_the_demos_own_quiet_settings(tmp_path: Path) -> None:
    """No "Jupyter news?" prompt over the first notebook, and the user's real settings folder
    is never written: the demo's lives in its workspace."""
    workspace = tmp_path / "ws"
    command = demo.lab_command(workspace, lab_port=9999, open_browser=False)
    settings = workspace / ".lab-settings"
    assert f"--LabApp.user_settings_dir={settings}" in command
    notification = settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    assert json.loads(notification.read_text()) == {"fetchNews": "false", "checkForUpdates": False}
    notification.write_text('{"fetchNews": "true"}')  # the user's own choice, made in the demo
    demo.lab_command(workspace, lab_port=9999, open_browser=False)
    assert notification.read_text() == '{"fetchNews": "true"}'


def test_the_notebooks_come_with_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # wherever the command runs
    assert demo.find_notebooks(None) == (ROOT / "notebooks").resolve()  # an editable install
    with pytest.raises(ValueError, match="no notebooks folder at"):
        demo.find_notebooks(str(tmp_path))


class _FakeSandbox:
    url = "http://127.0.0.1:1234"
    demo_video_url = "http://127.0.0.1:1234/assets/demo.mp4"
    api_key = "sb-key"


def test_environment_points_at_the_sandbox_and_drops_live_keys() -> None:
    env = demo.demo_environment(
        _FakeSandbox(), {"QUBICO_API_KEY": "live", "PIAPI_API_KEY": "x", "PATH": "/bin"}
    )
    assert "QUBICO_API_KEY" not in env and "PIAPI_API_KEY" not in env
    assert env["QUBICO_SANDBOX_URL"] == _FakeSandbox.url
    assert env["QUBICO_SANDBOX_API_KEY"] == "sb-key"
    assert env["QUBICO_DEMO_VIDEO"] == _FakeSandbox.demo_video_url
    mine = demo.demo_environment(_FakeSandbox(), {"QUBICO_DEMO_VIDEO": "https://my/clip.mp4"})
    assert mine["QUBICO_DEMO_VIDEO"] == "https://my/clip.mp4"


def test_demo_command_runs_lab_on_a_copy_and_leaves_the_checkout_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end without Jupyter: the real notebooks/ are copied, Lab is pointed at the copy."""
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_lab(command: list[str], env: dict[str, str]) -> int:
        calls.append((command, env))
        # while "JupyterLab" runs, the sandbox serves the demo clip it was told about
        assert requests.get(env["QUBICO_DEMO_VIDEO"], timeout=5).status_code == 200
        return 0

    monkeypatch.setattr(demo.subprocess, "call", fake_lab)
    monkeypatch.setattr(demo, "lab_installed", lambda: True)  # Lab itself is never started
    monkeypatch.setenv("QUBICO_NB_DEMO_DIR", str(tmp_path / "ws"))
    before = _status(ROOT / "notebooks")
    assert main(["demo", "--notebooks", str(ROOT / "notebooks"), "--no-browser"]) == 0
    ((command, env),) = calls
    assert f"--ServerApp.root_dir={(tmp_path / 'ws').resolve()}" in command
    assert (tmp_path / "ws" / "quickstart.ipynb").is_file()
    assert env["QUBICO_SANDBOX_URL"].startswith("http://127.0.0.1:")
    out = capsys.readouterr().out
    assert str((tmp_path / "ws").resolve()) in out and "never in your checkout" in out
    assert _status(ROOT / "notebooks") == before
    with pytest.raises(requests.ConnectionError):  # the sandbox stopped with Lab
        requests.get(env["QUBICO_DEMO_VIDEO"], timeout=5)


def _status(folder: Path) -> str:
    done = subprocess.run(
        ["git", "status", "--porcelain", "--", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout


def test_no_import_circle_between_cli_and_demo() -> None:
    tree = ast.parse(Path(demo.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert "cli" not in imported and "qubico_nb.cli" not in imported
    assert not any(name.endswith("sandbox") for name in imported)


def test_wrong_lab_setup_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["demo", "--notebooks", str(tmp_path / "none")])
    assert caught.value.code == 2 and "no notebooks folder" in capsys.readouterr().err


def test_run_demo_is_given_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, source: Path, tmp_path: Path
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(
        "qubico_nb.cli.run_demo", lambda args, sandbox, start: seen.append(sandbox) or 0
    )
    assert main(["demo", "--notebooks", str(source), "--audio-format", "mp3"]) == 0
    assert seen[0].audio_format == "mp3" and seen[0]._server is None  # built, not started
