"""tabulate_tasks, submit_grid and wait_all against the sandbox."""

from __future__ import annotations

import time

import pytest

from qubico_nb import (
    GridSubmitError,
    InvalidRequestError,
    NotFoundError,
    Status,
    submit_grid,
    tabulate_tasks,
    wait_all,
)
from qubico_nb.batch import grid
from qubico_nb.sandbox import Sandbox

from .conftest import VIDEO, client_for


def test_tabulate_mixes_tasks_and_ids_keeps_order_and_survives_bad_ids() -> None:
    with Sandbox(preset="instant", schema="unified") as sb:
        client = client_for(sb)
        made = [client.generate_audio(VIDEO, f"tone {i}", seed=i) for i in range(5)]
        items = [made[0], made[1].id, "no-such-id", made[2].id, made[3], made[4].id]
        sb.reset_counters()
        frame = tabulate_tasks(items, client=client, progress=False, max_workers=4)
        assert sb.requests["get"] == 4  # Task objects are not fetched again
        assert list(frame["task_id"]) == [made[0].id, made[1].id, "no-such-id", made[2].id,
                                          made[3].id, made[4].id]
        bad = frame.iloc[2]
        assert bad["status"] == "error" and "task not found" in bad["error"]
        assert list(frame["seed"])[3] == 2 and str(frame["seed"].dtype) == "Int64"
        with pytest.raises(NotFoundError, match="no-such-id"):
            tabulate_tasks(items, client=client, errors="raise", progress=False)


def test_tabulate_one_id_and_per_work() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        task = client.generate_audio(VIDEO, "rain")
        frame = tabulate_tasks(task.id, client=client, per="work", progress=False)
        assert len(frame) == 1 and frame.loc[0, "kind"] == "audio"
        assert frame.loc[0, "url"].endswith(".wav")


def test_tabulate_rejects_bad_arguments() -> None:
    for kwargs, needle in [({"per": "x"}, "per must be"), ({"errors": "x"}, "errors must be"),
                           ({"max_workers": 0}, "max_workers")]:
        with pytest.raises(InvalidRequestError, match=needle):
            tabulate_tasks([], progress=False, **kwargs)
    with pytest.raises(InvalidRequestError, match="got int"):
        tabulate_tasks([1], progress=False)  # type: ignore[list-item]


def test_grid_checks_every_cell_before_sending() -> None:
    assert len(grid(["a", "b"], seeds=[1, 2, 3], steps=[20, 30])) == 12
    with Sandbox() as sb:
        client = client_for(sb)
        with pytest.raises(InvalidRequestError, match="steps must be"):
            submit_grid(VIDEO, ["a", "b"], steps=[25, 99], client=client, progress=False)
        assert sb.requests["create"] == 0


def test_submit_grid_rides_the_concurrency_limit_then_wait_all() -> None:
    with Sandbox(pending_s=0.3, processing_s=0.3, concurrency_limit=2) as sb:
        client = client_for(sb, max_retries=0, poll_interval=0.02)
        tasks = submit_grid(VIDEO, ["rain", "birds"], seeds=[1, 2, 3], client=client,
                            progress=False)
        assert len(tasks) == 6 and len({t.id for t in tasks}) == 6
        assert sb.requests["create"] > 6  # some were refused with 429 and sent again
        assert [(t.prompt, t.seed) for t in tasks] == [
            (p, s) for p in ("rain", "birds") for s in (1, 2, 3)]
        done = wait_all(tasks, client=client, progress=False, timeout=30)
        assert [t.id for t in done] == [t.id for t in tasks]
        assert all(t.status is Status.COMPLETED for t in done)


def test_submit_grid_keeps_submitted_tasks_when_some_fail() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        sb.inject("error", endpoints=("create",), count=1)
        with pytest.raises(GridSubmitError) as caught:
            submit_grid(VIDEO, ["a", "b", "c"], client=client, progress=False)
        assert len(caught.value.tasks) == 2 and len(caught.value.failures) == 1
        assert "1 of 3 grid tasks could not be submitted" in str(caught.value)


def test_wait_all_returns_at_the_deadline_with_a_warning() -> None:
    with Sandbox(pending_s=60) as sb:
        client = client_for(sb, poll_interval=0.02)
        task = client.generate_audio(VIDEO, "rain")
        with pytest.warns(UserWarning, match="1 tasks were not done"):
            (back,) = wait_all([task.id], client=client, timeout=0.2, progress=False)
        assert back.status is Status.PENDING


def test_wait_all_stops_asking_for_unknown_ids() -> None:
    from qubico_nb import WaitAllError

    with Sandbox(pending_s=0.05) as sb:
        client = client_for(sb, poll_interval=0.02)
        good = client.generate_audio(VIDEO, "rain")
        started = time.monotonic()
        with pytest.raises(WaitAllError, match="could not fetch 1 of 2 tasks") as caught:
            wait_all([good, "no-such-id"], client=client, progress=False, timeout=30)
        assert time.monotonic() - started < 5  # not the 30 s deadline
        (done,) = caught.value.tasks
        assert done.id == good.id and done.status is Status.COMPLETED
        assert "task not found" in caught.value.failures["no-such-id"]


def test_wait_all_rides_out_transient_errors() -> None:
    with Sandbox(pending_s=0.05) as sb:
        client = client_for(sb, poll_interval=0.02, max_retries=0)
        tasks = [client.generate_audio(VIDEO, p) for p in ("rain", "wind")]
        sb.inject("error", endpoints=("get",), count=4)
        done = wait_all(tasks, client=client, progress=False, timeout=30)
        assert all(t.status is Status.COMPLETED for t in done)
