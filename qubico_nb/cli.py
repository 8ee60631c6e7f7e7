"""The ``qubico-nb`` command: ``sandbox`` runs the local server, ``demo`` the notebooks."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .sandbox import FAULT_KINDS, PRESETS, SCHEMAS, FaultRule, Sandbox


def _sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--api-key", default=os.environ.get("QUBICO_SANDBOX_API_KEY"),
                        help="require this x-api-key (default: $QUBICO_SANDBOX_API_KEY, else none)")
    parser.add_argument("--schema", choices=SCHEMAS, default="seed",
                        help="answer in the seed page's schema or the unified one")
    parser.add_argument("--preset", choices=tuple(PRESETS), default="fast",
                        help="task timings: instant, fast (~0.3 s) or realistic (~1 s + 20 s)")
    parser.add_argument("--pending-s", type=float, help="seconds a task stays pending")
    parser.add_argument("--processing-s", type=float, help="seconds a task stays processing")
    parser.add_argument("--audio-seconds", type=float, default=8.0, help="length of each WAV")
    parser.add_argument("--sample-rate", type=int, default=44100, help="WAV sample rate in Hz")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every answer")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="plus up to this much")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND[:RATE[:ENDPOINTS]]",
                        help=f"inject faults; KIND is one of {', '.join(FAULT_KINDS)}; "
                             "e.g. error:0.2:get,history (repeatable)")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed for fault choices")
    parser.add_argument("--rate-limit", type=float, help="requests per second before 429")
    parser.add_argument("--concurrency-limit", type=int,
                        help="tasks pending or processing at once before create answers 429")
    parser.add_argument("--public-url", help="base URL that file links use (e.g. behind a proxy)")
    parser.add_argument("--timezone", default="Z", help="offset of timestamps, e.g. Z or +08:00")
    parser.add_argument("--title-case-status", action="store_true",
                        help="write statuses as the docs' enum does (Completed, not completed)")


def sandbox_from_args(args: argparse.Namespace, **overrides: object) -> Sandbox:
    """Build a Sandbox from parsed command-line options."""
    options: dict[str, object] = dict(
        host=args.host, port=args.port, api_key=args.api_key, schema=args.schema,
        preset=args.preset, pending_s=args.pending_s, processing_s=args.processing_s,
        audio_seconds=args.audio_seconds, sample_rate=args.sample_rate,
        latency_ms=args.latency_ms, jitter_ms=args.jitter_ms,
        faults=[FaultRule.parse(spec) for spec in args.fault], fault_seed=args.fault_seed,
        rate_limit_per_s=args.rate_limit, concurrency_limit=args.concurrency_limit,
        public_url=args.public_url, timezone_offset=args.timezone,
        title_case_status=args.title_case_status,
    )
    options.update(overrides)
    return Sandbox(**options)  # type: ignore[arg-type]


def start_sandbox(sandbox: Sandbox) -> Sandbox:
    """Start it, or say plainly why the port cannot be used."""
    try:
        return sandbox.start()
    except OSError as err:
        raise ValueError(f"cannot listen on {sandbox.host}:{sandbox.port} ({err.strerror}); "
                         "pick another --port, or 0 for any free one") from None


def _run_sandbox(args: argparse.Namespace) -> int:
    sandbox = start_sandbox(sandbox_from_args(args))
    print(f"Qubico sandbox listening at {sandbox.url} (schema {sandbox.schema}, "
          f"auth {'on' if sandbox.api_key else 'off'}).")
    key = "<the --api-key>" if sandbox.api_key else "any"
    print(f"Use it: export QUBICO_SANDBOX_URL={sandbox.url}  (then qubico_nb.connect()), or "
          f"Client(api_key={key!r}, base_url={sandbox.url!r})")
    print("Press Ctrl-C to stop.", flush=True)
    sandbox.serve_forever()
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qubico-nb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="run the local Qubico-compatible server")
    _sandbox_options(sandbox)
    sandbox.set_defaults(run=_run_sandbox)
    demo = commands.add_parser("demo", help="open JupyterLab on the notebooks, against a sandbox")
    demo.add_argument("--notebooks", default=None, help="folder of notebooks to open")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--lab-port", type=int, default=8888, help="JupyterLab's port")
    _sandbox_options(demo)
    demo.set_defaults(run=_run_demo, port=0, preset="fast")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ValueError as err:
        parser.exit(2, f"qubico-nb: error: {err}\n")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
