"""A sandbox task's audio file, by model: MMAudio's sound textures, ACE-Step's and DiffRhythm's
music, TTS's speech; encoded as the sandbox's format and made once per batch (see `FILE_CACHE`)."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .. import catalogue
from .audio import AUDIO_FORMATS, FILE_CACHE, render_audio
from .music import synthesize_music
from .speech import synthesize_speech
from .world import SandboxTask


def task_audio(task: SandboxTask, seconds: float, sample_rate: int, audio_format: str) -> bytes:
    """The bytes of a completed task's audio file, the same every time for the same input."""
    given = task.input
    if task.model == catalogue.MMAUDIO.name:
        return render_audio(
            given["prompt"],
            given["negative_prompt"],
            given["seed"],
            given["steps"],
            seconds,
            sample_rate,
            audio_format,
        )
    identity = hashlib.sha256(
        json.dumps([task.model, task.task_type, given], sort_keys=True, default=str).encode()
    ).hexdigest()
    key = ("track", identity, seconds, sample_rate, audio_format)
    found = FILE_CACHE.get(key)
    if found is None:
        samples = _samples(task, identity, seconds, sample_rate)
        found = AUDIO_FORMATS[audio_format].encode(samples, sample_rate)
        FILE_CACHE.put(key, found)
    return found


def _samples(task: SandboxTask, identity: str, seconds: float, sample_rate: int) -> np.ndarray:
    spec = task.spec
    given = task.input
    if spec is catalogue.TTS:
        return synthesize_speech(
            str(given.get("gen_text") or ""),
            str(given.get("ref_audio") or ""),
            seconds,
            sample_rate,
        )
    style = str(given.get(spec.main_text) or given.get("edit_style_prompt") or "")
    lyrics = str(given.get(spec.lyrics or "lyrics") or given.get("edit_lyrics") or "")
    return synthesize_music(
        style,
        lyrics,
        identity,
        seconds,
        sample_rate,
        plucked=spec is catalogue.DIFFRHYTHM,
    )
