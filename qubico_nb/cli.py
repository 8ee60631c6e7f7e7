"""The qubico-nb command: 'sandbox' runs the local server, 'demo' opens the notebooks on it."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from ._constants import SANDBOX_KEY_ENV, SANDBOX_URL_ENV
from ._version import __version__
from .demo import run_demo
from .sandbox import (
    AUDIO_FORMATS,
    FAULT_KINDS,
    PRESETS,
    SCHEMAS,
    FaultRule,
    OptionError,
    Sandbox,
)
from .store import sandbox_tasks_file

PROG = "qubico-nb"


class _Parser(argparse.ArgumentParser):
    """Wrong usage is one line on stderr and exit status 2: no usage dump, no traceback."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default, unless the help says it already (the API key's
    help must: its default comes from the environment and is never printed)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or any(action.default is none for none in (None, False, argparse.SUPPRESS))
            or action.default == []
        ):
            return text
        return f"{text} (default: %(default)s)"


#: Each `Sandbox` parameter the command line sets, and the option that sets it.
SANDBOX_FLAGS = {
    "host": "--host",
    "port": "--port",
    "api_key": "--api-key",
    "schema": "--schema",
    "preset": "--preset",
    "pending_s": "--pending-s",
    "processing_s": "--processing-s",
    "audio_seconds": "--audio-seconds",
    "audio_format": "--audio-format",
    "sample_rate": "--sample-rate",
    "latency_ms": "--latency-ms",
    "jitter_ms": "--jitter-ms",
    "faults": "--fault",
    "fault_seed": "--fault-seed",
    "rate_limit_per_s": "--rate-limit",
    "concurrency_limit": "--concurrency-limit",
    "plan": "--plan",
    "socket_timeout_s": "--socket-timeout",
    "public_url": "--public-url",
    "timezone_offset": "--timezone",
    "title_case_status": "--title-case-status",
    "tasks_file": "--tasks-file",
}


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"port must be from 0 to 65535 (0 picks a free one), got {port}"
        )
    return port


def _fault(spec: str) -> FaultRule:
    try:
        return FaultRule.parse(spec)
    except (ValueError, TypeError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)"
    )
    parser.add_argument("--port", type=_port, default=8765, help="port (0 picks a free one)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(SANDBOX_KEY_ENV),
        help=f"require this x-api-key (default: ${SANDBOX_KEY_ENV}, else none)",
    )
    parser.add_argument(
        "--schema",
        choices=SCHEMAS,
        default="seed",
        help="answer in the seed page's schema or the unified one",
    )
    parser.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default="fast",
        help="task timings: instant, fast (~0.3 s) or realistic (~1 s + 20 s)",
    )
    parser.add_argument(
        "--pending-s", type=float, help="seconds a task stays pending (default: the preset's)"
    )
    parser.add_argument(
        "--processing-s",
        type=float,
        help="seconds a task stays processing (default: the preset's)",
    )
    parser.add_argument(
        "--audio-seconds",
        type=float,
        default=8.0,
        help="length of each audio file (cut to the video's length)",
    )
    parser.add_argument(
        "--audio-format",
        choices=tuple(AUDIO_FORMATS),
        default="wav",
        help="audio files as WAV, or MP3 as the live service serves them",
    )
    parser.add_argument("--sample-rate", type=int, default=44100, help="audio sample rate in Hz")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every answer")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="plus up to this much")
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault,
        default=[],
        metavar="KIND[:RATE[:ENDPOINTS]]",
        help=f"inject faults; KIND is one of {', '.join(FAULT_KINDS)}; "
        "e.g. error:0.2:get,history (repeatable)",
    )
    parser.add_argument("--fault-seed", type=int, default=0, help="seed for fault choices")
    parser.add_argument(
        "--rate-limit", type=float, help="requests per second before 429 (default: no limit)"
    )
    parser.add_argument(
        "--concurrency-limit",
        type=int,
        help="tasks pending or processing at once before create answers 429 (default: no limit)",
    )
    parser.add_argument(
        "--plan",
        choices=("free", "creator", "pro"),
        default="creator",
        help="the account's plan (free: uploads are refused with 403)",
    )
    parser.add_argument(
        "--socket-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close a connection that sends nothing for this long",
    )
    parser.add_argument(
        "--public-url",
        help="base URL that file links use, e.g. behind a proxy (default: the sandbox's own)",
    )
    parser.add_argument("--timezone", default="Z", help="offset of timestamps, e.g. Z or +08:00")
    parser.add_argument(
        "--tasks-file",
        metavar="PATH",
        help="keep the tasks in this file, so a sandbox started on it again knows them "
        "('' or none: in memory only)",
    )
    parser.add_argument(
        "--title-case-status",
        action="store_true",
        help="write statuses as the docs' enum does (Completed, not completed)",
    )


def sandbox_from_args(args: argparse.Namespace, **overrides: object) -> Sandbox:
    """Build a Sandbox (not started) from parsed command-line options; a value the sandbox
    refuses raises its `OptionError`, which `main` reports under the option's name."""
    options: dict[str, object] = {
        name: getattr(args, flag[2:].replace("-", "_")) for name, flag in SANDBOX_FLAGS.items()
    }
    options["faults"] = list(args.fault)
    options["tasks_file"] = args.tasks_file or None  # '' keeps them in memory
    options.update(overrides)
    return Sandbox(**options)  # type: ignore[arg-type]


def start_sandbox(sandbox: Sandbox) -> Sandbox:
    """Start it, or say plainly why the address cannot be used; warn (in one line, and only
    once it listens) when anyone who can reach this machine may use it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # said below, in one line
            sandbox.start()
    except socket.gaierror as err:
        raise ValueError(
            f"cannot listen on {sandbox.host}: no such host ({err.strerror}); "
            "use 127.0.0.1 or an address of this machine"
        ) from None
    except OSError as err:
        reason = err.strerror or str(err)
        if err.errno == errno.EADDRNOTAVAIL:
            raise ValueError(
                f"cannot listen on {sandbox.host}: not an address of this machine "
                f"({reason}); use 127.0.0.1"
            ) from None
        raise ValueError(
            f"cannot listen on {sandbox.host}:{sandbox.port} ({reason}); "
            "pick another --port, or 0 for any free one"
        ) from None
    if sandbox.exposed_without_key:
        print(
            f"{PROG}: warning: listening on {sandbox.host} with no --api-key: anyone who can "
            "reach this machine can use the sandbox",
            file=sys.stderr,
            flush=True,
        )
    return sandbox


def _run_sandbox(args: argparse.Namespace) -> int:
    sandbox = start_sandbox(sandbox_from_args(args))
    print(
        f"Qubico sandbox listening at {sandbox.url} (schema {sandbox.schema}, "
        f"auth {'on' if sandbox.api_key else 'off'})."
    )
    key = "<the --api-key>" if sandbox.api_key else "any"
    print(
        f"Use it: export {SANDBOX_URL_ENV}={sandbox.url}  (then qubico_nb.connect()), or "
        f"Client(api_key={key!r}, base_url={sandbox.url!r})"
    )
    print(f"Demo video (8 s, CC0): {sandbox.demo_video_url}")
    print("Press Ctrl-C to stop.", flush=True)
    sandbox.serve_forever()
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    return run_demo(args, sandbox_from_args(args), start=start_sandbox)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sandbox = commands.add_parser(
        "sandbox",
        help="run the local Qubico-compatible server",
        description="Run the local Qubico-compatible server until Ctrl-C.",
        formatter_class=_HelpFormatter,
    )
    _sandbox_options(sandbox)
    sandbox.set_defaults(run=_run_sandbox, parser=sandbox)
    demo = commands.add_parser(
        "demo",
        help="open JupyterLab on a copy of the notebooks, against a sandbox",
        description="Open JupyterLab on a fresh copy of the notebooks (outside your checkout), "
        "against a sandbox started for the session.",
        formatter_class=_HelpFormatter,
    )
    demo.add_argument(
        "--notebooks",
        default=None,
        help="folder of notebooks to copy (default: the ones that come with qubico-nb)",
    )
    demo.add_argument(
        "--workdir",
        default=None,
        help="where the copy lives (default: $QUBICO_NB_DEMO_DIR, else "
        "~/.local/share/qubico-nb/demo)",
    )
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--lab-port", type=_port, default=8888, help="JupyterLab's port")
    _sandbox_options(demo)
    demo.set_defaults(
        run=_run_demo, parser=demo, port=0, preset="fast", tasks_file=str(sandbox_tasks_file())
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    command: argparse.ArgumentParser = args.parser  # errors point to the command's own --help
    if unknown:
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.run(args))
    except OptionError as err:
        command.error(f"{SANDBOX_FLAGS.get(err.option, err.option)} {err.problem}")
    except ValueError as err:
        command.exit(2, f"{command.prog}: error: {err}\n")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
