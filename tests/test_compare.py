"""compare: a grid keyed by any column, players that preload nothing, local and embedded files,
rows that are not audio yet, URLs that must not be played, and labels a person can read."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qubico_nb import (
    InvalidRequestError,
    Task,
    TaskViewer,
    _hosts,
    compare,
    download,
    playback,
    tabulate_tasks,
)
from qubico_nb.frames import FetchFailure, tasks_to_frame
from qubico_nb.sandbox import FAIL_TRIGGER, Sandbox

from .helpers.browser import ARGS, CHROMIUM, require_browser
from .helpers.hosts import hub, plain_machine
from .helpers.html import Elements, assert_clean
from .helpers.sandbox import VIDEO, client_for


@pytest.fixture
def table():
    with Sandbox(preset="instant", audio_seconds=0.2) as sb:
        client = client_for(sb)
        tasks = [
            client.generate_audio(VIDEO, p, seed=s, steps=st)
            for p in ("rain", "birds")
            for s in (1, 2)
            for st in (20, 40)
        ]
        yield client, tabulate_tasks(tasks, client=client, progress=False)


def test_grid_by_prompt_across_seed(table) -> None:
    _, frame = table
    comparison = compare(frame, by="prompt", across="seed")
    markup = comparison._repr_html_()
    assert markup.count("<tr>") == 3  # header + two prompts
    assert markup.count("<audio") == 8  # two steps per cell
    assert markup.count('preload="none"') == 8
    assert "rain" in repr(comparison) and "Comparison(by='prompt'" in repr(comparison)


def test_any_column_and_unknown_columns(table) -> None:
    _, frame = table
    assert compare(frame, by="seed", across="steps").to_html().count("<tr>") == 3
    with pytest.raises(InvalidRequestError, match="no column 'colour'"):
        compare(frame, by="colour")


def test_local_copies_and_capped_embedding(table, tmp_path: Path, monkeypatch) -> None:
    client, frame = table
    monkeypatch.chdir(tmp_path)
    saved = download(frame, "keep", client=client, progress=False)
    local = compare(saved).to_html()
    assert 'src="keep/' in local and "http://127.0.0.1" not in local.split("<audio")[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embedded = compare(saved, embed=True).to_html()
    assert embedded.count("data:audio/wav;base64,") == 8
    with pytest.warns(UserWarning, match="embedded files up to 0.05 MB"):
        capped = compare(saved, embed=True, embed_limit_mb=0.05).to_html()
    assert 0 < capped.count("data:audio/wav;base64,") < 8


def test_compare_from_ids(table) -> None:
    client, frame = table
    comparison = compare(list(frame["task_id"]), client=client)
    assert len(comparison.frame) == 8


def test_local_copies_outside_the_notebook_folder_are_embedded(
    table, tmp_path: Path, monkeypatch
) -> None:
    """The server cannot serve them by path, and the copy is what was asked for (URLs expire)."""
    client, frame = table
    saved = download(frame, tmp_path / "elsewhere", client=client, progress=False)
    monkeypatch.chdir(Path(__file__).parent)  # the kernel's folder is not above the files
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        markup = compare(saved).to_html()
    assert markup.count('src="data:audio/wav;base64,') == 8 and "127.0.0.1" not in markup


# -- rows that are not (yet) audio, odd URLs, readable labels ---------------------------------


def test_pending_failed_and_unknown_ids_never_crash_the_grid() -> None:
    with (
        Sandbox(preset="realistic", audio_seconds=0.2) as slow,
        Sandbox(preset="instant", audio_seconds=0.2) as quick,
    ):
        waiting_client, done_client = client_for(slow), client_for(quick)
        waiting = [waiting_client.generate_audio(VIDEO, "rain", seed=s) for s in (1, 2)]
        done = [
            done_client.generate_audio(VIDEO, "birds", seed=1),
            done_client.generate_audio(f"{VIDEO}?{FAIL_TRIGGER}", "birds", seed=2),
        ]
        frame = pd.concat(
            [
                tabulate_tasks([t.id for t in waiting], client=waiting_client, progress=False),
                tabulate_tasks(
                    [t.id for t in done] + ["no-such-task"], client=done_client, progress=False
                ),
            ],
            ignore_index=True,
        )
        assert frame["status"].tolist()[:2] == ["pending", "pending"]
        comparison = compare(frame, client=done_client)
        markup = comparison.to_html()
    assert markup.count("pending: no audio yet") == 2
    assert "failed: failed to get valid video" in markup and markup.count("<audio") == 1
    # The bad id is listed under the grid; it adds neither a row nor a column.
    assert markup.count("<tr>") == 3 and markup.count('<th scope="col">') == 2
    assert "could not show: <code>no-such-task</code>" in markup.split("</table>")[1]
    assert list(comparison.failed["task_id"]) == ["no-such-task"]
    assert "1 could not be shown" in repr(comparison)


def test_work_frames_from_tabulate_tasks(table) -> None:
    client, frame = table
    works = tabulate_tasks(list(frame["task_id"]), client=client, per="work", progress=False)
    assert compare(works).to_html().count("<audio") == 8


def test_labels_say_what_they_are_and_nothing_repeats(table) -> None:
    _, frame = table
    markup = compare(frame).to_html()
    assert '<th scope="col">seed = 1</th>' in markup
    assert '<th scope="row">prompt = rain</th>' in markup
    assert "<caption>every task: duration = 0.2 s</caption>" in markup  # shared: said once
    cells = markup.split("</thead>")[1]
    assert ">rain<" not in cells and "prompt" not in cells.replace('scope="row">prompt', "")
    assert cells.count('<div class="qnb-facts">steps = 20</div>') == 4
    assert "duration" not in cells
    assert 'aria-label="audio: rain, seed 1, steps 20"' in cells


def relative_frame(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The frame as a server behind a path prefix would send it: relative file URLs."""
    out = frame.copy()
    out["audio_url"] = out["audio_url"].str.replace(r"^http://[^/]+", prefix, regex=True)
    return out


def test_relative_urls_resolve_against_the_client_or_are_shown_as_text(table, monkeypatch) -> None:
    client, frame = table
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    relative = relative_frame(frame, "")
    assert relative["audio_url"].str.startswith("/temp/").all()
    resolved = compare(relative, client=client).to_html()
    assert resolved.count(f'src="{client.base_url}/temp/') == 8
    assert compare(relative, base_url=client.base_url).to_html().count("<audio") == 8
    shown = compare(relative).to_html()  # no base known: the URL is text, never a src
    assert "<audio" not in shown and shown.count("pass client= or base_url=") == 8
    # On JupyterHub the sandbox's proxied URLs are meant for the page, not the API's host.
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ann/")
    monkeypatch.setenv("QUBICO_NB_HUB_PROXY", "1")  # whether or not jupyter-server-proxy is here
    hub = compare(relative_frame(frame, "/user/ann/proxy/8765"), client=client).to_html()
    assert hub.count('src="/user/ann/proxy/8765/temp/') == 8


def test_odd_urls_from_the_server_are_text(table) -> None:
    client, frame = table
    odd = frame.copy()
    odd["audio_url"] = [
        "javascript:alert(1)",
        "//evil.example/x.wav",
        "\\\\evil\\x.wav",
        "https://a/x\x07.wav",
        "data:text/html,<script>x</script>",
        "data:audio/wav;base64,UklGRg==",
        pd.NA,
        "https://ok.example/a.wav",
    ]
    markup = compare(odd, client=client).to_html()
    assert markup.count("<audio") == 1 and 'src="https://ok.example/a.wav"' in markup
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert "javascript:alert(1)</code>" in markup


def test_embed_without_local_copies_says_what_to_do(table) -> None:
    _, frame = table
    with pytest.warns(UserWarning, match=r"run download\(table\) first"):
        markup = compare(frame, embed=True).to_html()
    assert "then compare(downloaded_table, embed=True)" in markup.split("</table>")[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "download(" not in compare(frame).to_html()


def test_waveform_thumbnails_once_analyzed(table) -> None:
    _, frame = table
    analyzed = frame.copy()
    analyzed["peaks"] = [np.tile(np.array([[-90, 80]], dtype=np.int8), (150, 1))] * 7 + [None]
    markup = compare(analyzed).to_html()
    assert markup.count("<svg") == 7 and 'role="img"' in markup
    assert "<svg" not in compare(analyzed, thumbnails=False).to_html()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "<svg" not in compare(frame).to_html()  # not analyzed: no thumbnails, no fuss
    with pytest.warns(UserWarning, match=r"run qubico_nb.analyze\(table\) first"):
        compare(frame, thumbnails=True)


def test_bytes_per_task_stay_small() -> None:
    """The grid for 1000 tasks costs no more bytes per task than before this round (429)."""
    tasks = [
        Task.from_dict(
            {
                "task_id": f"task-{i:06d}-aaaa-bbbb",
                "status": "completed",
                "input": {
                    "prompt": f"waves crashing on rocks, gulls, take {i // 10}",
                    "seed": i % 10,
                    "steps": 25 + i % 2,
                },
                "output": {"audio_url": f"https://cdn.example.com/files/2026/11/task-{i:06d}.wav"},
            }
        )
        for i in range(1000)
    ]
    markup = compare(tasks_to_frame(tasks)).to_html()
    assert markup.count("<audio") == 1000
    assert len(markup.encode()) / 1000 < 300


def test_grid_reads_each_column_once_not_once_per_cell(monkeypatch) -> None:
    """The speed rule without a clock: no iterrows, no pandas filter per cell."""
    tasks = [
        Task.from_dict(
            {
                "task_id": f"t{i}",
                "status": "completed",
                "input": {"prompt": f"p{i // 10}", "seed": i % 10, "steps": 25},
                "output": {"audio_url": f"https://cdn/{i}.wav"},
            }
        )
        for i in range(300)
    ]
    frame = tasks_to_frame(tasks)
    lookups = 0
    getitem = pd.DataFrame.__getitem__

    def counted(self: pd.DataFrame, key: object) -> object:
        nonlocal lookups
        lookups += 1
        return getitem(self, key)

    def refused(*_: object, **__: object) -> None:
        raise AssertionError("iterrows is slow: read columns once instead")

    monkeypatch.setattr(pd.DataFrame, "__getitem__", counted)
    monkeypatch.setattr(pd.DataFrame, "iterrows", refused)
    assert compare(frame).to_html().count("<audio") == 300
    assert lookups <= 2 * len(frame.columns)  # per column, whatever the number of cells


# -- in a real browser: JupyterLab's own theme variables, every text node's contrast -----------

CONTRAST_JS = """() => {
  const rgba = (text) => { const n = text.match(/[\\d.]+/g).map(Number);
                           return [n[0], n[1], n[2], n.length > 3 ? n[3] : 1]; };
  const lum = ([r, g, b]) => [r, g, b].map((c) => { c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); })
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const page = rgba(getComputedStyle(document.body).backgroundColor);
  const found = [];
  const walker = document.createTreeWalker(document.querySelector('.qnb-card'),
                                           NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const [r, g, b, a] = rgba(getComputedStyle(node.parentElement).color);
    const mixed = [r * a + page[0] * (1 - a), g * a + page[1] * (1 - a), b * a + page[2] * (1 - a)];
    const [hi, lo] = [lum(mixed), lum(page)].sort((x, y) => y - x);
    found.push({text: node.textContent.trim().slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05)});
  }
  return found;
}"""


@pytest.mark.slow
@pytest.mark.browser
def test_grid_text_contrast_and_names_in_chromium_light_and_dark() -> None:
    require_browser("jupyterlab")
    from playwright.sync_api import sync_playwright

    spec = importlib.util.find_spec("jupyterlab")
    themes = Path(str(spec and spec.origin)).parent / "themes" / "@jupyterlab"
    tasks = [
        Task.from_dict(
            {
                "task_id": f"t{s}",
                "status": status,
                "input": {"prompt": "rain", "seed": s, "steps": 20 + s},
                "error": error,
                "output": {"audio_url": f"http://127.0.0.1:9/{s}.wav"}
                if status == "completed"
                else None,
            }
        )
        for s, status, error in (
            (1, "completed", None),
            (2, "pending", None),
            (3, "failed", {"message": "failed to get valid video"}),
        )
    ]
    frame = tasks_to_frame([*tasks, FetchFailure("no-such-task", "task not found (404)")])
    frame["audio_url"] = frame["audio_url"].astype(object)
    frame.loc[2, "audio_url"] = "javascript:alert(1)"
    markup = compare(frame).to_html()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.abort())  # nothing leaves the machine
            for theme in ("light", "dark"):
                variables = (themes / f"theme-{theme}-extension" / "index.css").read_text()
                for layout in ("--jp-layout-color0", "--jp-layout-color1"):
                    page.set_content(
                        f"<style>{variables} body{{background:var({layout});"
                        f"color:var(--jp-content-font-color1)}}</style>{markup}"
                    )
                    texts = page.evaluate(CONTRAST_JS)
                    assert len(texts) >= 10
                    low = [t for t in texts if t["ratio"] < 4.5]
                    assert not low, (theme, layout, low)
            names = page.eval_on_selector_all("audio", "els => els.map(e => e.ariaLabel)")
            assert names == ["audio: rain, seed 1, steps 21"]
            # Negative control, still in the dark theme: the old fixed grey is caught.
            page.set_content(
                f"<style>{variables} body{{background:var(--jp-layout-color0)}}"
                '</style><div class="qnb-card"><span style="color:#555">old grey'
                "</span></div>"
            )
            assert page.evaluate(CONTRAST_JS)[0]["ratio"] < 4.5
        finally:
            browser.close()


# -- every host: local copies and loopback files where the browser cannot load them ----------


@pytest.fixture
def plain_host(monkeypatch):
    """A plain machine, with no warning given yet."""
    plain_machine(monkeypatch)
    return monkeypatch


@pytest.mark.parametrize("host_env", ["VOILA_KERNEL_ID", "VSCODE_PID"])
def test_local_copies_are_embedded_where_the_host_serves_no_files(
    table, tmp_path: Path, plain_host, host_env
) -> None:
    client, frame = table
    plain_host.chdir(tmp_path)
    saved = download(frame, "keep", client=client, progress=False)
    plain_host.setenv(host_env, "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        markup = compare(saved).to_html()
    assert markup.count('src="data:audio/wav;base64,') == 8 and 'src="keep/' not in markup


def test_one_embedding_budget_for_the_grid(table, tmp_path: Path, plain_host) -> None:
    client, frame = table
    plain_host.chdir(tmp_path)
    saved = download(frame, "keep", client=client, progress=False)
    plain_host.setenv("VOILA_KERNEL_ID", "1")
    size = Path(saved["local_path"].iloc[0]).stat().st_size
    plain_host.setattr(playback, "EMBED_LIMIT_BYTES", 3 * size)  # the one cap, shared
    with pytest.warns(UserWarning, match="5 more play from their URLs"):
        markup = compare(saved).to_html()
    assert markup.count('src="data:audio/wav;base64,') == 3


@pytest.mark.parametrize("relative", [False, True])
def test_a_hub_without_server_proxy_embeds_loopback_audio_with_one_warning(
    table, plain_host, relative: bool
) -> None:
    client, frame = table
    hub(plain_host, proxy=False)
    shown = relative_frame(frame, "") if relative else frame
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        markup = compare(shown, client=client).to_html()
        compare(shown, client=client)
        TaskViewer(str(frame["task_id"].iloc[0]), client=client).close()  # said once, by either
    assert [str(w.message) for w in caught] == [_hosts.LOOPBACK_EMBED_WARNING]
    assert markup.count('src="data:audio/wav;base64,') == 8
    assert client.base_url not in markup


def test_a_hub_with_server_proxy_plays_loopback_audio_through_it(table, plain_host) -> None:
    client, frame = table
    hub(plain_host, proxy=True)
    port = client.base_url.rsplit(":", 1)[1]
    comparison = compare(frame, client=client)
    markup = comparison.to_html()
    assert markup.count(f'src="/user/ada/proxy/{port}/temp/') == 8 and "base64" not in markup
    assert comparison.frame["audio_url"].equals(frame["audio_url"])  # the data is unchanged


# -- every model -----------------------------------------------------------------------------

from qubico_nb import wait_all  # noqa: E402

from .helpers.outputs import OTHER_MODELS, STYLE, one_task_per_model  # noqa: E402


def test_the_same_prompt_through_every_model_side_by_side() -> None:
    with Sandbox(preset="instant", audio_seconds=0.2) as sb:
        client = client_for(sb)
        tasks = wait_all(one_task_per_model(client, VIDEO), client=client, progress=False)
        table = tabulate_tasks(tasks, client=client, progress=False)
        markup = compare(table, by="prompt", across="model").to_html()
    parsed = Elements(markup)
    assert markup.count("<tr>") == 3  # the header, the shared style prompt, the TTS text
    assert markup.count("<audio") == 4
    for model in ("Qubico/ace-step", "Qubico/diffrhythm", "Qubico/mmaudio", "Qubico/tts"):
        assert f"model = {model}" in parsed.visible_text()
    assert f"prompt = {STYLE}" in parsed.visible_text()


def test_tasks_of_other_models_show_their_files_in_the_grid() -> None:
    table = tasks_to_frame([task for _, task, _ in OTHER_MODELS])
    markup = compare(table, by="model", across="task_type").to_html()
    assert_clean(markup)
    assert markup.count("<img") == 3 and markup.count("<video") == 2
    assert markup.count('target="_blank"') == 1 and "<audio" not in markup
    assert "data:image/png;base64," in markup
