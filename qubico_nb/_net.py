"""Whether an address is this machine: the one rule, shared by the client side and the sandbox.

A leaf module (stdlib only, nothing else of qubico_nb), like `_media` and `_constants`.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urljoin, urlsplit


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``*.localhost``, 127.0.0.0/8 or ``::1`` (brackets allowed)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """True when `url`'s host is this machine: where the API key may go over plain HTTP, where a
    sandbox may deliver webhooks, and what a remote browser cannot reach."""
    try:
        return is_loopback_host(urlsplit(url).hostname or "")
    except ValueError:  # urlsplit raises on some malformed URLs ("http://[::1")
        return False


def file_url(url: str, base_url: str) -> str:
    """Where the kernel fetches a work's file from: absolute URLs as they are, relative ones
    against the API's base.

    A sandbox under JupyterHub/Binder hands out browser-facing paths such as
    ``/user/me/proxy/8000/temp/x.wav``; jupyter-server-proxy maps ``.../proxy/<port>/rest`` to
    ``127.0.0.1:<port>/rest``, so when the API's base is that loopback port the kernel fetches
    ``rest`` from it directly (the proxy path does not exist on the sandbox itself).
    """
    if urlsplit(url).scheme:
        return url
    base = base_url.rstrip("/")
    port = urlsplit(base).port
    if port is not None and is_loopback_url(base):
        marker = f"/proxy/{port}/"
        at = url.find(marker)
        if at >= 0:
            return urljoin(base + "/", url[at + len(marker) :])
    return urljoin(base + "/", url)
