"""The catalogue: task types, inputs, limits and price of each model, and the notes they cite."""

from __future__ import annotations

import ast
import base64
import re
from pathlib import Path
from typing import Any

import pytest

from qubico_nb import catalogue
from qubico_nb.catalogue import InputError, check_input, price, requested_seconds

ROOT = Path(__file__).resolve().parent.parent
URL = "https://cdn.example.com/ref.wav"


def minimal_input(model: catalogue.ModelSpec, task_type: str) -> dict[str, Any]:
    """The smallest valid input of a task type: each required input, or the first of one_of."""
    task = model.task_type(task_type)
    given: dict[str, Any] = {}
    for spec in task.inputs:
        if spec.required or (task.one_of and spec.name == task.one_of[0] and not given):
            given[spec.name] = {
                "text": "calm piano",
                "lyrics": "[00:01.00] la la" if task.length_s else "[verse] la la",
                "video": "https://cdn.example.com/clip.mp4",
                "audio": URL,
            }.get(spec.kind, 1)
    return given


EVERY_TASK_TYPE = [(m, t) for m in catalogue.MODELS.values() for t in m.task_types]


@pytest.mark.parametrize(("model", "task_type"), EVERY_TASK_TYPE, ids=lambda v: str(v)[:30])
def test_every_task_type_takes_its_minimal_input_and_has_a_sourced_price(
    model: catalogue.ModelSpec, task_type: str
) -> None:
    given = minimal_input(model, task_type)
    assert check_input(model, task_type, given) == given
    rule = model.task_type(task_type).price
    assert rule.usd > 0 and rule.source.url.startswith("https://") and rule.source.read_on
    assert price(model, task_type, given).usd > 0
    assert model.task_type(task_type).input(model.main_text) is not None


@pytest.mark.parametrize("model", list(catalogue.MODELS.values()), ids=lambda m: m.family)
def test_every_model_has_a_note_naming_its_price_and_sources(model: catalogue.ModelSpec) -> None:
    """docs/models/<family>.md exists, names the model, and cites every source's page."""
    note = (ROOT / model.note).read_text()
    assert model.name in note
    for source in model.sources:
        host_path = re.sub(r"^https://(github\.com/)?", "", source.url).split("/blob/")[0]
        assert host_path.split("/")[0] in note, (model.name, source.url)
    assert "2026-12-04" in note


def test_models_are_found_by_name_or_family_in_any_case() -> None:
    assert catalogue.find_model("Qubico/ace-step") is catalogue.ACE_STEP
    assert catalogue.find_model("ACE-STEP") is catalogue.ACE_STEP
    assert catalogue.find_model("tts") is catalogue.TTS
    assert catalogue.find_model("ace") is None and catalogue.find_model(3) is None
    with pytest.raises(InputError, match="model must be one of 'Qubico/mmaudio'"):
        catalogue.model_spec("Qubico/udio")


@pytest.mark.parametrize(
    ("model", "task_type", "given", "field", "needle"),
    [
        ("mmaudio", None, {"prompt": "x" * 501, "video": URL}, "prompt", "the limit is 500"),
        ("mmaudio", None, {"prompt": "p", "video": URL, "steps": 19}, "steps", "from 20 to 50"),
        ("mmaudio", None, {"prompt": "p", "video": URL, "seed": 2**63}, "seed", "64-bit"),
        ("mmaudio", None, {"prompt": "p", "video": "ftp://x"}, "video", "http(s) URL"),
        ("mmaudio", None, {"prompt": "p", "video": "data:video/webm;base64,AA=="}, "video", "MP4"),
        ("ace-step", None, {"style_prompt": "p", "duration": 241}, "duration", "10 to 240"),
        ("ace-step", None, {"style_prompt": "p", "duration": True}, "duration", "a number"),
        ("ace-step", None, {"style_prompt": "p", "seed": 1}, "seed", "not an input"),
        ("ace-step", None, {"lyrics": "[inst]"}, "style_prompt", "is required"),
        ("ace-step", "audio2audio", {"style_prompt": "p"}, "style_audio", "is required"),
        ("ace-step", "extend", {"style_prompt": "p", "audio": "x.wav"}, "audio", "data:audio"),
        ("diffrhythm", None, {"lyrics": "no time"}, "lyrics", "[mm:ss.xx] time stamp"),
        ("diffrhythm", None, {"lyrics": "[01:40.00] late"}, "lyrics", "txt2audio-full"),
        ("diffrhythm", None, {}, None, "at least one of input.lyrics, input.style_prompt"),
        ("tts", None, {"gen_text": "x" * 10_001, "ref_audio": URL}, "gen_text", "10000"),
        ("tts", None, {"gen_text": "hi"}, "ref_audio", "is required"),
        ("tts", None, {"gen_text": "hi", "ref_audio": URL, "speed": 9}, "speed", "0.1 to 4"),
        ("tts", None, {"gen_text": "hi", "ref_audio": URL, "remove_silence": 1}, None, "true or"),
        ("tts", "speech", {"gen_text": "hi", "ref_audio": URL}, "task_type", "'zero-shot'"),
    ],
)
def test_a_bad_input_is_refused_naming_the_field_and_the_limit(
    model: str, task_type: str | None, given: dict[str, Any], field: str | None, needle: str
) -> None:
    with pytest.raises(InputError) as caught:
        check_input(model, task_type, given, prefix="input.")
    assert needle in str(caught.value)
    if field is not None:
        assert caught.value.field == field and f"{field}" in str(caught.value)


def test_null_is_not_given_and_aliases_are_one_input() -> None:
    assert check_input("ace-step", None, {"style_prompt": "p", "lyrics": None})
    assert check_input("ace-step", None, {"style_prompt": "p", "negative_style_prompt": "no"})
    with pytest.raises(InputError, match="seed and seeds are the same input"):
        check_input("mmaudio", None, {"prompt": "p", "video": URL, "seed": 1, "seeds": 2})
    with pytest.raises(InputError, match="negative_prompt and negative_style_prompt"):
        check_input(
            "ace-step",
            None,
            {"style_prompt": "p", "negative_prompt": "a", "negative_style_prompt": "b"},
        )
    filled = catalogue.with_defaults("ace-step", None, {"style_prompt": "p", "duration": None})
    assert filled["duration"] == 240


def test_a_media_input_takes_a_url_or_a_base64_data_uri_of_its_kind() -> None:
    wav = "data:audio/wav;base64," + base64.b64encode(b"RIFF0000WAVE").decode()
    assert check_input("tts", None, {"gen_text": "hi", "ref_audio": wav})
    for bad, needle in [
        ("data:audio/wav;base64,@@@", "not valid base64"),
        ("data:image/png;base64,AAAA", "data:audio/"),
        ("/local/file.wav", "data:audio/"),
    ]:
        with pytest.raises(InputError, match=re.escape(needle)):
            check_input("tts", None, {"gen_text": "hi", "ref_audio": bad})


@pytest.mark.parametrize(
    ("model", "task_type", "given", "seconds", "usd", "exact"),
    [
        ("mmaudio", None, {"prompt": "p", "video": URL}, 8.0, 0.004, True),
        ("mmaudio", None, {"prompt": "p", "video": URL}, 8.2, 0.0045, True),  # whole seconds
        ("mmaudio", None, {"prompt": "p", "video": URL}, 0.3, 0.0005, True),  # at least 1 s
        ("mmaudio", None, {"prompt": "p", "video": URL}, 45.0, 0.015, True),  # at most 30 s
        ("mmaudio", None, {"prompt": "p", "video": URL}, None, 0.015, False),  # unknown: 30 s
        ("ace-step", None, {"style_prompt": "p", "duration": 30}, None, 0.015, True),
        ("ace-step", None, {"style_prompt": "p"}, None, 0.12, False),  # default not documented
        ("ace-step", "audio2audio", {"style_prompt": "p", "style_audio": URL}, None, 0.12, False),
        (
            "ace-step",
            "extend",
            {"style_prompt": "p", "audio": URL, "right_extend_duration": 20},
            None,
            0.01,
            True,
        ),
        ("diffrhythm", "txt2audio-full", {"style_prompt": "p"}, None, 0.02, True),
        ("tts", None, {"gen_text": "x" * 1000, "ref_audio": URL}, None, 0.025, True),
        ("tts", None, {"gen_text": "x" * 1001, "ref_audio": URL}, None, 0.05, True),
    ],
)
def test_price_follows_each_models_documented_rule(
    model: str,
    task_type: str | None,
    given: dict[str, Any],
    seconds: float | None,
    usd: float,
    exact: bool,
) -> None:
    quote = price(model, task_type, given, media_seconds=seconds)
    assert quote.usd == pytest.approx(usd) and quote.exact is exact
    assert all(isinstance(a, str) and a for a in quote.assumed)


def test_requested_seconds_is_the_duration_or_the_length_the_task_type_fixes() -> None:
    assert requested_seconds("ace-step", None, {"duration": 30}) == 30.0
    assert requested_seconds("ace-step", None, {}) == 240.0
    assert requested_seconds("diffrhythm", "txt2audio-base", {}) == 95.0
    assert requested_seconds("diffrhythm", "txt2audio-full", {}) == 285.0
    assert requested_seconds("mmaudio", None, {"video": URL}) is None
    assert requested_seconds("Qubico/flux1-dev", "txt2img", {}) is None
    assert requested_seconds("ace-step", "no-such-type", {}) is None


def test_the_catalogue_is_a_stdlib_leaf() -> None:
    """The sandbox shares it: it may import nothing but the standard library."""
    tree = ast.parse((ROOT / "qubico_nb" / "catalogue.py").read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert imported <= {
        "__future__",
        "base64",
        "binascii",
        "math",
        "re",
        "collections",
        "dataclasses",
        "typing",
    }
