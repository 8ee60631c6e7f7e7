"""download: atomic files, skip what is there, safe names, one failure does not stop the rest."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest

from qubico_nb import InvalidRequestError, download, tabulate_tasks
from qubico_nb.downloads import file_name
from qubico_nb.sandbox import Sandbox

from .conftest import VIDEO, client_for


def test_download_saves_skips_and_reports(tmp_path: Path) -> None:
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb)
        tasks = [client.generate_audio(VIDEO, p) for p in ("rain", "birds")]
        failed = client.generate_audio("https://x/corrupt.mp4", "wind")
        frame = tabulate_tasks([*tasks, failed, "missing-id"], client=client, per="work",
                               progress=False)
        saved = download(frame, tmp_path / "out", client=client, progress=False)
        paths = list(saved["local_path"])
        assert paths[0].endswith(f"{tasks[0].id}_0.wav") and Path(paths[0]).is_file()
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
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"{good.id}_0.wav"]


def test_download_retries_a_truncated_file(tmp_path: Path) -> None:
    with Sandbox(preset="instant", audio_seconds=0.5) as sb:
        client = client_for(sb, max_retries=2)
        task = client.generate_audio(VIDEO, "rain")
        sb.inject("truncate", endpoints=("file",), count=1)
        saved = download([task], tmp_path, client=client, progress=False)
        data = Path(saved.loc[0, "local_path"]).read_bytes()
        with wave.open(io.BytesIO(data)) as wav:
            assert wav.getnframes() == 22050


def test_safe_file_names() -> None:
    assert file_name("../../etc/passwd", 0, "https://x/a.wav") == "etc_passwd_0.wav"
    assert file_name("abc", 2, "https://x/a.exe?x=1") == "abc_2.bin"
    assert file_name("abc", 0, "https://x/noext", "audio/mpeg") == "abc_0.mp3"
    assert file_name("", 0, "https://x/a.mp3") == "task_0.mp3"


def test_download_needs_a_usable_frame(tmp_path: Path) -> None:
    import pandas as pd

    with pytest.raises(InvalidRequestError, match="task_id and url"):
        download(pd.DataFrame({"x": [1]}), tmp_path, progress=False)
