"""API answers as the two schemas send them: one task each, every field a test may read."""

from __future__ import annotations

import json
from typing import Any

#: A finished task in the unified schema (``meta``, ``output``, an empty error object).
UNIFIED: dict[str, Any] = {
    "task_id": "0f1e2d3c-aaaa-bbbb-cccc-000000000001",
    "model": "Qubico/mmaudio",
    "task_type": "video2audio",
    "status": "completed",
    "config": {"service_mode": "public", "webhook_config": {"endpoint": "", "secret": ""}},
    "input": {
        "prompt": "rain on tin",
        "negative_prompt": "music",
        "video": "https://v/x.mp4",
        "steps": 25,
        "seed": 7,
    },
    "output": {"audio_url": "https://img.theapi.app/temp/abc.mp3"},
    "meta": {
        "created_at": "2025-06-01T10:00:00.123456789Z",
        "started_at": "2025-06-01T10:00:01.5Z",
        "ended_at": "2025-06-01T18:00:31.5+08:00",
        "usage": {"type": "point", "frozen": 0, "consume": 200000},
        "is_using_private_pool": False,
    },
    "detail": None,
    "logs": [],
    "error": {"code": 0, "raw_message": "", "message": "", "detail": None},
}

#: A finished task in the seed page's schema (``metadata``, a legacy ``task``, ``works``).
SEED: dict[str, Any] = {
    "task_id": "seed-1",
    "input": json.dumps({"prompt": "birds", "seed": 3}),
    "status": "Completed",
    "metadata": {
        "created_at": "2025-06-01T10:00:00Z",
        "started_at": "0001-01-01T00:00:00Z",
        "ended_at": "0001-01-01T00:00:00Z",
        "quota_frozen": 5,
        "quota_usage": 40000,
    },
    "task": {
        "id": 9,
        "userId": 1,
        "type": "mmaudio",
        "status": 2,
        "taskInfo": {
            "arguments": [
                {"name": "steps", "value": "30"},
                {"name": "prompt", "value": "ignored: input wins"},
            ],
            "inputs": [
                {
                    "inputType": "video",
                    "name": "video",
                    "url": "https://v/in.mp4",
                    "blobStorage": None,
                    "token": None,
                }
            ],
            "type": "video2audio",
        },
        "createTime": 1748772000000,
    },
    "works": [
        {
            "contentType": "audio/wav",
            "status": 2,
            "type": "audio",
            "resource": {
                "resource": "https://cdn/x.wav",
                "resourceWithoutWatermark": "https://cdn/x-clean.wav",
                "height": 0,
                "width": 0,
                "duration": 8,
            },
            "cover": {"resource": "https://cdn/cover.png"},
        }
    ],
}
