"""The shipped demo clip: served with ranges, its URL known, and tasks on it read its 8 s."""

from __future__ import annotations

import base64
import io

import pytest
import requests

from qubico_nb.sandbox import Sandbox
from qubico_nb.sandbox.assets import ASSETS_DIR

from .helpers.sandbox import create_body

CLIP = (ASSETS_DIR / "demo.mp4").read_bytes()


def _task(sb: Sandbox, video: str) -> dict:
    task_id = requests.post(
        f"{sb.url}/api/v1/task", json=create_body(video=video), timeout=5
    ).json()["data"]["task_id"]
    return requests.get(f"{sb.url}/api/v1/task/{task_id}", timeout=5).json()["data"]


def test_the_demo_clip_is_served_with_ranges() -> None:
    with Sandbox() as sb:
        assert sb.demo_video_url == f"{sb.url}/assets/demo.mp4"
        whole = requests.get(sb.demo_video_url, timeout=5)
        assert whole.status_code == 200 and whole.content == CLIP
        assert whole.headers["Content-Type"] == "video/mp4"
        assert whole.headers["Accept-Ranges"] == "bytes"
        part = requests.get(sb.demo_video_url, headers={"Range": "bytes=100-199"}, timeout=5)
        assert part.status_code == 206 and part.content == CLIP[100:200]
        assert part.headers["Content-Range"] == f"bytes 100-199/{len(CLIP)}"
        for name in ("LICENSE", "nope.mp4", "..", "demo.mp4.bak"):
            assert requests.get(f"{sb.url}/assets/{name}", timeout=5).status_code == 404


def test_files_need_no_key_and_the_url_prefers_an_absolute_public_url() -> None:
    with Sandbox(api_key="k") as sb:
        assert requests.get(sb.demo_video_url, timeout=5).status_code == 200
    with Sandbox(public_url="https://hub.example.org/user/a/proxy/9/") as sb:
        assert sb.demo_video_url == "https://hub.example.org/user/a/proxy/9/assets/demo.mp4"
    with Sandbox(public_url="/proxy/9/") as sb:  # relative: tasks need an absolute URL
        assert sb.demo_video_url == f"{sb.url}/assets/demo.mp4"
    with pytest.raises(RuntimeError, match="not running"):
        Sandbox().demo_video_url  # noqa: B018


def test_a_task_on_the_demo_clip_reads_its_real_length() -> None:
    with Sandbox(preset="instant", audio_seconds=20.0) as sb:
        data = _task(sb, sb.demo_video_url)
        assert data["status"] == "completed"
        assert data["works"][0]["resource"]["duration"] == 8.0  # not the 20 s default
        assert data["metadata"]["quota_usage"] == 40000  # 8 s x $0.0005
        other = _task(sb, "https://cdn.example.com/clip.mp4")
        assert other["works"][0]["resource"]["duration"] == 20.0


def test_a_task_on_an_uploaded_clip_reads_its_real_length() -> None:
    from .media import mp4_bytes

    with Sandbox(preset="instant", audio_seconds=20.0) as sb:
        url = requests.post(
            f"{sb.url}/api/ephemeral_resource",
            timeout=5,
            json={
                "file_name": "clip.mp4",
                "file_data": base64.b64encode(mp4_bytes(5.0)).decode(),
            },
        ).json()["data"]["url"]
        assert _task(sb, url)["works"][0]["resource"]["duration"] == 5.0
        junk = requests.post(
            f"{sb.url}/api/ephemeral_resource",
            timeout=5,
            json={
                "file_name": "clip.mp4",
                "file_data": base64.b64encode(b"not a video").decode(),
            },
        ).json()["data"]["url"]
        assert _task(sb, junk)["status"] == "failed"


def test_mp3_output_like_the_live_service() -> None:
    import soundfile

    with Sandbox(preset="instant", schema="unified", audio_format="mp3", audio_seconds=2.0) as sb:
        task_id = requests.post(f"{sb.url}/api/v1/task", json=create_body(), timeout=5).json()[
            "data"
        ]["task_id"]
        url = requests.get(f"{sb.url}/api/v1/task/{task_id}", timeout=5).json()["data"]["output"][
            "audio_url"
        ]
        assert url.endswith(f"/temp/{task_id}.mp3")
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "audio/mpeg"
        info = soundfile.info(io.BytesIO(answer.content))
        assert info.format == "MP3" and abs(info.duration - 2.0) < 0.06
        assert requests.get(url.replace(".mp3", ".wav"), timeout=5).status_code == 404
    with Sandbox(preset="instant", audio_format="mp3", audio_seconds=1.0) as sb:
        data = _task(sb, "https://cdn.example.com/a.mp4")
        work = data["works"][0]
        assert work["contentType"] == "audio/mpeg"
        assert work["resource"]["resource"].endswith(".mp3")


def test_audio_format_is_checked() -> None:
    with pytest.raises(ValueError, match="audio_format must be one of"):
        Sandbox(audio_format="ogg")
