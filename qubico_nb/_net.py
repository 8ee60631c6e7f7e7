"""URL rules: whether an address is this machine (shared by the client side and the sandbox),
what an API base URL may be, where a redirect points, and where a file is fetched from.

A leaf module (stdlib only, nothing else of qubico_nb), like `_media` and `_constants`: it
answers with values or a ValueError that says what is wrong, and the caller words the error.
"""

from __future__ import annotations

import ipaddress
import re
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


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_PATH = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


def api_base(url: object) -> str:
    """`url` as an API base: ``http(s)://host[:port][/path]`` and nothing else, normalized.

    Refused with a ValueError that says why (``"has a query or fragment"``): user info
    (``https://a@b``), backslashes, whitespace or control characters, queries, fragments, ports
    outside 1-65535, hosts that are not plain names or IP addresses. Anything looser lets a
    crafted URL send the key where it seems not to go.
    """
    if not isinstance(url, str):
        raise ValueError("is not a string")
    if any(c.isspace() or not c.isprintable() for c in url) or "\\" in url:
        raise ValueError("holds whitespace, a control character or a backslash")
    if not url.isascii():
        raise ValueError("holds non-ASCII characters (write the host in punycode)")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError("does not start with http:// or https://")
    if "?" in rest or "#" in rest:
        raise ValueError("has a query or fragment")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        raise ValueError("holds a user name or password (the part before '@')")
    bad_port = "has a port that is not a number from 1 to 65535"
    bad_ipv6 = "has a bracketed host that is not an IPv6 address"
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
    except ValueError:  # an unclosed or odd IPv6 literal
        raise ValueError(bad_ipv6 if netloc.startswith("[") else bad_port) from None
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise ValueError(bad_port) from None
    if port == 0 or netloc.endswith(":"):
        raise ValueError(bad_port)
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(bad_ipv6) from None
    elif not _HOSTNAME.fullmatch(host):
        raise ValueError("has no valid host name")
    if not _PATH.fullmatch(path):
        raise ValueError("has characters in its path that a URL cannot hold")
    return f"{scheme}://{netloc.lower()}{slash}{path}".rstrip("/")


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, the port filled in for http(s); -1 for an unreadable one."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or ""), port or {"http": 80, "https": 443}.get(scheme)


def redirect_target(url: str, location: str) -> str | None:
    """Where a redirect from `url` to `location` points, as an absolute http(s) URL; None when
    it points anywhere else (another scheme, no host, port 0, an unreadable URL)."""
    try:
        target = urljoin(url, location) if location else ""
        parts = urlsplit(target)
        usable = (
            parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and parts.port != 0
        )
    except ValueError:  # a bad port or IPv6 literal
        usable = False
    return target if usable else None


def where(url: str) -> str:
    """``scheme://host[:port]`` of `url`, for messages (never its path, query or user info)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{port}" if port else "")
