"""Sandbox tasks as JSON, in the seed page's schema or the unified schema."""

from __future__ import annotations

import json
from typing import Any

from .audio import AUDIO_FORMATS
from .world import FINAL_PHASES, SandboxTask, format_time

SEED_STATUS_CODES = {"pending": 0, "processing": 1, "completed": 2, "failed": 3, "cancelled": 4}
#: Why a failed task failed, in more words, by the short message.
_RAW_MESSAGES = {
    "failed to get valid video": "could not decode the input video",
    "failed to get valid audio": "could not decode the reference audio",
}


def file_name(task: SandboxTask, audio_format: str = "wav") -> str:
    return f"{task.task_id}.{AUDIO_FORMATS[audio_format].extension}"


def audio_seconds(task: SandboxTask, default_seconds: float) -> float:
    """The length of a task's audio file: what the model makes (MMAudio: `default_seconds`, cut
    to the video; music: the length asked for), never longer than the sandbox's `default_seconds`
    so a 4-minute song costs a test no more than a clip."""
    return round(min(task.seconds, default_seconds), 3)


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
        cancelled_early = phase == "cancelled"
        started = task.started_ns() if phase != "pending" and not cancelled_early else None
        ended = task.ended_ns() if phase in FINAL_PHASES else None
        return (
            format_time(task.created_wall_ns, self.tz_minutes),
            format_time(started, self.tz_minutes),
            format_time(ended, self.tz_minutes),
        )

    def _usage(self, task: SandboxTask, phase: str) -> tuple[int, int]:
        """(frozen, consumed) in 1e-7 USD: frozen until the end, refunded when the task fails or
        is cancelled."""
        if phase in ("failed", "cancelled"):
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
        if phase in ("failed", "cancelled"):
            message = task.fail_message
            detail = _RAW_MESSAGES.get(message)
            error = {
                "code": 10000,
                "raw_message": f"{message}: {detail}" if detail else message,
                "message": message,
                "detail": None,
            }
        return {
            "task_id": task.task_id,
            "model": task.model,
            "task_type": task.task_type,
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
            task.ended_ns() if phase in FINAL_PHASES else task.created_wall_ns
        ) // 1_000_000
        arguments: list[dict[str, Any]] = []
        inputs: list[dict[str, Any]] = []
        task_spec = task.spec.task_type(task.task_type)
        for key, value in task.input.items():
            spec = task_spec.input(key)
            if spec is not None and spec.kind in ("video", "audio"):
                inputs.append(
                    {
                        "inputType": spec.kind,
                        "name": key,
                        "url": value if str(value).startswith("http") else "",
                        "blobStorage": None,
                        "token": None,
                    }
                )
            else:
                arguments.append({"name": key, "value": str(value)})
        task_info = {"arguments": arguments, "inputs": inputs, "type": task.task_type}
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
                "type": task.family,
                "status": SEED_STATUS_CODES[phase],
                "taskInfo": task_info,
                "favored": False,
                "deleted": False,
                "createTime": created_ms,
                "updateTime": updated_ms,
            },
            "works": works,
        }
        if phase in ("failed", "cancelled"):
            # The seed page shows no error field; a failed task needs one to say why.
            data["error"] = {"code": 10000, "message": task.fail_message}
        return data
