"""Sandbox tasks as JSON, in the seed page's schema or the unified schema."""

from __future__ import annotations

import json
from typing import Any

from .audio import AUDIO_FORMATS
from .world import FAIL_MESSAGE, MODEL, MODEL_FAMILY, TASK_TYPE, SandboxTask, format_time

SEED_STATUS_CODES = {"pending": 0, "processing": 1, "completed": 2, "failed": 3}


def file_name(task: SandboxTask, audio_format: str = "wav") -> str:
    return f"{task.task_id}.{AUDIO_FORMATS[audio_format].extension}"


def audio_seconds(task: SandboxTask, default_seconds: float) -> float:
    """MMAudio writes `default_seconds` of audio, cut to the input video's length."""
    return round(min(task.video_seconds, default_seconds), 3)


class Renderer:
    """Turns a task and its phase into one schema's ``data`` object."""

    def __init__(
        self,
        *,
        public_url: str,
        audio_seconds: float,
        tz_minutes: int = 0,
        title_case: bool = False,
        audio_format: str = "wav",
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.audio_format = AUDIO_FORMATS[audio_format]
        self.audio_seconds = audio_seconds
        self.tz_minutes = tz_minutes
        self.title_case = title_case

    def file_url(self, task: SandboxTask) -> str:
        return f"{self.public_url}/temp/{task.task_id}.{self.audio_format.extension}"

    def _status(self, phase: str) -> str:
        return phase.capitalize() if self.title_case else phase

    def _times(self, task: SandboxTask, phase: str) -> tuple[str, str, str]:
        started = task.started_ns() if phase != "pending" else None
        ended = task.ended_ns() if phase in ("completed", "failed") else None
        return (
            format_time(task.created_wall_ns, self.tz_minutes),
            format_time(started, self.tz_minutes),
            format_time(ended, self.tz_minutes),
        )

    def _usage(self, task: SandboxTask, phase: str) -> tuple[int, int]:
        """(frozen, consumed) in 1e-7 USD: frozen until the end, refunded when the task fails."""
        if phase == "failed":
            return 0, 0
        if phase == "completed":
            return 0, task.consume
        return task.consume, task.consume

    def render(self, schema: str, task: SandboxTask, phase: str) -> dict[str, Any]:
        if schema == "unified":
            return self.unified(task, phase)
        return self.seed(task, phase)

    def unified(self, task: SandboxTask, phase: str) -> dict[str, Any]:
        created, started, ended = self._times(task, phase)
        frozen, consume = self._usage(task, phase)
        error: dict[str, Any] = {"code": 0, "raw_message": "", "message": "", "detail": None}
        if phase == "failed":
            error = {
                "code": 10000,
                "raw_message": f"{FAIL_MESSAGE}: could not decode the input video",
                "message": FAIL_MESSAGE,
                "detail": None,
            }
        return {
            "task_id": task.task_id,
            "model": MODEL,
            "task_type": TASK_TYPE,
            "status": self._status(phase),
            "config": {"service_mode": "public", "webhook_config": dict(task.webhook)},
            "input": dict(task.input),
            "output": {"audio_url": self.file_url(task)} if phase == "completed" else None,
            "meta": {
                "created_at": created,
                "started_at": started,
                "ended_at": ended,
                "usage": {"type": "point", "frozen": frozen, "consume": consume},
                "is_using_private_pool": False,
            },
            "detail": None,
            "logs": [],
            "error": error,
        }

    def seed(self, task: SandboxTask, phase: str) -> dict[str, Any]:
        created, started, ended = self._times(task, phase)
        frozen, consume = self._usage(task, phase)
        created_ms = task.created_wall_ns // 1_000_000
        updated_ms = (
            task.ended_ns() if phase in ("completed", "failed") else task.created_wall_ns
        ) // 1_000_000
        arguments = [
            {"name": key, "value": str(task.input[key])}
            for key in ("prompt", "negative_prompt", "steps", "seed")
        ]
        video = task.input["video"]
        inputs = [
            {
                "inputType": "video",
                "name": "video",
                "url": video if video.startswith("http") else "",
                "blobStorage": None,
                "token": None,
            }
        ]
        task_info = {"arguments": arguments, "inputs": inputs, "type": TASK_TYPE}
        works = []
        if phase == "completed":
            url = self.file_url(task)
            works.append(
                {
                    "workId": task.number * 10,
                    "workItemId": task.number * 10 + 1,
                    "taskId": task.number,
                    "userId": 1,
                    "type": "audio",
                    "status": 2,
                    "contentType": self.audio_format.content_type,
                    "resource": {
                        "resource": url,
                        "resourceWithoutWatermark": url,
                        "height": 0,
                        "width": 0,
                        "duration": audio_seconds(task, self.audio_seconds),
                    },
                    "cover": {"resource": "", "height": 0, "width": 0, "duration": 0},
                    "starNum": 0,
                    "reportNum": 0,
                    "createTime": updated_ms,
                    "taskInfo": task_info,
                    "selfAttitude": "",
                    "selfComment": {"tags": [], "content": ""},
                    "favored": False,
                    "publishStatus": "private",
                    "deleted": False,
                }
            )
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "input": json.dumps(task.input),
            "status": self._status(phase),
            "metadata": {
                "created_at": created,
                "started_at": started,
                "ended_at": ended,
                "quota_frozen": frozen,
                "quota_usage": consume,
            },
            "task": {
                "id": task.number,
                "userId": 1,
                "type": MODEL_FAMILY,
                "status": SEED_STATUS_CODES[phase],
                "taskInfo": task_info,
                "favored": False,
                "deleted": False,
                "createTime": created_ms,
                "updateTime": updated_ms,
            },
            "works": works,
        }
        if phase == "failed":
            # The seed page shows no error field; a failed task needs one to say why.
            data["error"] = {"code": 10000, "message": FAIL_MESSAGE}
        return data
