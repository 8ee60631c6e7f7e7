"""Write notebooks/*.ipynb from the cell sources below (clean: no outputs, no widget state).

Run `python scripts/make_notebooks.py` after editing; the test suite checks they are in sync.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent

#: How every notebook picks its video: $QUBICO_DEMO_VIDEO if set, else the sandbox's own demo
#: clip (8 s, CC0, served at /assets/demo.mp4), else a placeholder the live API will reject.
VIDEO_CELL = (
    "# The sandbox serves a short demo clip; for the live API set QUBICO_DEMO_VIDEO to a\n"
    "# public MP4 URL of yours.\n"
    "VIDEO = os.environ.get('QUBICO_DEMO_VIDEO') or (\n"
    "    f'{client.base_url}/assets/demo.mp4' if client.is_sandbox\n"
    "    else 'https://example.com/clips/beach.mp4')"
)

QUICKSTART = [
    new_markdown_cell(
        "# qubico-nb quickstart\n\n"
        "Make a sound effect for a video with MMAudio, watch the task run, and listen to it.\n\n"
        "With `QUBICO_API_KEY` set this talks to the live Qubico API; without it, `connect()` "
        "starts a local **sandbox** that speaks the same API and synthesizes the audio, "
        "so this notebook runs anywhere, Binder included. `connect(sandbox=True)` uses the "
        "sandbox even when a key is set."
    ),
    new_code_cell(
        "import os\n"
        "from qubico_nb import TaskViewer, connect, submit_grid, tabulate_tasks, wait_all\n\n"
        "client = connect()\n" + VIDEO_CELL
    ),
    new_markdown_cell(
        "## Create a task and follow it\n\n"
        "`submit_grid` makes one task per prompt and seed; run the notebook again (even after a "
        "restart) and it finds the tasks made before from the same input instead of paying for "
        "new ones (`reuse=False` makes new ones; `client.generate_audio` always does).\n\n"
        "`TaskViewer` fetches the task, shows its metadata, and keeps polling in the background "
        "until it ends; the player appears when the audio is ready. Press **Fetch** to refresh, "
        "or paste another task id."
    ),
    new_code_cell(
        "(task,) = submit_grid(VIDEO, ['waves crashing on a beach, seagulls'], seeds=[1],\n"
        "                      negative_prompt='music', client=client, progress=False)\n"
        "viewer = TaskViewer(task.id, client=client)\n"
        "viewer"
    ),
    new_markdown_cell(
        "## Wait in code instead\n\n`client.wait` polls until the task is done "
        "(bounded by `timeout`)."
    ),
    new_code_cell(
        "done = client.wait(task, timeout=300)\n"
        "print(done.status, done.ran_s, done.audio.url if done.audio else None)"
    ),
    new_markdown_cell("## A small table\n\nA few more tasks, then one DataFrame of all of them."),
    new_code_cell(
        "prompts = ['rain on a tin roof', 'a car engine idling', 'footsteps in a hall']\n"
        "more = submit_grid(VIDEO, prompts, seeds=[7], client=client, progress=False)\n"
        "more = wait_all(more, client=client, timeout=300, progress=False)\n"
        "table = tabulate_tasks([done, *more], client=client)\n"
        "table[['task_id', 'status', 'prompt', 'seed', 'ran_s', 'cost_usd', 'audio_url']]"
    ),
    new_markdown_cell(
        "## Everything you made lately\n\n`client.history()` pages through your "
        "past tasks lazily, newest first; take as many as you want to see."
    ),
    new_code_cell(
        "from itertools import islice\n\n"
        "recent = tabulate_tasks(islice(client.history(model='mmaudio'), 50), client=client)\n"
        "recent[['created_at', 'status', 'prompt', 'seed', 'cost_usd']].head(10)"
    ),
]

COMPARE = [
    new_markdown_cell(
        "# Compare batches of generations\n\n"
        "Submit a grid of prompts x seeds for one video, wait for all of it, put it in a table, "
        "listen to it side by side, and download what you want to keep (output URLs expire).\n\n"
        "Uses the live API when `QUBICO_API_KEY` is set, otherwise a local sandbox."
    ),
    new_code_cell(
        "import os\n"
        "from qubico_nb import (compare, connect, download, submit_grid, tabulate_tasks,\n"
        "                       wait_all)\n\n"
        "client = connect()\n" + VIDEO_CELL
    ),
    new_markdown_cell(
        "## Submit a grid\n\nEvery cell is checked before the first is sent; "
        "when the plan's concurrency limit is reached, submission waits."
    ),
    new_code_cell(
        "prompts = ['rain on a tin roof', 'birds at dawn', 'a truck engine idling']\n"
        "tasks = submit_grid(VIDEO, prompts, seeds=[1, 2, 3], negative_prompt='music',\n"
        "                    client=client)\n"
        "len(tasks)"
    ),
    new_code_cell("tasks = wait_all(tasks, client=client, timeout=600)"),
    new_markdown_cell("## One table"),
    new_code_cell(
        "table = tabulate_tasks(tasks, client=client)\n"
        "table[['prompt', 'seed', 'status', 'ran_s', 'cost_usd']]"
    ),
    new_markdown_cell(
        "## Listen side by side\n\nOne row per prompt, one column per seed. "
        "Nothing downloads until you press play."
    ),
    new_code_cell("compare(table, by='prompt', across='seed')"),
    new_markdown_cell(
        "## Is it in sync?\n\n"
        "`analyze(table, video=True)` measures how late each sound lands on what happens in "
        "the video (`av_offset_s`, positive: late), with a confidence "
        "(`av_sync_confidence`; trust it from 0.3 up) or why it could not (`av_sync_error`). "
        "It is a flag for ranking the candidates made for one video, not a DeSync score; "
        "it needs PyAV (`pip install 'qubico-nb[video]'`). The sandbox shifts the sound of "
        "its demo clip by a different offset for each seed. Each row below: closest to in "
        "sync first."
    ),
    new_code_cell(
        "from qubico_nb.audio import analyze\n\n"
        "table = analyze(table, client=client, video=True, progress=False)\n"
        "by_prompt = table['av_offset_s'].abs().groupby(table['prompt'])\n"
        "table['sync_rank'] = by_prompt.rank(method='first').astype('Int64')\n"
        "ranked = table.sort_values('sync_rank', kind='stable')\n"
        "compare(ranked, by='prompt', across='sync_rank', columns=('seed',))"
    ),
    new_markdown_cell(
        "## Keep what you like\n\nFiles are saved atomically; running this again "
        "skips what is already there."
    ),
    new_code_cell(
        "saved = download(table, 'downloads', client=client)\n"
        "saved[['task_id', 'local_path', 'download_error']]"
    ),
]


REVIEW = [
    new_markdown_cell(
        "# Judge generations: a blind listening test\n\n"
        "Make a small grid of soundtracks for one video, measure them, then **judge** them on a "
        "review board: one row per prompt, one card per seed. The board plays the source video "
        "muted and in sync with the selected soundtrack; switching cards continues at the same "
        "sample with a short crossfade, so A/B comparisons are instant and exact. In blind mode "
        "the cards are only A, B, C (in a shuffled order) until you press **Reveal**, and every "
        "card plays at its row's median loudness (level matching), so louder is not better.\n\n"
        "Every verdict is saved at once to `listening-test.verdicts.jsonl` next to this "
        "notebook: run the notebook again (even after a restart) and your verdicts are back.\n\n"
        "Uses the live API when `QUBICO_API_KEY` is set, otherwise a local sandbox."
    ),
    new_code_cell(
        "import os\n"
        "from qubico_nb import connect, submit_grid, tabulate_tasks, wait_all\n"
        "from qubico_nb.audio import analyze\n"
        "from qubico_nb import review\n\n"
        "client = connect()\n" + VIDEO_CELL
    ),
    new_markdown_cell("## Make a small grid\n\nTwo prompts, three seeds each."),
    new_code_cell(
        "prompts = ['waves crashing on a beach, seagulls', 'a steam train passing']\n"
        "tasks = submit_grid(VIDEO, prompts, seeds=[1, 2, 3], negative_prompt='music',\n"
        "                    client=client, progress=False)\n"
        "tasks = wait_all(tasks, client=client, timeout=600, progress=False)\n"
        "table = tabulate_tasks(tasks, client=client, progress=False)"
    ),
    new_markdown_cell(
        "## Measure\n\nLoudness (ITU-R BS.1770), peak level, clipping and "
        "silence of each file, computed in the kernel."
    ),
    new_code_cell(
        "table = analyze(table, client=client, progress=False)\n"
        "table[['prompt', 'seed', 'lufs', 'peak_dbfs', 'clipped_fraction', 'silent_fraction']]"
        ".round({'lufs': 1, 'peak_dbfs': 1, 'clipped_fraction': 4, 'silent_fraction': 3})"
    ),
    new_markdown_cell(
        "## Judge, blind\n\n"
        "Click the board, then: **1-9** select a card, **Space** play/pause, **←/→** seek, "
        "**↑/↓** change rows, **Shift+1-5** score, **b** best in row, **n** note, "
        "**[** and **]** loop a passage (or drag across a waveform), **l** level matching, "
        "**s** spectrograms, **?** all keys. Everything is also a button."
    ),
    new_code_cell(
        "board = review(table, by='prompt', across='seed', blind=True, name='listening-test',\n"
        "               client=client)\n"
        "board"
    ),
    new_markdown_cell(
        "## Results\n\n"
        "Mean score per seed with a 95% interval (Student's t), the number of scores, and "
        "how often each seed was picked as best. Run this cell again after rating."
    ),
    new_code_cell("board.summary()"),
    new_markdown_cell("Every verdict, and the whole table with the verdicts joined on:"),
    new_code_cell("board.verdicts\n"),
    new_code_cell(
        "board.to_frame()[['prompt', 'seed', 'lufs', 'rater', 'score', 'best', 'note']]"
        ".round({'lufs': 1})"
    ),
]


MODELS = [
    new_markdown_cell(
        "# One style, two music models\n\n"
        "The same style prompts through **ACE-Step** (text to music) and **DiffRhythm** (lyrics "
        "to song), priced before anything is sent, then judged side by side on a review board: "
        "one row per style, one card per model.\n\n"
        "Uses the live API when `QUBICO_API_KEY` is set, otherwise a local sandbox (which "
        "plays chords and a beat for music; its files are short, its prices are the real ones)."
    ),
    new_code_cell(
        "from qubico_nb import (compare, connect, estimate_cost, review, submit_grid,\n"
        "                       tabulate_tasks, wait_all)\n"
        "from qubico_nb.frames import cost_summary\n\n"
        "client = connect()"
    ),
    new_markdown_cell(
        "## Two grids, one set of styles\n\n"
        "ACE-Step takes tagged lyrics and a length; DiffRhythm takes time-stamped lyrics and "
        "makes a song of up to 95 s (`txt2audio-base`). Every input is checked against the "
        "model's documented limits before anything is sent."
    ),
    new_code_cell(
        "styles = ['lo-fi hip hop, mellow piano, vinyl crackle',\n"
        "          'upbeat synth-pop, driving drums, bright synths',\n"
        "          'acoustic folk, fingerpicked guitar, warm']\n"
        "words = ['rain on the window', 'coffee going cold', 'the city hums below']\n"
        "ace_step = dict(model='Qubico/ace-step',\n"
        "                input={'duration': 30, 'lyrics': '[verse]\\n' + '\\n'.join(words)},\n"
        "                vary={'style_prompt': styles})\n"
        "diffrhythm = dict(model='Qubico/diffrhythm', task_type='txt2audio-base',\n"
        "                  input={'lyrics': '\\n'.join(f'[00:{4 + 5 * i:02d}.00] {w}'\n"
        "                                             for i, w in enumerate(words))},\n"
        "                  vary={'style_prompt': styles})"
    ),
    new_markdown_cell(
        "## The cost, before the money is spent\n\n"
        "`estimate_cost` takes the same arguments as `submit_grid` and prices each task by the "
        "model's documented rule (ACE-Step per second asked for, DiffRhythm per song)."
    ),
    new_code_cell(
        "estimates = {grid['model']: estimate_cost(**grid) for grid in (ace_step, diffrhythm)}\n"
        "for estimate in estimates.values():\n"
        "    print(estimate)"
    ),
    new_markdown_cell(
        "## Make them, within a budget\n\n"
        "`max_cost_usd` refuses a grid whose estimate is over it before anything is created."
    ),
    new_code_cell(
        "tasks = [*submit_grid(**ace_step, client=client, max_cost_usd=0.10, progress=False),\n"
        "         *submit_grid(**diffrhythm, client=client, max_cost_usd=0.10, progress=False)]\n"
        "tasks = wait_all(tasks, client=client, timeout=900, progress=False)\n"
        "table = tabulate_tasks(tasks, client=client, progress=False)\n"
        "table[['model', 'prompt', 'requested_s', 'status', 'cost_usd']]"
    ),
    new_markdown_cell("## Estimated and real cost, per model"),
    new_code_cell(
        "costs = cost_summary(table)\n"
        "costs['estimated_usd'] = [estimates[model].usd for model in costs['model']]\n"
        "costs"
    ),
    new_markdown_cell(
        "## Side by side\n\n"
        "One row per style, one card per model. Click the board, then **1-9** select a card, "
        "**Space** play/pause, **Shift+1-5** score, **b** best in row, **?** all keys."
    ),
    new_code_cell(
        "board = review(table, by='prompt', across='model', name='models', client=client)\nboard"
    ),
    new_code_cell("board.summary()"),
    new_markdown_cell("The same grid as plain players, playable without a kernel:"),
    new_code_cell("compare(table, by='prompt', across='model')"),
]


def build(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
    return notebook


NOTEBOOKS = {
    "quickstart.ipynb": QUICKSTART,
    "compare-batches.ipynb": COMPARE,
    "review.ipynb": REVIEW,
    "models.ipynb": MODELS,
}


def main() -> int:
    folder = ROOT / "notebooks"
    folder.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), folder / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
