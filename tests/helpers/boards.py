"""Review boards made from local WAV files: no sandbox, no network, laid out in milliseconds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from qubico_nb.review_board import Review

PROMPTS = ["rain on a tin roof", "seagulls over waves"]
SEEDS = [11, 22, 33]


def wav(path: Path, frequency: float, amplitude: float, seconds: float = 3.0) -> Path:
    """A sine of `frequency` Hz at `amplitude`, 22.05 kHz mono, written to `path`."""
    import soundfile

    rate = 22_050
    t = np.arange(int(rate * seconds)) / rate
    soundfile.write(path, (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32), rate)
    return path


def make_table(
    folder: Path,
    prompts: list[str] = PROMPTS,
    seeds: list[int] = SEEDS,
    *,
    seconds: float = 3.0,
) -> pd.DataFrame:
    """A table of finished tasks whose audio are local WAV files of three loudnesses (the task
    ids end in "secret": a blind page must never show them)."""
    records = []
    for p, prompt in enumerate(prompts):
        for s, seed in enumerate(seeds):
            records.append(
                {
                    "task_id": f"task-{p}-{s}-secret",
                    "prompt": prompt,
                    "seed": seed,
                    "steps": 20,
                    "status": "completed",
                    "audio_url": None,
                    "video": "https://cdn.example.com/clips/beach.mp4",
                    "local_path": str(
                        wav(
                            folder / f"p{p}s{s}.wav",
                            220.0 * (1 + s % 3),
                            0.1 + 0.25 * (s % 3),
                            seconds,
                        )
                    ),
                }
            )
    return pd.DataFrame.from_records(records)


def blind_board(table: pd.DataFrame, folder: Path, **options: Any) -> Review:
    """A blind board of `table` with its store in `folder`, every file measured."""
    from qubico_nb.review_board import review

    made = review(table, blind=True, store=folder / "verdicts.jsonl", rater="lead", **options)
    assert made.wait(30)
    return made
