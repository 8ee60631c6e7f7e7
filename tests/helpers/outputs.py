"""Tasks of every kind a history can hold: one per audio model (made against a sandbox), and
answers in the shapes other Qubico models send (Flux, Kontext, Sora, the video toolkit)."""

from __future__ import annotations

import base64
from typing import Any

from qubico_nb import Client, Task

REF = "https://cdn.example.com/voice.wav"
#: The same style prompt for the music models, so a grid can set them side by side.
STYLE = "lofi piano, rain"


def one_task_per_model(client: Client, video: str) -> list[Task]:
    """An ACE-Step, a DiffRhythm, a TTS and an MMAudio task, created (not waited for)."""
    return [
        client.generate_music(STYLE, "[verse] rain on the roof", duration=20),
        client.generate_song(STYLE, "[00:02.00] rain on the roof"),
        client.speak("Rain on the roof, all night long.", REF),
        client.generate_audio(video, STYLE),
    ]


PNG_BASE64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(40)).decode()


def answer(model: str, task_type: str, output: dict[str, Any], **input: Any) -> Task:
    return Task.from_dict(
        {
            "code": 200,
            "message": "success",
            "data": {
                "task_id": f"{model}-{task_type}".replace("/", "-"),
                "model": model,
                "task_type": task_type,
                "status": "completed",
                "input": input or {"prompt": "a red fox in snow"},
                "output": output,
                "meta": {"usage": {"type": "point", "frozen": 0, "consume": 20000}},
                "error": {"code": 0, "raw_message": "", "message": "", "detail": None},
            },
        }
    )


#: The shapes the contract says other models send: (name, task, the kind of its first file).
OTHER_MODELS: list[tuple[str, Task, str]] = [
    (
        "flux",
        answer(
            "Qubico/flux1-dev",
            "txt2img",
            {"image_url": "https://img.theapi.app/temp/fox.png", "image_base64": ""},
        ),
        "image",
    ),
    (
        "flux-base64",
        answer("Qubico/flux1-schnell", "txt2img", {"image_url": "", "image_base64": PNG_BASE64}),
        "image",
    ),
    (
        "kontext",
        answer(
            "Qubico/flux1-dev-advanced",
            "kontext",
            {"image_url": "https://img.theapi.app/temp/edited.webp"},
            prompt="make it night",
            image="https://cdn.example.com/in.png",
        ),
        "image",
    ),
    (
        "sora",
        answer(
            "sora2",
            "sora2-video",
            {"video_url": "https://img.theapi.app/temp/clip.mp4", "watermark": False},
        ),
        "video",
    ),
    (
        "video-toolkit",
        answer(
            "Qubico/video-toolkit",
            "upscale",
            {"video": "https://img.theapi.app/temp/up.mp4"},
            video="https://cdn.example.com/in.mp4",
            scale=2,
        ),
        "video",
    ),
    (
        "trellis",
        answer(
            "Qubico/trellis",
            "text-to-3d",
            {"model_url": "https://img.theapi.app/temp/fox.glb"},
        ),
        "other",
    ),
]
