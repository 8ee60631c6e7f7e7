"""Each Qubico audio model's task types, inputs, limits and price: the one table that the client's
helpers, `submit_grid`, `estimate_cost`, the frames and the sandbox all read.

A stdlib-only leaf (it imports nothing of qubico_nb), so the sandbox may share it without
depending on the client side. Every fact names the page it came from; ``docs/models/`` holds the
notes, with what could not be found and the conservative default chosen instead.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: What an input holds: free text, timestamped or tagged lyrics, a number, a flag, or a media file
#: (an http(s) URL or a base64 ``data:`` URI of that kind).
InputKind = Literal["text", "lyrics", "integer", "number", "boolean", "video", "audio"]
#: What a price is counted in.
PriceUnit = Literal["task", "second", "1000 characters"]
#: The day the pages below were read (stored copies; see docs/models/README.md).
READ_ON = "2026-12-04"

_INT64 = (-(2**63), 2**63 - 1)


class InputError(ValueError):
    """An input the catalogue refuses; ``field`` names it (None for the request as a whole)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.field))


@dataclass(frozen=True)
class Source:
    """A page a fact came from, and what it says (``note``) when it is not PiAPI's own page."""

    url: str
    note: str = ""
    read_on: str = READ_ON


@dataclass(frozen=True)
class InputSpec:
    """One input of a task type: its name, kind, whether it is required, its limits and default.

    ``default`` is what the service uses when the input is not sent (None: nothing, or not known);
    ``aliases`` are other spellings the service or its clients use for the same input.
    """

    name: str
    kind: InputKind
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    #: For a media input: the most seconds of it the model uses (a longer file is cut).
    max_seconds: float | None = None

    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class PriceRule:
    """How a task's price follows from its input: ``usd`` per ``unit``.

    The quantity of a per-second or per-character price is read from the inputs named by ``of``
    (summed), or, with ``media=True``, is the length of the media file in that input. It is rounded
    up to whole units when ``whole_units``, then kept within ``min_units``..``max_units``. When it
    cannot be known (no value sent and no documented default, a file not measured),
    ``unknown_units`` is assumed: the most a task can cost, so an estimate never falls short.
    """

    usd: float
    unit: PriceUnit
    source: Source
    of: tuple[str, ...] = ()
    media: bool = False
    whole_units: bool = True
    min_units: float = 0.0
    max_units: float | None = None
    unknown_units: float | None = None


@dataclass(frozen=True)
class TaskTypeSpec:
    """One task type: its inputs, the price rule, and the length of its output when fixed."""

    name: str
    inputs: tuple[InputSpec, ...]
    price: PriceRule
    summary: str = ""
    #: At least one of these inputs must be given (DiffRhythm), besides the required ones.
    one_of: tuple[str, ...] = ()
    #: The length of what it makes when the task type fixes it (DiffRhythm's base and full).
    length_s: float | None = None

    def input(self, name: str) -> InputSpec | None:
        """The input called `name` (or one of its aliases), or None."""
        for spec in self.inputs:
            if name in spec.spellings():
                return spec
        return None


@dataclass(frozen=True)
class ModelSpec:
    """One model: what it is called, its task types, and which inputs say what in a table."""

    name: str
    family: str
    title: str
    task_types: Mapping[str, TaskTypeSpec]
    default_task_type: str
    #: The input holding the text a person reads first: the table's ``prompt`` column.
    main_text: str
    #: The input holding lyrics, where the model takes them.
    lyrics: str | None = None
    #: The input asking for the output's length in seconds, where the model takes one.
    duration: str | None = None
    #: The client's helper that creates this model's tasks.
    helper: str = ""
    sources: tuple[Source, ...] = ()
    note: str = ""

    def task_type(self, name: str | None = None) -> TaskTypeSpec:
        """A task type of this model (the default one for None); `InputError` for another."""
        chosen = self.default_task_type if name is None else name
        found = self.task_types.get(chosen) if isinstance(chosen, str) else None
        if found is None:
            known = ", ".join(repr(t) for t in self.task_types)
            raise InputError(
                f"task_type must be one of {known} for {self.name}, got {name!r}"[:300],
                "task_type",
            )
        return found


# -- the sources ----------------------------------------------------------------------------

_MMAUDIO_PAGE = Source("https://piapi.ai/docs/mmaudio-api/create-task")
_MMAUDIO_QUBICO = Source("https://qubico.ai/docs/models/mmaudio")
_ACE_CLI = Source(
    "https://github.com/PiAPI-1/piapi-cli/blob/main/src/models/catalog.ts",
    "PiAPI's CLI: the four task types, linking https://piapi.ai/docs/ace-step-api/text-to-audio.md",
)
_ACE_POSTMAN = Source(
    "https://github.com/apinetwork/piapi-mcp-server/blob/main/src/sync/baseline.piapi-catalog.json",
    "PiAPI's MCP server: each task type's inputs, synced from PiAPI's Postman collection",
)
_ACE_CLIENT = Source(
    "https://piapi.ai/docs/ace-step-api/text-to-audio.md",
    "the page's body was not read; duration 10-240 s and $0.0005 per second come from a client "
    "of the live API (AceStepProvider, found by code search), not confirmed on PiAPI's page",
)
_DIFFRHYTHM_PAGE = Source("https://piapi.ai/docs/diffrhythm-api/create-task")
_DIFFRHYTHM_MIRROR = Source(
    "https://t0giydsiet.apidog.io/diffrhythm-api/generate-task",
    "a mirror of PiAPI's page: $0.02/generation for both task types",
)
_DIFFRHYTHM_QUBICO = Source("https://qubico.ai/docs/models/diffrhythm")
_DIFFRHYTHM_N8N = Source(
    "https://github.com/lvalics/n8n-nodes-piapi/blob/main/nodes/PiAPI/DiffRhythm/"
    "DiffRhythmAudioGeneration.node.ts",
    "base up to 1.35 min, full up to 4.45 min; lyrics as [mm:ss.xx] lines",
)
_TTS_PAGE = Source("https://piapi.ai/docs/tts-api/f5-tts")
_TTS_QUBICO = Source("https://qubico.ai/docs/models/f5-tts")

# -- the models -----------------------------------------------------------------------------

_SEED = InputSpec(
    "seed",
    "integer",
    minimum=_INT64[0],
    maximum=_INT64[1],
    aliases=("seeds",),
    description="the same seed with the same input gives the same audio",
)

MMAUDIO = ModelSpec(
    name="Qubico/mmaudio",
    family="mmaudio",
    title="MMAudio",
    helper="generate_audio",
    main_text="prompt",
    default_task_type="video2audio",
    task_types={
        "video2audio": TaskTypeSpec(
            "video2audio",
            summary="sound for a video (at most 30 s of it), guided by a prompt",
            inputs=(
                InputSpec("prompt", "text", required=True, max_length=500),
                InputSpec("negative_prompt", "text", default="", max_length=200),
                InputSpec("video", "video", required=True, description="MP4", max_seconds=30),
                InputSpec("steps", "integer", default=25, minimum=20, maximum=50),
                _SEED,
            ),
            price=PriceRule(
                0.0005,
                "second",
                _MMAUDIO_PAGE,
                of=("video",),
                media=True,
                min_units=1,
                max_units=30,
                unknown_units=30,
            ),
        )
    },
    sources=(_MMAUDIO_PAGE, _MMAUDIO_QUBICO),
    note="docs/models/mmaudio.md",
)

_ACE_PRICE = PriceRule(
    0.0005,
    "second",
    _ACE_CLIENT,
    of=("duration",),
    min_units=10,
    max_units=240,
    unknown_units=240,
)
_STYLE_PROMPT = InputSpec(
    "style_prompt",
    "text",
    required=True,
    description="genre, instruments, mood: comma-separated tags",
)
_ACE_LYRICS = InputSpec(
    "lyrics", "lyrics", description="[verse] / [chorus] tagged lines; '[inst]' for instrumental"
)
_ACE_NEGATIVE = InputSpec("negative_prompt", "text", aliases=("negative_style_prompt",))

ACE_STEP = ModelSpec(
    name="Qubico/ace-step",
    family="ace-step",
    title="ACE-Step",
    helper="generate_music",
    main_text="style_prompt",
    lyrics="lyrics",
    duration="duration",
    default_task_type="txt2audio",
    task_types={
        "txt2audio": TaskTypeSpec(
            "txt2audio",
            summary="music from a style prompt and lyrics",
            inputs=(
                _STYLE_PROMPT,
                _ACE_LYRICS,
                # Not documented: the longest is assumed, so estimates never fall short.
                InputSpec("duration", "number", default=240, minimum=10, maximum=240),
                _ACE_NEGATIVE,
                InputSpec("style_audio", "audio", description="a reference for the style"),
            ),
            price=_ACE_PRICE,
        ),
        "audio2audio": TaskTypeSpec(
            "audio2audio",
            summary="music restyled from a reference recording",
            inputs=(
                InputSpec("style_audio", "audio", required=True),
                _STYLE_PROMPT,
                _ACE_LYRICS,
                _ACE_NEGATIVE,
            ),
            price=PriceRule(0.0005, "second", _ACE_CLIENT, unknown_units=240),
        ),
        "edit": TaskTypeSpec(
            "edit",
            summary="a recording's style or lyrics changed",
            inputs=(
                InputSpec("audio", "audio", required=True),
                _STYLE_PROMPT,
                _ACE_LYRICS,
                InputSpec("edit_style_prompt", "text"),
                InputSpec("edit_lyrics", "lyrics"),
            ),
            price=PriceRule(0.0005, "second", _ACE_CLIENT, unknown_units=240),
        ),
        "extend": TaskTypeSpec(
            "extend",
            summary="a recording made longer at either end",
            inputs=(
                InputSpec("audio", "audio", required=True),
                _STYLE_PROMPT,
                _ACE_LYRICS,
                _ACE_NEGATIVE,
                InputSpec("left_extend_duration", "number", default=0, minimum=0, maximum=240),
                InputSpec("right_extend_duration", "number", default=0, minimum=0, maximum=240),
            ),
            price=PriceRule(
                0.0005,
                "second",
                _ACE_CLIENT,
                of=("left_extend_duration", "right_extend_duration"),
                min_units=1,
                max_units=480,
                unknown_units=240,
            ),
        ),
    },
    sources=(_ACE_CLI, _ACE_POSTMAN, _ACE_CLIENT),
    note="docs/models/ace-step.md",
)

_DIFFRHYTHM_INPUTS = (
    InputSpec("lyrics", "lyrics", description="[mm:ss.xx] timestamped lines"),
    InputSpec("style_prompt", "text", default="pop"),
    InputSpec("style_audio", "audio", description="a reference recording for the style"),
)
_DIFFRHYTHM_PRICE = PriceRule(0.02, "task", _DIFFRHYTHM_MIRROR)

DIFFRHYTHM = ModelSpec(
    name="Qubico/diffrhythm",
    family="diffrhythm",
    title="DiffRhythm",
    helper="generate_song",
    main_text="style_prompt",
    lyrics="lyrics",
    default_task_type="txt2audio-base",
    task_types={
        "txt2audio-base": TaskTypeSpec(
            "txt2audio-base",
            summary="a song of up to 1.35 min (95 s)",
            inputs=_DIFFRHYTHM_INPUTS,
            price=_DIFFRHYTHM_PRICE,
            one_of=("lyrics", "style_prompt", "style_audio"),
            length_s=95.0,
        ),
        "txt2audio-full": TaskTypeSpec(
            "txt2audio-full",
            summary="a song of up to 4.45 min (285 s)",
            inputs=_DIFFRHYTHM_INPUTS,
            price=_DIFFRHYTHM_PRICE,
            one_of=("lyrics", "style_prompt", "style_audio"),
            length_s=285.0,
        ),
    },
    sources=(_DIFFRHYTHM_PAGE, _DIFFRHYTHM_MIRROR, _DIFFRHYTHM_QUBICO, _DIFFRHYTHM_N8N),
    note="docs/models/diffrhythm.md",
)

TTS = ModelSpec(
    name="Qubico/tts",
    family="tts",
    title="F5-TTS",
    helper="speak",
    main_text="gen_text",
    default_task_type="zero-shot",
    task_types={
        "zero-shot": TaskTypeSpec(
            "zero-shot",
            summary="speech in the voice of a 3-30 s reference recording",
            inputs=(
                InputSpec("gen_text", "text", required=True, max_length=10_000),
                InputSpec(
                    "ref_audio", "audio", required=True, description="one voice", max_seconds=30
                ),
                InputSpec("ref_text", "text", description="what the reference says"),
                # The range is not documented: anything above 0 and up to 4 goes through.
                InputSpec("speed", "number", default=1.0, minimum=0.1, maximum=4.0),
                InputSpec("remove_silence", "boolean"),
                InputSpec("custom_split_words", "text"),
            ),
            price=PriceRule(0.025, "1000 characters", _TTS_PAGE, of=("gen_text",), min_units=1),
        )
    },
    sources=(_TTS_PAGE, _TTS_QUBICO, _ACE_POSTMAN),
    note="docs/models/tts.md",
)

#: Every model the catalogue knows, by its full name.
MODELS: dict[str, ModelSpec] = {m.name: m for m in (MMAUDIO, ACE_STEP, DIFFRHYTHM, TTS)}


def find_model(name: object) -> ModelSpec | None:
    """The model called `name`: its full name or family in any case (``ace-step``)."""
    if not isinstance(name, str):
        return None
    wanted = name.strip().lower()
    for spec in MODELS.values():
        if wanted in (spec.name.lower(), spec.family):
            return spec
    return None


def model_spec(name: object) -> ModelSpec:
    """`find_model`, or an `InputError` that lists the models there are."""
    found = find_model(name)
    if found is None:
        known = ", ".join(repr(m) for m in MODELS)
        raise InputError(f"model must be one of {known}, got {name!r}"[:300], "model")
    return found


# -- checking an input ----------------------------------------------------------------------

_DATA_URI = re.compile(r"^data:(?P<type>[a-z]+)/(?P<sub>[a-z0-9.+-]+);base64,", re.IGNORECASE)
_LRC_LINE = re.compile(r"^\s*\[(?P<m>\d{1,3}):(?P<s>\d{1,2}(?:\.\d{1,3})?)\]")


def check_input(
    model: str | ModelSpec,
    task_type: str | None,
    given: Mapping[str, Any],
    *,
    prefix: str = "",
    missing_ok: tuple[str, ...] = (),
) -> dict[str, Any]:
    """`given` checked against the model's documented inputs and limits; a copy, as given.

    Raises `InputError` naming the first bad input (``prefix`` is put before its name, e.g.
    ``"input."``) and the limit it breaks. An input the task type does not document is refused:
    the service would ignore it, and a grid varying it would pay for identical results. Required
    inputs named in `missing_ok` may be absent (a caller adds them later, checked then).
    """
    spec = model if isinstance(model, ModelSpec) else model_spec(model)
    task = spec.task_type(task_type)
    if not isinstance(given, Mapping):
        raise InputError(f"{prefix or 'input '}must be an object, got {type(given).__name__}")
    for key in given:
        if not isinstance(key, str) or task.input(key) is None:
            documented = ", ".join(s.name for s in task.inputs)
            raise InputError(
                f"{prefix}{str(key)[:60]!s} is not an input of {spec.name} {task.name} "
                f"(its inputs: {documented})",
                str(key)[:60],
            )
    for input_spec in task.inputs:
        # A null is no value: the input is not given (JSON clients send null for "none").
        present = [n for n in input_spec.spellings() if given.get(n) is not None]
        if len(present) > 1:
            raise InputError(
                f"{prefix}{present[0]} and {prefix}{present[1]} are the same input; give one",
                input_spec.name,
            )
        if not present:
            if input_spec.required and input_spec.name not in missing_ok:
                raise InputError(
                    f"{prefix}{input_spec.name} is required ({_describe(input_spec)})",
                    input_spec.name,
                )
            continue
        _check_value(input_spec, present[0], given[present[0]], prefix, task)
    if task.one_of and not any(_given(given.get(name)) for name in task.one_of):
        names = ", ".join(prefix + name for name in task.one_of)
        raise InputError(f"{spec.name} {task.name} needs at least one of {names}")
    return dict(given)


def _given(value: object) -> bool:
    return value is not None and value != ""


def _describe(spec: InputSpec) -> str:
    if spec.kind in ("text", "lyrics"):
        return "a non-empty string" + (
            f" of at most {spec.max_length} characters" if spec.max_length else ""
        )
    if spec.kind in ("integer", "number"):
        kind = "an integer" if spec.kind == "integer" else "a number"
        return f"{kind}{_range(spec)}"
    if spec.kind == "boolean":
        return "true or false"
    return f"an http(s) URL or a data:{spec.kind}/...;base64 URI"


def _range(spec: InputSpec) -> str:
    if spec.minimum is None or spec.maximum is None or spec.minimum <= _INT64[0]:
        return " (64-bit)" if spec.kind == "integer" else ""
    return f" from {spec.minimum:g} to {spec.maximum:g}"


def _check_value(
    spec: InputSpec, name: str, value: object, prefix: str, task: TaskTypeSpec
) -> None:
    label = prefix + name
    if spec.kind in ("text", "lyrics"):
        if not isinstance(value, str):
            raise InputError(f"{label} must be a string, got {type(value).__name__}", name)
        if spec.required and not value.strip():
            raise InputError(f"{label} is required ({_describe(spec)})", name)
        if spec.max_length is not None and len(value) > spec.max_length:
            raise InputError(
                f"{label} is {len(value)} characters; the limit is {spec.max_length}", name
            )
        if spec.kind == "lyrics" and task.length_s is not None:
            _check_timed_lyrics(label, name, value, task.length_s)
        return
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            raise InputError(f"{label} must be true or false, got {value!r}"[:200], name)
        return
    if spec.kind in ("integer", "number"):
        _check_number(spec, label, name, value)
        return
    _check_media(spec.kind, label, name, value)


def _check_number(spec: InputSpec, label: str, name: str, value: object) -> None:
    whole = isinstance(value, int) and not isinstance(value, bool)
    if (spec.kind == "integer" and not whole) or not (whole or _is_number(value)):
        raise InputError(f"{label} must be {_describe(spec)}, got {_shown(value)}", name)
    assert isinstance(value, (int, float))  # for the type checker: checked just above
    number = value
    low, high = spec.minimum, spec.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        raise InputError(f"{label} must be {_describe(spec)}, got {_shown(value)}", name)


def _shown(value: object) -> str:
    """A value for a message: short, and never a 4000-digit integer."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return "a larger number"
    return repr(value)[:80]


def _check_media(kind: str, label: str, name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InputError(
            f"{label} must be an http(s) URL or a data:{kind}/...;base64 URI, got {value!r}"[:200],
            name,
        )
    if value.startswith(("http://", "https://")):
        return
    found = _DATA_URI.match(value)
    if found is None or found.group("type").lower() != kind:
        raise InputError(f"{label} must be an http(s) URL or a 'data:{kind}/...;base64,' URI", name)
    if kind == "video" and found.group("sub").lower() != "mp4":
        raise InputError(f"{label} must be an MP4: 'data:video/mp4;base64,...'", name)
    if media_bytes(value) is None:
        raise InputError(f"{label} data URI is not valid base64", name)


def media_bytes(value: str) -> bytes | None:
    """The bytes inside a base64 ``data:`` URI, or None when it is not one."""
    found = _DATA_URI.match(value)
    if found is None:
        return None
    try:
        return base64.b64decode(value[found.end() :], validate=True)
    except (binascii.Error, ValueError):
        return None


def _check_timed_lyrics(label: str, name: str, lyrics: str, length_s: float) -> None:
    """DiffRhythm's lyrics: every line ``[mm:ss.xx] words``, each time within the song."""
    for number, line in enumerate(lyrics.splitlines(), 1):
        if not line.strip():
            continue
        found = _LRC_LINE.match(line)
        if found is None:
            raise InputError(
                f"{label} line {number} has no [mm:ss.xx] time stamp: {line.strip()[:60]!r}; "
                "write each line as '[00:10.00] words'",
                name,
            )
        at = int(found.group("m")) * 60 + float(found.group("s"))
        if at > length_s:
            raise InputError(
                f"{label} line {number} starts at {at:g} s, after the song ends ({length_s:g} s); "
                "use txt2audio-full for up to 285 s"
                if length_s < 285
                else f"{label} line {number} starts at {at:g} s, after the song ends "
                f"({length_s:g} s)",
                name,
            )


# -- what an input asks for ------------------------------------------------------------------


def value_of(task: TaskTypeSpec, given: Mapping[str, Any], name: str) -> Any:
    """The value of input `name` (under any of its spellings) in `given`, else None."""
    spec = task.input(name)
    for spelling in spec.spellings() if spec else (name,):
        if given.get(spelling) is not None:
            return given[spelling]
    return None


def with_defaults(
    model: str | ModelSpec, task_type: str | None, given: Mapping[str, Any]
) -> dict[str, Any]:
    """`given` with each documented default filled in, as the service echoes an input back."""
    spec = model if isinstance(model, ModelSpec) else model_spec(model)
    task = spec.task_type(task_type)
    out = dict(given)
    for input_spec in task.inputs:
        names = input_spec.spellings()
        if input_spec.default is not None and all(out.get(n) is None for n in names):
            for name in names:
                out.pop(name, None)
            out[input_spec.name] = input_spec.default
    return out


def requested_seconds(
    model: str | ModelSpec, task_type: str | None, given: Mapping[str, Any]
) -> float | None:
    """How long the output was asked to be: the duration input (its default when not sent), or
    the length the task type fixes; None when the model takes no length (MMAudio, TTS)."""
    spec = model if isinstance(model, ModelSpec) else find_model(model)
    if spec is None or (task_type is not None and task_type not in spec.task_types):
        return None
    task = spec.task_type(task_type)
    if task.length_s is not None:
        return task.length_s
    if spec.duration is None or task.input(spec.duration) is None:
        return None
    value = value_of(task, given, spec.duration)
    if value is None:
        value = task.input(spec.duration).default  # type: ignore[union-attr]
    return float(value) if _is_number(value) else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Quote:
    """One task's price: ``usd``, how many ``units`` of the rule, and what had to be assumed."""

    usd: float
    units: float
    rule: PriceRule
    assumed: tuple[str, ...] = field(default=())

    @property
    def exact(self) -> bool:
        """True when the price follows from the input alone; False when a most-costly quantity
        was assumed (then ``usd`` is an upper bound)."""
        return not self.assumed


def price(
    model: str | ModelSpec,
    task_type: str | None,
    given: Mapping[str, Any],
    *,
    media_seconds: float | None = None,
) -> Quote:
    """What one task with this input costs by the documented rule (see `PriceRule`).

    `media_seconds` is the length of the media input a per-second price counts (MMAudio's
    video), when the caller could measure it.
    """
    spec = model if isinstance(model, ModelSpec) else model_spec(model)
    task = spec.task_type(task_type)
    rule = task.price
    assumed: list[str] = []
    if rule.unit == "task":
        units = 1.0
    elif rule.unit == "1000 characters":
        text = "".join(str(value_of(task, given, name) or "") for name in rule.of)
        units = len(text) / 1000
    else:
        units, assumed = _seconds(task, rule, given, media_seconds)
    if rule.whole_units:
        units = float(math.ceil(units - 1e-9))
    units = max(units, rule.min_units)
    if rule.max_units is not None:
        units = min(units, rule.max_units)
    return Quote(round(units * rule.usd, 7), units, rule, tuple(assumed))


def _seconds(
    task: TaskTypeSpec, rule: PriceRule, given: Mapping[str, Any], media_seconds: float | None
) -> tuple[float, list[str]]:
    unknown = float(rule.unknown_units or 0)
    if rule.media:
        if media_seconds is None or not _is_number(media_seconds):
            return unknown, [f"the length of {rule.of[0]} ({unknown:g} s, the most billed)"]
        return float(media_seconds), []
    if not rule.of:
        return unknown, [f"the output's length ({unknown:g} s, the most)"]
    values = [value_of(task, given, name) for name in rule.of]
    if all(v is None for v in values):
        defaults = [task.input(name).default for name in rule.of]  # type: ignore[union-attr]
        if len(rule.of) == 1 and _is_number(defaults[0]):
            return float(defaults[0]), [
                f"{rule.of[0]} not given: {defaults[0]:g} s assumed (the default is not "
                "documented; the longest is assumed)"
            ]
        return unknown, [f"{' + '.join(rule.of)} not given ({unknown:g} s assumed)"]
    return float(sum(v for v in values if _is_number(v))), []
