"""`connect()`: the live API when a key is set, otherwise a local sandbox, and say which."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from ._hosts import sandbox_public_url
from .client import Client, _env

SANDBOX_URL_ENV = "QUBICO_SANDBOX_URL"
_lock = threading.Lock()
_embedded: Any = None
_default: Client | None = None


def _embedded_sandbox(**options: Any) -> Any:
    """One sandbox per process, started on first use and stopped at exit."""
    global _embedded
    from .sandbox import Sandbox

    if _embedded is None:
        sandbox = Sandbox(**options).start()
        public = sandbox_public_url(int(sandbox.url.rsplit(":", 1)[1]))
        if public:
            sandbox.public_url = public
        atexit.register(sandbox.stop)
        _embedded = sandbox
    return _embedded


def connect(*, quiet: bool = False, **sandbox_options: Any) -> Client:
    """A Client: ``$QUBICO_SANDBOX_URL`` if set, else the live API if a key is set, else an
    embedded sandbox (options go to `Sandbox`). Prints which, unless `quiet`."""
    global _default
    sandbox_url = _env(SANDBOX_URL_ENV)
    if sandbox_url:
        client = Client(_env("QUBICO_API_KEY", "PIAPI_API_KEY") or "sandbox", base_url=sandbox_url)
        note = f"Using the Qubico sandbox at {sandbox_url} (synthetic sounds, no API key needed)."
    elif _env("QUBICO_API_KEY", "PIAPI_API_KEY"):
        client = Client()
        note = f"Using the live Qubico API at {client.base_url}."
    else:
        with _lock:
            sandbox = _embedded_sandbox(**sandbox_options)
        client = Client("sandbox", base_url=sandbox.url)
        note = (f"No QUBICO_API_KEY set: using a local sandbox at {sandbox.url} "
                "(synthetic sounds). Set QUBICO_API_KEY to use the live API.")
    if not quiet:
        print(note, flush=True)
    _default = client
    return client


def default_client() -> Client:
    """The client `connect()` last made, or a new quiet one."""
    return _default if _default is not None else connect(quiet=True)


__all__ = ["SANDBOX_URL_ENV", "connect", "default_client"]
