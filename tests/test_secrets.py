"""Secrets removed by value: every way a JSON answer can hold one is found, cheap checks or not."""

from __future__ import annotations

import json
import pickle

import pytest

from qubico_nb._secrets import MAX_DEPTH, Secrets, TooDeep

SECRET = "sk-live-0123456789abcdef"


def _holding(secret: str) -> dict[str, object]:
    return {
        "url": f"https://c/a.wav?key={secret}",
        "logs": [["auth", secret]],
        secret: {"deep": [{"deeper": secret}]},
        "n": 5,
        "ok": None,
    }


@pytest.mark.parametrize(
    "encode",
    [
        lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8"),  # as written
        lambda v: json.dumps(v).encode("utf-8").replace(b"sk-", b"\\u0073k-"),  # escaped
        lambda v: json.dumps(v, ensure_ascii=False).encode("utf-16"),  # another encoding
        lambda v: b"\xef\xbb\xbf" + json.dumps(v).encode("utf-8"),  # a byte-order mark
        lambda v: None,  # no source: the JSON text is made again
    ],
    ids=["plain", "escaped", "utf-16", "bom", "no-source"],
)
def test_a_secret_is_removed_however_the_answer_wrote_it(encode: object) -> None:
    value = _holding(SECRET)
    source = encode(value)  # type: ignore[operator]
    if source is not None:
        assert json.loads(source) == value
    cleaned = Secrets([SECRET]).remove_from(value, "***", source=source)
    assert SECRET not in json.dumps(cleaned)
    assert cleaned["url"] == "https://c/a.wav?key=***" and cleaned["***"] == {
        "deep": [{"deeper": "***"}]
    }
    assert cleaned["n"] == 5 and cleaned["ok"] is None


def test_an_answer_without_a_secret_is_returned_as_it_is() -> None:
    value = _holding("nothing-secret-here")
    source = json.dumps(value).encode()
    assert Secrets([SECRET]).remove_from(value, source=source) is value
    assert Secrets([SECRET]).remove_from(value) is value
    assert Secrets([]).remove_from(_holding(SECRET)) == _holding(SECRET)


def test_secrets_json_writes_otherwise_than_as_they_are_are_found_too() -> None:
    for secret in ('quote"d-secret-1234', "back\\slash-secret-1234", "tab\tsecret-1234"):
        value = _holding(secret)
        cleaned = Secrets([secret]).remove_from(value, source=json.dumps(value).encode())
        assert secret not in json.dumps(cleaned, ensure_ascii=False)


def test_a_short_secret_is_removed_only_where_it_is_the_whole_text() -> None:
    cleaned = Secrets(["task"]).remove_from({"a": "task", "b": "a task here"})
    assert cleaned == {"a": "", "b": "a task here"}


def test_secrets_never_show_and_deep_data_is_refused() -> None:
    held = Secrets([SECRET])
    assert SECRET not in repr(held) and bool(held) and not Secrets([None, ""])
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(held)
    deep: object = SECRET
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(TooDeep):
        held.remove_from(deep)
