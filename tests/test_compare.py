"""compare: a grid keyed by any column, players that preload nothing, local and embedded files."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from qubico_nb import InvalidRequestError, compare, download, tabulate_tasks
from qubico_nb.sandbox import Sandbox

from .conftest import VIDEO, client_for


@pytest.fixture
def table():
    with Sandbox(preset="instant", audio_seconds=0.2) as sb:
        client = client_for(sb)
        tasks = [client.generate_audio(VIDEO, p, seed=s, steps=st)
                 for p in ("rain", "birds") for s in (1, 2) for st in (20, 40)]
        yield client, tabulate_tasks(tasks, client=client, progress=False)


def test_grid_by_prompt_across_seed(table) -> None:
    _, frame = table
    comparison = compare(frame, by="prompt", across="seed")
    markup = comparison._repr_html_()
    assert markup.count("<tr>") == 3  # header + two prompts
    assert markup.count("<audio") == 8  # two steps per cell
    assert markup.count('preload="none"') == 8
    assert "rain" in repr(comparison) and "Comparison(by='prompt'" in repr(comparison)


def test_any_column_and_unknown_columns(table) -> None:
    _, frame = table
    assert compare(frame, by="seed", across="steps").to_html().count("<tr>") == 3
    with pytest.raises(InvalidRequestError, match="no column 'colour'"):
        compare(frame, by="colour")


def test_local_copies_and_capped_embedding(table, tmp_path: Path, monkeypatch) -> None:
    client, frame = table
    monkeypatch.chdir(tmp_path)
    saved = download(frame, "keep", client=client, progress=False)
    local = compare(saved).to_html()
    assert 'src="keep/' in local and "http://127.0.0.1" not in local.split("<audio")[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embedded = compare(saved, embed=True).to_html()
    assert embedded.count("data:audio/wav;base64,") == 8
    with pytest.warns(UserWarning, match="embedded files up to 0.05 MB"):
        capped = compare(saved, embed=True, embed_limit_mb=0.05).to_html()
    assert 0 < capped.count("data:audio/wav;base64,") < 8


def test_compare_from_ids(table) -> None:
    client, frame = table
    comparison = compare(list(frame["task_id"]), client=client)
    assert len(comparison.frame) == 8


def test_local_copies_outside_the_notebook_folder_play_from_urls(table, tmp_path: Path,
                                                                 monkeypatch) -> None:
    client, frame = table
    saved = download(frame, tmp_path / "elsewhere", client=client, progress=False)
    monkeypatch.chdir(Path(__file__).parent)  # the kernel's folder is not above the files
    markup = compare(saved).to_html()
    assert markup.count('src="http://127.0.0.1') == 8
