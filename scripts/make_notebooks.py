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


LISTENING_TEST = [
    new_markdown_cell(
        "# A listening test with many raters\n\n"
        "Is 50 diffusion steps better than 20, by how much, and how sure can we be? One person "
        "in one kernel cannot say; a listening test can. This notebook runs the whole loop: a "
        "grid with two conditions, a blind test exported as **one HTML file** raters open in a "
        "browser (no Python, no server), their result files imported back, and the figures a "
        "paper reports: means with intervals that respect raters and items, paired tests with "
        "Holm's correction, agreement between raters, rater screening and a plot.\n\n"
        "Uses the live API when `QUBICO_API_KEY` is set, otherwise a local sandbox, so it runs "
        "anywhere, Binder included."
    ),
    new_code_cell(
        "import os\n"
        "from pathlib import Path\n"
        "from qubico_nb import connect, review, submit_grid, tabulate_tasks, wait_all\n\n"
        "client = connect()\n" + VIDEO_CELL
    ),
    new_markdown_cell(
        "## Two conditions\n\n"
        "Six prompts for one video, each made with 20 and with 50 steps (same seed): "
        "twelve generations. The prompts are the test's items, the steps its conditions."
    ),
    new_code_cell(
        "prompts = ['waves crashing on a beach, seagulls', 'a steam train passing',\n"
        "           'rain on a tin roof', 'footsteps in an empty hall',\n"
        "           'a crackling campfire', 'wind through tall grass']\n"
        "tasks = submit_grid(VIDEO, prompts, seeds=[1], steps=[20, 50], negative_prompt='music',\n"
        "                    client=client, progress=False)\n"
        "tasks = wait_all(tasks, client=client, timeout=900, progress=False)\n"
        "table = tabulate_tasks(tasks, client=client, progress=False)\n"
        "table[['prompt', 'steps', 'status', 'cost_usd']]"
    ),
    new_markdown_cell(
        "## The test\n\n"
        "One row per prompt, one card per condition, blind. `design='score'` is an absolute "
        "category rating (a score from 1 to 5 per card, and a best pick); "
        "`design='mushra'` gives 0-100 sliders (with `reference=` an open and a hidden "
        "reference and low-pass anchors, as ITU-R BS.1534-3 has them); `design='pairwise'` "
        "a forced choice between two cards, every pair equally often across raters. You can "
        "judge here on the board too: your verdicts join the raters' below."
    ),
    new_code_cell(
        "board = review(table, by='prompt', across='steps', design='score', blind=True,\n"
        "               name='steps-test', client=client)\n"
        "board"
    ),
    new_markdown_cell(
        "## One file for the raters\n\n"
        "`export_html` writes the whole test into one HTML file: the board, its audio and the "
        "video, with nothing that names a card (no prompt, seed, task id, file name or tag "
        "inside the audio). Send it by mail or put it on any static host; a rater opens it, "
        "types a name (or gets it from `?rater=...` in the URL, as crowd platforms pass it), "
        "must hear every card of a row before the next, and presses **Finish** to save "
        "`<test>-<rater>.json`. Every answer is kept in the browser as it is given, so a "
        "reload loses nothing; `submit_url=` also POSTs the result to a server of yours."
    ),
    new_code_cell(
        "page = board.export_html(\n"
        "    'steps-test.html', instructions='Score each sound for how well it fits the video.')\n"
        "print(page, f'{page.stat().st_size / 1e6:.1f} MB')"
    ),
    new_markdown_cell(
        "## Simulated answers (no one is here to listen)\n\n"
        "**This cell makes up results.** In a real test the result files come back from the "
        "raters who opened the page. Here three simulated raters write the same files the "
        "page's Finish button saves, so the rest of the notebook has something to analyse. "
        "Unlike a real rater, the function peeks at which card is which: 50 steps gets a "
        "better score on average, each rater has their own leniency and noise. Delete this "
        "cell in a real test."
    ),
    new_code_cell(
        "# --- SIMULATED ANSWERS: made-up raters, for this demo only ---------------------------\n"
        "import json\n"
        "import random\n"
        "from datetime import datetime, timezone\n"
        "from qubico_nb.review_board.export import card_keys\n"
        "from qubico_nb.review_board.results import RESULT_FORMAT, RESULT_VERSION\n\n"
        "def simulated_rater(board, name, folder, *, leniency, seed):\n"
        '    """Write the result file a rater called `name` would send back (SIMULATED)."""\n'
        "    rng = random.Random(seed)\n"
        "    steps = dict(zip(table['task_id'], table['steps']))\n"
        "    rows = {}\n"
        "    for key, (row, card) in card_keys(board).items():  # peeks behind the blind labels\n"
        "        rows.setdefault(row, []).append((key, card))\n"
        "    now = datetime.now(timezone.utc).isoformat()\n"
        "    trials = []\n"
        "    for row, cards in rows.items():\n"
        "        rng.shuffle(cards)\n"
        "        scores = {key: min(5, max(1, round(2.6 + 1.2 * (steps[card.task_id] == 50)\n"
        "                                           + leniency + rng.gauss(0, 0.6))))\n"
        "                  for key, card in cards}\n"
        "        best = max(scores, key=scores.get)\n"
        "        answers = {key: {'score': s, 'best': key == best, 'rated_at': now}\n"
        "                   for key, s in scores.items()}\n"
        "        trials.append({'row': row, 'shown': [key for key, _ in cards],\n"
        "                       'reference': None, 'answers': answers})\n"
        "    result = {'format': RESULT_FORMAT, 'version': RESULT_VERSION, 'test': board.test_id,\n"
        "              'design': board.design, 'scale': list(board.scale), 'rater': name,\n"
        "              'started_at': now, 'finished_at': now, 'level_match': False,\n"
        "              'trials': trials}\n"
        "    path = folder / f'{board.test_id}-{name}.json'\n"
        "    path.write_text(json.dumps(result))\n"
        "    return path\n\n"
        "results = Path('steps-test-results')\n"
        "results.mkdir(exist_ok=True)\n"
        "for n, (name, leniency) in enumerate([('rater-1', 0.0), ('rater-2', 0.5),\n"
        "                                      ('rater-3', -0.4)]):\n"
        "    simulated_rater(board, name, results, leniency=leniency, seed=n)\n"
        "sorted(p.name for p in results.glob('*.json'))"
    ),
    new_markdown_cell(
        "## Results come back\n\n"
        "`import_verdicts` takes files or a folder. Each file is checked against this test "
        "(its id, design, scale and cards: a file from another test is refused, and then "
        "nothing is imported), its shown positions are mapped back to tasks, and the "
        "verdicts are appended to the board's store in one write. Of a rater's repeated "
        "submissions the latest is kept, and the table says so. The board's header now lists "
        "the raters and how far each got."
    ),
    new_code_cell("board.import_verdicts(results)"),
    new_markdown_cell(
        "## The report\n\n"
        "Per condition: raters, items, verdicts, mean, median and a 95% interval. Scores by "
        "one rater, or of one item, are not independent (a lenient rater lifts all their "
        "scores), so the interval is a bootstrap that resamples raters and items together "
        "(Owen's pigeonhole bootstrap), not a Student-t over pooled scores, which would be "
        "too narrow. `cost_usd` and `mean_usd` say what each condition's generations cost. "
        "`report(best=True)` gives the best picks' Luce strength; a pairwise test reports "
        "Bradley-Terry strengths."
    ),
    new_code_cell("board.report()"),
    new_markdown_cell(
        "## Is the difference real?\n\n"
        "Every pair of conditions over the items both were judged in: the Wilcoxon "
        "signed-rank test (each item one paired difference, so raters' leniency cancels), "
        "p corrected for the number of pairs by Holm's method, and the rank-biserial effect "
        "size (-1 to 1). With more than two conditions, Friedman's test is in "
        "`result.attrs['friedman']`."
    ),
    new_code_cell("board.compare_conditions()"),
    new_markdown_cell(
        "## Do the raters agree, and whom to leave out\n\n"
        "Krippendorff's alpha (1: perfect agreement, 0: chance) with a bootstrap interval over "
        "items. `screen_raters` flags raters whose scores do not follow the others' "
        "(Spearman correlation; in a MUSHRA test with a hidden reference, ITU-R BS.1534-3's "
        "post-screening); pass its result to `report(exclude=...)`."
    ),
    new_code_cell("board.agreement(n_resamples=200)"),
    new_code_cell("screened = board.screen_raters()\nscreened"),
    new_code_cell("board.report(exclude=screened)"),
    new_markdown_cell(
        "## The figure\n\n"
        "Means with their intervals, per condition; saved as PNG or SVG for the paper "
        "(needs matplotlib: `pip install 'qubico-nb[plot]'`)."
    ),
    new_code_cell("%matplotlib inline\nboard.plot(path='steps-test.png')"),
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
    "listening-test.ipynb": LISTENING_TEST,
}


def main() -> int:
    folder = ROOT / "notebooks"
    folder.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), folder / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
