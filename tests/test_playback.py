"""Where the browser gets a file, step by step on each host, and the viewer and `compare`
following the one rule (the same file gets the same source from both)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import pytest

from qubico_nb import TaskViewer, _hosts, compare, download, playback, tabulate_tasks
from qubico_nb.errors import ResponseTooLargeError
from qubico_nb.playback import Embedder, Playback
from qubico_nb.sandbox import Sandbox

from .helpers.hosts import hub, plain_machine
from .helpers.sandbox import VIDEO, client_for

LOOPBACK = "http://127.0.0.1:8000/temp/a.wav"
CDN = "https://cdn.example.com/a.wav"
WAV = b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + bytes(28)


class Files:
    """A stand-in for `Client.fetch_file`: every URL holds `WAV`; it records what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def __call__(self, url: str, sink: io.BytesIO, *, max_bytes: int) -> int:
        self.asked.append((url, max_bytes))
        if len(WAV) > max_bytes:
            raise ResponseTooLargeError(f"more than {max_bytes} bytes", limit=max_bytes)
        sink.write(WAV)
        return len(WAV)


@pytest.fixture(autouse=True)
def plain(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_machine(monkeypatch)


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A saved copy under the notebook's folder (the kernel's working folder)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep").mkdir()
    path = tmp_path / "keep" / "rain seed1.wav"
    path.write_bytes(WAV)
    return path


def test_a_server_url_plays_as_it_is_on_a_plain_machine() -> None:
    files = Files()
    plan = Playback(base_url="http://127.0.0.1:8000", fetch=files)
    assert plan.source(LOOPBACK, kind="audio") == LOOPBACK
    assert plan.source(CDN, kind="audio") == CDN
    assert plan.source("temp/b.wav", kind="audio") == "http://127.0.0.1:8000/temp/b.wav"
    assert plan.source("javascript:alert(1)", kind="audio") is None
    assert Playback().source("temp/b.wav") is None  # relative, and no base to resolve it
    assert files.asked == []


def test_a_saved_copy_plays_by_its_path_under_the_notebook_folder(saved: Path) -> None:
    plan = Playback()
    assert plan.source(CDN, saved_copy=str(saved), kind="audio") == "keep/rain%20seed1.wav"
    assert plan.source(CDN, saved_copy="keep/gone.wav", kind="audio") == CDN
    assert plan.saved_copies == 1 and plan.embedder.left == plan.embedder.limit_bytes


def test_a_saved_copy_is_embedded_where_it_cannot_be_served(
    saved: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    embedded = "data:audio/wav;base64,"
    assert Playback(embed_saved=True).source(CDN, saved_copy=str(saved)).startswith(embedded)
    (tmp_path / "notebook").mkdir()
    monkeypatch.chdir(tmp_path / "notebook")  # the copy is not under the notebook's folder
    copy = str(saved)
    assert Playback().source(CDN, saved_copy=copy, kind="audio").startswith(embedded)
    assert Playback().source(CDN, saved_copy=copy, kind="video") == CDN  # only audio is embedded
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOILA_KERNEL_ID", "k")  # Voila serves no audio files
    assert Playback().source(CDN, saved_copy=copy, kind="audio").startswith(embedded)


def test_a_hub_with_its_proxy_plays_loopback_files_through_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub(monkeypatch, proxy=True)
    files = Files()
    plan = Playback(fetch=files)
    assert plan.source(LOOPBACK, kind="audio") == "/user/ada/proxy/8000/temp/a.wav"
    assert plan.source("/user/ada/proxy/8000/temp/b.wav") == "/user/ada/proxy/8000/temp/b.wav"
    assert plan.source(CDN, kind="audio") == CDN
    assert files.asked == []


def test_a_hub_without_its_proxy_embeds_loopback_audio_within_one_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub(monkeypatch, proxy=False)
    files = Files()
    plan = Playback(fetch=files, limit_bytes=len(WAV) + 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = plan.source(LOOPBACK, kind="audio")
        second = plan.source(LOOPBACK.replace("a.wav", "b.wav"), kind="audio")
        video = plan.source(LOOPBACK.replace("a.wav", "c.mp4"), kind="video")
    assert first is not None and first.startswith("data:audio/wav;base64,")
    assert second is None and video is None  # over the budget; not audio
    assert files.asked == [(LOOPBACK, len(WAV) + 10), (LOOPBACK.replace("a.wav", "b.wav"), 10)]
    assert (plan.embedder.skipped, plan.embedder.left) == (1, 10)
    assert [str(w.message) for w in caught] == [_hosts.LOOPBACK_EMBED_WARNING]
    assert plan.source(CDN, kind="audio") == CDN  # the browser reaches the internet itself
    assert Playback().source(LOOPBACK, kind="audio") is None  # nothing may fetch it


def test_the_budget_defaults_to_the_module_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(playback, "EMBED_LIMIT_BYTES", 7)
    assert Embedder().limit_bytes == 7
    assert Embedder(100).limit_bytes == 100


def test_announce_embedding_warns_once_where_loopback_files_will_be_embedded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        playback.announce_embedding("http://127.0.0.1:8000")
        hub(monkeypatch, proxy=False)
        playback.announce_embedding("https://api.piapi.ai")
        playback.announce_embedding("http://127.0.0.1:8000")
        playback.announce_embedding("http://127.0.0.1:8000")
    assert [str(w.message) for w in caught] == [_hosts.LOOPBACK_EMBED_WARNING]


# -- the viewer and compare follow the one rule ------------------------------------------------


def viewer_source(viewer: TaskViewer) -> str:
    (player,) = viewer.players.children
    markup: str = player.outputs[0]["data"]["text/html"]
    return markup.split(' src="', 1)[1].split('"', 1)[0]


def grid_source(markup: str) -> str:
    return markup.split('<audio controls preload="none" src="', 1)[1].split('"', 1)[0]


HOSTS: dict[str, dict[str, str]] = {
    "plain": {},
    "hub with proxy": {"JUPYTERHUB_SERVICE_PREFIX": "/user/ada/", "QUBICO_NB_HUB_PROXY": "1"},
    "hub without proxy": {"JUPYTERHUB_SERVICE_PREFIX": "/user/ada/", "QUBICO_NB_HUB_PROXY": "0"},
    "voila": {"VOILA_KERNEL_ID": "k"},
    "forced embedding": {"QUBICO_NB_PLAYBACK": "embed"},
}


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("copy", ["none", "under the notebook", "elsewhere"])
def test_the_viewer_and_compare_choose_the_same_source(
    host: str, copy: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "notebook").mkdir()
    monkeypatch.chdir(tmp_path / "notebook")
    with Sandbox(preset="instant", audio_seconds=0.2) as sb:
        client = client_for(sb)
        task = client.wait(client.generate_audio(VIDEO, "rain", seed=1))
        folder = {"under the notebook": "keep", "elsewhere": str(tmp_path / "elsewhere")}
        frame: Any = (
            download([task], folder[copy], client=client, progress=False)
            if copy in folder
            else tabulate_tasks([task], client=client, progress=False)
        )
        for name, value in HOSTS[host].items():
            monkeypatch.setenv(name, value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the loopback warning, said once per process
            viewer = TaskViewer(
                task, client=client, follow=False, local_files=frame if copy in folder else None
            )
            shown = viewer_source(viewer)
            gridded = grid_source(compare(frame, client=client).to_html())
    assert shown == gridded
    assert shown.startswith(_EXPECTED[host, copy]), shown[:60]


_EXPECTED = {
    **{
        (host, "under the notebook"): "keep/"
        for host in ("plain", "hub with proxy", "hub without proxy")
    },
    **{
        (host, "under the notebook"): "data:audio/wav;base64,"
        for host in ("voila", "forced embedding")
    },
    **{(host, "elsewhere"): "data:audio/wav;base64," for host in HOSTS},
    ("plain", "none"): "http://127.0.0.1:",
    ("voila", "none"): "http://127.0.0.1:",
    ("hub with proxy", "none"): "/user/ada/proxy/",
    ("hub without proxy", "none"): "data:audio/wav;base64,",
    ("forced embedding", "none"): "data:audio/wav;base64,",
}
