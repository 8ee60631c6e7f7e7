"""connect(): sandbox URL, live key, or an embedded sandbox, and it says which."""

from __future__ import annotations

import pytest

from qubico_nb import connection
from qubico_nb.sandbox import Sandbox

from .helpers.sandbox import KEY


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "QUBICO_API_KEY",
        "PIAPI_API_KEY",
        "QUBICO_BASE_URL",
        "QUBICO_SANDBOX_URL",
        "JUPYTERHUB_SERVICE_PREFIX",
    ):
        monkeypatch.delenv(name, raising=False)


def test_without_a_key_an_embedded_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    client = connection.connect()
    assert client.is_sandbox
    assert "No QUBICO_API_KEY set: using a local sandbox" in capsys.readouterr().out
    assert client.account()["account_name"] == "sandbox"
    again = connection.connect(quiet=True)
    assert again.base_url == client.base_url  # one sandbox per process
    assert connection.default_client() is again


def test_a_key_means_the_live_api(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QUBICO_API_KEY", KEY)
    client = connection.connect()
    assert client.base_url == "https://api.piapi.ai"
    out = capsys.readouterr().out
    assert "live Qubico API" in out and KEY not in out


def test_sandbox_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(preset="instant") as sb:
        monkeypatch.setenv("QUBICO_SANDBOX_URL", sb.url)
        client = connection.connect(quiet=True)
        assert client.base_url == sb.url and client.account()["plan"] == "creator"


def test_binder_proxy_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from qubico_nb._hosts import sandbox_public_url

    assert sandbox_public_url(1234) is None
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/abc/")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: object() if name == "jupyter_server_proxy" else real(name),
    )
    assert sandbox_public_url(1234) == "/user/abc/proxy/1234"


def test_sandbox_true_ignores_a_key_and_false_requires_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from qubico_nb import ConfigurationError

    with pytest.raises(ConfigurationError, match="needs an API key"):
        connection.connect(sandbox=False)
    monkeypatch.setenv("QUBICO_API_KEY", KEY)
    client = connection.connect(sandbox=True)
    assert client.is_sandbox and "sandbox=True: using a local sandbox" in capsys.readouterr().out
    assert not connection.connect(sandbox=False, quiet=True).is_sandbox


def test_the_real_key_never_goes_to_a_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(preset="instant", api_key="sandbox-key") as sb:
        monkeypatch.setenv("QUBICO_SANDBOX_URL", sb.url)
        monkeypatch.setenv("QUBICO_API_KEY", KEY)
        monkeypatch.setenv("QUBICO_SANDBOX_API_KEY", "sandbox-key")
        client = connection.connect(quiet=True)
        assert client.account()["plan"] == "creator"  # authenticated with the sandbox's key
        assert KEY[-4:] not in repr(client)


def test_colab_proxy_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from qubico_nb._hosts import sandbox_public_url

    asked: list[str] = []
    output = types.ModuleType("google.colab.output")
    output.eval_js = lambda js: asked.append(js) or "https://1234-abc.colab.dev/"  # type: ignore[attr-defined]
    for name, module in {
        "google": types.ModuleType("google"),
        "google.colab": types.ModuleType("google.colab"),
        "google.colab.output": output,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    assert sandbox_public_url(1234) == "https://1234-abc.colab.dev"
    assert asked == ["google.colab.kernel.proxyPort(1234)"]
    output.eval_js = lambda js: 1 / 0  # type: ignore[attr-defined]
    assert sandbox_public_url(1234) is None  # a broken proxy means "no proxy", not a crash


def test_options_for_an_already_running_sandbox_warn() -> None:
    connection.connect(quiet=True)
    with pytest.warns(UserWarning, match="already running"):
        connection.connect(quiet=True, preset="realistic")
