"""The qubico-nb command: `sandbox` serves until stopped; bad options say what to fix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests

from qubico_nb.cli import build_parser, main, sandbox_from_args


def test_sandbox_command_serves_and_stops() -> None:
    env = {**os.environ, "QUBICO_SANDBOX_API_KEY": "sk-cli"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qubico_nb", "sandbox", "--port", "0", "--schema", "unified",
         "--preset", "instant"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening at http://127.0.0.1:" in line and "auth on" in line
        hints = proc.stdout.readline() + proc.stdout.readline()
        assert "QUBICO_SANDBOX_URL=" in hints
        assert "sk-cli" not in line + hints
        url = line.split("listening at ")[1].split(" ")[0]
        assert requests.get(f"{url}/account/info", timeout=5).status_code == 401
        answer = requests.get(f"{url}/account/info", headers={"x-api-key": "sk-cli"}, timeout=5)
        assert answer.json()["code"] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_options_reach_the_sandbox() -> None:
    args = build_parser().parse_args(
        ["sandbox", "--fault", "error:0.5:get", "--latency-ms", "20", "--concurrency-limit", "2",
         "--timezone", "+08:00", "--audio-seconds", "3", "--title-case-status"])
    sandbox = sandbox_from_args(args)
    kinds = sorted(rule.kind for rule in sandbox.faults.rules)
    assert kinds == ["error", "latency"]
    assert sandbox.world.concurrency_limit == 2 and sandbox.tz_minutes == 480
    assert sandbox.audio_seconds == 3 and sandbox.title_case_status


def test_bad_options_exit_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["sandbox", "--fault", "explode"])
    assert caught.value.code == 2
    assert "unknown fault kind 'explode'" in capsys.readouterr().err


def test_demo_needs_a_notebooks_folder(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--notebooks", str(tmp_path / "none")])
    assert "no notebooks folder" in capsys.readouterr().err


def test_a_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as caught:
            main(["sandbox", "--port", str(port)])
    assert caught.value.code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
