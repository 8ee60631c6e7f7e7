"""An exported listening test in Chromium, opened from ``file://`` with every other request
aborted (and counted): a rater completes each design with keys and the mouse, a reload
mid-test loses nothing, the downloaded result imports back into the board, and nothing that
identifies a card is in the file, the page, its storage or any request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qubico_nb.review_board import Review, review

from .helpers.boards import make_table
from .helpers.browser import bare_chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: What must never reach a rater: task ids, prompts, file names and folders.
SECRETS = ("secret", "rain on a tin roof", "seagulls", "p0s0", "p0s1", "p0s2", "/tmp/", "task-0")


browser = pytest.fixture(scope="module")(bare_chromium)


DEMO_VIDEO = (
    Path(__file__).resolve().parent.parent / "qubico_nb" / "sandbox" / "assets" / "demo.mp4"
)


def make_board(folder: Path, design: str, prompts: list[str], *, video: bool = False) -> Review:
    """A blind board of local WAVs (with the sandbox's demo video on every row if asked)."""
    table = make_table(folder, prompts, seconds=1.2)
    if not video:
        table = table.drop(columns=["video"])
    options: dict[str, Any] = {}
    if design == "mushra":
        table["ref"] = table.groupby("prompt")["local_path"].transform("first")
        options = {"reference": "ref", "anchors": ("lp3.5k",)}
    board = review(
        table,
        design=design,
        blind=True,
        store=folder / "verdicts.jsonl",
        rater="lead",
        **options,
    )
    assert board.wait(30)
    if video:
        board._video_bytes = lambda url: DEMO_VIDEO.read_bytes()  # type: ignore[method-assign]
    return board


class ExportedPage:
    """One exported page in its own browser context: the network off but for file://."""

    def __init__(self, browser: Any, path: Path, rater: str | None, scheme: str = "light") -> None:
        self.requests: list[str] = []
        self.context = browser.new_context(
            viewport={"width": 1100, "height": 800}, color_scheme=scheme, accept_downloads=True
        )
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        self.url = path.as_uri() + (f"?rater={rater}" if rater else "")
        self.page.goto(self.url)

    def _route(self, route: Any) -> None:
        self.requests.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    def start(self) -> None:
        self.page.click("#qnb-x-begin")
        self.page.wait_for_selector("#qnb-x-trial:not([hidden]) .qnb-rv-card")

    def trial(self) -> dict[str, Any]:
        return self.page.evaluate(
            "() => { const t = qnbTest.trials[qnbTest.at];"
            " return {id: t.id, training: t.training, cards: t.cards.map((c) => c.view),"
            " reference: t.reference && t.reference.view}; }"
        )

    def playing(self) -> bool:
        return bool(
            self.page.evaluate("() => [...qnbTest.view.rowViews.values()][0].transport.playing")
        )

    def hear(self, index: int, key: str) -> None:
        """Select the card by its digit (or R) and play it from the start until it counts as
        heard (again if it ended first, as a rater would), then pause."""
        self.page.locator(".qnb-rv").focus()
        self.page.keyboard.press(key)
        for _ in range(20):
            if self.page.evaluate("(n) => qnbTest.heard.size >= n", index):
                break
            if not self.playing():
                self.page.keyboard.press("Home")
                self.page.keyboard.press("Space")
            self.page.wait_for_timeout(100)
        assert self.page.evaluate("(n) => qnbTest.heard.size >= n", index)
        if self.playing():
            self.page.keyboard.press("Space")

    def hear_all(self) -> None:
        self.page.wait_for_function(  # every card's audio has arrived
            "() => !document.querySelector('.qnb-rv-card:not(.qnb-rv-loaded)')", timeout=10_000
        )
        trial = self.trial()
        heard = self.page.evaluate("() => qnbTest.heard.size")
        keys = (["r"] if trial["reference"] else []) + [
            str(i + 1) for i in range(len(trial["cards"]))
        ]
        for key in keys:
            heard += 1
            self.hear(heard, key)

    def close(self) -> None:
        self.context.close()


def answer(page: ExportedPage, design: str, by_mouse: bool) -> None:
    """Rate every card of the open trial (or choose in a pair)."""
    trial = page.trial()
    if design == "pairwise":
        if by_mouse:
            page.page.click("button.qnb-rv-choose[data-choice='b']")
        else:
            page.page.locator(".qnb-rv").focus()
            page.page.keyboard.press("a")
        return
    for number, _ in enumerate(trial["cards"]):
        if by_mouse and design == "score":
            page.page.locator(".qnb-rv-card").nth(number).locator(
                "button.qnb-rv-score[data-score='4']"
            ).click()
        else:
            page.page.locator(".qnb-rv").focus()
            page.page.keyboard.press(str(number + 1))
            page.page.keyboard.press(f"Shift+{(number % 5) + 3}")


def go_on(page: ExportedPage, by_mouse: bool) -> None:
    page.page.wait_for_selector("#qnb-x-next:not([disabled])")
    if by_mouse:
        page.page.click("#qnb-x-next")
    else:
        page.page.locator(".qnb-rv").focus()
        page.page.keyboard.press("Enter")


@pytest.mark.parametrize(
    ("design", "prompts"),
    [
        ("score", ["rain on a tin roof", "seagulls over waves"]),
        ("mushra", ["rain on a tin roof"]),
        ("pairwise", ["rain on a tin roof"]),
    ],
)
def test_a_rater_completes_the_test_and_the_result_imports(
    browser: Any, tmp_path: Path, design: str, prompts: list[str]
) -> None:
    board = make_board(tmp_path, design, prompts)
    path = board.export_html(
        tmp_path / "test.html", instructions="Listen, then rate.", training=True
    )
    text = path.read_text("utf-8")
    for secret in SECRETS:
        assert secret not in text, secret
    page = ExportedPage(browser, path, rater=None)
    try:
        assert page.page.is_disabled("#qnb-x-begin")
        page.page.fill("#qnb-x-name", "Ann Example")
        page.start()
        assert page.trial()["training"]
        assert page.page.is_disabled("#qnb-x-next")  # nothing heard yet
        trials = page.page.evaluate("() => qnbTest.trials.length")
        for number in range(trials):
            by_mouse = number % 2 == 1
            page.hear_all()
            if number == 1:  # a reload mid-test loses nothing
                answer(page, design, by_mouse)
                page.page.wait_for_selector("#qnb-x-next:not([disabled])")
                before = page.page.evaluate("() => JSON.stringify(qnbTest.store.data.trials)")
                page.page.reload()
                page.page.fill("#qnb-x-name", "Ann Example")
                assert page.page.inner_text("#qnb-x-begin") == "Continue"
                page.start()
                assert page.page.evaluate("() => qnbTest.at") == 1
                assert (
                    page.page.evaluate("() => JSON.stringify(qnbTest.store.data.trials)") == before
                )
                assert page.page.is_enabled("#qnb-x-next")
            else:
                assert page.page.is_disabled("#qnb-x-next")  # heard, not yet rated
                answer(page, design, by_mouse)
            with page.page.expect_download() if number == trials - 1 else _nothing() as download:
                go_on(page, by_mouse)
        page.page.wait_for_selector("#qnb-x-done:not([hidden])")
        saved = tmp_path / "results" / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == f"{board.test_id}-Ann_Example.json"
        dom = page.page.content()
        storage = page.page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
        for secret in SECRETS:
            assert secret not in dom and secret not in storage, secret
        assert page.requests == [page.url] * 2  # the file itself, and its reload: nothing else
        assert page.errors == []
    finally:
        page.close()
    result = json.loads(saved.read_text("utf-8"))
    assert result["rater"] == "Ann Example" and result["test"] == board.test_id
    summary = board.import_verdicts(saved.parent)
    assert list(summary["status"]) == ["imported"]
    got = board.verdicts
    ann = got[got["rater"] == "Ann Example"]
    assert (ann["test"] == board.test_id).all() and ann["blind"].all()
    rated = {c.task_id for c in board._cards.values() if c.rated}
    assert set(ann["task_id"]) == rated
    if design == "pairwise":
        pairs = sum(len(v.get("pairs", {})) for v in ann["answers"]) // 2
        assert pairs == 3  # every pair of three cards once
    else:
        assert ann["score"].notna().all() and ann["position"].notna().all()
    assert any(r["rater"] == "Ann Example" for r in board.raters)
    again = board.import_verdicts([saved])
    assert list(again["status"]) == ["already imported"]
    board.close()


class _nothing:
    value: Any = None

    def __enter__(self) -> _nothing:
        return self

    def __exit__(self, *args: Any) -> None:
        return None


def test_the_rater_comes_from_the_url_and_light_and_dark_draw(browser: Any, tmp_path: Path) -> None:
    board = make_board(tmp_path, "score", ["rain on a tin roof"], video=True)
    path = board.export_html(tmp_path / "test.html")
    for scheme in ("light", "dark"):
        page = ExportedPage(browser, path, rater="PROLIFIC_123", scheme=scheme)
        try:
            assert page.page.input_value("#qnb-x-name") == "PROLIFIC_123"
            assert page.page.is_enabled("#qnb-x-begin")
            page.start()
            background = page.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
            assert (background == "rgb(18, 18, 18)") == (scheme == "dark")
            assert page.page.inner_text("#qnb-x-progress") == "1 of 1"
            page.page.wait_for_selector("video.qnb-rv-video[src^='blob:']")  # from the file
            assert not page.page.locator(".qnb-rv-reveal").count()
            assert page.errors == []
        finally:
            page.close()
    board.close()


def test_a_submit_url_gets_the_result_and_nothing_else(browser: Any, tmp_path: Path) -> None:
    board = make_board(tmp_path, "pairwise", ["rain on a tin roof"])
    url = "https://listening.example.org/submit"
    path = board.export_html(tmp_path / "test.html", submit_url=url)
    # the name is normalised as import does: NFKC, no zero-width or control characters, stripped
    page = ExportedPage(browser, path, rater="%20%EF%BD%82%E2%80%8Bo%07%20")
    posted: list[dict[str, Any]] = []

    def receive(route: Any) -> None:
        page.requests.append(route.request.url)
        posted.append(json.loads(route.request.post_data))
        route.fulfill(status=200, headers={"Access-Control-Allow-Origin": "*"}, body="ok")

    page.context.route(url, receive)
    try:
        page.start()
        for _ in range(3):
            page.hear_all()
            answer(page, "pairwise", by_mouse=True)
            go_on(page, by_mouse=True)
        page.page.wait_for_function(
            "() => /were sent/.test(document.getElementById('qnb-x-sent').textContent)"
        )
        assert page.requests == [page.url, url]
        assert posted[0]["rater"] == "bo" and len(posted[0]["trials"]) == 3
    finally:
        page.close()
    board.close()
    assert isinstance(pd.DataFrame(posted), pd.DataFrame)
