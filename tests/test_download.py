"""download: atomic files, skip what is there, readable distinct names, checked bytes, and one
failure (a web page, a short file, a folder that cannot be written) does not stop the rest."""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qubico_nb import InvalidRequestError, Task, download, tabulate_tasks
from qubico_nb._net import file_url as resolve_url
from qubico_nb.downloads import MAX_NAME_CHARS, file_name, slug
from qubico_nb.sandbox import Sandbox

from .helpers.sandbox import KEY, VIDEO, client_for


def wav_bytes(frames: int = 100) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * frames)
    return out.getvalue()


@pytest.fixture
def file_server() -> Iterator[tuple[str, dict[str, tuple[str, bytes]]]]:
    """A loopback server of files: put ``path -> (content type, body)`` into the dict."""
    files: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content_type, body = files.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()


def task_with(task_id: str, url: str, prompt: str = "rain", seed: int = 1) -> Task:
    return Task.from_dict(
        {
            "task_id": task_id,
            "status": "completed",
            "input": {"prompt": prompt, "seed": seed, "steps": 25},
            "output": {"audio_url": url},
        }
    )


def plain_client(base_url: str) -> Any:
    from qubico_nb import Client

    return Client(api_key=KEY, base_url=base_url, max_retries=0, retry_backoff=0, cache_size=0)


def test_download_saves_skips_and_reports(tmp_path: Path) -> None:
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb)
        tasks = [client.generate_audio(VIDEO, p) for p in ("rain", "birds")]
        failed = client.generate_audio("https://x/corrupt.mp4", "wind")
        frame = tabulate_tasks(
            [*tasks, failed, "missing-id"], client=client, per="work", progress=False
        )
        saved = download(frame, tmp_path / "out", client=client, progress=False)
        paths = list(saved["local_path"])
        assert Path(paths[0]).name == f"rain_seed42_steps25_{tasks[0].id[:8]}.wav"
        assert Path(paths[0]).is_file()
        with wave.open(str(paths[1])) as wav:
            assert wav.getnframes() == 22050
        assert saved["local_path"].isna().tolist() == [False, False, True, True]
        assert not list((tmp_path / "out").glob("*.part"))
        assert sb.requests["file"] == 2
        again = download(frame, tmp_path / "out", client=client, progress=False)
        assert sb.requests["file"] == 2  # already there: skipped
        assert list(again["local_path"]) == paths
        download(frame, tmp_path / "out", client=client, progress=False, overwrite=True)
        assert sb.requests["file"] == 4


def test_a_failed_download_leaves_no_partial_file(tmp_path: Path) -> None:
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb, max_retries=0)
        good, bad = (client.generate_audio(VIDEO, p) for p in ("rain", "birds"))
        sb.inject("truncate", endpoints=("file",), count=1)
        saved = download([bad, good], tmp_path, client=client, progress=False, max_workers=1)
        assert saved["local_path"].isna().tolist() == [True, False]
        assert "broke off after" in saved.loc[0, "download_error"]
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            f"rain_seed42_steps25_{good.id[:8]}.wav"
        ]


def test_download_retries_a_truncated_file(tmp_path: Path) -> None:
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb, max_retries=2)
        task = client.generate_audio(VIDEO, "rain")
        sb.inject("truncate", endpoints=("file",), count=1)
        saved = download([task], tmp_path, client=client, progress=False)
        data = Path(saved.loc[0, "local_path"]).read_bytes()
        with wave.open(io.BytesIO(data)) as wav:
            assert wav.getnframes() == 22050


def test_file_names_say_what_the_file_is() -> None:
    assert file_name(
        "1a2b3c4d-0000-4000-8000-000000000000",
        0,
        "https://x/f.wav",
        prompt="Waves crashing, seagulls!",
        seed=42,
        steps=25,
    ) == ("waves-crashing-seagulls_seed42_steps25_1a2b3c4d.wav")
    assert (
        file_name("1a2b3c4d-9", 1, "https://x/f.wav", prompt="rain", seed=3, several=True)
        == "rain_seed3_1a2b3c4d_1.wav"
    )
    assert file_name("abc", 0, "https://x/noext", "audio/mpeg") == "abc.mp3"
    assert file_name("abc", 0, "https://x/a.exe?x=1") == "abc.bin"


def test_every_known_media_type_is_saved_under_its_own_extension() -> None:
    """One table (`MEDIA_TYPES`) names both: an extension that is kept is a known type's, and a
    type the server names gets an extension that means that type again."""
    from qubico_nb._constants import MEDIA_TYPE_ALIASES, MEDIA_TYPES

    for ext, media_type in MEDIA_TYPES.items():
        assert file_name("abc", 0, f"https://x/a{ext}") == f"abc{ext}"
        named = file_name("abc", 0, "https://x/noext", f"{media_type}; charset=binary")
        assert MEDIA_TYPES["." + named.rpartition(".")[2]] == media_type, media_type
    for alias, media_type in MEDIA_TYPE_ALIASES.items():
        named = file_name("abc", 0, "https://x/noext", alias.upper())
        assert MEDIA_TYPES["." + named.rpartition(".")[2]] == media_type, alias
    assert file_name("abc", 0, "https://x/noext", "video/ogg") == "abc.ogg"
    assert file_name("abc", 0, "https://x/noext", "text/plain") == "abc.bin"


@pytest.mark.parametrize("prompt", ["con", "NUL", "com1", "lpt9", "aux"])
def test_file_names_avoid_windows_reserved_names(prompt: str) -> None:
    name = file_name("", 0, "https://x/a.wav", prompt=prompt)
    assert name.split(".")[0].split("_")[0].lower() not in {"con", "nul", "com1", "lpt9", "aux"}


def test_file_names_are_safe_and_short_whatever_the_server_sends() -> None:
    hostile = [
        "../../etc/passwd",
        'a\\b:c*d?e"f<g>h|i',
        "x" * 5000,
        "\x00\x1f\u202e",
        " . ",
        "ÉCOLE été",
        "雨の音",
        "CON",
        "a/../../b",
    ]
    for text in hostile:
        name = file_name(
            text, 0, "https://x/a.wav?sig=../../x", prompt=text, seed=10**30, steps=-(10**30)
        )
        assert re.fullmatch(r"[a-z0-9_-]+\.wav", name), name
        assert len(name) <= MAX_NAME_CHARS and not name.startswith(".")
    assert slug("École d'été au bord de la mer, vagues") == "ecole-d-ete-au-bord-de-la-mer-vagues"
    assert len(slug("word " * 100)) <= 40


def test_two_works_never_share_a_name(
    tmp_path: Path, file_server: tuple[str, dict[str, tuple[str, bytes]]]
) -> None:
    base, files = file_server
    tasks = []
    # Same prompt, seed and steps; ids that differ only in characters a file name cannot
    # hold, or only in case; and the same URL basename on every one.
    for number, task_id in enumerate(
        ["run:1", "run/1", "RUN-1", "run-10000000000001", "run-10000000000002"]
    ):
        files[f"/{number}/a.wav"] = ("audio/wav", wav_bytes(10 + number))
        tasks.append(task_with(task_id, f"{base}/{number}/a.wav"))
    saved = download(tasks, tmp_path, client=plain_client(base), progress=False)
    names = [Path(p).name for p in saved["local_path"]]
    assert len({n.lower() for n in names}) == 5, names
    for number, name in enumerate(names):
        assert (tmp_path / name).read_bytes() == files[f"/{number}/a.wav"][1]


def test_a_web_page_or_a_short_file_is_an_error_not_a_wav(
    tmp_path: Path, file_server: tuple[str, dict[str, tuple[str, bytes]]]
) -> None:
    base, files = file_server
    short = bytearray(wav_bytes(1000))[:300]  # the header promises 2000 bytes of samples
    files.update(
        {
            "/page.wav": ("text/html", b"<!DOCTYPE html><html><body>Sign in</body></html>"),
            "/page2.wav": ("audio/wav", b"\n  <HTML><head></head></HTML>"),
            "/short.wav": ("audio/wav", bytes(short)),
            "/json.wav": ("application/json", b'{"code": 403, "message": "expired"}'),
            "/good.wav": ("audio/wav", wav_bytes()),
        }
    )
    tasks = [
        task_with(f"t{n}-{name}", f"{base}/{name}.wav", prompt=name)
        for n, name in enumerate(["page", "page2", "short", "json", "good"])
    ]
    saved = download(tasks, tmp_path, client=plain_client(base), progress=False)
    errors = list(saved["download_error"])
    assert "web page" in errors[0] and "web page" in errors[1]
    assert "cut short" in errors[2] and "JSON" in errors[3]
    assert saved["local_path"].isna().tolist() == [True, True, True, True, False]
    assert [p.name for p in tmp_path.iterdir()] == [Path(saved.loc[4, "local_path"]).name]


def test_a_message_is_refused_by_its_content_type_whatever_its_bytes(
    tmp_path: Path, file_server: tuple[str, dict[str, tuple[str, bytes]]]
) -> None:
    base, files = file_server
    looks_like_audio = wav_bytes()  # a proxy's page or an API error that starts like a WAV
    files.update(
        {
            "/page.wav": ("text/html; charset=utf-8", looks_like_audio),
            "/json.wav": ("application/json", looks_like_audio),
            "/problem.wav": ("application/problem+json", looks_like_audio),
            "/good.wav": ("audio/wav", looks_like_audio),
        }
    )
    tasks = [
        task_with(f"t{n}-{name}", f"{base}/{name}.wav", prompt=name)
        for n, name in enumerate(["page", "json", "problem", "good"])
    ]
    saved = download(tasks, tmp_path, client=plain_client(base), progress=False)
    errors = list(saved["download_error"])
    assert "web page" in errors[0] and f"{base}/page.wav" in errors[0]
    assert "JSON message (application/json)" in errors[1]
    assert "JSON message (application/problem+json)" in errors[2]
    assert saved["local_path"].isna().tolist() == [True, True, True, False]
    assert [p.name for p in tmp_path.iterdir()] == [Path(saved.loc[3, "local_path"]).name]


def test_download_caps_each_file(
    tmp_path: Path, file_server: tuple[str, dict[str, tuple[str, bytes]]]
) -> None:
    base, files = file_server
    files.update(
        {"/big.wav": ("audio/wav", wav_bytes(4000)), "/small.wav": ("audio/wav", wav_bytes(100))}
    )
    tasks = [
        task_with("t1-big", f"{base}/big.wav", prompt="big"),
        task_with("t2-small", f"{base}/small.wav", prompt="small"),
    ]
    saved = download(tasks, tmp_path, client=plain_client(base), progress=False, max_bytes=1000)
    assert "more than the 1,000 allowed" in saved.loc[0, "download_error"]
    assert "max_bytes" in saved.loc[0, "download_error"]
    assert saved["local_path"].isna().tolist() == [True, False]
    assert len(list(tmp_path.iterdir())) == 1


def test_a_folder_that_cannot_be_written_gives_row_errors(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes through permission bits: use a read-only file system
        if not sys.platform.startswith("linux"):
            pytest.skip("needs a read-only folder")
        locked = Path("/sys/kernel")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
    with Sandbox(preset="instant", audio_seconds=0.2) as sb:
        client = client_for(sb)
        tasks = [client.generate_audio(VIDEO, p) for p in ("rain", "birds")]
        for folder in (locked, locked / "sub" / "dir"):
            saved = download(tasks, folder, client=client, progress=False)
            assert saved["local_path"].isna().all()
            assert saved["download_error"].notna().all()
    assert not list(tmp_path.rglob("*.part"))


def test_relative_and_proxy_prefixed_urls_are_saved(tmp_path: Path) -> None:
    with Sandbox(preset="instant", audio_seconds=0.2) as sb:
        client = client_for(sb)
        first, second = (client.generate_audio(VIDEO, p) for p in ("rain", "wind"))
        frame = tabulate_tasks([first.id, second.id], client=client, per="work", progress=False)
        absolute = list(frame["url"])
        port = sb.url.rsplit(":", 1)[1]
        path_of = [url.split(str(port), 1)[1] for url in absolute]  # "/temp/<id>.wav"
        frame["url"] = pd.array([path_of[0], f"/user/me/proxy/{port}{path_of[1]}"], dtype="string")
        saved = download(frame, tmp_path, client=client, progress=False)
        assert saved["download_error"].isna().all(), list(saved["download_error"])
        for path in saved["local_path"]:
            with wave.open(str(path)) as wav:  # 0.2 s at 44.1 kHz, whole
                assert (wav.getnframes(), wav.getframerate()) == (8820, 44100)


def test_resolve_url() -> None:
    assert resolve_url("https://cdn/x.wav", "http://127.0.0.1:1") == "https://cdn/x.wav"
    assert resolve_url("/temp/x.wav", "http://127.0.0.1:8000") == "http://127.0.0.1:8000/temp/x.wav"
    assert resolve_url("temp/x.wav", "http://h/api/") == "http://h/api/temp/x.wav"
    assert resolve_url("/user/a/proxy/8000/temp/x.wav", "http://127.0.0.1:8000") == (
        "http://127.0.0.1:8000/temp/x.wav"
    )
    assert resolve_url("/user/a/proxy/8000/temp/x.wav", "https://api.example.com:8000") == (
        "https://api.example.com:8000/user/a/proxy/8000/temp/x.wav"
    )


def test_download_needs_a_usable_frame(tmp_path: Path) -> None:
    import pandas as pd

    with pytest.raises(InvalidRequestError, match="task_id and url"):
        download(pd.DataFrame({"x": [1]}), tmp_path, progress=False)


def test_every_models_file_is_saved_under_its_main_text(tmp_path: Path) -> None:
    from qubico_nb import wait_all

    from .helpers.outputs import one_task_per_model

    with Sandbox(preset="instant", audio_seconds=0.3, audio_format="mp3") as sb:
        client = client_for(sb)
        tasks = wait_all(one_task_per_model(client, VIDEO), client=client, progress=False)
        saved = download(tasks, tmp_path, client=client, progress=False)
    assert saved["download_error"].isna().all()
    names = [Path(p).name for p in saved["local_path"]]
    assert names[0].startswith("lofi-piano-rain") and names[2].startswith("rain-on-the-roof")
    assert all(n.endswith(".mp3") for n in names) and len(set(names)) == 4
    assert all(_is_mp3((tmp_path / n).read_bytes()) for n in names)


def _is_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
