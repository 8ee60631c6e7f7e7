"""``qubico-nb demo``: JupyterLab on a *copy* of the notebooks, against one sandbox.

JupyterLab autosaves outputs into the notebooks it opens and `download()` writes next to them, so
the demo never opens the checkout's own ``notebooks/``: it refreshes a per-user copy each run
(``$QUBICO_NB_DEMO_DIR``, else ``$XDG_DATA_HOME/qubico-nb/demo``, else
``~/.local/share/qubico-nb/demo``) and opens that, leaving ``git status`` clean.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._constants import (
    API_KEY_ENVS,
    DEMO_DIR_ENV,
    DEMO_VIDEO_ENV,
    SANDBOX_KEY_ENV,
    SANDBOX_URL_ENV,
)

FIRST_NOTEBOOK = "quickstart.ipynb"


def default_workspace(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the demo's copy of the notebooks lives for this user."""
    if environ.get(DEMO_DIR_ENV):
        return Path(environ[DEMO_DIR_ENV]).expanduser()
    data_home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "qubico-nb" / "demo"


def find_notebooks(given: str | None) -> Path:
    """The folder of notebooks to copy: ``--notebooks``, else ./notebooks, else the checkout's."""
    if given:
        candidates = [Path(given)]
    else:
        checkout = Path(__file__).resolve().parent.parent  # an editable install's repository
        candidates = [Path.cwd() / "notebooks", checkout / "notebooks"]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder.resolve()
    raise ValueError(
        f"no notebooks folder at {candidates[0].resolve()}: run from the "
        "repository's top folder or pass --notebooks PATH"
    )


def prepare_workspace(source: Path, workspace: Path) -> Path:
    """Copy the source notebooks into `workspace`, replacing earlier copies; return it.

    Each run starts from the committed notebooks; anything else in the workspace (downloads,
    your own notebooks) stays. The source folder is only read.
    """
    source, workspace = source.resolve(), workspace.resolve()
    if workspace == source or source in workspace.parents:
        raise ValueError(f"the demo workspace {workspace} must be outside {source}")
    workspace.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(source.glob("*.ipynb")):
        partial = workspace / f".{notebook.name}.partial"
        shutil.copyfile(notebook, partial)
        os.replace(partial, workspace / notebook.name)  # never a half-written notebook
    return workspace


def demo_environment(sandbox: Any, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """JupyterLab's environment: the sandbox's URL (and key), the demo clip, no live API key."""
    env = {k: v for k, v in environ.items() if k not in API_KEY_ENVS}
    env[SANDBOX_URL_ENV] = sandbox.url
    if sandbox.api_key:
        env[SANDBOX_KEY_ENV] = sandbox.api_key
    env.setdefault(DEMO_VIDEO_ENV, sandbox.demo_video_url)
    return env


def lab_command(workspace: Path, *, lab_port: int, open_browser: bool) -> list[str]:
    """The command that starts JupyterLab on the workspace (never on the checkout)."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={workspace}",
        f"--ServerApp.port={lab_port}",
    ]
    if (workspace / FIRST_NOTEBOOK).is_file():
        command.append(f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}")
    if not open_browser:
        command.append("--no-browser")
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    return command


def run_demo(args: argparse.Namespace, sandbox: Any, *, start: Callable[[Any], Any]) -> int:
    """Copy the notebooks, start `sandbox`, then JupyterLab against it until Ctrl-C.

    `sandbox` is a `qubico_nb.sandbox.Sandbox` built by the command line, not yet started;
    `start` starts it (or raises ValueError saying why it cannot listen).
    """
    source = find_notebooks(args.notebooks)
    if not lab_installed():
        raise ValueError("JupyterLab is not installed: pip install 'qubico-nb[lab]'")
    workspace = prepare_workspace(
        source, Path(args.workdir) if args.workdir else default_workspace()
    )
    start(sandbox)
    command = lab_command(workspace, lab_port=args.lab_port, open_browser=not args.no_browser)
    print(
        f"Sandbox at {sandbox.url}; demo video {sandbox.demo_video_url}.\n"
        f"Opening JupyterLab on a fresh copy of {source} in {workspace}\n"
        "(outputs and downloads are saved there, never in your checkout; the copies are "
        "replaced on the next run). Ctrl-C to stop.",
        flush=True,
    )
    try:
        return subprocess.call(command, env=demo_environment(sandbox))
    except KeyboardInterrupt:
        return 130
    finally:
        sandbox.stop()


def lab_installed() -> bool:
    """Whether JupyterLab can be started from this environment."""
    return importlib.util.find_spec("jupyterlab") is not None
