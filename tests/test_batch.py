"""tabulate_tasks, submit_grid and wait_all against the sandbox."""

from __future__ import annotations

import copy
import pickle
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from qubico_nb._constants import CACHE_DIR_ENV
from qubico_nb.batch import DEFAULT_MAX_WORKERS, WaitAllError, grid
from qubico_nb.errors import ProtocolError, ServerError
from qubico_nb.sandbox import Sandbox

from .helpers.sandbox import HOLD_MS, VIDEO, client_for, interrupted_within


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The on-disk task store goes to a temporary folder, never the user's cache."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))


def test_tabulate_mixes_tasks_and_ids_keeps_order_and_survives_bad_ids() -> None:
    with Sandbox(preset="instant", schema="unified") as sb:
        client = client_for(sb)
        made = [client.generate_audio(VIDEO, f"tone {i}", seed=i) for i in range(5)]
        items = [made[0], made[1].id, "no-such-id", made[2].id, made[3], made[4].id]
        sb.reset_counters()
        frame = tabulate_tasks(items, client=client, progress=False, max_workers=4)
        assert sb.requests["get"] == 4  # Task objects are not fetched again
        assert list(frame["task_id"]) == [
            made[0].id,
            made[1].id,
            "no-such-id",
            made[2].id,
            made[3].id,
            made[4].id,
        ]
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
    for kwargs, needle in [
        ({"per": "x"}, "per must be"),
        ({"errors": "x"}, "errors must be"),
        ({"max_workers": 0}, "max_workers"),
    ]:
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
        tasks = submit_grid(
            VIDEO, ["rain", "birds"], seeds=[1, 2, 3], client=client, progress=False
        )
        assert len(tasks) == 6 and len({t.id for t in tasks}) == 6
        assert sb.requests["create"] > 6  # some were refused with 429 and sent again
        assert [(t.prompt, t.seed) for t in tasks] == [
            (p, s) for p in ("rain", "birds") for s in (1, 2, 3)
        ]
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


# -- Ctrl-C ------------------------------------------------------------------------------------


def test_ctrl_c_returns_from_tabulate_without_waiting_for_stuck_requests(
    interrupt_soon: Callable[[float], None],
) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        ids = [client.generate_audio(VIDEO, f"tone {i}").id for i in range(40)]
        sb.inject("latency", ms=HOLD_MS, endpoints=("get",))
        interrupt_soon(0.3)
        elapsed = interrupted_within(
            lambda: tabulate_tasks(ids, client=client, progress=False, max_workers=4)
        )
        assert elapsed < 3.0, elapsed  # promised: 2 s; the requests are held for 4 s
        time.sleep(0.2)
        assert sb.requests["get"] == 4  # the 36 not started were cancelled


def test_ctrl_c_returns_from_wait_all(interrupt_soon: Callable[[float], None]) -> None:
    with Sandbox(pending_s=60) as sb:
        client = client_for(sb, max_retries=0, poll_interval=0.05)
        tasks = [client.generate_audio(VIDEO, f"tone {i}") for i in range(6)]
        sb.inject("latency", ms=HOLD_MS, endpoints=("get",))
        interrupt_soon(0.3)
        elapsed = interrupted_within(
            lambda: wait_all(tasks, client=client, progress=False, max_workers=2, timeout=60)
        )
        assert elapsed < 3.0, elapsed


def test_ctrl_c_during_a_pause_of_wait_all(interrupt_soon: Callable[[float], None]) -> None:
    with Sandbox(pending_s=60) as sb:
        client = client_for(sb, poll_interval=30)
        task = client.generate_audio(VIDEO, "rain")
        interrupt_soon(0.3)
        elapsed = interrupted_within(
            lambda: wait_all([task], client=client, progress=False, timeout=60)
        )
        assert elapsed < 3.0, elapsed


def test_ctrl_c_returns_from_submit_grid_and_names_what_was_made(
    interrupt_soon: Callable[[float], None],
) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        sb.inject("latency", ms=HOLD_MS, endpoints=("create",))
        interrupt_soon(0.3)
        with pytest.warns(UserWarning, match="interrupted after creating 0 of 3"):
            elapsed = interrupted_within(
                lambda: submit_grid(VIDEO, ["a", "b", "c"], client=client, progress=False)
            )
        assert elapsed < 3.0, elapsed


# -- lost creates ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["truncate", "malformed"])
def test_a_create_whose_answer_was_lost_is_found_in_the_history(fault: str) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        sb.inject(fault, endpoints=("create",), count=1)
        tasks = submit_grid(VIDEO, ["a", "b", "c"], seeds=[1, 2], client=client, progress=False)
        assert [(t.prompt, t.seed) for t in tasks] == [(p, s) for p in "abc" for s in (1, 2)]
        assert len(sb.world.tasks()) == 6 and len({t.id for t in tasks}) == 6
        assert sb.requests["history"] >= 1


def test_resubmitting_the_failures_of_a_grid_never_doubles_a_task() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        sb.inject("drop", endpoints=("create",), count=1)  # never reached the world
        sb.inject("truncate", endpoints=("create",), count=1)  # made, answer lost
        sb.inject("error", status=502, endpoints=("create",), count=1)  # not made
        with pytest.raises(GridSubmitError) as caught:
            submit_grid(VIDEO, ["a", "b", "c", "d"], client=client, progress=False)
        err = caught.value
        assert len(err.tasks) == 2 and len(err.failures) == 2
        assert {type(e) for _, e in err.failures} <= {
            ServerError,
            ProtocolError,
            type(err.failures[0][1]),
        }
        retried = [
            client.create_task("Qubico/mmaudio", "video2audio", {**cell, "video": VIDEO})
            for cell, _ in err.failures
        ]
        prompts = sorted(t.prompt for t in [*err.tasks, *retried] if t.prompt)
        assert prompts == ["a", "b", "c", "d"]
        assert len(sb.world.tasks()) == 4  # one task per cell, none paid twice


def test_a_lost_create_is_not_matched_to_an_older_identical_task() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        earlier = submit_grid(VIDEO, ["a"], client=client, progress=False)
        sb.inject("drop", endpoints=("create",), count=1)
        with pytest.raises(GridSubmitError) as caught:
            submit_grid(VIDEO, ["a"], client=client, progress=False, reuse=False)
        assert caught.value.tasks == [] and earlier[0].id not in str(caught.value)


# -- a re-run pays nothing twice (issue 20) ---------------------------------------------------


def _grid(client: Any, **options: Any) -> list[Any]:
    return submit_grid(
        VIDEO, ["rain", "birds"], seeds=[1, 2], client=client, progress=False, **options
    )


def test_a_rerun_in_a_new_kernel_reuses_every_task_from_the_store(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Sandbox(preset="instant") as sb:
        first = wait_all(
            _grid(client_for(sb, cache_size=64)), client=client_for(sb), progress=False
        )
        capsys.readouterr()
        sb.reset_counters()
        again = _grid(client_for(sb, cache_size=64))  # a new client: as after a restart
        assert [t.id for t in again] == [t.id for t in first]
        assert sb.requests["create"] == 0 and sb.requests["history"] == 0  # found in the store
        line = capsys.readouterr().out
        assert "reused 4 of 4 tasks" in line and "saved $0.0160" in line and "reuse=False" in line


def test_without_a_store_the_history_finds_them(capsys: pytest.CaptureFixture[str]) -> None:
    with Sandbox(preset="instant") as sb:
        first = _grid(client_for(sb, cache=False))
        sb.reset_counters()
        again = _grid(client_for(sb, cache=False))
        assert [t.id for t in again] == [t.id for t in first]
        assert sb.requests["create"] == 0 and sb.requests["history"] >= 1
        assert "reused 4 of 4" in capsys.readouterr().out


def test_only_cells_whose_whole_request_matches_are_reused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, cache_size=64)
        first = _grid(client)
        again = submit_grid(
            VIDEO, ["rain", "birds"], seeds=[2, 3], client=client, progress=False
        )  # seed 2 was made; seed 3 was not
        assert again[0].id == first[1].id and again[2].id == first[3].id
        assert {again[1].id, again[3].id}.isdisjoint(t.id for t in first)
        negative = submit_grid(
            VIDEO, ["rain"], seeds=[1], negative_prompt="music", client=client, progress=False
        )
        assert negative[0].id not in {t.id for t in first}  # one more field: another request
        assert len(sb.world.tasks()) == 7
        assert "reused 2 of 4 tasks" in capsys.readouterr().out


def test_a_field_a_cell_leaves_out_means_its_default_not_any_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, cache_size=64)
        (tuned,) = submit_grid(
            VIDEO,
            ["rain"],
            seeds=[7],
            steps=[50],
            negative_prompt="speech, music",
            client=client,
            progress=False,
        )
        (plain,) = submit_grid(VIDEO, ["rain"], client=client, progress=False)
        assert plain.id != tuned.id and "reused" not in capsys.readouterr().out
        assert (plain.input["steps"], plain.input["negative_prompt"]) == (25, "")
        # The defaults spelled out are the same request as the defaults left out.
        (spelled,) = submit_grid(
            VIDEO, ["rain"], steps=[25], negative_prompt="", client=client, progress=False
        )
        assert spelled.id == plain.id and len(sb.world.tasks()) == 2


@pytest.mark.parametrize(
    "options", [{"cache_size": 64}, {"cache": False}], ids=["store", "history"]
)
def test_a_cell_asking_for_a_seed_is_served_before_one_leaving_it_to_the_server(
    options: dict[str, Any],
) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, **options)
        (one,) = submit_grid(VIDEO, ["rain"], seeds=[1], client=client, progress=False)
        seedless, seeded = submit_grid(
            VIDEO, ["rain"], seeds=[None, 1], client=client, progress=False
        )
        assert seeded.id == one.id and seedless.id != one.id  # seed 1 is paid once
        assert seedless.input["seed"] != 1 and len(sb.world.tasks()) == 2
        # A cell leaving the seed to the server takes any seed that no cell asks for.
        (again,) = submit_grid(VIDEO, ["rain"], client=client, progress=False)
        assert again.id in {one.id, seedless.id} and len(sb.world.tasks()) == 2


def test_reuse_false_always_makes_new_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, cache_size=64)
        first = _grid(client)
        again = _grid(client, reuse=False)
        assert {t.id for t in again}.isdisjoint(t.id for t in first)
        assert len(sb.world.tasks()) == 8 and "reused" not in capsys.readouterr().out


def test_a_failed_task_is_never_reused_a_running_one_is() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, cache_size=64)
        (failed,) = wait_all(
            submit_grid("https://x/corrupt.mp4", ["a"], client=client, progress=False),
            client=client,
            progress=False,
        )
        assert failed.status is Status.FAILED
        (retried,) = submit_grid("https://x/corrupt.mp4", ["a"], client=client, progress=False)
        assert retried.id != failed.id
    with Sandbox(pending_s=60) as sb:
        client = client_for(sb, cache_size=64)
        (running,) = submit_grid(VIDEO, ["a"], client=client, progress=False)
        (again,) = submit_grid(VIDEO, ["a"], client=client_for(sb), progress=False)
        assert again.id == running.id and sb.requests["create"] == 1


def test_a_repeated_cell_gets_a_task_of_its_own() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, cache_size=64)
        first = submit_grid(VIDEO, ["a"], seeds=[1, 1], client=client, progress=False)
        assert len({t.id for t in first}) == 2
        again = submit_grid(VIDEO, ["a"], seeds=[1, 1, 1], client=client, progress=False)
        assert {t.id for t in again[:2]} == {t.id for t in first}
        assert again[2].id not in {t.id for t in first} and len(sb.world.tasks()) == 3


def test_the_history_is_read_only_as_far_as_needed() -> None:
    with Sandbox(preset="instant") as sb:
        maker = client_for(sb, cache=False)
        (old,) = submit_grid(VIDEO, ["old"], client=maker, progress=False)
        for i in range(120):  # more than one page of history
            maker.generate_audio(VIDEO, f"filler {i}")
        (new,) = submit_grid(VIDEO, ["new"], client=maker, progress=False, reuse=False)
        sb.reset_counters()
        assert submit_grid(VIDEO, ["new"], client=maker, progress=False)[0].id == new.id
        assert sb.requests["history"] == 1  # found on the first page: no more read
        sb.reset_counters()
        assert submit_grid(VIDEO, ["old"], client=maker, progress=False)[0].id == old.id
        assert sb.requests["history"] == 2 and sb.requests["create"] == 0


def test_tasks_of_an_earlier_sandbox_at_the_same_address_are_not_reused() -> None:
    """The store files tasks by address; a new sandbox there does not know the old one's."""
    with Sandbox(preset="instant") as sb:
        port = int(sb.url.rsplit(":", 1)[1])
        (old,) = submit_grid(VIDEO, ["a"], client=client_for(sb, cache_size=64), progress=False)
        wait_all([old], client=client_for(sb, cache_size=64), progress=False)
    with Sandbox(preset="instant", port=port) as sb:
        (new,) = submit_grid(VIDEO, ["a"], client=client_for(sb, cache_size=64), progress=False)
        assert new.id != old.id and sb.requests["create"] == 1


# -- one policy, one clock ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_submit_grid_waits_out_429s_on_the_clients_clock() -> None:
    with Sandbox(preset="instant") as sb:
        clock = FakeClock()
        client = client_for(sb, max_retries=0, clock=clock)
        sb.inject("rate_limit", retry_after=7, endpoints=("create",), count=3)
        started = time.monotonic()
        (task,) = submit_grid(VIDEO, ["a"], client=client, progress=False)
        assert time.monotonic() - started < 5  # nothing really slept 21 s
        assert sum(clock.slept) == pytest.approx(21.0)
        assert sb.requests["create"] == 4 and task.prompt == "a"


def test_submit_grid_gives_up_at_its_deadline_on_the_clients_clock() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0, clock=FakeClock())
        sb.inject("rate_limit", retry_after=7, endpoints=("create",))
        with pytest.raises(GridSubmitError, match="1 of 1 grid tasks"):
            submit_grid(VIDEO, ["a"], client=client, progress=False, timeout=20)
        assert sb.requests["create"] == 3  # at 0, 7 and 14 s; 21 s would pass the deadline


def test_wait_all_polls_on_the_clients_clock_and_schedule() -> None:
    with Sandbox(pending_s=60) as sb:
        clock = FakeClock()
        client = client_for(sb, clock=clock)
        task = client.generate_audio(VIDEO, "rain")
        with pytest.warns(UserWarning, match="not done after 10 s"):
            wait_all([task], client=client, progress=False, timeout=10, poll_interval=2)
        assert sb.requests["get"] == 5  # at 0, 2, 4, 6 and 8 s: one per interval, no more
        assert sum(clock.slept) == pytest.approx(10.0)


# -- one odd task ------------------------------------------------------------------------------


def test_an_unreadable_answer_is_that_ids_row_and_the_others_are_intact() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb, max_retries=0)
        ids = [client.generate_audio(VIDEO, f"tone {i}").id for i in range(6)]
        sb.inject("malformed", endpoints=("get",), count=1)
        frame = tabulate_tasks(ids, client=client, progress=False, max_workers=1)
        assert list(frame["task_id"]) == ids
        assert list(frame["status"]) == ["error"] + ["completed"] * 5
        with pytest.raises(ProtocolError):
            sb.inject("malformed", endpoints=("get",), count=1)
            tabulate_tasks(
                ids,
                client=client_for(sb, max_retries=0),
                errors="raise",
                progress=False,
                max_workers=1,
            )


def test_wait_all_keeps_going_past_unreadable_answers() -> None:
    with Sandbox(pending_s=0.05) as sb:
        client = client_for(sb, max_retries=0, poll_interval=0.02)
        tasks = [client.generate_audio(VIDEO, p) for p in ("rain", "wind", "sea")]
        sb.inject("malformed", endpoints=("get",), count=2)
        done = wait_all(tasks, client=client, progress=False, timeout=30)
        assert all(t.status is Status.COMPLETED for t in done)


def test_wait_all_gives_up_on_an_id_that_never_answers_readably() -> None:
    with Sandbox(pending_s=0.05) as sb:
        client = client_for(sb, max_retries=0, poll_interval=0.01)
        good = client.generate_audio(VIDEO, "rain")
        bad = client.generate_audio(VIDEO, "wind")
        sb.world.tasks()  # both exist
        # Every answer is unreadable until the bad id has been given up on.
        sb.inject("malformed", endpoints=("get",), count=6)
        with pytest.raises(WaitAllError) as caught:
            wait_all([good, bad], client=client, progress=False, timeout=30, max_workers=1)
        assert set(caught.value.failures) <= {good.id, bad.id} and caught.value.failures


# -- errors and types --------------------------------------------------------------------------


def test_batch_errors_are_ordinary_exceptions() -> None:
    # (APIStatusError subclasses pickle once errors.py gives them __reduce__; ProtocolError does.)
    cause = ProtocolError("create Qubico/mmaudio task: the answer is not JSON")
    for err in (
        GridSubmitError([], [({"prompt": "a"}, cause)]),
        WaitAllError([], {"t1": "task not found"}),
    ):
        assert err.args and str(err) == err.args[0]
        assert hash(err) == hash(err) and {err}
        for back in (pickle.loads(pickle.dumps(err)), copy.deepcopy(err)):  # noqa: S301 (our own bytes)
            assert type(back) is type(err) and str(back) == str(err)
            assert back.failures == err.failures or isinstance(back, GridSubmitError)
    grid_err = pickle.loads(  # noqa: S301 (our own bytes)
        pickle.dumps(GridSubmitError([], [({"prompt": "a"}, cause)]))
    )
    assert grid_err.failures[0][0] == {"prompt": "a"}
    assert isinstance(grid_err.failures[0][1], ProtocolError)


def test_the_default_worker_count_is_a_measured_constant() -> None:
    import inspect

    for fn in (tabulate_tasks, wait_all):
        assert inspect.signature(fn).parameters["max_workers"].default == DEFAULT_MAX_WORKERS
    with pytest.raises(InvalidRequestError, match="max_workers"):
        wait_all([], max_workers=0, progress=False)


def test_an_answer_for_another_task_never_fills_the_asked_ids_row() -> None:
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from qubico_nb import Client

    class WrongTask(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {"code": 200, "data": {"task_id": "someone-else", "status": "completed"}}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), WrongTask)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(
            "k" * 20, base_url=f"http://127.0.0.1:{server.server_address[1]}", max_retries=0
        )
        frame = tabulate_tasks(["asked-for"], client=client, progress=False)
        assert list(frame["task_id"]) == ["asked-for"]
        assert frame.loc[0, "status"] == "error"
        assert client.cache.get("asked-for") is None
    finally:
        server.shutdown()
        server.server_close()


# -- every model -----------------------------------------------------------------------------

from qubico_nb import OverBudgetError  # noqa: E402

from .helpers.outputs import REF, STYLE, one_task_per_model  # noqa: E402


def test_tabulate_fills_each_models_main_text_lyrics_and_length() -> None:
    with Sandbox(preset="instant", audio_seconds=0.3) as sb:
        client = client_for(sb)
        tasks = wait_all(one_task_per_model(client, VIDEO), client=client, progress=False)
        table = tabulate_tasks([t.id for t in tasks], client=client, progress=False)
    assert table["model"].tolist() == [
        "Qubico/ace-step",
        "Qubico/diffrhythm",
        "Qubico/tts",
        "Qubico/mmaudio",
    ]
    assert table["prompt"].tolist() == [STYLE, STYLE, "Rain on the roof, all night long.", STYLE]
    assert table["lyrics"].tolist()[:2] == [
        "[verse] rain on the roof",
        "[00:02.00] rain on the roof",
    ]
    assert table["requested_s"].tolist()[:2] == [20.0, 95.0]
    assert table["reference"][2] == REF and table["video"][3] == VIDEO
    # a video URL the sandbox cannot read is billed as its audio: 0.3 s, so the 1 s minimum
    assert table["cost_usd"].tolist() == [0.01, 0.02, 0.025, 0.0005]
    assert (table["status"] == "completed").all() and table["audio_url"].notna().all()


def test_a_grid_over_ace_step_makes_one_task_per_cell_in_order() -> None:
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        tasks = submit_grid(
            model="ace-step",
            input={"duration": 15, "lyrics": "[inst]"},
            vary={"style_prompt": ["lofi", "rock"], "negative_prompt": [None, "drums"]},
            client=client,
            progress=False,
        )
        assert [(t.input["style_prompt"], t.input.get("negative_prompt")) for t in tasks] == [
            ("lofi", None),
            ("lofi", "drums"),
            ("rock", None),
            ("rock", "drums"),
        ]
        assert all(t.model == "Qubico/ace-step" and t.input["duration"] == 15 for t in tasks)
        assert len(sb.world.tasks()) == 4


def test_a_grid_with_a_local_reference_reads_it_once(tmp_path: Path) -> None:
    from .media import wav_bytes

    voice = tmp_path / "voice.wav"
    voice.write_bytes(wav_bytes(2))
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        tasks = submit_grid(
            model="tts",
            input={"ref_audio": voice},
            vary={"gen_text": ["one", "two", "three"]},
            client=client,
            progress=False,
        )
        refs = {t.input["ref_audio"] for t in tasks}
        assert len(refs) == 1 and next(iter(refs)).startswith("data:audio/wav;base64,")


def test_a_grid_over_budget_creates_nothing(tmp_path: Path) -> None:
    big = tmp_path / "clip.mp4"
    from .media import mp4_bytes

    big.write_bytes(mp4_bytes(20) + bytes(2 * 1024 * 1024))  # would be uploaded
    with Sandbox(preset="instant") as sb:
        client = client_for(sb)
        with pytest.raises(OverBudgetError, match=r"\$0.0400, over the budget of \$0.0300"):
            submit_grid(big, ["a", "b", "c", "d"], client=client, max_cost_usd=0.03)
        with pytest.raises(OverBudgetError):
            submit_grid(
                model="diffrhythm",
                vary={"style_prompt": ["a", "b"]},
                client=client,
                max_cost_usd=0.039,
            )
        assert sb.requests["create"] == sb.requests["upload"] == sb.requests["history"] == 0
        tasks = submit_grid(
            model="diffrhythm", vary={"style_prompt": ["a", "b"]}, client=client, max_cost_usd=0.04
        )
        assert len(tasks) == 2
