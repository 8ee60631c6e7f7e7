"""TaskViewer without a browser: state, escaping, following, and no key anywhere it could leak."""

from __future__ import annotations

import json
import threading

import ipywidgets as widgets

from qubico_nb import Task, TaskViewer
from qubico_nb.sandbox import Sandbox

from .conftest import KEY, VIDEO, client_for, wait_until
from .test_html import EVIL, evil_task


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
    viewer = TaskViewer.from_task(Task.from_dict({
        "task_id": "t", "status": "completed", "output": {"audio_url": "https://c/a.wav"}}))
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
        assert viewer.players.children
        viewer.id_box.value = "no-such-task"
        assert viewer.task is None and viewer.players.children == ()
        assert viewer.meta.value == "" and "task not found" in viewer.error.value
        viewer.id_box.value = task.id
        assert viewer.task.id == task.id and viewer.error.layout.display == "none"


def test_from_task_cannot_fetch_or_retype() -> None:
    viewer = TaskViewer.from_task(evil_task())
    assert viewer.fetch_button.disabled and viewer.id_box.disabled
