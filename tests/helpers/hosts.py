"""Notebook hosts for tests: a plain machine, a JupyterHub with or without its proxy, Voila."""

from __future__ import annotations

import pytest

from qubico_nb import _hosts

#: Every variable the host detection reads.
HOST_ENVS = (
    "JUPYTERHUB_SERVICE_PREFIX",
    "QUBICO_NB_HUB_PROXY",
    "QUBICO_NB_PLAYBACK",
    *_hosts.VOILA_ENVS,
    *_hosts.VSCODE_ENVS,
    *_hosts.REMOTE_ENVS,
)


def plain_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser on the kernel's machine, no host variables, and no warning given yet."""
    for name in HOST_ENVS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_hosts, "_warned", set())


def hub(monkeypatch: pytest.MonkeyPatch, *, proxy: bool) -> None:
    """A JupyterHub single-user server, with or without jupyter-server-proxy."""
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    monkeypatch.setenv("QUBICO_NB_HUB_PROXY", "1" if proxy else "0")
