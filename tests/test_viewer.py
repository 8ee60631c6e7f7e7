"""TaskViewer without a browser: state, escaping, following, and no key anywhere it could leak."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import ipywidgets as widgets
import pytest

from qubico_nb import Task, TaskViewer
from qubico_nb.sandbox import Sandbox

from .helpers.html import EVIL, evil_task
from .helpers.outputs import OTHER_MODELS, one_task_per_model
from .helpers.sandbox import KEY, VIDEO, client_for, wait_until


def followers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("qnb-follow") and t.is_alive()]


def all_widgets(root: widgets.Widget) -> list[widgets.Widget]:
    found = [root]
    for child in getattr(root, "children", ()):
        found.extend(all_widgets(child))
    return found


def test_from_task_shows_escaped_metadata_and_players() -> None:
    viewer = TaskViewer.from_task(evil_task())
    assert viewer.task is not None and viewer.fetch_button.disabled
    assert "<script" not in viewer.meta.value and "&lt;script&gt;" in viewer.meta.value
    assert "<script" not in viewer.status.value
    assert "<script" not in viewer.error.value and viewer.error.layout.display == "block"
    (player,) = viewer.players.children
    markup = player.outputs[0]["data"]["text/html"]
    assert "<img" not in markup and "%22%3E%3Cimg" in markup
    assert not viewer.is_following


def test_css_classes_for_tests_and_styles() -> None:
    viewer = TaskViewer.from_task(
        Task.from_dict(
            {"task_id": "t", "status": "completed", "output": {"audio_url": "https://c/a.wav"}}
        )
    )
    classes = {c for w in all_widgets(viewer) for c in w._dom_classes}
    assert {"qnb-viewer", "qnb-status", "qnb-meta", "qnb-player", "qnb-error"} <= classes


def test_audio_is_played_by_url_not_embedded() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        viewer = TaskViewer(task.id, client=client)
        (player,) = viewer.players.children
        markup = player.outputs[0]["data"]["text/html"]
        assert f'src="{task.audio.url}"' in markup and "base64" not in markup
        assert sb.requests["file"] == 0  # the kernel downloaded nothing


def test_follows_a_running_task_until_it_ends() -> None:
    with Sandbox(pending_s=0.5, processing_s=0.5) as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "birds")
        viewer = TaskViewer(task.id, client=client, poll_interval=0.02)
        assert viewer.task.status.value in ("pending", "processing")
        assert viewer.is_following and viewer.players.children == ()
        wait_until(lambda: viewer.task.is_done)
        wait_until(lambda: not viewer.is_following)
        assert viewer.task.status.value == "completed"
        assert len(viewer.players.children) == 1
        assert "completed" in viewer.status.value


def test_double_fetch_starts_one_poller_and_close_stops_it() -> None:
    with Sandbox(pending_s=30) as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "birds")
        viewer = TaskViewer(task.id, client=client, poll_interval=0.02)
        first = viewer._poller
        viewer.fetch_button.click()
        viewer.fetch_button.click()
        assert viewer._poller is first
        assert len([t for t in followers() if t is first]) == 1
        viewer.close()
        wait_until(lambda: not first.is_alive())


def test_changing_the_id_stops_the_old_poller() -> None:
    with Sandbox(pending_s=30) as sb:
        client = client_for(sb)
        one, two = (client.generate_audio(VIDEO, p) for p in ("rain", "wind"))
        viewer = TaskViewer(one.id, client=client, poll_interval=0.02)
        old = viewer._poller
        viewer.id_box.value = two.id
        wait_until(lambda: not old.is_alive())
        assert viewer.is_following and viewer.task.id == two.id
        viewer.close()


def test_stops_after_the_wait_timeout() -> None:
    with Sandbox(pending_s=30) as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain")
        viewer = TaskViewer(task.id, client=client, poll_interval=0.02, wait_timeout=0.1)
        wait_until(lambda: not viewer.is_following)
        assert "Stopped following after 0.1 s" in viewer.error.value


def test_fetch_errors_and_failed_tasks_are_shown() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        viewer = TaskViewer("no-such-task", client=client)
        assert "task not found: no-such-task" in viewer.error.value
        assert viewer.error.layout.display == "block"
        failed = client.generate_audio("https://x/corrupt.mp4", "rain")
        viewer.id_box.value = failed.id
        assert "failed to get valid video" in viewer.error.value
        viewer.id_box.value = ""
        viewer.refresh()
        assert "Enter a task id" in viewer.error.value


def test_no_key_in_any_trait_repr_or_bundle() -> None:
    with Sandbox(preset="instant", api_key=KEY) as sb:
        client = client_for(sb)
        task = client.wait(client.generate_audio(VIDEO, "rain"))
        viewer = TaskViewer(task.id, client=client)
        states = [w.get_state() for w in all_widgets(viewer)]
        dumped = json.dumps(states, default=str)
        assert task.id in dumped and KEY not in dumped
        bundle = viewer._repr_mimebundle_()
        assert KEY not in json.dumps(bundle) and KEY not in repr(viewer)
        assert KEY not in str(vars(viewer).get("_trait_values"))


def test_static_fallback_for_hosts_without_widgets() -> None:
    viewer = TaskViewer.from_task(evil_task())
    bundle = viewer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("TaskViewer(task_id=")
    fallback = bundle["text/html"]
    assert "qnb-meta" in fallback and "<script>" not in fallback.replace("<style>", "")
    assert EVIL not in fallback


def test_a_task_object_shows_at_once_and_is_followed() -> None:
    with Sandbox(pending_s=0.1, processing_s=0.1) as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain")
        sb.reset_counters()
        viewer = TaskViewer(task, client=client, poll_interval=0.02)
        assert viewer.task is task and viewer.id_box.value == task.id
        assert sb.requests["get"] == 0  # nothing fetched to show it
        wait_until(lambda: viewer.task.is_done)
        assert len(viewer.players.children) == 1


def test_a_failed_fetch_of_another_id_clears_the_old_task() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain")
        viewer = TaskViewer(task.id, client=client)
        assert len(viewer.players.children) == 1
        viewer.id_box.value = "no-such-task"
        assert viewer.task is None and viewer.players.children == ()
        assert viewer.meta.value == "" and "task not found" in viewer.error.value
        viewer.id_box.value = task.id
        assert viewer.task.id == task.id and viewer.error.layout.display == "none"


def test_from_task_cannot_fetch_or_retype() -> None:
    viewer = TaskViewer.from_task(evil_task())
    assert viewer.fetch_button.disabled and viewer.id_box.disabled


# -- the poller's thread (issue 7) and what it may write (issue 8) ------------------------------
class StubClient:
    """A client whose answers the test controls: `answers[task_id]` is a Task, an exception, or
    a list of them (one per call); a `gate` Event holds the first call for `held_id`."""

    base_url = "http://127.0.0.1:9"

    def __init__(
        self, answers: dict[str, object], *, poll_interval: float = 0.01, held_id: str | None = None
    ) -> None:
        self.answers = answers
        self.poll_interval = poll_interval
        self.held_id = held_id
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.calls: list[tuple[str, str]] = []

    def get_task(self, task_id: str, **_: object) -> Task:
        self.calls.append((task_id, threading.current_thread().name))
        if task_id == self.held_id:
            self.entered.set()
            self.gate.wait(10)
        answer = self.answers[task_id]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, Task)
        return answer


def make_task(task_id: str, status: str = "processing", **extra: object) -> Task:
    return Task.from_dict(
        {"task_id": task_id, "status": status, "input": {"prompt": "rain"}, **extra}
    )


def test_a_late_answer_for_the_old_id_is_never_shown_under_the_new_one() -> None:
    from qubico_nb.errors import APIConnectionError, NotFoundError

    stub = StubClient(
        {
            "a": [
                APIConnectionError("connection reset for a"),
                NotFoundError("task not found: a", status=404),
            ],
            "b": make_task("b"),
        },
        held_id="a",
    )
    viewer = TaskViewer(make_task("a"), client=stub)
    assert stub.entered.wait(5)  # the poller is inside its request for "a"
    viewer.id_box.value = "b"  # the user moves on while that request hangs
    assert viewer.task.id == "b"
    stub.gate.set()  # now "a" answers: a transient error, then a final one
    wait_until(lambda: sum(1 for call in stub.calls if call[0] == "a") >= 1)
    wait_until(lambda: not any(t.name == "qnb-follow-a" for t in followers()))
    assert "for a" not in viewer.error.value and "task not found: a" not in viewer.error.value
    assert viewer.error.layout.display == "none" and viewer.task.id == "b"
    viewer.close()


def test_the_client_is_resolved_on_the_callers_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import qubico_nb.viewer as viewer_module

    stub = StubClient({"a": make_task("a", "completed")})
    resolved_on: list[str] = []

    def fake_default_client() -> StubClient:
        resolved_on.append(threading.current_thread().name)
        return stub

    monkeypatch.setattr(viewer_module, "default_client", fake_default_client)
    viewer = TaskViewer(make_task("a"))  # no client: connect()'s, which may print a line
    wait_until(lambda: not viewer.is_following)
    assert resolved_on == [threading.current_thread().name]


def test_the_poll_interval_comes_from_the_client_unless_given() -> None:
    with Sandbox(pending_s=30) as sb:
        client = client_for(sb, poll_interval=0.37)
        task = client.generate_audio(VIDEO, "rain")
        viewer = TaskViewer(task, client=client)
        assert viewer.poll_interval == 0.37
        viewer.close()
        assert (
            TaskViewer(task, client=client, poll_interval=0.05, follow=False).poll_interval == 0.05
        )


def test_an_answer_about_another_task_is_not_shown() -> None:
    stub = StubClient({"mine": make_task("other", "completed")})
    viewer = TaskViewer("mine", client=stub)
    assert viewer.task is None and viewer.meta.value == ""
    assert "answered with task other" in viewer.error.value


def _drop_kernel_references(viewer: TaskViewer) -> None:
    """What a kernel holds for every widget (its registry and comms), let go of, as when a
    re-run cell's output is gone and nothing else refers to the old viewer."""
    import comm
    from ipywidgets.widgets import widget as widget_module

    registry = getattr(widget_module, "_instances", None)
    if registry is None:
        registry = widgets.Widget.widgets
    comms = getattr(comm.get_comm_manager(), "comms", {})
    for w in all_widgets(viewer):
        registry.pop(w.model_id, None)
        if w.comm is not None:
            comms.pop(getattr(w.comm, "comm_id", None), None)
            w.comm = None


def test_a_viewer_nothing_holds_stops_polling() -> None:
    """The weak-reference half: once the kernel's registry lets go (a host that frees closed
    outputs, a script), the poller ends. In a live kernel the registry holds every widget, so the
    re-run rule below is what stops a forgotten viewer."""
    import gc
    import weakref

    with Sandbox(pending_s=30) as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain")
        viewer = TaskViewer(task.id, client=client, poll_interval=0.02)
        poller = viewer._poller
        gone = weakref.ref(viewer)
        _drop_kernel_references(viewer)
        del viewer
        gc.collect()
        wait_until(lambda: gone() is None and not poller.is_alive())


def test_a_rerun_cell_stops_the_viewer_it_made_before(monkeypatch: pytest.MonkeyPatch) -> None:
    from qubico_nb import _hosts

    with Sandbox(pending_s=30) as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain")
        monkeypatch.setattr(_hosts, "current_cell", lambda: ("cell-1", "run-1"))
        first = TaskViewer(task.id, client=client, poll_interval=0.02)
        sibling = TaskViewer(task.id, client=client, poll_interval=0.02)  # same run: kept
        monkeypatch.setattr(_hosts, "current_cell", lambda: ("cell-1", "run-2"))
        again = TaskViewer(task.id, client=client, poll_interval=0.02)
        wait_until(lambda: not first.is_following and not sibling.is_following)
        assert again.is_following
        for viewer in (first, sibling, again):
            viewer.close()


def test_close_closes_every_widget_inside() -> None:
    viewer = TaskViewer.from_task(
        make_task("t", "completed", output={"audio_url": "https://c/a.wav"})
    )
    inside = all_widgets(viewer)[1:]
    assert len(inside) >= 8
    parts = [w.layout for w in all_widgets(viewer)] + [viewer.fetch_button.style]
    viewer.close()
    assert [w for w in inside + parts if w.comm is not None] == []


def test_a_huge_prompt_is_shortened_in_widget_state_but_kept_on_the_task() -> None:
    prompt = "rain " * 10_000_000  # 50 MB
    task = make_task("t", "completed", input={"prompt": prompt})
    viewer = TaskViewer.from_task(task)
    state = json.dumps([w.get_state() for w in all_widgets(viewer)], default=str)
    assert len(state) < 100_000
    assert "(49,998,000 more characters)" in viewer.meta.value
    assert len(viewer._repr_mimebundle_()["text/html"]) < 100_000
    assert viewer.task.prompt == prompt


ODD_URLS = [
    "",
    "   ",
    "relative/x.mp4",
    "/abs/x.png",
    "javascript:alert(1)",
    "//evil/x.mp4",
    "data:video/mp4;base64,AAAA",
    "ftp://host/y.mp4",
    "http://[::1",
    "file:///etc/x.png",
    "\\\\evil\\x.mp4",
    "https://ok.example/x.mp4",
    "x" * 5000,
]


@pytest.mark.parametrize("kind", ["video", "image", "audio", "other"])
def test_odd_urls_never_raise_and_only_absolute_http_becomes_a_source(kind: str) -> None:
    from qubico_nb.models import Status, Work

    works = tuple(Work(url=url, kind=kind) for url in ODD_URLS)
    task = Task(id="t", status=Status.COMPLETED, raw_status="completed", works=works)
    for viewer in (
        TaskViewer.from_task(task),
        TaskViewer(task, client=StubClient({}), follow=False),
    ):
        markups = [p.outputs[0]["data"]["text/html"] for p in viewer.players.children]
        assert len(markups) == len(ODD_URLS)
        sources = [re.findall(r'(?:src|href)="([^"]*)"', m) for m in markups]
        for url, found in zip(ODD_URLS, sources, strict=True):
            for src in found:
                assert src.startswith(("http://", "https://")), (url, src)
        assert sources[ODD_URLS.index("https://ok.example/x.mp4")] == ["https://ok.example/x.mp4"]
        with_client = viewer._client is not None
        relative = sources[ODD_URLS.index("relative/x.mp4")]
        assert relative == (["http://127.0.0.1:9/relative/x.mp4"] if with_client else [])
        assert "javascript" in markups[ODD_URLS.index("javascript:alert(1)")]  # shown as text
        static = viewer._repr_mimebundle_()["text/html"]
        assert "javascript:alert" not in re.findall(r'src="([^"]*)"', static)


# -- readable by default (issue 11) ---------------------------------------------------------
def test_metadata_is_grouped_in_local_time_without_duplicate_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        task = Task.from_dict(
            {
                "task_id": "t",
                "status": "completed",
                "model": "Qubico/mmaudio",
                "input": {"prompt": "rain", "seed": 3, "steps": 25},
                "meta": {
                    "created_at": "2024-01-01T00:00:00Z",
                    "started_at": "2024-01-01T00:00:01.234Z",
                    "ended_at": "2024-01-01T00:00:09.87Z",
                },
                "output": {"audio_url": "https://c/a.wav"},
            }
        )
        meta = TaskViewer.from_task(task).meta.value
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    text = re.sub(r"<[^>]+>", "|", meta)
    heads = re.findall(r'qnb-meta-group-head">([^<]+)<', meta)
    assert heads[:3] == ["Task", "Input", "Timing"] and heads[-1] == "Output"
    assert "2024-01-01 05:30:00 IST" in text and "2024-01-01 05:30:01 IST" in text
    assert "|Queued||1.2 s|" in text and "|Ran||8.6 s|" in text
    assert "status" not in text.lower()  # the badge says it once; no raw_status row


def test_the_error_style_shows_without_metadata() -> None:
    viewer = TaskViewer("no-such", client=StubClient({"no-such": make_task("x")}))
    assert viewer.meta.value == "" and "qnb-error" in viewer.error.value
    styles = "".join(
        w.value for w in all_widgets(viewer) if isinstance(w, widgets.HTML) and "<style>" in w.value
    )
    assert ".qnb-viewer .qnb-error{color:var(--qnb-error)" in styles
    assert "--jp-error-color1" in styles


def test_players_and_buttons_have_accessible_names() -> None:
    viewer = TaskViewer.from_task(
        make_task("t-1", "completed", output={"audio_url": "https://c/a.wav"})
    )
    (player,) = viewer.players.children
    markup = player.outputs[0]["data"]["text/html"]
    assert 'aria-label="Generated audio for task t-1"' in markup
    assert viewer.fetch_button.description == "Fetch" and viewer.fetch_button.tooltip
    assert viewer.id_box.description == "Task"


# -- saved notebooks (issue 11) --------------------------------------------------------------
def test_the_displayed_output_is_updated_when_the_task_ends() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    with Sandbox(pending_s=0.2, processing_s=0.2) as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain")
        viewer = TaskViewer(task.id, client=client, poll_interval=0.02)
        with capture_output() as captured:
            viewer._ipython_display_()
            wait_until(lambda: not viewer.is_following)
            wait_until(lambda: any(getattr(o, "update", False) for o in captured.outputs))
        first, *rest = captured.outputs
        assert "completed" not in first.data["text/html"]
        assert "application/vnd.jupyter.widget-view+json" in first.data
        (update,) = [o for o in rest if o.update]
        assert update.transient["display_id"] == first.transient["display_id"]
        assert "completed" in update.data["text/html"] and "<audio" in update.data["text/html"]
        assert "application/vnd.jupyter.widget-view+json" in update.data
        viewer.close()


def test_the_output_is_updated_before_the_players_appear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """JupyterLab and Notebook 7 rebuild a widget's view when its output is updated; a player
    made before the update would be taken out of the page as it appears, its audio stopped."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with Sandbox(pending_s=0.3, processing_s=0.2) as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain")
        viewer = TaskViewer(task.id, client=client, poll_interval=0.02)
        players_at_update: list[int] = []
        with capture_output():
            publish = shell.display_pub.publish

            def noting(*args: Any, update: bool = False, **kwargs: Any) -> None:
                if update:
                    players_at_update.append(len(viewer.players.children))
                publish(*args, update=update, **kwargs)

            monkeypatch.setattr(shell.display_pub, "publish", noting)
            viewer._ipython_display_()
            wait_until(lambda: not viewer.is_following)
        assert players_at_update == [0]
        assert len(viewer.players.children) == 1
        viewer.close()


def test_a_closed_viewer_still_displays_its_static_card() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    viewer = TaskViewer.from_task(make_task("t", "completed"))
    viewer.close()
    with capture_output() as captured:
        display(viewer)  # ipywidgets 7's close() unsets _ipython_display_, 8's the bundle
    (shown,) = captured.outputs
    assert "qnb-badge-completed" in shown.data["text/html"]


@pytest.mark.parametrize(
    ("name", "task", "kind"), OTHER_MODELS, ids=[n for n, _, _ in OTHER_MODELS]
)
def test_tasks_of_other_models_show_their_files(name: str, task: Task, kind: str) -> None:
    viewer = TaskViewer.from_task(task)
    (player,) = viewer.players.children
    markup = player.outputs[0]["data"]["text/html"]
    assert {"image": "<img", "video": "<video", "other": "<a "}[kind] in markup
    assert task.model in viewer.meta.value
    bundle = viewer._repr_mimebundle_()
    assert "text/html" in bundle or "application/vnd.jupyter.widget-view+json" in bundle


@pytest.mark.parametrize("model", ["ace-step", "diffrhythm", "tts"])
def test_a_music_or_speech_task_is_followed_to_its_audio(model: str) -> None:
    with Sandbox(preset="fast") as sb:
        client = client_for(sb)
        task = one_task_per_model(client, VIDEO)[["ace-step", "diffrhythm", "tts"].index(model)]
        viewer = TaskViewer(task, client=client, poll_interval=0.01)
        wait_until(lambda: viewer.task is not None and viewer.task.is_done)
        wait_until(lambda: len(viewer.players.children) == 1)
        markup = viewer.players.children[0].outputs[0]["data"]["text/html"]
        assert "<audio" in markup
        main = "Gen text" if model == "tts" else "Style prompt"
        assert main in viewer.meta.value
        viewer.close()
