"""The on-disk file cache: round trips, atomic entries, damage, an unusable folder, the size cap."""

from __future__ import annotations

import os
import threading
import time
import warnings
from pathlib import Path
from typing import BinaryIO

import pytest

from qubico_nb._constants import CACHE_DIR_ENV
from qubico_nb.store.files import FileCache, cache_root, default_files_dir, url_key

URL = "http://127.0.0.1:9/temp/abc.wav"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never write the user's cache: the default folder is a temporary one."""
    root = tmp_path / "root"
    monkeypatch.setenv(CACHE_DIR_ENV, str(root))
    return root


class Fetcher:
    """A stand-in for ``client.fetch_file`` that counts calls and can fail."""

    def __init__(self, payload: bytes = b"RIFF-audio-bytes", error: Exception | None = None):
        self.payload = payload
        self.error = error
        self.calls = 0

    def __call__(self, url: str, sink: BinaryIO) -> int:
        self.calls += 1
        sink.seek(0)
        sink.truncate()
        sink.write(self.payload[:3])
        if self.error is not None:
            raise self.error
        sink.write(self.payload[3:])
        return len(self.payload)


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_default_folder_is_under_the_configured_root(_private_cache: Path) -> None:
    assert cache_root() == _private_cache
    assert default_files_dir() == _private_cache / "files"
    assert FileCache().folder == _private_cache / "files"


def test_default_root_without_the_variable_is_the_user_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CACHE_DIR_ENV)
    root = cache_root()
    assert "qubico-nb" in root.parts
    assert root.is_absolute()


def test_put_then_get_and_path(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    path = cache.put(URL, b"hello")
    assert path is not None and path.suffix == ".wav" and path.read_bytes() == b"hello"
    assert path.name.startswith(url_key(URL))
    assert cache.get(URL) == b"hello"
    assert cache.path(URL) == path
    assert cache.get(URL + "?other") is None
    assert not [n for n in entries(tmp_path / "c") if n.endswith(".part")]


def test_fetch_streams_once_then_serves_from_disk(tmp_path: Path) -> None:
    fetcher = Fetcher()
    first = FileCache(tmp_path / "c")
    assert first.fetch(URL, fetcher) == fetcher.payload
    second = FileCache(tmp_path / "c")  # a new session on the same machine
    assert second.fetch(URL, fetcher) == fetcher.payload
    assert fetcher.calls == 1
    assert (first.misses, second.hits) == (1, 1)


def test_a_failed_fetch_keeps_nothing(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    with pytest.raises(ConnectionError):
        cache.fetch(URL, Fetcher(error=ConnectionError("cut off")))
    assert cache.get(URL) is None
    assert entries(tmp_path / "c") == []


def test_a_damaged_entry_is_dropped_with_one_warning_and_fetched_again(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    path = cache.put(URL, b"the real bytes")
    assert path is not None
    path.write_bytes(b"the real bytez")  # same size, other content: only the hash tells
    with pytest.warns(RuntimeWarning, match="damaged entry"):
        assert cache.get(URL) is None
    assert entries(tmp_path / "c") == []
    fetcher = Fetcher(b"the real bytes")
    assert cache.fetch(URL, fetcher) == b"the real bytes" and fetcher.calls == 1
    assert cache.get(URL) == b"the real bytes"


def test_damage_is_told_once_per_cache(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    for url in (URL, URL + "?2"):
        path = cache.put(url, b"abc")
        assert path is not None
        path.write_bytes(b"xyz")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache.get(URL) is None and cache.get(URL + "?2") is None
    assert len(caught) == 1


def test_a_garbled_sidecar_counts_as_damage(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    cache.put(URL, b"abc")
    (tmp_path / "c" / f"{url_key(URL)}.json").write_text("{not json")
    with pytest.warns(RuntimeWarning):
        assert cache.get(URL) is None
    assert cache.path(URL) is None


def test_a_truncated_file_is_not_offered_by_path(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c")
    path = cache.put(URL, b"abcdef")
    assert path is not None
    path.write_bytes(b"abc")
    assert cache.path(URL) is None


def test_an_unwritable_folder_warns_once_and_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    cache = FileCache(blocker / "files")
    fetcher = Fetcher()
    with pytest.warns(RuntimeWarning, match="file cache is off") as caught:
        assert cache.fetch(URL, fetcher) == fetcher.payload
        assert cache.fetch(URL + "2", fetcher) == fetcher.payload
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    assert CACHE_DIR_ENV in str(caught[0].message)
    assert not cache.enabled and fetcher.calls == 2


def test_disabled_cache_never_touches_disk(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c", enabled=False)
    fetcher = Fetcher()
    cache.fetch(URL, fetcher)
    cache.fetch(URL, fetcher)
    assert fetcher.calls == 2
    assert not (tmp_path / "c").exists()


def test_size_cap_removes_least_recently_used_entries(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c", max_bytes=3300)
    urls = [f"http://h/{i}.wav" for i in range(3)]
    now = time.time()
    for age, url in zip((300, 200, 100), urls, strict=True):
        path = cache.put(url, b"x" * 900)
        assert path is not None
        os.utime(path, (now - age, now - age))
    assert cache.get(urls[0]) is not None  # reading makes the oldest the most recent
    cache.put("http://h/3.wav", b"y" * 900)  # 4 x ~1030 bytes with sidecars > 3300: one goes
    assert cache.get(urls[1]) is None
    assert all(cache.get(u) is not None for u in (urls[0], urls[2], "http://h/3.wav"))
    total = sum(p.stat().st_size for p in (tmp_path / "c").iterdir())
    assert total <= 3300


def test_a_file_larger_than_the_cap_is_returned_but_not_kept(tmp_path: Path) -> None:
    cache = FileCache(tmp_path / "c", max_bytes=10)
    fetcher = Fetcher(b"z" * 100)
    assert cache.fetch(URL, fetcher) == b"z" * 100
    assert cache.get(URL) is None


def test_stale_partial_files_are_swept_and_clear_spares_foreign_files(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    cache = FileCache(folder)
    cache.put(URL, b"abc")
    stale = folder / f"{url_key('http://h/x.wav')}.wav.deadbeef.part"
    stale.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    foreign = folder / "notes.txt"
    foreign.write_text("mine")
    cache.put("http://h/y.wav", b"def")
    assert not stale.exists()
    cache.clear()
    assert entries(folder) == ["notes.txt"]


def test_concurrent_writers_of_one_url_leave_one_whole_entry(tmp_path: Path) -> None:
    caches = [FileCache(tmp_path / "c") for _ in range(4)]
    payload = os.urandom(200_000)
    threads = [threading.Thread(target=c.put, args=(URL, payload)) for c in caches for _ in "ab"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert FileCache(tmp_path / "c").get(URL) == payload
    assert len(entries(tmp_path / "c")) == 2  # the file and its sidecar, no .part left


def test_negative_cap_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        FileCache(tmp_path, max_bytes=-1)


def test_cached_files_are_the_owners_and_so_is_every_folder_made_on_the_way(
    tmp_path: Path,
) -> None:
    import stat

    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    tmp_path.chmod(0o755)
    before = os.umask(0o022)  # the usual umask would leave files world-readable
    try:
        root = tmp_path / "made" / "on" / "the-way"
        cache = FileCache(root / "files")
        assert cache.put(URL, b"RIFF-audio") is not None
    finally:
        os.umask(before)
    made = [tmp_path / "made", tmp_path / "made" / "on", root, root / "files"]
    assert {str(p.relative_to(tmp_path)): mode(p) for p in made} == {
        str(p.relative_to(tmp_path)): 0o700 for p in made
    }
    assert sorted(mode(p) for p in (root / "files").iterdir()) == [0o600, 0o600]
    assert mode(tmp_path) == 0o755  # a folder that was there is left as it was
