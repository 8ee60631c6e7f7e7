"""`TaskViewer`: fetch a task by id, show its metadata, play its works, follow it until it ends.

A thin display layer: HTTP goes through the Client, HTML comes from `qubico_nb.html`, where
each file plays from is `qubico_nb.playback`'s answer. From the background poller, widgets
change only through trait values and ``Output.append_*`` (displaying from a thread would land
in whichever cell runs at that moment), and only while the poller's task is still the one shown
(checked under the lock). A kernel's widget registry keeps every widget until it is closed, so
what stops a viewer there is `close()` or a re-run of the cell that made it (the new run stops
the old run's viewers). The poller also holds only a weak reference, so where nothing holds a
viewer at all (scripts, hosts that let go of their widgets) it stops as soon as the viewer is
collected.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from typing import Any, BinaryIO

import ipywidgets as widgets
import pandas as pd
from IPython.display import HTML

from . import _hosts, html
from .client import Client
from .connection import default_client
from .errors import TRANSIENT_ERRORS, QubicoError
from .models import Task, Work
from .playback import Playback, announce_embedding

log = logging.getLogger("qubico_nb")

#: Viewers by the cell that made them, so a re-run of the cell stops the old ones.
_by_cell: dict[str, weakref.WeakSet[TaskViewer]] = {}
_by_cell_lock = threading.Lock()


class TaskViewer(widgets.VBox):  # type: ignore[misc]
    """A widget that shows one task and plays its works; it follows a running task until it ends.

    ``TaskViewer("task-id")`` fetches through `connect()`'s client unless `client` is given;
    ``TaskViewer(task)`` shows a Task at once and follows it if it is running;
    ``TaskViewer.from_task(task)`` shows a Task without any client. `poll_interval` defaults to
    the client's. `local_files` (the frame `download()` returns, or one path per work) plays the
    saved copies instead of the server's URLs, embedded where the host cannot serve them.
    """

    def __init__(
        self,
        task_id: str | Task | None = None,
        *,
        client: Client | None = None,
        follow: bool = True,
        poll_interval: float | None = None,
        wait_timeout: float = 600.0,
        local_files: Any = None,
    ) -> None:
        self._client = client
        self.follow = follow
        self._poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self._local_files = local_files
        self._task: Task | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._following_id: str | None = None
        self._shown_works: tuple[tuple[Work, ...], tuple[str | None, ...]] | None = None
        self._display_id: str | None = None
        self._published: str | None = None
        self._cell_request: str | None = None

        self.id_box = widgets.Text(
            placeholder="task id",
            description="Task",
            continuous_update=False,
            layout={"width": "28em"},
        )
        self.fetch_button = widgets.Button(
            description="Fetch", icon="refresh", tooltip="Fetch the task again"
        )
        self.style_sheet = widgets.HTML(html.VIEWER_STYLE, layout={"display": "none"})
        self.status = _classed(widgets.HTML(), "qnb-status")
        self.times = _classed(widgets.HTML(), "qnb-times")
        self.meta = _classed(widgets.HTML(), "qnb-meta")
        self.players = _classed(widgets.VBox(), "qnb-players")
        self.error = _classed(widgets.HTML(layout={"display": "none"}), "qnb-error")
        self.header = widgets.HBox([self.id_box, self.fetch_button, self.status, self.times])
        super().__init__([self.style_sheet, self.header, self.error, self.players, self.meta])
        _classed(self, "qnb-viewer")
        self.fetch_button.on_click(lambda _button: self.refresh())
        self.id_box.observe(self._on_id, names="value")
        _register_in_cell(self)
        if isinstance(task_id, Task):  # show what we have at once, then follow it if running
            self._quiet_set_id(task_id.id)
            self._show(task_id)
            if follow and not task_id.is_done:
                self._start_following(task_id.id)
        elif task_id:
            self.id_box.value = task_id

    # -- public API ----------------------------------------------------------------------------
    @classmethod
    def from_task(cls, task: Task, *, local_files: Any = None) -> TaskViewer:
        """Show a Task you already have; without a client there is nothing to fetch."""
        viewer = cls(client=None, follow=False, local_files=local_files)
        viewer.fetch_button.disabled = viewer.id_box.disabled = True
        viewer._quiet_set_id(task.id)
        viewer._show(task)
        return viewer

    @property
    def task(self) -> Task | None:
        """The latest Task shown (with every field in full, however long)."""
        return self._task

    @property
    def poll_interval(self) -> float:
        """Seconds between polls: as given, else the client's ``poll_interval``."""
        if self._poll_interval is not None:
            return self._poll_interval
        client = self._client
        return client.poll_interval if client is not None else 1.0

    @poll_interval.setter
    def poll_interval(self, value: float | None) -> None:
        self._poll_interval = value

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
            _check_answer(task, task_id)
        except QubicoError as err:
            with self._lock:
                if self._task is not None and self._task.id != task_id:
                    self._clear()  # never show one task's data under another's id
                self._show_error(str(err))
            return None
        self._show(task)
        if self.follow and not task.is_done:
            self._start_following(task_id)
        return task

    def close(self) -> None:
        """Stop following and close every widget inside (each holds a comm in the kernel)."""
        self.stop_following()
        for child in _descendants(self):
            child.close()
        for part in (
            self.layout,
            *(getattr(w, "layout", None) for w in _descendants(self)),
            *(getattr(w, "style", None) for w in _descendants(self)),
        ):
            if isinstance(part, widgets.Widget):
                part.close()  # layouts and styles are widgets with comms of their own
        super().close()

    def stop_following(self) -> None:
        with self._lock:
            self._stop.set()
            self._following_id = None

    def __repr__(self) -> str:
        return self._repr_of(self._task)

    def _repr_of(self, task: Task | None) -> str:
        if task is None:
            return f"TaskViewer(task_id={html.shorten(self.id_box.value, 80) or None!r})"
        return (
            f"TaskViewer(task_id={html.shorten(task.id, 80)!r}, "
            f"status={task.status.value!r}, works={len(task.works)})"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget where widgets render; elsewhere (GitHub, nbviewer) a static card."""
        with self._lock:
            task, sources = self._task, self._sources_shown()
        return self._bundle(task, sources)

    def _bundle(self, task: Task | None, sources: tuple[str | None, ...] | None) -> dict[str, Any]:
        bundle = _hosts.widget_view_bundle(self)
        bundle["text/plain"] = self._repr_of(task)
        bundle["text/html"] = html.task_card(task, sources=sources, page_paths=_hosts.page_paths())
        return bundle

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Display under a display id, so the output can be updated when the task ends (a saved
        notebook then holds the final state, not "processing"). ipywidgets 7 displays widgets
        here too (see `_hosts.widget_view_bundle`)."""
        from IPython.display import display

        if self._display_id is None:
            self._display_id = uuid.uuid4().hex
        bundle = TaskViewer._repr_mimebundle_(self)  # close() shadows the method with None
        self._published = bundle.get("text/html")
        display(bundle, raw=True, display_id=self._display_id)
        handle_displayed = getattr(self, "_handle_displayed", None)
        if callable(handle_displayed):  # ipywidgets 7's on_displayed callbacks
            handle_displayed(**kwargs)

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
        client = self._get_client()  # on the caller's thread: connect() may print or warn
        announce_embedding(client.base_url)  # here, in the user's cell, not from the poller
        interval = self.poll_interval
        with self._lock:
            if self.is_following and self._following_id == task_id:
                return  # a second click while following starts nothing new
            self._stop.set()
            stop = threading.Event()
            self._stop = stop
            self._following_id = task_id
            self._poller = threading.Thread(
                target=_follow,
                args=(weakref.ref(self), client, task_id, stop, interval, self.wait_timeout),
                name=f"qnb-follow-{task_id[:12]}",
                daemon=True,
            )
            self._poller.start()

    def _is_current(self, task_id: str, stop: threading.Event) -> bool:
        """True while the poller for `task_id` is the one this viewer listens to (hold the lock)."""
        return not stop.is_set() and self._following_id == task_id

    def _show_from_poller(self, task_id: str, stop: threading.Event, task: Task) -> bool:
        sources = self._sources(task)  # may fetch bytes: outside the lock
        with self._lock:
            if not self._is_current(task_id, stop):
                return False
            self._publish_if_done(task, sources)
            self._render(task, sources)
        return True

    def _error_from_poller(self, task_id: str, stop: threading.Event, message: str) -> None:
        with self._lock:
            if self._is_current(task_id, stop):
                self._show_error(message)

    def _show(self, task: Task) -> None:
        sources = self._sources(task)
        with self._lock:
            self._publish_if_done(task, sources)
            self._render(task, sources)

    def _render(self, task: Task, sources: tuple[str | None, ...]) -> None:
        self.status.value = html.status_badge(task.status.value)
        self.times.value = html.times_line(task)
        self.meta.value = html.metadata_table(task)
        self._show_error(f"The task failed: {task.error.message}" if task.error else "")
        if (task.works, sources) != self._shown_works:
            self._shown_works = (task.works, sources)
            self.players.children = tuple(
                self._player(work, source, html.work_label(task, index))
                for index, (work, source) in enumerate(zip(task.works, sources, strict=True))
            )
        self._task = task  # last: whoever sees the new task sees its players too

    def _publish_if_done(self, task: Task, sources: tuple[str | None, ...]) -> None:
        """Replace the displayed output's static part once the task has ended.

        Called before `_render` draws the same state: JupyterLab and Notebook 7 rebuild the
        widget's view when its output is updated, so the players must not exist yet (a player
        made just before would be taken out of the page, stopping its audio, as it appears).
        """
        if self._display_id is None or not task.is_done:
            return
        from IPython.display import update_display

        bundle = self._bundle(task, sources)
        if bundle["text/html"] == self._published:
            return
        self._published = bundle["text/html"]
        try:
            update_display(bundle, raw=True, display_id=self._display_id)
        except Exception as err:  # a host without display updates keeps the first snapshot
            log.debug("could not update the viewer's output: %s", err)

    def _sources_shown(self) -> tuple[str | None, ...] | None:
        return None if self._shown_works is None else self._shown_works[1]

    def _clear(self) -> None:
        with self._lock:
            self.status.value = self.times.value = self.meta.value = ""
            self.players.children = ()
            self._shown_works = None
            self._task = None

    def _player(self, work: Work, source: str | None, label: str) -> widgets.Widget:
        out = _classed(widgets.Output(), "qnb-player")
        out.append_display_data(
            HTML(html.viewer_player(work, source, label=label, page_paths=_hosts.page_paths()))
        )
        return out

    def _show_error(self, message: str) -> None:
        self.error.value = html.error_box(message)
        self.error.layout.display = "block" if message else "none"

    # -- where each work plays from --------------------------------------------------------------
    def _sources(self, task: Task) -> tuple[str | None, ...]:
        """The browser's source for each work (`qubico_nb.playback`), or None (shown as text)."""
        shown = self._shown_works
        if shown is not None and shown[0] == task.works:
            return shown[1]  # the same files: fetch or read nothing again
        client = self._client
        playback = Playback(
            base_url=client.base_url if client is not None else None,
            fetch=self._fetch_file if client is not None else None,
        )
        saved = _local_paths(self._local_files, task)
        return tuple(
            playback.source(
                work.playable_url,
                saved_copy=saved.get(index),
                kind=work.kind,
                content_type=work.content_type,
            )
            for index, work in enumerate(task.works)
        )

    def _fetch_file(self, url: str, sink: BinaryIO, *, max_bytes: int) -> int:
        """Bytes to embed come through the client, asked for only when a file needs them."""
        assert self._client is not None
        return self._client.fetch_file(url, sink, max_bytes=max_bytes)


def _follow(
    ref: weakref.ref[TaskViewer],
    client: Client,
    task_id: str,
    stop: threading.Event,
    interval: float,
    timeout: float,
) -> None:
    """The poller: ask for the task every `interval` s until it ends, the viewer stops it, or
    nobody holds the viewer any more (only a weak reference is kept between polls)."""
    deadline = time.monotonic() + timeout
    while not stop.wait(interval):
        viewer = ref()
        if viewer is None:
            return
        if time.monotonic() > deadline:
            viewer._error_from_poller(
                task_id,
                stop,
                f"Stopped following after {timeout:g} s; the task was still "
                "running. Press Fetch to check again.",
            )
            return
        try:
            task = client.get_task(task_id)
            _check_answer(task, task_id)
        except TRANSIENT_ERRORS as err:
            viewer._error_from_poller(task_id, stop, f"{err} (still trying)")
            del viewer
            continue
        except QubicoError as err:
            viewer._error_from_poller(task_id, stop, str(err))
            return
        if not viewer._show_from_poller(task_id, stop, task) or task.is_done:
            return
        del viewer


def _check_answer(task: Task, task_id: str) -> None:
    """An answer about another task is never shown under the id asked for."""
    if task.id != task_id:
        from .errors import ProtocolError

        raise ProtocolError(
            f"asked for task {html.shorten(task_id, 80)} but the server answered "
            f"with task {html.shorten(task.id, 80)}; nothing shown"
        )


def _classed(widget: Any, name: str) -> Any:
    widget.add_class(name)
    return widget


def _descendants(root: widgets.Widget) -> list[widgets.Widget]:
    found: list[widgets.Widget] = []
    for child in getattr(root, "children", ()):
        found.extend(_descendants(child))
        found.append(child)
    return found


def _register_in_cell(viewer: TaskViewer) -> None:
    """Remember which cell made the viewer; a re-run of that cell stops the older ones
    (their output is gone, yet the widget registry keeps them alive)."""
    cell = _hosts.current_cell()
    if cell is None:
        return
    cell_id, request = cell
    viewer._cell_request = request
    with _by_cell_lock:
        known = _by_cell.setdefault(cell_id, weakref.WeakSet())
        for old in list(known):
            if getattr(old, "_cell_request", None) != request:
                old.stop_following()
                known.discard(old)
        known.add(viewer)


def _local_paths(local_files: Any, task: Task) -> dict[int, str]:
    """Work index -> saved file, from `download()`'s frame or a list of paths."""
    if local_files is None:
        return {}
    if hasattr(local_files, "columns"):  # a frame from download()
        frame = local_files
        if "local_path" not in frame.columns or "task_id" not in frame.columns:
            return {}
        found: dict[int, str] = {}
        rows = frame[frame["task_id"] == task.id]
        for position, (_, row) in enumerate(rows.iterrows()):
            path = row.get("local_path")
            index = row.get("work_index") if "work_index" in frame.columns else position
            if isinstance(path, str) and path:
                found[position if index is None or pd.isna(index) else int(index)] = path
        return found
    if isinstance(local_files, Sequence) and not isinstance(local_files, str):
        return {i: str(p) for i, p in enumerate(local_files) if p}
    return {}


__all__ = ["TaskViewer"]
