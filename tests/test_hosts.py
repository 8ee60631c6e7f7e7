"""Host differences: how the browser gets a file on JupyterHub (with and without
jupyter-server-proxy), Voila, VS Code and Colab; the ipywidgets 7/8 shim; one warning, not many."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from qubico_nb import TaskViewer, _hosts, download, playback
from qubico_nb.sandbox import Sandbox

from .helpers.hosts import hub, plain_machine
from .helpers.sandbox import VIDEO, client_for


@pytest.fixture(autouse=True)
def plain_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts on a plain machine, with no warning given yet."""
    plain_machine(monkeypatch)
    yield


def player_markup(viewer: TaskViewer) -> str:
    return "".join(p.outputs[0]["data"]["text/html"] for p in viewer.players.children)


def test_resolve_url_keeps_only_what_a_browser_may_load(monkeypatch: pytest.MonkeyPatch) -> None:
    base = "http://127.0.0.1:8000"
    assert _hosts.resolve_url("https://cdn/x.wav") == "https://cdn/x.wav"
    assert _hosts.resolve_url("temp/x.wav", base) == "http://127.0.0.1:8000/temp/x.wav"
    assert _hosts.resolve_url("/temp/x.wav", base + "/api/") == "http://127.0.0.1:8000/temp/x.wav"
    assert _hosts.resolve_url("temp/x.wav") is None  # nothing to resolve against: text
    for odd in (
        "javascript:alert(1)",
        "//evil/x.wav",
        "\\\\evil\\x.wav",
        "http://[::1",
        "ftp://h/x.wav",
        "data:audio/wav;base64,AA",
        "",
        None,
        3,
        "https://",
    ):
        assert _hosts.resolve_url(odd, base) is None, odd
    hub(monkeypatch, proxy=True)
    assert (
        _hosts.resolve_url("/user/ada/proxy/8000/temp/x.wav", base)
        == "/user/ada/proxy/8000/temp/x.wav"
    )


def test_playback_plan_on_a_plain_machine() -> None:
    assert _hosts.playback_plan("http://127.0.0.1:8000/temp/a.wav") == "url"
    assert _hosts.playback_plan("https://cdn.example.com/a.wav") == "url"
    assert _hosts.local_file_plan() == "url"


def test_playback_plan_on_a_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    hub(monkeypatch, proxy=True)
    assert _hosts.playback_plan("http://127.0.0.1:8000/temp/a.wav") == "proxy"
    assert _hosts.playback_plan("http://localhost:8000/a.wav") == "proxy"
    assert _hosts.playback_plan("https://cdn.example.com/a.wav") == "url"
    assert _hosts.playback_plan("/user/ada/proxy/8000/temp/a.wav") == "url"
    assert (
        _hosts.proxied_url("http://127.0.0.1:8000/temp/a.wav?x=1")
        == "/user/ada/proxy/8000/temp/a.wav?x=1"
    )
    assert _hosts.is_proxied_path("/user/ada/proxy/8000/temp/a.wav")
    hub(monkeypatch, proxy=False)
    assert _hosts.playback_plan("http://127.0.0.1:8000/temp/a.wav") == "embed"
    assert _hosts.playback_plan("http://[::1]:8000/a.wav") == "embed"
    assert _hosts.playback_plan("https://cdn.example.com/a.wav") == "url"
    assert _hosts.sandbox_public_url(8000) is None


def test_remote_vscode_embeds_loopback_and_local_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSCODE_PID", "1")
    assert _hosts.host() == "vscode"
    assert _hosts.playback_plan("http://127.0.0.1:8000/a.wav") == "url"  # VS Code on this machine
    assert _hosts.local_file_plan() == "embed"
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
    assert _hosts.playback_plan("http://127.0.0.1:8000/a.wav") == "embed"


def test_embedding_can_be_forced_for_an_unknown_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUBICO_NB_PLAYBACK", "embed")
    assert _hosts.playback_plan("http://127.0.0.1:8000/a.wav") == "embed"
    assert _hosts.playback_plan("https://cdn.example.com/a.wav") == "url"  # the browser's own
    assert _hosts.local_file_plan() == "embed"


def test_voila_embeds_local_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOILA_KERNEL_ID", "k")
    assert _hosts.host() == "voila" and _hosts.local_file_plan() == "embed"


def test_a_hub_without_server_proxy_embeds_the_sandbox_audio_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub(monkeypatch, proxy=False)
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb)
        tasks = [client.wait(client.generate_audio(VIDEO, p)) for p in ("rain", "wind")]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            viewers = [TaskViewer(t.id, client=client) for t in tasks]
            viewers.append(TaskViewer(tasks[0], client=client))
        assert [str(w.message) for w in caught] == [_hosts.LOOPBACK_EMBED_WARNING]
        assert "jupyter-server-proxy" in _hosts.LOOPBACK_EMBED_WARNING  # it says what to install
        for viewer in viewers:
            markup = player_markup(viewer)
            assert 'src="data:audio/wav;base64,' in markup and sb.url not in markup
        assert "data:audio/wav;base64," in viewers[0]._repr_mimebundle_()["text/html"]


def test_a_hub_with_server_proxy_plays_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    hub(monkeypatch, proxy=True)
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        markup = player_markup(TaskViewer(task.id, client=client))
        port = sb.url.rsplit(":", 1)[1]
        assert f'src="/user/ada/proxy/{port}/temp/' in markup and "base64" not in markup


def test_a_sandbox_under_a_hub_hands_out_proxy_paths_that_play(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As on Binder: the embedded sandbox's files are already paths under the hub's proxy."""
    hub(monkeypatch, proxy=True)
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        port = sb.url.rsplit(":", 1)[1]
        sb.public_url = f"/user/ada/proxy/{port}"
        client = client_for(sb)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        assert task.works[0].url.startswith("/user/ada/proxy/")
        markup = player_markup(TaskViewer(task.id, client=client))
        assert f'src="/user/ada/proxy/{port}/temp/' in markup and "base64" not in markup


def test_files_over_the_embedding_cap_are_not_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    hub(monkeypatch, proxy=False)
    monkeypatch.setattr(playback, "EMBED_LIMIT_BYTES", 1000)
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            markup = player_markup(TaskViewer(task.id, client=client))
        assert "base64" not in markup and "not a playable address" in markup


def test_local_copies_play_by_path_or_embedded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.chdir(str(tmp_path))
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        saved = download([task], "downloads", client=client, progress=False)
        (path,) = saved["local_path"].tolist()
        sb.reset_counters()
        markup = player_markup(TaskViewer.from_task(task, local_files=saved))
        assert f'src="{path}"' in markup and path.startswith("downloads/")
        monkeypatch.setenv("VOILA_KERNEL_ID", "k")
        markup = player_markup(TaskViewer.from_task(task, local_files=[path]))
        assert 'src="data:audio/wav;base64,' in markup
        assert sb.requests["file"] == 0  # played from the copy, not fetched again


def test_widget_view_bundle_in_ipywidgets_7_and_8() -> None:
    viewer = TaskViewer()
    bundle = _hosts.widget_view_bundle(viewer)
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == viewer.model_id and view["version_major"] == 2
    assert _hosts.ipywidgets_major() in (7, 8)
    assert _hosts.current_cell() is None  # no kernel here


@pytest.mark.slow
def test_current_cell_in_a_real_kernel() -> None:
    """ipykernel hands the front end's cell id through: what a re-run cell is told apart by."""
    import os
    from pathlib import Path

    from jupyter_client.manager import start_new_kernel

    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    manager, kernel = start_new_kernel(kernel_name="python3", startup_timeout=60, env=env)
    try:
        seen = []
        for cell in ("cell-a", "cell-a"):
            message = kernel.session.msg(
                "execute_request",
                {
                    "code": "from qubico_nb import _hosts\nprint(_hosts.current_cell())",
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                metadata={"cellId": cell},
            )
            kernel.shell_channel.send(message)
            request = message["header"]["msg_id"]
            while True:
                output = kernel.get_iopub_msg(timeout=30)
                if output["parent_header"].get("msg_id") != request:
                    continue
                if output["msg_type"] == "stream":
                    seen.append((output["content"]["text"].strip(), request))
                if (
                    output["msg_type"] == "status"
                    and output["content"]["execution_state"] == "idle"
                ):
                    break
        assert [text for text, _ in seen] == [str(("cell-a", request)) for _, request in seen]
        assert seen[0][1] != seen[1][1]  # a re-run: same cell, another request
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)
