"""Speed and size ratios, each measured side by side in one run (never a timed test).

    python benchmarks/bench.py

Targets (checked here and printed as PASS/MISS, not asserted in tests):
- tabulate_tasks fetches concurrently: 8 workers >= 4x faster than 1 under 30 ms latency.
- a compare grid downloads nothing: 0 file requests while building and rendering it.
- a frame of tasks costs less memory than the JSON it came from (ratio < 1).
- Task.from_dict costs at most 10x json.loads of the same answer.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qubico_nb import Client, Task, compare, tabulate_tasks
from qubico_nb.frames import tasks_to_frame
from qubico_nb.sandbox import Sandbox

VIDEO = "https://example.com/clip.mp4"


def report(name: str, ratio: float, target: str, ok: bool) -> None:
    print(f"{name:<48} {ratio:8.2f}   target {target:<10} {'PASS' if ok else 'MISS'}")


def main() -> int:
    warnings.simplefilter("ignore")
    with Sandbox(preset="instant", schema="unified") as sb:
        client = Client("bench", base_url=sb.url, poll_interval=0)
        tasks = [client.generate_audio(VIDEO, f"rain {i % 4}", seed=i) for i in range(100)]
        ids = [t.id for t in tasks[:48]]
        sb.inject("latency", ms=30)
        timings = {}
        for workers in (1, 8):
            start = time.perf_counter()
            tabulate_tasks(ids, client=client, progress=False, max_workers=workers)
            timings[workers] = time.perf_counter() - start
        sb.clear_faults()
        speedup = timings[1] / timings[8]
        report("tabulate 48 ids: 1 worker / 8 workers", speedup, ">= 4", speedup >= 4)

        done = [client.get_task(t.id) for t in tasks]
        sb.reset_counters()
        markup = compare(tasks_to_frame(done), by="prompt", across="seed")._repr_html_()
        files = sb.requests["file"]
        report("compare 100 tasks: file requests", files, "== 0", files == 0)
        print(f"{'  (HTML bytes per cell)':<48} {len(markup) / 100:8.0f}")

        answers = [json.dumps({"code": 200, "data": sb.renderer().unified(t, "completed")})
                   for t in sb.world.tasks()]
        raw_bytes = sum(len(a) for a in answers)
        frame = tasks_to_frame(Task.from_dict(json.loads(a)) for a in answers)
        memory = frame.memory_usage(deep=True).sum()
        report("frame memory / JSON bytes", memory / raw_bytes, "< 1", memory < raw_bytes)

        rounds = 20
        start = time.perf_counter()
        for _ in range(rounds):
            decoded = [json.loads(a) for a in answers]
        decode = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(rounds):
            for d in decoded:
                Task.from_dict(d)
        parse = time.perf_counter() - start
        report("Task.from_dict / json.loads", parse / decode, "<= 10", parse / decode <= 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
