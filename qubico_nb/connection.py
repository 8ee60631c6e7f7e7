"""`connect()`: the live API when a key is set, otherwise a local sandbox, and say which."""

from __future__ import annotations

import atexit
import threading
import warnings
from typing import Any

from ._constants import API_KEY_ENV, API_KEY_ENVS, SANDBOX_KEY_ENV, SANDBOX_URL_ENV
from ._hosts import sandbox_public_url
from .client import Client, _env
from .errors import ConfigurationError

_lock = threading.Lock()
_embedded: Any = None
_default: Client | None = None


def _embedded_sandbox(**options: Any) -> Any:
    """One sandbox per process, started on first use and stopped at exit. It keeps its tasks in
    the cache folder, so the sandbox of a restarted kernel knows the tasks made before (and a
    re-run can reuse them) though it listens at another port."""
    global _embedded
    from .sandbox import Sandbox
    from .store import sandbox_tasks_file

    if _embedded is not None and options:
        warnings.warn(
            "the embedded sandbox is already running; sandbox options given to a "
            "later connect() are ignored",
            stacklevel=3,
        )
    if _embedded is None:
        sandbox = Sandbox(**{"tasks_file": sandbox_tasks_file(), **options}).start()
        public = sandbox_public_url(int(sandbox.url.rsplit(":", 1)[1]))
        if public:
            sandbox.public_url = public
        atexit.register(sandbox.stop)
        _embedded = sandbox
    return _embedded


def connect(*, sandbox: bool | None = None, quiet: bool = False, **sandbox_options: Any) -> Client:
    """A Client, and a line saying which backend it talks to (unless `quiet`).

    ``sandbox=None`` (the default) picks: ``$QUBICO_SANDBOX_URL`` if set, else the live API when
    ``QUBICO_API_KEY`` (or ``PIAPI_API_KEY``) is set, else an embedded sandbox started in this
    process (`sandbox_options` go to `Sandbox`). ``sandbox=True`` never uses the live API, even
    with a key; ``sandbox=False`` always does. Your API key is never sent to a sandbox.
    """
    global _default
    sandbox_url = _env(SANDBOX_URL_ENV)
    has_key = _env(*API_KEY_ENVS) is not None
    if sandbox is False or (sandbox is None and has_key and not sandbox_url):
        if not has_key:
            raise ConfigurationError(
                f"connect(sandbox=False) needs an API key: set {' or '.join(API_KEY_ENVS)}"
            )
        client = Client()
        note = f"Using the live Qubico API at {client.base_url}."
    elif sandbox_url:
        client = Client(_env(SANDBOX_KEY_ENV) or "sandbox", base_url=sandbox_url)
        note = f"Using the Qubico sandbox at {sandbox_url} (synthetic sounds, no API key needed)."
    else:
        with _lock:
            embedded = _embedded_sandbox(**sandbox_options)
        client = Client("sandbox", base_url=embedded.url)
        why = "sandbox=True" if has_key else f"No {API_KEY_ENV} set"
        note = f"{why}: using a local sandbox at {embedded.url} (synthetic sounds). " + (
            "" if has_key else f"Set {API_KEY_ENV} to use the live API."
        )
    if not quiet:
        print(note.strip(), flush=True)
    _default = client
    return client


def default_client() -> Client:
    """The client `connect()` last made, or a new quiet one."""
    return _default if _default is not None else connect(quiet=True)


__all__ = ["SANDBOX_KEY_ENV", "SANDBOX_URL_ENV", "connect", "default_client"]
