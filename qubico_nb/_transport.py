"""HTTP for the client: one session, the auth header, retries with backoff, JSON envelopes.

Retries live here and only here. Idempotent requests retry on connection errors, timeouts, 408,
429 and 5xx; a request that creates something retries only when it surely never reached the
server (connection refused, connect timeout) or was refused with 429, so no paid task is doubled.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from ._version import __version__
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    ProtocolError,
    status_error,
)

log = logging.getLogger("qubico_nb")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: A server asking us to wait longer than this gets its error raised instead of a silent wait.
MAX_RETRY_AFTER_S = 60.0


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mask_key(key: str | None) -> str:
    """How a key may be shown: never more than its last four characters, and only if long."""
    if not key:
        return "None"
    return f"'…{key[-4:]}'" if len(key) >= 16 else "'****'"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _never_sent(err: requests.ConnectionError) -> bool:
    """True when the connection was never made, so the server cannot have acted on the request."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    reason = getattr(err.args[0], "reason", err.args[0]) if err.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError))


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try."""

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Transport:
    """Sends requests to one API base URL; the only holder of the API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        max_retries: int,
        retry_backoff: float,
        allow_insecure_http: bool,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.allow_insecure_http = allow_insecure_http
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"qubico-nb/{__version__}"
        self.sleep: Callable[[float], None] = time.sleep

    @property
    def has_key(self) -> bool:
        return bool(self._api_key)

    @property
    def masked_key(self) -> str:
        return mask_key(self._api_key)

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def url_for(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    def _auth_headers(self, url: str) -> dict[str, str]:
        if not self._api_key:
            raise ConfigurationError(
                "no Qubico API key: set the QUBICO_API_KEY environment variable (PIAPI_API_KEY "
                "also works) or pass Client(api_key=...); without a key, use a Sandbox")
        if urlsplit(url).scheme != "https" and not is_loopback(url) and \
                not self.allow_insecure_http:
            raise ConfigurationError(
                f"refusing to send the API key over plain HTTP to {urlsplit(url).hostname}: "
                "use https://, or pass Client(allow_insecure_http=True) if you really mean it")
        return {"x-api-key": self._api_key}

    # -- JSON API calls ------------------------------------------------------------------------
    def request_json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        deadline: float | None = None,
        what: str = "request",
    ) -> Any:
        """Send one API call (with retries) and return its JSON body's envelope, checked."""
        url = self.url_for(path)
        headers = self._auth_headers(url)

        def attempt(timeout: float) -> Any:
            try:
                response = self.session.request(method, url, json=json, params=params,
                                                headers=headers, timeout=timeout)
            except requests.ConnectionError as err:
                raise self._connection_error(err, method, url, idempotent, what) from None
            except requests.Timeout:
                error: Exception = APITimeoutError(
                    f"{what}: no answer from {self._where(url)} within {timeout:g} s"
                    + ("" if idempotent else "; it may still have been carried out, so check "
                       "before sending it again"))
                raise (_Retry(error) if idempotent else error) from None
            except requests.RequestException as err:  # e.g. a body cut short mid-stream
                error = APIConnectionError(f"{what}: the answer from {self._where(url)} broke "
                                           f"off ({type(err).__name__})")
                raise (_Retry(error) if idempotent else error) from None
            return self._read(response, method, url, idempotent, what)

        return self._with_retries(attempt, deadline)

    def _with_retries(self, attempt: Callable[[float], Any], deadline: float | None) -> Any:
        tries = 0
        while True:
            timeout = self.timeout
            if deadline is not None:
                timeout = min(timeout, max(deadline - time.monotonic(), 0.001))
            try:
                return attempt(timeout)
            except _Retry as retry:
                tries += 1
                if tries > self.max_retries:
                    raise retry.error from None
                delay = random.uniform(0, self.retry_backoff * 2 ** (tries - 1))
                if retry.retry_after is not None:
                    if retry.retry_after > MAX_RETRY_AFTER_S:
                        raise retry.error from None
                    delay = max(delay, retry.retry_after)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise retry.error from None
                log.debug("retrying in %.2f s after: %s", delay, retry.error)
                self.sleep(delay)

    def _where(self, url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def _connection_error(self, err: requests.ConnectionError, method: str, url: str,
                          idempotent: bool, what: str) -> Exception:
        reason = self.redact(str(err.args[0] if err.args else err))[:300]
        sent = not _never_sent(err)
        note = "" if idempotent or not sent else (
            "; the server may have received it, so check history before sending it again")
        if isinstance(err, requests.ConnectTimeout):
            error: Exception = APITimeoutError(
                f"{what}: could not connect to {self._where(url)} in time{note}")
        else:
            error = APIConnectionError(
                f"{what}: could not reach {self._where(url)} ({reason}){note}")
        return _Retry(error) if idempotent or not sent else error

    def _read(self, response: requests.Response, method: str, url: str, idempotent: bool,
              what: str) -> Any:
        elapsed_ms = response.elapsed.total_seconds() * 1000
        log.debug("%s %s -> %s in %.1f ms", method, urlsplit(url).path, response.status_code,
                  elapsed_ms)
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        code = body.get("code") if isinstance(body, dict) else None
        message = self.redact(str(body.get("message") or "")) if isinstance(body, dict) else ""
        # An HTTP 200 whose envelope carries an HTTP-like error code is that error.
        if 200 <= status < 300 and isinstance(code, int) and 400 <= code <= 599:
            status = code
        if status >= 400:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if not message and body is None:
                message = self.redact(response.text[:200].strip())
            failure = status_error(status, message, code=code if isinstance(code, int) else None,
                                   what=what, retry_after=retry_after)
            if status == 429 or (idempotent and status in RETRY_STATUSES):
                raise _Retry(failure, retry_after)
            raise failure
        if not isinstance(body, dict):
            error = ProtocolError(
                f"{what}: {self._where(url)} answered HTTP {status} with a body that is not a "
                "JSON object; is the base URL right?")
            if idempotent:
                raise _Retry(error)
            raise error
        if code is not None and code not in (0, 200):
            raise APIStatusError(f"{what} failed with code {code}: {message or 'no message'}",
                                 status=status, code=code if isinstance(code, int) else None,
                                 server_message=message)
        return body

    # -- files ---------------------------------------------------------------------------------
    def fetch_file(self, url: str, sink: BinaryIO, *, chunk_size: int = 1 << 16,
                   on_bytes: Callable[[int], None] | None = None) -> int:
        """Stream a public file URL into `sink` (with retries); never sends the API key."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigurationError(f"can only download http(s) URLs, got {url[:80]!r}")

        written = 0

        def attempt(timeout: float) -> int:
            nonlocal written
            sink.seek(0)
            sink.truncate()
            written = 0
            try:
                with self.session.get(url, stream=True, timeout=timeout) as response:
                    if response.status_code >= 400:
                        error = status_error(response.status_code, "", what=f"download {url}")
                        if response.status_code in RETRY_STATUSES:
                            raise _Retry(error, parse_retry_after(
                                response.headers.get("Retry-After")))
                        raise error
                    for chunk in response.iter_content(chunk_size):
                        sink.write(chunk)
                        written += len(chunk)
                        if on_bytes:
                            on_bytes(len(chunk))
                    expected = response.headers.get("Content-Length")
                    if expected and expected.isdigit() and int(expected) != written and \
                            "Content-Encoding" not in response.headers:
                        raise _Retry(APIConnectionError(
                            f"download {url}: got {written} of {expected} bytes"))
                    return written
            except requests.RequestException as err:
                raise _Retry(APIConnectionError(
                    f"download {url}: the connection broke off after {written} bytes "
                    f"({type(err).__name__}); run it again to retry")) from None

        result: int = self._with_retries(attempt, None)
        return result

    def close(self) -> None:
        self.session.close()
