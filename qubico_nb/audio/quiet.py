"""Keep a C decoder's messages off the kernel's stderr, and keep the first of them as the reason.

libsndfile's MP3 decoder (libmpg123) writes a line to file descriptor 2 for every bad frame
header: an MP3 of junk wrote about 110 MB per call, straight into the notebook. Python cannot
catch that at ``sys.stderr``; this points descriptor 2 at a pipe while decoding, keeps the first
few kilobytes of what arrives for each call that is listening, and throws the rest away.

Descriptor 2 belongs to the whole process, so calls on several threads share one redirection
(counted: the first in sets it up, the last out puts stderr back); what any thread writes to
stderr meanwhile is caught too, which is why the window is kept to the decoder's calls alone.
On Windows (no such flood seen; descriptors work differently) nothing is redirected.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import sys
import threading
import time
from collections.abc import Iterator

#: What each listener keeps of the messages (the rest is only counted).
KEPT_BYTES = 4096
#: How long a listener waits for messages still in the pipe when it stops listening.
_DRAIN_S = 1.0


class Messages:
    """What the decoder wrote while one call listened: the first `KEPT_BYTES`, and a count."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.size = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        room = KEPT_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]

    def summary(self, *, wait: bool = False) -> str | None:
        """The decoder's first error (else first message), tidied, and whether more followed;
        None when it said nothing. `wait`: first take in what is still in the pipe."""
        if wait:
            _REDIRECT.drain()
        lines = [_tidy(line) for line in self.head.decode("utf-8", "replace").splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            return None
        first = next((line for line in lines if line.lower().startswith("error")), lines[0])
        first = re.sub(r"^(error|warning|note):\s*", "", first, flags=re.IGNORECASE)
        more = f" (of {self.size:,} bytes of messages)" if len(lines) > 1 else ""
        return f"the decoder says: {first[:300]}{more}"


def _tidy(line: str) -> str:
    """A message without its source-file prefix ("[src/libmpg123/parse.c:...] ")."""
    return re.sub(r"^\[[^\]]*\]\s*", "", line.strip())


class _Redirect:
    """The shared redirection of descriptor 2 into a pipe, read by one thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.listeners: list[Messages] = []
        self.saved: int | None = None
        self.reader: threading.Thread | None = None
        self.read_end: int | None = None

    def start(self, messages: Messages) -> None:
        with self.lock:
            if self.users == 0:
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
                read_end, write_end = os.pipe()
                self.saved = os.dup(2)
                os.dup2(write_end, 2)
                os.close(write_end)
                self.read_end = read_end
                self.reader = threading.Thread(
                    target=self._read, args=(read_end,), name="qubico-nb-stderr", daemon=True
                )
                self.reader.start()
            self.users += 1
            self.listeners.append(messages)

    def stop(self, messages: Messages) -> None:
        self.drain()
        with self.lock:
            self.listeners.remove(messages)
            self.users -= 1
            if self.users:
                return
            saved = self.saved
            self.saved = self.reader = self.read_end = None
            assert saved is not None
            os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees it and ends
            os.close(saved)

    def drain(self) -> None:
        """Wait (briefly) until the reader has taken everything already in the pipe (it reads
        only while holding the lock, so an empty pipe under the lock means nothing in hand)."""
        deadline = time.monotonic() + _DRAIN_S
        while time.monotonic() < deadline:
            with self.lock:
                if self.read_end is None or _unread(self.read_end) == 0:
                    return
            time.sleep(0.001)

    def _read(self, read_end: int) -> None:
        try:
            while True:
                select.select([read_end], [], [])
                with self.lock:
                    data = os.read(read_end, 65536)  # readable, one reader: never blocks
                    if not data:
                        return
                    for listener in self.listeners:
                        listener.add(data)
        finally:
            os.close(read_end)


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe."""
    import fcntl
    import termios

    buffer = bytearray(4)
    try:
        fcntl.ioctl(fd, termios.FIONREAD, buffer)
    except OSError:
        return 0
    return int.from_bytes(buffer, sys.byteorder)


_REDIRECT = _Redirect()


#: How files begin that libsndfile decodes with its own, silent code (WAV, AIFF, FLAC, Ogg):
#: no need to redirect anything for them. Anything else may reach libmpg123.
QUIET_FORMATS = (b"RIFF", b"RIFX", b"RF64", b"FORM", b"fLaC", b"OggS")


@contextlib.contextmanager
def decoder_messages(head: bytes = b"") -> Iterator[Messages]:
    """``with decoder_messages(first_bytes) as said:`` around the decoder's calls; then
    ``said.summary()``. A file whose `head` shows a format libsndfile reads itself is left
    alone (a redirection costs a pipe and a thread)."""
    messages = Messages()
    if os.name == "nt" or head[:4] in QUIET_FORMATS:
        yield messages
        return
    _REDIRECT.start(messages)
    try:
        yield messages
    finally:
        _REDIRECT.stop(messages)
