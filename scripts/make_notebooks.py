"""Write notebooks/*.ipynb from the cell sources below (clean: no outputs, no widget state).

Run `python scripts/make_notebooks.py` after editing; the test suite checks they are in sync.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent

QUICKSTART = [
    new_markdown_cell(
        "# qubico-nb quickstart\n\n"
        "Make a sound effect for a video with MMAudio, watch the task run, and listen to it.\n\n"
        "With `QUBICO_API_KEY` set this talks to the live Qubico API; without it, `connect()` "
        "starts a local **sandbox** that speaks the same API and synthesizes the audio, "
        "so this notebook runs anywhere, Binder included. `connect(sandbox=True)` uses the "
        "sandbox even when a key is set."),
    new_code_cell(
        "import os\n"
        "from qubico_nb import TaskViewer, connect, tabulate_tasks\n\n"
        "client = connect()\n"
        "# A public MP4 of yours for the live API; the sandbox accepts any URL.\n"
        "VIDEO = os.environ.get('QUBICO_DEMO_VIDEO', 'https://example.com/clips/beach.mp4')"),
    new_markdown_cell(
        "## Create a task and follow it\n\n"
        "`TaskViewer` fetches the task, shows its metadata, and keeps polling in the background "
        "until it ends; the player appears when the audio is ready. Press **Fetch** to refresh, "
        "or paste another task id."),
    new_code_cell(
        "task = client.generate_audio(VIDEO, 'waves crashing on a beach, seagulls',\n"
        "                             negative_prompt='music', seed=1)\n"
        "viewer = TaskViewer(task.id, client=client)\n"
        "viewer"),
    new_markdown_cell("## Wait in code instead\n\n`client.wait` polls until the task is done "
                      "(bounded by `timeout`)."),
    new_code_cell(
        "done = client.wait(task, timeout=300)\n"
        "print(done.status, done.ran_s, done.audio.url if done.audio else None)"),
    new_markdown_cell("## A small table\n\nA few more tasks, then one DataFrame of all of them."),
    new_code_cell(
        "more = [client.generate_audio(VIDEO, p, seed=7) for p in\n"
        "        ['rain on a tin roof', 'a car engine idling', 'footsteps in a hall']]\n"
        "more = [client.wait(t, timeout=300) for t in more]\n"
        "table = tabulate_tasks([done, *more], client=client)\n"
        "table[['task_id', 'status', 'prompt', 'seed', 'ran_s', 'cost_usd', 'audio_url']]"),
    new_markdown_cell("## Everything you made lately\n\n`client.history()` pages through your "
                      "past tasks lazily, newest first; take as many as you want to see."),
    new_code_cell(
        "from itertools import islice\n\n"
        "recent = tabulate_tasks(islice(client.history(model='mmaudio'), 50), client=client)\n"
        "recent[['created_at', 'status', 'prompt', 'seed', 'cost_usd']].head(10)"),
]

COMPARE = [
    new_markdown_cell(
        "# Compare batches of generations\n\n"
        "Submit a grid of prompts x seeds for one video, wait for all of it, put it in a table, "
        "listen to it side by side, and download what you want to keep (output URLs expire).\n\n"
        "Uses the live API when `QUBICO_API_KEY` is set, otherwise a local sandbox."),
    new_code_cell(
        "import os\n"
        "from qubico_nb import (compare, connect, download, submit_grid, tabulate_tasks,\n"
        "                       wait_all)\n\n"
        "client = connect()\n"
        "VIDEO = os.environ.get('QUBICO_DEMO_VIDEO', 'https://example.com/clips/beach.mp4')"),
    new_markdown_cell("## Submit a grid\n\nEvery cell is checked before the first is sent; "
                      "when the plan's concurrency limit is reached, submission waits."),
    new_code_cell(
        "prompts = ['rain on a tin roof', 'birds at dawn', 'a truck engine idling']\n"
        "tasks = submit_grid(VIDEO, prompts, seeds=[1, 2, 3], negative_prompt='music',\n"
        "                    client=client)\n"
        "len(tasks)"),
    new_code_cell("tasks = wait_all(tasks, client=client, timeout=600)"),
    new_markdown_cell("## One table"),
    new_code_cell(
        "table = tabulate_tasks(tasks, client=client)\n"
        "table[['prompt', 'seed', 'status', 'ran_s', 'cost_usd']]"),
    new_markdown_cell("## Listen side by side\n\nOne row per prompt, one column per seed. "
                      "Nothing downloads until you press play."),
    new_code_cell("compare(table, by='prompt', across='seed')"),
    new_markdown_cell("## Keep what you like\n\nFiles are saved atomically; running this again "
                      "skips what is already there."),
    new_code_cell(
        "saved = download(table, 'downloads', client=client)\n"
        "saved[['task_id', 'local_path', 'download_error']]"),
]


def build(cells: list) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"},
        "language_info": {"name": "python"},
    }
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
    return notebook


NOTEBOOKS = {"quickstart.ipynb": QUICKSTART, "compare-batches.ipynb": COMPARE}


def main() -> int:
    folder = ROOT / "notebooks"
    folder.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), folder / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
