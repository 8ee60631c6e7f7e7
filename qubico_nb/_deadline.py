"""Total deadlines for HTTP requests: a watchdog shuts the socket of a request past its deadline.

A request's `Alarm` holds its deadline (real monotonic seconds) and the connection it is
using; the connections a `DeadlineAdapter` makes report themselves to the alarm of the request
running on their thread (`current`), and one daemon thread (`watchdog`) fires each alarm at its
deadline, so a server trickling a byte a second cannot hold a call. `qubico_nb._transport`
arms the alarms; this module knows nothing of the API.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Alarm:
    """One request's deadline (real monotonic seconds) and the connection it is using."""

    __slots__ = ("budget", "cancelled", "conn", "deadline", "fired", "sock")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.budget = deadline - time.monotonic()  # for messages: how long it was given
        self.conn: HTTPConnection | None = None
        # Kept apart from conn.sock: http.client drops that when an answer says
        # "Connection: close", while the answer goes on reading from the socket.
        self.sock: socket.socket | None = None
        self.fired = False
        self.cancelled = False

    def fire(self) -> None:
        self.fired = True
        for sock in (self.sock, getattr(self.conn, "sock", None)):
            if sock is not None:
                with contextlib.suppress(OSError, ValueError):
                    # socket.socket's own shutdown, not SSLSocket's (which unwraps the TLS
                    # object under a reader's feet): the reader just sees the end of the stream.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread that fires alarms at their deadlines (cheap: no thread per request)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Fresh state; also in a forked child, where the parent's thread does not exist."""
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Alarm]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, alarm: Alarm) -> None:
        with self._cond:
            heapq.heappush(self._heap, (alarm.deadline, next(self._seq), alarm))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="qubico-nb-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is alarm:  # only an earlier deadline needs the thread awake
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and (
                        self._heap[0][2].cancelled or self._heap[0][0] != self._heap[0][2].deadline
                    ):
                        heapq.heappop(self._heap)  # finished, or re-armed later
                    if not self._heap:
                        self._cond.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        alarm = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(wait)
            alarm.fire()


watchdog = Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=watchdog._reset)
#: The alarm of the request running on this thread (``current.alarm``; None between requests).
current = threading.local()


def _attach(conn: HTTPConnection) -> None:
    """Tell the running request's alarm which connection (and socket) it is using."""
    alarm: Alarm | None = getattr(current, "alarm", None)
    if alarm is not None:
        alarm.conn = conn
        if conn.sock is not None:
            alarm.sock = conn.sock
        if alarm.fired:
            raise TimeoutError("the request's total deadline has passed")


class _DeadlineHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, HTTPSConnection):
    """The same reporting over TLS (the MRO puts HTTPSConnection's connect under ours)."""


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections report themselves to the running request's alarm."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _DeadlineHTTPPool,
            "https": _DeadlineHTTPSPool,
        }

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have their own connections
            manager.pool_classes_by_scheme = {
                "http": _DeadlineHTTPPool,
                "https": _DeadlineHTTPSPool,
            }
        return manager


__all__ = ["Alarm", "DeadlineAdapter", "Watchdog", "current", "watchdog"]
