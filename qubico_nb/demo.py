"""``qubico-nb demo``: one sandbox for the session, and JupyterLab on the notebooks against it."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from .connection import SANDBOX_KEY_ENV, SANDBOX_URL_ENV


def run_demo(args: argparse.Namespace) -> int:
    """Start a sandbox, then JupyterLab with ``QUBICO_SANDBOX_URL`` pointing at it."""
    from .cli import sandbox_from_args, start_sandbox

    notebooks = Path(args.notebooks or Path.cwd() / "notebooks").resolve()
    if not notebooks.is_dir():
        raise ValueError(f"no notebooks folder at {notebooks}: run from the repository's top "
                         "folder or pass --notebooks PATH")
    if importlib.util.find_spec("jupyterlab") is None:
        raise ValueError("JupyterLab is not installed: pip install 'qubico-nb[lab]'")
    sandbox = start_sandbox(sandbox_from_args(args))
    env = {k: v for k, v in os.environ.items() if k not in ("QUBICO_API_KEY", "PIAPI_API_KEY")}
    env[SANDBOX_URL_ENV] = sandbox.url
    if sandbox.api_key:
        env[SANDBOX_KEY_ENV] = sandbox.api_key
    command = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks}",
               f"--ServerApp.port={args.lab_port}"]
    if (notebooks / "quickstart.ipynb").is_file():
        command.append("--LabApp.default_url=/lab/tree/quickstart.ipynb")
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    print(f"Sandbox at {sandbox.url}; opening JupyterLab on {notebooks} (Ctrl-C to stop).",
          flush=True)
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        sandbox.stop()
