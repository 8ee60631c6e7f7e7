"""HTTP for the client: one session, the key, total deadlines, size caps, JSON envelopes.

Whether a failure is asked again, and after how long, is `RetryPolicy`'s decision
(``_retry.py``); this module only says what failed and whether the request may have been acted
on, and waits on the client's clock. What it promises:

- **The key stays home.** An answer that echoes the key (in a URL, a log line, an error) has
  it removed by value (`Secrets`) before anyone reads the answer, so no `Task`, frame, page or
  store ever holds it. ``x-api-key`` goes only to the origin (scheme, host, port) of the URL
  the client chose, never over plain HTTP to a host that is not this machine. API calls follow a
  redirect only within that origin (a GET on any of 301/302/303/307/308, another method on
  307/308 only); a redirect to another origin is refused with `ProtocolError`, key unsent.
  Files (`fetch_file`) never carry the key and follow up to five redirects to http(s) URLs.
- **Every call ends.** Each request has a total deadline (the client's ``timeout``, covering
  connect, redirects, headers and body), enforced by a watchdog that shuts the socket of a
  request past it, so a server trickling a byte a second cannot hold a call. A file download
  gets ``timeout`` plus one second per `MIN_DOWNLOAD_RATE` bytes received (16 KiB): any
  download averaging more than 16 KiB/s finishes, a trickle is cut after ``timeout`` + 1 s.
- **Nothing unbounded.** A JSON answer holds at most ``max_json_bytes`` (16 MiB) and a file at
  most ``max_bytes`` (512 MiB), counted after decompression, which is checked piece by piece, so
  a gzip bomb is stopped before it inflates.
- **A lost create is said to be lost.** A create that was sent but whose answer broke off, timed
  out, was not JSON or was a 502/504 raises `CreateOutcomeUnknownError` and is never resent.
"""

from __future__ import annotations

import hashlib
import http.client
import json as jsonlib
import logging
import os
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests
import urllib3
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from ._constants import API_KEY_ENV, API_KEY_ENV_ALIASES, SANDBOX_KEY_ENV
from ._deadline import Alarm, DeadlineAdapter, current, watchdog
from ._net import api_base, is_loopback_url, origin, redirect_target, where
from ._retry import CREATE_OUTCOME_UNKNOWN_STATUSES, Clock, RetryPolicy, SystemClock
from ._secrets import MAX_DEPTH, MIN_SECRET_CHARS, Secrets, TooDeep
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    CreateOutcomeUnknownError,
    InvalidRequestError,
    MalformedResponseError,
    ProtocolError,
    QubicoError,
    ResponseTooLargeError,
    status_error,
)

log = logging.getLogger("qubico_nb")

#: Largest JSON answer read (after decompression).
MAX_JSON_BYTES = 16 * 1024 * 1024
#: Largest file `fetch_file` writes unless told otherwise (after decompression).
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
#: A download may last the client's ``timeout`` plus one second per this many bytes received.
MIN_DOWNLOAD_RATE = 16 * 1024
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_PIECE = 64 * 1024  # most bytes inflated from one compressed piece before the cap is checked


# -- small helpers -----------------------------------------------------------------------------
#: Loopback is reached directly: a proxy from the environment (HTTP_PROXY) would otherwise get
#: the plain-HTTP request to a local sandbox, key and all. (requests drops None entries after
#: merging the environment's proxies, so these override them.)
_NO_PROXY: Any = {"http": None, "https": None}
#: What stands where the key was, in messages and answers.
REDACTED = "***"


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


def check_api_url(url: object, name: str = "base_url") -> str:
    """`url` as an API base, normalized (`qubico_nb._net.api_base`); InvalidRequestError
    saying what is wrong with it otherwise."""
    try:
        return api_base(url)
    except ValueError as why:
        shown = repr(url)[:120] if isinstance(url, str) else type(url).__name__
        raise InvalidRequestError(
            f"{name} must be an http(s) URL like https://api.piapi.ai; {shown} {why}"
        ) from None


def _redirect_target(url: str, headers: Mapping[str, str], what: str) -> str:
    """Where a redirect points, as an absolute http(s) URL, or a ProtocolError."""
    location = (headers.get("Location") or "").strip()
    target = redirect_target(url, location)
    if target is None:
        raise ProtocolError(
            f"{what}: {where(url)} answered with a redirect to "
            f"{location[:100]!r}, which is not an http(s) URL"
        )
    return target


class _KeyAuth(requests.auth.AuthBase):
    """Adds ``x-api-key``; holds the key so that no local variable or header dict of ours does
    (error trackers record frame locals)."""

    def __init__(self, key: str) -> None:
        self._key = key
        # A short key (a sandbox's placeholder, a test's "k") is no secret: see `redact`.
        self.secrets = Secrets([key] if len(key) >= MIN_SECRET_CHARS else [])

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["x-api-key"] = self._key
        return request

    def __repr__(self) -> str:
        return f"_KeyAuth({mask_key(self._key)})"


# -- bodies ------------------------------------------------------------------------------------
class _Inflater:
    """Decodes a Content-Encoding piece by piece, so the size cap is checked while inflating.

    Every byte or an error: a gzip body of several members (RFC 1952, 2.2) is read to the end
    of the last one; bytes after the compressed data that are not a gzip member, and a body
    that stops inside a member, are `MalformedResponseError` (a stream cut after its first
    member would be a silently short file).
    """

    def __init__(self, encoding: str | None, what: str) -> None:
        name = (encoding or "identity").strip().lower()
        self._what = what
        self._gzip = name in ("gzip", "x-gzip")
        self._fed = False
        if name in ("", "identity"):
            self._z: Any = None
        elif self._gzip:
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif name == "deflate":
            self._z = zlib.decompressobj()
        else:
            raise ProtocolError(
                f"{what}: the answer uses Content-Encoding {name[:40]!r}, which was not asked for"
            )

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            yield data
            return
        self._fed = self._fed or bool(data)
        try:
            while data:
                if self._z.eof:  # a member ended with bytes after it
                    if not self._gzip:
                        raise self._malformed("has bytes after the end of its compressed data")
                    self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next gzip member
                out = self._z.decompress(data, _PIECE)
                data = self._z.unused_data if self._z.eof else self._z.unconsumed_tail
                if out:
                    yield out
        except zlib.error:
            raise self._malformed("is corrupt") from None

    def finish(self) -> None:
        """Call after the last piece: a compressed body must end where its data ends."""
        if self._z is not None and self._fed and not self._z.eof:
            raise self._malformed("ends in the middle of its compressed data")

    def _malformed(self, why: str) -> MalformedResponseError:
        return MalformedResponseError(f"{self._what}: the answer's compressed body {why}")


def _raw_pieces(raw: Any) -> Iterator[bytes]:
    """The body as it arrives, undecoded: each piece as soon as the network has it (``read1``),
    so deadlines and caps are checked as often as bytes come."""
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # an older urllib3
        yield from raw.stream(_CHUNK, decode_content=False)
        return
    while True:
        data = read1(_CHUNK, decode_content=False)
        if not data:
            return
        yield data


class _SinkFailed(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Failure:
    """One failed attempt: the error to raise, whether it may have been acted on, Retry-After."""

    __slots__ = ("error", "retry_after", "sent")

    def __init__(
        self, error: QubicoError, *, sent: bool = True, retry_after: float | None = None
    ) -> None:
        self.error = error
        self.sent = sent
        self.retry_after = retry_after


class _Answer:
    """A whole answer: status, headers, and the body (decoded, within its cap)."""

    __slots__ = ("body", "headers", "status", "url")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url


_BROKEN = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class Transport:
    """Sends requests to one API base URL; the only holder of the API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        allow_insecure_http: bool,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        session: requests.Session | None = None,
        max_json_bytes: int = MAX_JSON_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = _KeyAuth(api_key) if api_key else None
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.allow_insecure_http = allow_insecure_http
        self.max_json_bytes = max_json_bytes
        owned = session is None
        self.session = session or requests.Session()
        # The environment (proxies, CA bundle) is read once per origin, not on every request:
        # requests re-reads it per call, about a fifth of a keep-alive GET's time. A Session the
        # caller passed in keeps its trust_env (requests reads the environment per call for
        # it); like our own, it gets the deadline adapters below, which replace whatever it had
        # mounted for http:// and https://, and our User-Agent.
        self._trust_env = owned and self.session.trust_env
        if self._trust_env:
            self.session.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._verify: str | None = bundle if self._trust_env and bundle else None
        self._proxies: dict[str, Any] = {}
        adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"qubico-nb/{__version__}"

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r}, api_key={self.masked_key})"

    def _proxies_for(self, url: str) -> Any:
        """The environment's proxies for `url`'s origin, read once; none for this machine (a
        proxy would get the plain-HTTP request to a local sandbox, key and all)."""
        if is_loopback_url(url):
            return _NO_PROXY
        if not self._trust_env:
            return None
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        found = self._proxies.get(origin)
        if found is None:
            found = self._proxies[origin] = requests.utils.get_environ_proxies(url)
        return found

    @property
    def has_key(self) -> bool:
        return self._auth is not None

    @property
    def masked_key(self) -> str:
        return mask_key(self._auth._key if self._auth else None)

    @property
    def key_secrets(self) -> Secrets:
        """The key as a `Secrets` (empty for none, or one too short to be a secret)."""
        return self._auth.secrets if self._auth is not None else Secrets()

    @property
    def key_fingerprint(self) -> str | None:
        """A short one-way hash of the key: names the account (e.g. in an on-disk cache) and
        says nothing about the key."""
        if self._auth is None:
            return None
        return hashlib.sha256(b"qubico-nb:" + self._auth._key.encode()).hexdigest()[:16]

    def redact(self, text: str) -> str:
        """`text` without the key. A key shorter than `MIN_SECRET_CHARS` (a sandbox's
        placeholder, a test's "k") is no secret, and blanking it would garble words such as
        "task" in every message."""
        return text if self._auth is None else self._auth.secrets.text(text, REDACTED)

    def without_key(self, answer: Any, *, source: bytes | None = None) -> Any | None:
        """`answer` (parsed JSON, from the body `source`) with the key replaced by value in
        every string in it; None for one nested too deeply to check (no API answer is)."""
        if self._auth is None:
            return answer
        try:
            return self._auth.secrets.remove_from(answer, REDACTED, source=source)
        except TooDeep:
            return None

    def url_for(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    def _check_destination(self, url: str) -> None:
        """The key may go to `url`: there is one, and the hop is https or this machine."""
        if self._auth is None:
            raise ConfigurationError(
                f"no Qubico API key: set the {API_KEY_ENV} environment variable "
                f"({', '.join(API_KEY_ENV_ALIASES)} also works) or pass Client(api_key=...); "
                "without a key, use a Sandbox"
            )
        if (
            urlsplit(url).scheme.lower() != "https"
            and not is_loopback_url(url)
            and not self.allow_insecure_http
        ):
            raise ConfigurationError(
                f"refusing to send the API key over plain HTTP to {where(url)}: "
                "use https://, or pass Client(allow_insecure_http=True) if you really mean it"
            )

    # -- retries -------------------------------------------------------------------------------
    def _with_retries(
        self, attempt: Callable[[], Any], *, idempotent: bool, deadline: float | None, what: str
    ) -> Any:
        tries = 0
        while True:
            outcome = attempt()
            if not isinstance(outcome, _Failure):
                return outcome
            error = outcome.error
            tries += 1
            delay = (
                self.policy.delay(tries, outcome.retry_after)
                if self.policy.is_retryable(error, idempotent=idempotent, sent=outcome.sent)
                else None
            )
            if delay is None or (
                deadline is not None and self.clock.monotonic() + delay >= deadline
            ):
                raise error
            log.debug("%s: retrying in %.2f s after: %s", what, delay, error)
            self.clock.sleep(delay)

    # -- one exchange --------------------------------------------------------------------------
    def _exchange(
        self,
        method: str,
        url: str,
        *,
        alarm: Alarm,
        with_key: bool,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        limit: int,
        what: str,
        sink: BinaryIO | None = None,
        on_bytes: Callable[[int], None] | None = None,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
        rate: float | None = None,
        started: float = 0.0,
    ) -> _Answer | _Failure:
        """One HTTP request and its whole body, within `alarm`'s deadline and `limit` bytes.

        Errors are returned as a `_Failure` (built outside any ``except`` block's raise, so no
        library exception, which may hold the request and its headers, is chained to them).
        """
        budget = alarm.deadline - time.monotonic()
        if budget <= 0 or alarm.fired:
            return self._timed_out(url, what, alarm, sent=alarm.conn is not None)
        current.alarm = alarm
        failure: _Failure | None = None
        response: requests.Response | None = None
        try:
            response = self.session.request(
                method,
                url,
                json=json,
                params=params,
                stream=True,
                allow_redirects=False,
                auth=self._auth if with_key else None,
                timeout=(budget, budget),
                headers={"Accept-Encoding": "gzip, deflate"},
                proxies=self._proxies_for(url),
                verify=self._verify,
            )
        except requests.ConnectionError as err:
            failure = self._connection_failure(err, url, what, alarm)
        except requests.Timeout:
            failure = self._timed_out(url, what, alarm, sent=True)
        except _BROKEN as err:
            failure = self._broke_off(url, what, err, alarm)
        except ValueError:  # requests parses a redirect's Location even when not following it
            failure = _Failure(
                ProtocolError(
                    f"{what}: {where(url)} answered with something that could not be read, such "
                    "as a redirect to a URL that is not an http(s) URL"
                )
            )
        finally:
            current.alarm = None
        if failure is not None or response is None:
            return failure or self._timed_out(url, what, alarm, sent=True)
        try:
            return self._read_body(
                response,
                url,
                alarm=alarm,
                limit=limit,
                what=what,
                sink=sink,
                on_bytes=on_bytes,
                on_headers=on_headers,
                rate=rate,
                started=started,
            )
        finally:
            response.close()

    def _read_body(
        self,
        response: requests.Response,
        url: str,
        *,
        alarm: Alarm,
        limit: int,
        what: str,
        sink: BinaryIO | None,
        on_bytes: Callable[[int], None] | None,
        on_headers: Callable[[Mapping[str, str]], None] | None,
        rate: float | None,
        started: float,
    ) -> _Answer | _Failure:
        status = response.status_code
        headers = response.headers
        if status in REDIRECT_STATUSES or (sink is not None and status >= 300):
            return _Answer(status, headers, b"", url)  # the caller follows or refuses it
        if on_headers is not None:
            on_headers(headers)  # may raise to refuse the body before a byte of it is read
        expected = headers.get("Content-Length", "")
        if expected.isdigit() and int(expected) > limit and "Content-Encoding" not in headers:
            return _Failure(
                ResponseTooLargeError(
                    f"{what}: the answer from {where(url)} announces {int(expected):,} "
                    f"bytes, more than the {limit:,} allowed"
                    + ("; pass a larger max_bytes if you expect it" if sink else ""),
                    limit=limit,
                )
            )
        pieces: list[bytes] = []
        size = raw_size = 0
        failure: _Failure | None = None
        sink_error: OSError | None = None
        try:
            inflater = _Inflater(headers.get("Content-Encoding"), what)
            for raw in _raw_pieces(response.raw):
                raw_size += len(raw)
                for piece in inflater.feed(raw):
                    size += len(piece)
                    if size > limit:
                        raise ResponseTooLargeError(
                            f"{what}: the answer from {where(url)} is larger than {limit:,} "
                            "bytes"
                            + (" once decompressed" if raw_size < size else "")
                            + ("; pass a larger max_bytes if you expect it" if sink else ""),
                            limit=limit,
                        )
                    if sink is not None:
                        try:
                            sink.write(piece)
                        except OSError as err:
                            raise _SinkFailed(err) from None
                        if on_bytes:
                            on_bytes(len(piece))
                    else:
                        pieces.append(piece)
                if rate:  # earned by the bytes received, plus one second for the next ones
                    alarm.deadline = max(
                        alarm.deadline, started + self.timeout + 1 + raw_size / rate
                    )
                    alarm.budget = alarm.deadline - started
                    watchdog.arm(alarm)
            if expected.isdigit() and int(expected) != raw_size:
                failure = _Failure(
                    APIConnectionError(
                        f"{what}: got {raw_size} of {expected} bytes from {where(url)}"
                    )
                )
            else:
                inflater.finish()
        except QubicoError as err:
            failure = _Failure(err)
        except _SinkFailed as err:
            sink_error = err.error
        except (*_BROKEN, ValueError) as err:  # ValueError: a socket shut under a TLS reader
            failure = self._broke_off(url, what, err, alarm, received=size)
        if sink_error is not None:
            raise sink_error  # our disk, not the network: never retried
        if alarm.fired:  # a shut socket can look like a short but complete answer
            return self._timed_out(url, what, alarm, sent=True)
        if failure is not None:
            return failure
        response.raw.release_conn()
        return _Answer(status, headers, b"".join(pieces), url)

    def _timed_out(self, url: str, what: str, alarm: Alarm, *, sent: bool) -> _Failure:
        return _Failure(
            APITimeoutError(
                f"{what}: no complete answer from {where(url)} within {alarm.budget:.3g} s"
            ),
            sent=sent,
        )

    def _broke_off(
        self, url: str, what: str, err: BaseException, alarm: Alarm, received: int | None = None
    ) -> _Failure:
        if alarm.fired:
            return self._timed_out(url, what, alarm, sent=True)
        after = "" if received is None else f" after {received} bytes"
        return _Failure(
            APIConnectionError(
                f"{what}: the answer from {where(url)} broke off{after} ({type(err).__name__})"
            )
        )

    def _connection_failure(
        self, err: requests.ConnectionError, url: str, what: str, alarm: Alarm
    ) -> _Failure:
        if alarm.fired:
            return self._timed_out(url, what, alarm, sent=alarm.conn is not None)
        reason = err.args[0] if err.args else err
        inner = getattr(reason, "reason", reason)
        never_sent = isinstance(err, requests.ConnectTimeout) or isinstance(
            inner, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError)
        )
        if isinstance(err, requests.ConnectTimeout):
            return _Failure(
                APITimeoutError(f"{what}: could not connect to {where(url)} in time"), sent=False
            )
        detail = self.redact(str(reason))[:300]
        return _Failure(
            APIConnectionError(f"{what}: could not reach {where(url)} ({detail})"),
            sent=not never_sent,
        )

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
        """Send one API call (with retries) and return its JSON body's envelope, checked.

        `deadline` is on the client's clock; each try also ends within ``timeout``. A call that
        is not `idempotent` (a create) whose answer was lost raises `CreateOutcomeUnknownError`.
        """
        url = self.url_for(path)
        self._check_destination(url)

        def attempt() -> Any:
            budget = self.timeout
            if deadline is not None:
                budget = min(budget, max(deadline - self.clock.monotonic(), 0.001))
            alarm = Alarm(time.monotonic() + budget)
            watchdog.arm(alarm)
            sent_at = time.time()
            try:
                outcome = self._follow(
                    method, url, alarm=alarm, json=json, params=params, what=what
                )
                if isinstance(outcome, _Answer):
                    body = self._envelope(outcome, idempotent, what, json, sent_at)
                    if isinstance(body, _Failure):
                        return body
                    clean = self.without_key(body, source=outcome.body)
                    if clean is None:  # a new error: no frame holding the answer goes with it
                        return _Failure(
                            ProtocolError(
                                f"{what}: the answer nests more than {MAX_DEPTH} levels deep; "
                                "no API answer does, so it is refused"
                            )
                        )
                    return clean
                if not idempotent and outcome.sent:
                    return _Failure(self._lost(json, what, outcome.error, sent_at))
                return outcome
            finally:
                alarm.cancelled = True

        return self._with_retries(attempt, idempotent=idempotent, deadline=deadline, what=what)

    def _follow(
        self,
        method: str,
        url: str,
        *,
        alarm: Alarm,
        json: Any,
        params: Mapping[str, Any] | None,
        what: str,
    ) -> _Answer | _Failure:
        """One API request, following redirects only within `url`'s origin (key and all)."""
        home = origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            self._check_destination(url)
            began = time.monotonic()
            outcome = self._exchange(
                method,
                url,
                alarm=alarm,
                with_key=True,
                json=json,
                params=params,
                limit=self.max_json_bytes,
                what=what,
            )
            if isinstance(outcome, _Answer):
                log.debug(
                    "%s %s -> %s in %.1f ms",
                    method,
                    urlsplit(url).path[:200],
                    outcome.status,
                    (time.monotonic() - began) * 1000,
                )
            if isinstance(outcome, _Failure) or outcome.status not in REDIRECT_STATUSES:
                return outcome
            target = _redirect_target(url, outcome.headers, what)
            code = outcome.status
            if origin(target) != home:
                raise ProtocolError(
                    f"{what}: {where(url)} redirected (HTTP {code}) to another origin, "
                    f"{where(target)!r}; refused, so the API key stays with {where(url)}. "
                    "If the API moved, pass its new address as Client(base_url=...)"
                )
            if code in (301, 302, 303) and method.upper() not in ("GET", "HEAD"):
                raise ProtocolError(
                    f"{what}: {where(url)} answered a {method} with HTTP {code} (a redirect "
                    "that would turn it into a GET); refused"
                )
            url = target
            params = None  # the Location holds the whole target, query included
        raise ProtocolError(f"{what}: more than {MAX_REDIRECTS} redirects from {where(url)}")

    def _lost(
        self, body: Any, what: str, cause: QubicoError, sent_at: float
    ) -> CreateOutcomeUnknownError:
        fields = body if isinstance(body, dict) else {}
        model = str(fields.get("model") or "")
        task_input = fields.get("input") if isinstance(fields.get("input"), dict) else {}
        return CreateOutcomeUnknownError(
            f"{what}: the request was sent but its answer was lost ({cause}); the task may "
            "exist and be billed. Before sending it again, look for it with "
            f"client.history(model={model!r}, since={int(sent_at) - 60}) and compare its input",
            model=model,
            task_type=str(fields.get("task_type") or ""),
            input=task_input,
            sent_at=sent_at,
        )

    def _envelope(
        self, answer: _Answer, idempotent: bool, what: str, request_body: Any, sent_at: float
    ) -> Any:
        body: Any = None
        try:
            body = jsonlib.loads(answer.body) if answer.body else None
        except (ValueError, RecursionError):
            body = None
        status = answer.status
        code = body.get("code") if isinstance(body, dict) else None
        message = (
            self.redact(str(body.get("message") or ""))[:500] if isinstance(body, dict) else ""
        )
        # An HTTP 200 whose envelope carries an HTTP-like error code is that error.
        if 200 <= status < 300 and isinstance(code, int) and 400 <= code <= 599:
            status = code
        if status >= 400:
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            if not message and body is None:
                message = self.redact(answer.body.decode("utf-8", "replace"))[:200].strip()
            failure = status_error(
                status,
                message,
                code=code if isinstance(code, int) else None,
                what=what,
                retry_after=retry_after,
            )
            if status == 401 and is_loopback_url(self.base_url):
                failure.args = (
                    f"{failure.args[0]}; a server on this machine never gets the key "
                    f"from ${API_KEY_ENV}: pass Client(api_key=...) or set "
                    f"${SANDBOX_KEY_ENV}",
                )
            if not idempotent and status in CREATE_OUTCOME_UNKNOWN_STATUSES:
                return _Failure(self._lost(request_body, what, failure, sent_at))
            return _Failure(failure, retry_after=retry_after)
        if not isinstance(body, dict):
            error = MalformedResponseError(
                f"{what}: {where(answer.url)} answered HTTP {status} with a body that is not "
                "a JSON object; is the base URL right?"
            )
            if not idempotent:
                return _Failure(self._lost(request_body, what, error, sent_at))
            return _Failure(error)
        if code is not None and code not in (0, 200):
            return _Failure(
                APIStatusError(
                    f"{what} failed with code {code!r}: {message or 'no message'}",
                    status=status,
                    code=code if isinstance(code, int) else None,
                    server_message=message,
                )
            )
        return body

    # -- files ---------------------------------------------------------------------------------
    def fetch_file(
        self,
        url: str,
        sink: BinaryIO,
        *,
        chunk_size: int = _CHUNK,
        on_bytes: Callable[[int], None] | None = None,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
        max_bytes: int | None = None,
    ) -> int:
        """Stream a public file URL into `sink` (with retries); never sends the API key.

        One try may last ``timeout`` plus one second per `MIN_DOWNLOAD_RATE` (16 KiB) received;
        a file larger than `max_bytes` (default `MAX_DOWNLOAD_BYTES`) is an error.
        `on_headers` gets the final answer's headers (case-insensitive; after redirects, before
        its body) on every try; an exception it raises stops the download, unretried, and
        propagates with nothing written to `sink`.
        """
        if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https"):
            raise ConfigurationError(f"can only download http(s) URLs, got {str(url)[:80]!r}")
        limit = MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes
        what = f"download {url[:200]!r}"

        def attempt() -> int | _Failure:
            sink.seek(0)
            sink.truncate()
            started = time.monotonic()
            alarm = Alarm(started + self.timeout)
            watchdog.arm(alarm)
            try:
                hop = url
                for _ in range(MAX_REDIRECTS + 1):
                    outcome = self._exchange(
                        "GET",
                        hop,
                        alarm=alarm,
                        with_key=False,
                        limit=limit,
                        what=what,
                        sink=sink,
                        on_bytes=on_bytes,
                        on_headers=on_headers,
                        rate=MIN_DOWNLOAD_RATE,
                        started=started,
                    )
                    if isinstance(outcome, _Failure):
                        return outcome
                    if outcome.status in REDIRECT_STATUSES:
                        hop = _redirect_target(hop, outcome.headers, what)
                        continue
                    if outcome.status >= 300:
                        error = status_error(outcome.status, "", what=what)
                        return _Failure(
                            error, retry_after=parse_retry_after(outcome.headers.get("Retry-After"))
                        )
                    return sink.tell()
                raise ProtocolError(f"{what}: more than {MAX_REDIRECTS} redirects")
            finally:
                alarm.cancelled = True

        result: int = self._with_retries(attempt, idempotent=True, deadline=None, what=what)
        return result

    def close(self) -> None:
        self.session.close()
