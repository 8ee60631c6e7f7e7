"""An exported listening test's page: one self-contained HTML file (the board's module, its
style, the test as JSON, every file as base64), and nothing it may fetch.

Every text is escaped; the JSON is written so that no value can close its ``<script>`` block
(``<``, ``>``, ``&`` and the JavaScript line separators as ``\\u`` escapes); base64 blocks hold
only base64's alphabet. A Content-Security-Policy allows exactly the page's own inline script
and style (by their SHA-256), ``data:``/``blob:`` media, and no connection at all but the POST
to the test's submit URL when it has one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from .core import esc

#: Characters a JSON text may hold that would end or confuse its ``<script>`` block.
_SCRIPT_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
#: A file's token in the page: what the kernel makes (12 hex digits).
_TOKEN = re.compile(r"[0-9a-f]{6,64}")

#: The page around the board: start (instructions, name), the trial, the end. Filled by
#: `listening_test_page` with escaped texts only; standalone.js finds its parts by id.
_SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main class="qnb-x" id="qnb-x">
<header class="qnb-x-top"><h1>{title}</h1>
<div class="qnb-x-where"><span id="qnb-x-progress" aria-live="polite">Not started</span>
<progress id="qnb-x-bar" max="1" value="0" aria-label="Progress"></progress></div></header>
<section class="qnb-x-panel" id="qnb-x-start" data-title="{title}" aria-label="Start">
<div class="qnb-x-instructions">{instructions}</div>
<div class="qnb-x-field"><label for="qnb-x-name">Your name or id</label>
<input id="qnb-x-name" type="text" autocomplete="off" spellcheck="false" maxlength="100">
<button type="button" class="qnb-x-primary" id="qnb-x-begin" disabled>Start</button></div>
<p class="qnb-x-note" id="qnb-x-resume" role="status"></p>
<p class="qnb-x-note">Use headphones in a quiet room. Your answers stay in this browser until
you finish; then the page saves them as a file{sending}. Nothing else leaves this page.</p>
<noscript><p class="qnb-x-note">This test needs JavaScript.</p></noscript></section>
<section id="qnb-x-trial" hidden aria-label="Test">
<div class="qnb-x-board" id="qnb-x-board"></div>
<div class="qnb-x-steps"><button type="button" id="qnb-x-back">Back</button>
<span class="qnb-x-rules" id="qnb-x-rules" role="status"></span>
<button type="button" class="qnb-x-primary" id="qnb-x-next" aria-keyshortcuts="Enter"
 disabled>Next</button></div></section>
<section class="qnb-x-panel" id="qnb-x-done" hidden aria-label="Finished">
<p><b>Thank you: the test is done.</b> Your answers were saved as a file (see your
downloads); send it to whoever gave you this test.</p>
<p class="qnb-x-note" id="qnb-x-sent" role="status"></p>
<p><button type="button" id="qnb-x-save">Save the file again</button>
<button type="button" id="qnb-x-resend" hidden>Send again</button></p></section>
</main>
<script type="application/json" id="qnb-test">{test}</script>
"""


def script_json(value: Any) -> str:
    """`value` as JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_UNSAFE[m.group()], text)


def inline_script(code: str) -> str:
    """Module code made safe inside ``<script>``: a ``</script`` in it would end the block
    (written ``<\\/script``, the same text to JavaScript); an HTML comment opener is refused."""
    if "<!--" in code:
        raise ValueError("the page's script contains '<!--', which HTML parses inside <script>")
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def source_hash(text: str) -> str:
    """A CSP source for an inline block: ``'sha256-<base64>'`` of its exact text."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def submit_origin(url: str) -> str:
    """The origin a submit URL posts to (``https://host:port``); ValueError when it is not an
    absolute http(s) URL without credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"submit_url must be an absolute http(s) URL, not {url!r}")
    if parts.username or parts.password:
        raise ValueError("submit_url must not carry a user name or password")
    if re.search(r"[\s'\";,]", url):
        raise ValueError(f"submit_url has a character a URL cannot hold: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def content_policy(script: str, style: str, submit_url: str | None) -> str:
    """The page's Content-Security-Policy: its own script and style, embedded media, and no
    request anywhere but the submit URL."""
    connect = submit_origin(submit_url) if submit_url else "'none'"
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {source_hash(script)}",
            f"style-src {source_hash(style)}",
            "media-src data: blob:",
            "img-src data: blob:",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


def _paragraphs(text: str | None) -> str:
    if not text:
        return ""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return "".join(f"<p>{esc(block)}</p>" for block in blocks)


def listening_test_page(
    *,
    title: str,
    instructions: str | None,
    test: dict[str, Any],
    files: Iterable[tuple[str, bytes]],
    script: str,
    style: str,
    submit_url: str | None = None,
) -> Iterator[str]:
    """The page, in pieces (a test of a few hundred MB is written without one string of it):
    `test` as the page's JSON, each of `files` (token, bytes) as a base64 block, `script`
    (one ES module) and `style` inline under a policy that allows nothing else."""
    code = inline_script(script)
    if re.search("</style", style, re.IGNORECASE):
        raise ValueError("the page's style contains '</style', which would end its block")
    css = style
    yield _SHELL.format(
        policy=esc(content_policy(code, css, submit_url)),
        title=esc(title),
        css=css,
        instructions=_paragraphs(instructions),
        sending=" and sends them" if submit_url else "",
        test=script_json(test),
    )
    for token, data in files:
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"a file token is hex digits, not {token!r}")
        encoded = base64.b64encode(data)
        if not _BASE64.fullmatch(encoded):  # pragma: no cover - base64 writes nothing else
            raise ValueError("not base64")
        yield f'<script type="text/plain" data-file="{token}">'
        yield encoded.decode("ascii")
        yield "</script>\n"
    yield f'<script type="module">{code}</script>\n</body>\n</html>\n'
