"""`TaskViewer`: fetch a task by id, show its metadata, play its works, follow it until it ends.

A thin display layer: HTTP goes through the Client, HTML comes from `qubico_nb.html`. From the
background poller, widgets change only through trait values and ``Output.append_*``
(displaying from a thread would land in whichever cell runs at that moment).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import ipywidgets as widgets
from IPython.display import Audio, Image, Video

from . import html
from .client import Client
from .connection import default_client
from .errors import TRANSIENT_ERRORS, QubicoError
from .models import Task, Work

log = logging.getLogger("qubico_nb")


def _media(work: Work) -> Any:
    """An IPython display object for a work (by URL: nothing is downloaded into the kernel)."""
    url = html.media_url(work.playable_url)
    if url is None:
        return None
    if work.kind == "audio":
        return Audio(url=url)
    if work.kind == "video":
        return Video(url, html_attributes="controls preload='none'")
    if work.kind == "image":
        return Image(url=url)
    return None


class TaskViewer(widgets.VBox):  # type: ignore[misc]
    """A widget that shows one task and plays its works; it follows a running task until it ends.

    ``TaskViewer("task-id")`` fetches through `connect()`'s client unless `client` is given;
    ``TaskViewer(task)`` shows a Task at once and follows it if it is running;
    ``TaskViewer.from_task(task)`` shows a Task without any client.
    """

    def __init__(
        self,
        task_id: str | Task | None = None,
        *,
        client: Client | None = None,
        follow: bool = True,
        poll_interval: float = 1.0,
        wait_timeout: float = 600.0,
    ) -> None:
        self._client = client
        self.follow = follow
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self._task: Task | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._following_id: str | None = None
        self._shown_works: tuple[Work, ...] | None = None

        self.id_box = widgets.Text(placeholder="task id", description="Task",
                                   continuous_update=False, layout={"width": "28em"})
        self.fetch_button = widgets.Button(description="Fetch", icon="refresh",
                                           tooltip="fetch the task again")
        self.status = widgets.HTML().add_class("qnb-status")
        self.times = widgets.HTML().add_class("qnb-times")
        self.meta = widgets.HTML().add_class("qnb-meta")
        self.players = widgets.VBox().add_class("qnb-players")
        self.error = widgets.HTML(layout={"display": "none"}).add_class("qnb-error")
        header = widgets.HBox([self.id_box, self.fetch_button, self.status, self.times])
        super().__init__([header, self.error, self.players, self.meta])
        self.add_class("qnb-viewer")
        self.fetch_button.on_click(lambda _button: self.refresh())
        self.id_box.observe(self._on_id, names="value")
        if isinstance(task_id, Task):  # show what we have at once, then follow it if running
            self._quiet_set_id(task_id.id)
            self._show(task_id)
            if follow and not task_id.is_done:
                self._start_following(task_id.id)
        elif task_id:
            self.id_box.value = task_id

    # -- public API ----------------------------------------------------------------------------
    @classmethod
    def from_task(cls, task: Task) -> TaskViewer:
        """Show a Task you already have; without a client there is nothing to fetch."""
        viewer = cls(client=None, follow=False)
        viewer.fetch_button.disabled = viewer.id_box.disabled = True
        viewer._quiet_set_id(task.id)
        viewer._show(task)
        return viewer

    @property
    def task(self) -> Task | None:
        """The latest Task shown."""
        return self._task

    @property
    def is_following(self) -> bool:
        return self._poller is not None and self._poller.is_alive()

    def refresh(self) -> Task | None:
        """Fetch the task in the id box again (and follow it if it is still running)."""
        task_id = self.id_box.value.strip()
        if not task_id:
            self._show_error("Enter a task id, then press Fetch.")
            return None
        try:
            task = self._get_client().get_task(task_id, use_cache=False)
        except QubicoError as err:
            if self._task is not None and self._task.id != task_id:
                self._clear()  # never show one task's data under another's id
            self._show_error(str(err))
            return None
        self._show(task)
        if self.follow and not task.is_done:
            self._start_following(task_id)
        return task

    def close(self) -> None:
        self.stop_following()
        super().close()

    def stop_following(self) -> None:
        with self._lock:
            self._stop.set()
            self._following_id = None

    def __repr__(self) -> str:
        task = self._task
        if task is None:
            return f"TaskViewer(task_id={self.id_box.value or None!r})"
        return (f"TaskViewer(task_id={task.id!r}, status={task.status.value!r}, "
                f"works={len(task.works)})")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget where widgets render; elsewhere (GitHub, nbviewer) a static card."""
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = repr(self)
        bundle["text/html"] = html.task_card(self._task)
        return dict(bundle)

    # -- internals -----------------------------------------------------------------------------
    def _get_client(self) -> Client:
        if self._client is None:
            self._client = default_client()
        return self._client

    def _quiet_set_id(self, task_id: str) -> None:
        self.id_box.unobserve(self._on_id, names="value")
        self.id_box.value = task_id
        self.id_box.observe(self._on_id, names="value")

    def _on_id(self, change: dict[str, Any]) -> None:
        if change["new"] != change["old"]:
            self.stop_following()
            self.refresh()

    def _start_following(self, task_id: str) -> None:
        with self._lock:
            if self.is_following and self._following_id == task_id:
                return  # a second click while following starts nothing new
            self._stop.set()
            stop = threading.Event()
            self._stop = stop
            self._following_id = task_id
            self._poller = threading.Thread(target=self._follow, args=(task_id, stop),
                                            name=f"qnb-follow-{task_id[:12]}", daemon=True)
            self._poller.start()

    def _follow(self, task_id: str, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.wait_timeout
        client = self._get_client()
        while not stop.wait(self.poll_interval):
            if time.monotonic() > deadline:
                self._show_error(f"Stopped following after {self.wait_timeout:g} s; the task "
                                 "was still running. Press Fetch to check again.")
                return
            try:
                task = client.get_task(task_id)
            except TRANSIENT_ERRORS as err:
                self._show_error(f"{err} (still trying)")
                continue
            except QubicoError as err:
                self._show_error(str(err))
                return
            if stop.is_set():
                return
            self._show(task)
            if task.is_done:
                return

    def _show(self, task: Task) -> None:
        with self._lock:
            self.status.value = html.status_badge(task.status.value)
            self.times.value = html.times_line(task)
            self.meta.value = html.STYLE + html.metadata_table(task)
            if task.error:
                self._show_error(f"The task failed: {task.error.message}")
            else:
                self._show_error("")
            if task.works != self._shown_works:
                self._shown_works = task.works
                self.players.children = tuple(self._player(w) for w in task.works)
            self._task = task  # last: whoever sees the new task sees its players too

    def _clear(self) -> None:
        with self._lock:
            self.status.value = self.times.value = self.meta.value = ""
            self.players.children = ()
            self._shown_works = None
            self._task = None

    def _player(self, work: Work) -> widgets.Widget:
        media = _media(work)
        if media is None:
            return widgets.HTML(html.link(work.playable_url, "generated file")).add_class(
                "qnb-player")
        out = widgets.Output().add_class("qnb-player")
        out.append_display_data(media)
        return out

    def _show_error(self, message: str) -> None:
        self.error.value = html.error_box(message)
        self.error.layout.display = "block" if message else "none"
