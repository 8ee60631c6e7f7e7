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
        [
            sys.executable,
            "-m",
            "qubico_nb",
            "sandbox",
            "--port",
            "0",
            "--schema",
            "unified",
            "--preset",
            "instant",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening at http://127.0.0.1:" in line and "auth on" in line
        hints = proc.stdout.readline() + proc.stdout.readline()
        assert "QUBICO_SANDBOX_URL=" in hints and "/assets/demo.mp4" in hints
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
        [
            "sandbox",
            "--fault",
            "error:0.5:get",
            "--latency-ms",
            "20",
            "--concurrency-limit",
            "2",
            "--timezone",
            "+08:00",
            "--audio-seconds",
            "3",
            "--title-case-status",
        ]
    )
    sandbox = sandbox_from_args(args)
    kinds = sorted(rule.kind for rule in sandbox.faults.rules)
    assert kinds == ["error", "latency"]
    assert sandbox.world.concurrency_limit == 2 and sandbox.tz_minutes == 480
    assert sandbox.audio_seconds == 3 and sandbox.title_case_status


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sandbox", "--fault", "explode"], "unknown fault kind 'explode'"),
        (["sandbox", "--fault", "error:lots"], "fault rate in 'error:lots' is not a number"),
        (["sandbox", "--port", "99999"], "port must be from 0 to 65535"),
        (["sandbox", "--port", "-1"], "port must be from 0 to 65535"),
        (["sandbox", "--port", "http"], "port must be a number"),
        (["demo", "--lab-port", "70000"], "port must be from 0 to 65535"),
        (["sandbox", "--timezone", "CET"], "timezone offset must look like"),
        (["sandbox", "--timezone", "+25:00"], "timezone offset must look like"),
        (["sandbox", "--audio-seconds", "0"], "--audio-seconds must be in (0, 60]"),
        (["sandbox", "--sample-rate", "10"], "--sample-rate must be"),
        (["sandbox", "--audio-format", "ogg"], "invalid choice: 'ogg'"),
        (["sandbox", "--schema", "v3"], "invalid choice: 'v3'"),
        (
            ["sandbox", "--port", "0", "--host", "no.such.host.invalid", "--api-key", "k"],
            "no such host",
        ),
        (["sandbox", "--bogus"], "unrecognized arguments: --bogus (see qubico-nb sandbox --help)"),
        (["demo", "--bogus"], "unrecognized arguments: --bogus (see qubico-nb demo --help)"),
        (["sandbox", "--socket-timeout", "0"], "--socket-timeout must be positive"),
        # Each of these once started a sandbox that never answered or refused everything.
        (["sandbox", "--latency-ms", "-5"], "--latency-ms must be 0 or more milliseconds"),
        (["sandbox", "--jitter-ms", "-1"], "--jitter-ms must be 0 or more milliseconds"),
        (["sandbox", "--latency-ms", "nan"], "--latency-ms must be 0 or more"),
        (["sandbox", "--rate-limit", "-3"], "--rate-limit must be more than 0"),
        (["sandbox", "--rate-limit", "0"], "--rate-limit must be more than 0"),
        (["sandbox", "--concurrency-limit", "0"], "--concurrency-limit must be a whole number of"),
        (["sandbox", "--pending-s", "-1"], "--pending-s must be 0 or more seconds"),
        (["sandbox", "--processing-s", "inf"], "--processing-s must be 0 or more seconds"),
        (["demo", "--concurrency-limit", "-2"], "--concurrency-limit must be a whole number of"),
        ([], "the following arguments are required: command"),
    ],
)
def test_every_wrong_usage_is_one_line_and_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and err.startswith("qubico-nb") and "Traceback" not in err


def test_a_bad_host_is_refused_before_any_warning(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["sandbox", "--host", "no.such.host.invalid", "--port", "0"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such host" in err and "warning" not in err


def test_help_shows_the_defaults_but_never_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QUBICO_SANDBOX_API_KEY", "sk-help-secret")
    for command, port in (("sandbox", "8765"), ("demo", "0")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert f"(0 picks a free one) (default: {port})" in text
        assert "delay every answer (default: 0.0)" in text
        assert "requests per second before 429 (default: no limit)" in text
        assert "(default: fast)" in text and "(default: 30.0)" in text
        assert "sk-help-secret" not in text


def test_wrong_usage_from_the_shell_has_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qubico_nb", "sandbox", "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "port must be from 0 to 65535" in done.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from qubico_nb import __version__

    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"qubico-nb {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["sandbox", "--help"], ["demo", "--help"]])
def test_help_has_no_raw_markup(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    text = capsys.readouterr().out
    assert "usage: qubico-nb" in text
    assert "``" not in text and ":func:" not in text and ":class:" not in text


def test_binding_beyond_loopback_without_a_key_prints_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qubico_nb.cli import start_sandbox

    args = build_parser().parse_args(["sandbox", "--host", "0.0.0.0", "--port", "0"])  # noqa: S104
    sandbox = start_sandbox(sandbox_from_args(args, api_key=None))
    sandbox.stop()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: listening on 0.0.0.0 with no --api-key" in err


def test_new_options_reach_the_sandbox() -> None:
    args = build_parser().parse_args(
        ["sandbox", "--audio-format", "mp3", "--plan", "free", "--socket-timeout", "5"]
    )
    sandbox = sandbox_from_args(args)
    assert sandbox.audio_format == "mp3" and sandbox.plan == "free"
    assert sandbox.socket_timeout_s == 5


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
