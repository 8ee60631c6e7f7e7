"""`Review.export_html` and the page it writes (`review_board/export.py`, `html/export.py`):
the file's JSON and blocks are safe, nothing in it names a card, the page's policy allows only
its own code, and the page's per-rater plan (``static/export/plan.js``) is designs.py's."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qubico_nb.errors import InvalidRequestError
from qubico_nb.html.export import (
    content_policy,
    inline_script,
    listening_test_page,
    script_json,
    submit_origin,
)
from qubico_nb.review_board import designs, export

from .helpers.boards import PROMPTS, blind_board, make_table

PLAN_JS = Path(export.EXPORT / "plan.js")
DEMO_VIDEO = (
    Path(__file__).resolve().parent.parent / "qubico_nb" / "sandbox" / "assets" / "demo.mp4"
)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return make_table(tmp_path_factory.mktemp("export-audio"), seconds=0.5).drop(columns=["video"])


def page_test(path: Path) -> dict[str, Any]:
    text = path.read_text("utf-8")
    block = re.search(r'<script type="application/json" id="qnb-test">(.*?)</script>', text, re.S)
    assert block is not None
    return json.loads(block.group(1))  # type: ignore[no-any-return]


# -- the html layer --------------------------------------------------------------------------
def test_json_in_a_script_block_cannot_close_it() -> None:
    value = {"a": "</script><script>alert(1)</script>", "b": "x\u2028y & <!--"}
    text = script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_the_module_cannot_end_its_block() -> None:
    assert inline_script('const s = "</script>";') == 'const s = "<\\/script>";'
    with pytest.raises(ValueError, match="<!--"):
        inline_script("const s = '<!--';")


def test_the_policy_allows_the_page_s_own_code_and_only_the_submit_origin() -> None:
    policy = content_policy("js", "css", None)
    digest = base64.b64encode(hashlib.sha256(b"js").digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy
    assert "unsafe" not in policy
    policy = content_policy("js", "css", "https://lab.example.org:8443/submit?x=1")
    assert "connect-src https://lab.example.org:8443" in policy


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "/relative", "https://user:pw@example.org/", "https://a.org/x y"],
)
def test_a_submit_url_must_be_plain_http(url: str) -> None:
    with pytest.raises(ValueError):
        submit_origin(url)


def test_the_page_escapes_its_texts() -> None:
    page = "".join(
        listening_test_page(
            title="<b>T</b>",
            instructions="one <i>\n\ntwo",
            test={"x": 1},
            files=[("abcdef012345", b"\x00\xff")],
            script="export const x = 1;",
            style="body{}",
        )
    )
    assert "<b>T</b>" not in page and "&lt;b&gt;T&lt;/b&gt;" in page
    assert "<p>one &lt;i&gt;</p><p>two</p>" in page
    assert '<script type="text/plain" data-file="abcdef012345">AP8=</script>' in page
    with pytest.raises(ValueError, match="token"):
        "".join(
            listening_test_page(
                title="t",
                instructions=None,
                test={},
                files=[('x" onload="', b"")],
                script="",
                style="",
            )
        )


# -- the exported file ----------------------------------------------------------------------
def test_the_file_names_nothing_and_maps_back_through_the_board(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    board = blind_board(table, tmp_path)
    (tmp_path / "out").mkdir()
    path = board.export_html(tmp_path / "out", instructions="Rate each card.")
    assert path == tmp_path / "out" / f"{board.test_id}.html"
    text = path.read_text("utf-8")
    for secret in ("secret", *PROMPTS, "p0s1", str(tmp_path)):
        assert secret not in text, secret
    test = page_test(path)
    names: set[str] = set()
    texts: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            names.update(value)
            for key, item in value.items():
                if key != "peaks":
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            texts.add(value)

    walk(test)
    assert names - set(test["files"]) == {
        "format", "version", "test", "design", "scale", "no_preference", "level_match",
        "submit_url", "rows", "training", "files", "key", "video", "cards", "file", "duration",
        "peaks", "gain_db", "mime",
    }  # fmt: skip
    assert {t for t in texts if not re.fullmatch("[0-9a-f]{12,16}", t)} == {
        export.TEST_FORMAT,
        "score",
        "audio/wav",
    }
    assert test["test"] == board.test_id and test["design"] == "score"
    assert test["scale"] == [1.0, 5.0] and test["level_match"] is True
    keys = export.card_keys(board)
    shown = [card["key"] for row in test["rows"] for card in row["cards"]]
    assert sorted(shown) == sorted(keys) and len(shown) == len(table)
    assert {row["key"] for row in test["rows"]} == {row for row, _ in keys.values()}
    for row in test["rows"]:  # the file's order is the tokens', not the table's
        assert [c["key"] for c in row["cards"]] == sorted(c["key"] for c in row["cards"])
        assert all("role" not in card and len(card["peaks"]) > 100 for card in row["cards"])
    assert len(test["files"]) == len(table)
    assert not list(tmp_path.glob("out/*.partial"))
    again = blind_board(table, tmp_path / "again")  # another session: the same keys
    assert sorted(export.card_keys(again)) == sorted(keys)
    board.close()
    again.close()


def test_a_mushra_test_marks_only_the_open_reference(table: pd.DataFrame, tmp_path: Path) -> None:
    frame = table.assign(ref=table.groupby("prompt")["local_path"].transform("first"))
    board = blind_board(frame, tmp_path, design="mushra", reference="ref", anchors=("lp3.5k",))
    test = page_test(board.export_html(tmp_path / "t.html"))
    for row in test["rows"]:
        roles = [card.get("role") for card in row["cards"]]
        assert roles.count("reference") == 1 and len(roles) == 3 + 1 + 1 + 1
        assert set(roles) == {"reference", None}
        # no waveform: the hidden reference's would be the open reference's
        assert all("peaks" not in card and "duration" in card for card in row["cards"])
        # nor a file token: each card plays a file of its own in the page's data
        assert len({card["file"] for card in row["cards"]}) == len(row["cards"])
    board.close()
    scored = blind_board(table, tmp_path, design="score")
    test = page_test(scored.export_html(tmp_path / "s.html"))
    assert all("peaks" in card for row in test["rows"] for card in row["cards"])
    scored.close()


def test_anchors_go_in_the_reference_s_format(table: pd.DataFrame, tmp_path: Path) -> None:
    import soundfile

    frame = table.copy()
    for i, path in frame["local_path"].items():  # every file FLAC, as compressed audio comes
        flac = tmp_path / f"{i}.flac"
        samples, rate = soundfile.read(path)
        soundfile.write(flac, samples, rate, format="FLAC")
        frame.loc[i, "local_path"] = str(flac)
    frame["ref"] = frame.groupby("prompt")["local_path"].transform("first")
    board = blind_board(frame, tmp_path, design="mushra", reference="ref", anchors=("lp3.5k",))
    test = page_test(board.export_html(tmp_path / "t.html"))
    mimes = {test["files"][card["file"]]["mime"] for row in test["rows"] for card in row["cards"]}
    assert mimes == {"audio/flac"}  # an anchor made as WAV would stand out by its type
    board.close()


def test_training_rows(table: pd.DataFrame, tmp_path: Path) -> None:
    board = blind_board(table, tmp_path)
    first = page_test(board.export_html(tmp_path / "a.html", training=True))["training"]
    assert len(first["cards"]) == 3
    assert not {c["key"] for c in first["cards"]} & set(export.card_keys(board))
    named = page_test(board.export_html(tmp_path / "b.html", training=PROMPTS[1]))["training"]
    assert named["key"] == first["key"] and named["cards"] != first["cards"]
    files = list(table["local_path"][:2])
    loose = page_test(board.export_html(tmp_path / "c.html", training=files))["training"]
    assert len(loose["cards"]) == 2
    with pytest.raises(InvalidRequestError, match="not a row of the board"):
        board.export_html(tmp_path / "d.html", training="no such prompt")
    with pytest.raises(InvalidRequestError, match="cannot be played"):
        board.export_html(tmp_path / "e.html", training=[str(tmp_path / "missing.wav")])
    board.close()


def test_a_row_s_video_goes_in_blind(
    table: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qubico_nb._tags import strip_metadata

    video = DEMO_VIDEO.read_bytes()
    frame = table.assign(video="https://cdn.example.com/clips/beach.mp4")
    board = blind_board(frame, tmp_path)
    monkeypatch.setattr(board, "_video_bytes", lambda url: video)
    path = board.export_html(tmp_path / "t.html")
    test = page_test(path)
    tokens = {row["video"] for row in test["rows"]}
    assert len(tokens) == 1 and None not in tokens  # one file for the rows that share it
    (token,) = tokens
    assert test["files"][token] == {"mime": "video/mp4"}
    block = re.search(f'data-file="{token}">([^<]*)<', path.read_text("utf-8"))
    assert block is not None and base64.b64decode(block.group(1)) == strip_metadata(video)
    assert "cdn.example.com" not in path.read_text("utf-8")
    board.close()


def test_bad_arguments_write_nothing(table: pd.DataFrame, tmp_path: Path) -> None:
    board = blind_board(table, tmp_path)
    with pytest.raises(InvalidRequestError, match="submit_url"):
        board.export_html(tmp_path / "t.html", submit_url="ftp://example.org/")
    with pytest.raises(InvalidRequestError, match="instructions"):
        board.export_html(tmp_path / "t.html", instructions=["a"])  # type: ignore[arg-type]
    assert not list(tmp_path.glob("t.html*"))
    board.close()


def test_a_file_cut_short_never_replaces_a_good_one(
    table: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = blind_board(table, tmp_path)
    path = board.export_html(tmp_path / "t.html")
    good = path.read_bytes()

    def broken(**kwargs: Any) -> Any:
        yield "<!doctype html>"
        raise OSError("disk full")

    monkeypatch.setattr(export, "listening_test_page", broken)
    with pytest.raises(OSError, match="disk full"):
        board.export_html(path)
    assert path.read_bytes() == good and not list(tmp_path.glob("*.partial"))
    board.close()


def test_a_large_test_warns(
    table: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = blind_board(table, tmp_path)
    monkeypatch.setattr(export, "WARN_BYTES", 1000)
    with pytest.warns(UserWarning, match="over 0 MB"):
        board.export_html(tmp_path / "t.html")
    board.close()


def test_a_card_without_audio_is_left_out_with_a_warning(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    frame = table.copy()
    frame.loc[0, "status"] = "failed"
    board = blind_board(frame, tmp_path)
    with pytest.warns(UserWarning, match="1 card"):
        test = page_test(board.export_html(tmp_path / "t.html"))
    assert sum(len(row["cards"]) for row in test["rows"]) == len(frame) - 1
    board.close()


# -- the page's plan is designs.py's ------------------------------------------------------------
PLAN_CHECK = """
import {shuffledFor, raterSlot, pairSchedule, fnv1a} from %s;
const out = [];
for (const [test, rater] of %s) {
  out.push({
    hash: fnv1a([test, rater, "rows"].join("\\x1f")),
    rows: shuffledFor([...Array(9).keys()], test, rater, "rows"),
    row: shuffledFor(["a", "b", "c", "d"], test, rater, "row:k1"),
    slot: raterSlot(test, rater),
    pairs: pairSchedule(5, 3, raterSlot(test, rater)),
  });
}
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's plan")
def test_the_page_s_plan_is_the_kernel_s() -> None:
    cases = [("3f2a9c01d4e5b6a7", "Ann"), ("t", "Ünïcødé ☃"), ("0", ""), ("x" * 40, "PROLIFIC_5f")]
    script = PLAN_CHECK % (json.dumps(PLAN_JS.as_uri()), json.dumps(cases))
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for (test, rater), got in zip(cases, json.loads(done.stdout), strict=True):
        assert got["hash"] == designs.fnv1a(designs.seed_text(test, rater, "rows"))
        assert got["rows"] == designs.shuffled(list(range(9)), test, rater, "rows")
        assert got["row"] == designs.shuffled(["a", "b", "c", "d"], test, rater, "row:k1")
        assert got["slot"] == designs.rater_slot(test, rater)
        assert [tuple(p) for p in got["pairs"]] == designs.pair_schedule(5, row=3, slot=got["slot"])
