"""The demo notebooks: committed clean, in sync with their source, and runnable headless."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from qubico_nb.sandbox import Sandbox

from .helpers.sandbox import KEY

if TYPE_CHECKING:  # nbformat is imported where it is used: it takes seconds (jsonschema's
    import nbformat  # format checkers), and every test run would pay them at collection

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: An executed notebook must stay small: players link to files, they never embed them.
MAX_EXECUTED_BYTES = 200_000


def test_notebooks_are_committed_clean() -> None:
    assert {p.name for p in NOTEBOOKS} == {
        "quickstart.ipynb",
        "compare-batches.ipynb",
        "review.ipynb",
        "models.ipynb",
        "listening-test.ipynb",
    }
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        assert "widgets" not in notebook["metadata"], path.name
        for cell in notebook["cells"]:
            assert not cell.get("outputs") and not cell.get("execution_count"), path.name


def test_notebooks_match_their_source() -> None:
    import nbformat

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_notebooks
    finally:
        sys.path.pop(0)
    for name, cells in make_notebooks.NOTEBOOKS.items():
        built = make_notebooks.build(cells)
        on_disk = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        assert [c.source for c in on_disk.cells] == [c.source for c in built.cells], (
            f"{name} is out of date: run python scripts/make_notebooks.py"
        )


def execute(
    path: Path, workdir: Path, then: str | None = None
) -> tuple[nbformat.NotebookNode, Path]:
    """Run a copy of the notebook in a fresh kernel (`then`: one more cell at the end)."""
    import nbformat
    from nbclient import NotebookClient

    copy = workdir / path.name
    shutil.copy(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    if then is not None:
        notebook.cells.append(nbformat.v4.new_code_cell(then))
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()
    nbformat.write(notebook, copy)
    return notebook, copy


def execute_in_a_sandbox(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[nbformat.NotebookNode, Path]:
    """`execute` with no live key or server in the environment (the notebook starts its own
    sandbox) and a private file cache."""
    for name in ("QUBICO_API_KEY", "PIAPI_API_KEY", "QUBICO_BASE_URL", "QUBICO_SANDBOX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUBICO_NB_CACHE_DIR", str(tmp_path / "cache"))
    return execute(path, tmp_path)


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells])


@pytest.mark.slow
def test_quickstart_runs_against_an_embedded_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("QUBICO_API_KEY", "PIAPI_API_KEY", "QUBICO_BASE_URL", "QUBICO_SANDBOX_URL"):
        monkeypatch.delenv(name, raising=False)
    notebook, saved = execute(ROOT / "notebooks" / "quickstart.ipynb", tmp_path)
    text = outputs_text(notebook)
    assert "using a local sandbox" in text
    assert "application/vnd.jupyter.widget-view+json" in text  # the viewer
    assert "completed" in text and "cost_usd" in text
    assert saved.stat().st_size < MAX_EXECUTED_BYTES


@pytest.mark.slow
def test_compare_batches_runs_and_never_saves_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(api_key=KEY, preset="fast") as sb:
        monkeypatch.delenv("QUBICO_SANDBOX_URL", raising=False)
        monkeypatch.setenv("QUBICO_API_KEY", KEY)
        # a server on this machine never gets the live key from the environment: the sandbox's
        # own variable carries it (the same secret, so the saved file is checked for it below)
        monkeypatch.setenv("QUBICO_SANDBOX_API_KEY", KEY)
        monkeypatch.setenv("QUBICO_BASE_URL", sb.url)
        notebook, saved = execute(ROOT / "notebooks" / "compare-batches.ipynb", tmp_path)
        assert sb.requests["create"] == 9
    text = outputs_text(notebook)
    assert "qnb-compare" in text and text.count("<audio") >= 18
    assert text.count("qnb-sync") == 9 and " ms " in text  # the grid ranked by offset
    assert len(list((tmp_path / "downloads").glob("*.wav"))) == 9
    assert KEY not in saved.read_text()
    assert saved.stat().st_size < MAX_EXECUTED_BYTES


#: The saved notebook's budget per review card: widget state and static HTML together.
MAX_REVIEW_BYTES_PER_CARD = 4096


def review_bytes_per_card(notebook: nbformat.NotebookNode) -> tuple[float, int]:
    """(saved bytes per card, cards) of the notebook's review board: the Review model's state,
    the models it references (its layout), and the static HTML saved with its output."""
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    ((model_id, model),) = [
        (k, m) for k, m in state.items() if m["state"].get("_anywidget_id", "").endswith(".Review")
    ]
    cards = sum(len(row["cards"]) for row in model["state"]["rows"])
    referenced = [m for k, m in state.items() if f"IPY_MODEL_{k}" in json.dumps(model)]
    static = [
        output["data"].get("text/html", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if model_id in json.dumps(output)
    ]
    total = sum(len(json.dumps(m)) for m in [model, *referenced]) + sum(
        len(json.dumps(html)) for html in static
    )
    return total / cards, cards


@pytest.mark.slow
def test_review_runs_blind_and_stays_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook, saved = execute_in_a_sandbox(
        ROOT / "notebooks" / "review.ipynb", tmp_path, monkeypatch
    )
    text = outputs_text(notebook)
    assert "qnb-rs" in text and "Row 1" in text  # the static view, blind
    assert "a steam train passing" in text  # the table shows prompts, the board does not
    board = [
        o for cell in notebook.cells for o in cell.get("outputs", []) if "qnb-rs" in json.dumps(o)
    ]
    assert board and "a steam train passing" not in json.dumps(board)
    per_card, cards = review_bytes_per_card(notebook)
    assert cards == 6
    assert per_card <= MAX_REVIEW_BYTES_PER_CARD, per_card
    assert "ci_low" in text and "best_share" in text  # the summary
    assert saved.stat().st_size < MAX_EXECUTED_BYTES


@pytest.mark.slow
def test_models_runs_both_music_models_side_by_side_within_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook, saved = execute_in_a_sandbox(
        ROOT / "notebooks" / "models.ipynb", tmp_path, monkeypatch
    )
    text = outputs_text(notebook)
    # the estimates, printed before anything was made, then the real costs beside them
    assert "$0.0450 for 3 Qubico/ace-step tasks" in text
    assert "$0.0600 for 3 Qubico/diffrhythm tasks" in text
    assert "estimated_usd" in text and "0.045" in text and "0.06" in text
    assert "Qubico/ace-step" in text and "Qubico/diffrhythm" in text
    assert "qnb-rs" in text and "qnb-compare" in text  # the board's static view, the grid
    per_card, cards = review_bytes_per_card(notebook)
    assert cards == 6 and per_card <= MAX_REVIEW_BYTES_PER_CARD
    assert saved.stat().st_size < MAX_EXECUTED_BYTES


#: Appended to the review notebook: what a person would check after Restart Kernel + Run All.
RERUN_PROBE = (
    "import json\n"
    "print('TASKS', json.dumps([t.id for t in tasks]))\n"
    "print('VERDICTS', json.dumps(sorted(board.verdicts['task_id'])))\n"
    "if not len(board.verdicts):\n"
    "    board.rate(tasks[0].id, score=4, rater='tester')  # as a click on the board would"
)


def _probe(notebook: nbformat.NotebookNode, label: str) -> list[str]:
    """The list the probe cell printed after `label`."""
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].get("outputs", []))
    (line,) = [t for t in printed.splitlines() if t.startswith(label + " ")]
    return list(json.loads(line[len(label) + 1 :]))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["demo-sandbox", "embedded-sandbox"])
def test_review_run_again_after_a_restart_makes_no_task_and_finds_its_verdicts(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20. Each run is a fresh kernel, as after Restart Kernel + Run All. The demo's
    sandbox outlives the kernels (`qubico-nb demo`); an embedded one (Binder) dies with each
    and the next one reads the tasks back from the cache folder, at another port."""
    for name in ("QUBICO_API_KEY", "PIAPI_API_KEY", "QUBICO_BASE_URL", "QUBICO_SANDBOX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUBICO_NB_CACHE_DIR", str(tmp_path / "cache"))
    demo = Sandbox(preset="fast").start() if backend == "demo-sandbox" else None
    try:
        if demo is not None:
            monkeypatch.setenv("QUBICO_SANDBOX_URL", demo.url)
        first, _ = execute(ROOT / "notebooks" / "review.ipynb", tmp_path, then=RERUN_PROBE)
        second, _ = execute(ROOT / "notebooks" / "review.ipynb", tmp_path, then=RERUN_PROBE)
    finally:
        if demo is not None:
            demo.stop()
    made = _probe(first, "TASKS")
    assert len(set(made)) == 6 and _probe(second, "TASKS") == made  # the same six tasks
    assert _probe(first, "VERDICTS") == [] and _probe(second, "VERDICTS") == [made[0]]
    assert "reused 6 of 6 tasks" in outputs_text(second)
    if demo is not None:
        assert demo.requests["create"] == 6
    else:
        journal = (tmp_path / "cache" / "sandbox-tasks.jsonl").read_text().splitlines()
        assert len(journal) == 6  # the second kernel's sandbox made none


@pytest.mark.slow
def test_listening_test_runs_the_whole_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook, saved = execute_in_a_sandbox(
        ROOT / "notebooks" / "listening-test.ipynb", tmp_path, monkeypatch
    )
    text = outputs_text(notebook)
    page = (tmp_path / "steps-test.html").read_text()
    assert "a steam train passing" in text and "a steam train passing" not in page  # blind
    assert len(list((tmp_path / "steps-test-results").glob("*.json"))) == 3
    assert "imported" in text or "rater-3" in text  # the import's summary
    assert "ci_low" in text and "mean_usd" in text  # the report, with costs
    assert "p_holm" in text and "alpha" in text and "excluded" in text
    assert "image/png" in text  # the plot, shown and saved
    assert (tmp_path / "steps-test.png").stat().st_size > 1000
    assert saved.stat().st_size < MAX_EXECUTED_BYTES
