"""``qubico-nb demo``: JupyterLab on a *copy* of the notebooks, against one sandbox.

JupyterLab autosaves outputs into the notebooks it opens and `download()` writes next to them, so
the demo never opens the checkout's own ``notebooks/``: it refreshes a per-user copy each run
(``$QUBICO_NB_DEMO_DIR``, else ``$XDG_DATA_HOME/qubico-nb/demo``, else
``~/.local/share/qubico-nb/demo``) and opens that, leaving ``git status`` clean.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
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
#: Where a built wheel carries the notebooks inside the package (pyproject.toml puts them there).
SHIPPED_NOTEBOOKS = "notebooks"
#: The demo's own JupyterLab settings, inside its workspace (hidden in Lab's file browser), so
#: the demo's choices never touch the user's real settings.
LAB_SETTINGS = ".lab-settings"
#: Settings the demo starts with: no "Jupyter news?" prompt over the first notebook, no check
#: for updates (the demo runs offline too). Written once: what the user changes there stays.
QUIET_LAB = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    }
}


def default_workspace(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the demo's copy of the notebooks lives for this user."""
    if environ.get(DEMO_DIR_ENV):
        return Path(environ[DEMO_DIR_ENV]).expanduser()
    data_home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "qubico-nb" / "demo"


def find_notebooks(given: str | None) -> Path:
    """The folder of notebooks to copy: ``--notebooks``, else the ones shipped in the package
    (a wheel carries them as ``qubico_nb/notebooks``), else the checkout's (an editable install)."""
    if given:
        candidates = [Path(given)]
    else:
        package = Path(__file__).resolve().parent
        candidates = [package / SHIPPED_NOTEBOOKS, package.parent / "notebooks"]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder.resolve()
    if given:
        raise ValueError(f"no notebooks folder at {candidates[0].resolve()}: pass --notebooks PATH")
    raise ValueError(
        f"no notebooks in this install of qubico-nb (looked in {candidates[0]} and "
        f"{candidates[1]}): reinstall it, or pass --notebooks PATH"
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


def lab_settings(workspace: Path) -> Path:
    """The demo's JupyterLab settings folder, with `QUIET_LAB` written where not set yet."""
    folder = workspace / LAB_SETTINGS
    for name, settings in QUIET_LAB.items():
        path = folder / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")
            partial.write_text(json.dumps(settings, indent=2) + "\n")
            os.replace(partial, path)
    return folder


def lab_command(workspace: Path, *, lab_port: int, open_browser: bool) -> list[str]:
    """The command that starts JupyterLab on the workspace (never on the checkout), with the
    demo's own settings."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={workspace}",
        f"--ServerApp.port={lab_port}",
        f"--LabApp.user_settings_dir={lab_settings(workspace)}",
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
