"""Differences between notebook hosts (JupyterLab, Notebook 7, Voila, VS Code, Colab, Binder).

Each workaround names the upstream issue or documentation it answers. The facts here answer
"how can the *browser* get this file?" (`playback_plan`, `local_file_plan`): by its URL,
through the hub's proxy, or embedded into the page; `qubico_nb.playback` turns them into the
one rule every view follows.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import warnings
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

from ._constants import EMBED_LIMIT_BYTES, HUB_PREFIX_ENV, HUB_PROXY_ENV, PLAYBACK_ENV
from ._net import is_loopback_url

#: How a browser gets a file: its own URL, through the hub's proxy, or as bytes in the page.
PlaybackPlan = Literal["url", "embed", "proxy"]

#: Set in every kernel Voila starts (voila/utils.py ENV_VARIABLE).
VOILA_ENVS = ("VOILA_KERNEL_ID", "VOILA_SERVER_URL", "VOILA_BASE_URL")
#: Set by VS Code in the kernels it starts; the remote ones run where the browser is not.
VSCODE_ENVS = ("VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK_CLI")
REMOTE_ENVS = ("SSH_CONNECTION", "REMOTE_CONTAINERS", "CODESPACES")

_warned: set[str] = set()
_warned_lock = threading.Lock()


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets can render), False in a plain interpreter."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def host() -> str:
    """Which front end shows this kernel's output, as far as the kernel can tell.

    One of "colab", "vscode", "voila", "hub" (JupyterHub or Binder), "jupyter" (a local
    JupyterLab / Notebook 7) or "python" (no kernel).
    """
    if "google.colab" in sys.modules:
        return "colab"
    if any(os.environ.get(name) for name in VSCODE_ENVS):
        return "vscode"
    if any(os.environ.get(name) for name in VOILA_ENVS):
        return "voila"
    if os.environ.get(HUB_PREFIX_ENV):
        return "hub"
    return "jupyter" if in_kernel() else "python"


def has_server_proxy() -> bool:
    """Whether the hub's server forwards ports: ``$QUBICO_NB_HUB_PROXY`` if set, else whether
    jupyter-server-proxy is installed where this kernel runs (the usual single-image hub)."""
    said = os.environ.get(HUB_PROXY_ENV, "").strip().lower()
    if said in ("1", "true", "yes", "0", "false", "no"):
        return said in ("1", "true", "yes")
    return importlib.util.find_spec("jupyter_server_proxy") is not None


def hub_proxy_prefix() -> str | None:
    """``{JUPYTERHUB_SERVICE_PREFIX}proxy/`` when jupyter-server-proxy can forward ports, else None.

    https://jupyter-server-proxy.readthedocs.io/en/latest/arbitrary-ports-hosts.html
    """
    prefix = os.environ.get(HUB_PREFIX_ENV)
    if not prefix or not has_server_proxy():
        return None
    return prefix.rstrip("/") + "/proxy/"


def page_paths() -> tuple[str, ...]:
    """URL paths the notebook's own server serves (a relative file URL under one is meant for the
    page, not the API): the hub's jupyter-server-proxy prefix, when there is one."""
    prefix = hub_proxy_prefix()
    return (prefix,) if prefix and prefix.startswith("/") else ()


def _browser_elsewhere() -> bool:
    """True where the browser does not run on the kernel's machine, so its loopback is not ours."""
    if os.environ.get(HUB_PREFIX_ENV) or "google.colab" in sys.modules:
        return True
    return host() == "vscode" and any(os.environ.get(name) for name in REMOTE_ENVS)


def resolve_url(url: object, base_url: str | None = None) -> str | None:
    """A file URL from a server as something a browser may load, or None (show it as text).

    Absolute http(s) URLs stay; a hub's proxy path (what a sandbox under a hub hands out)
    stays; other relative URLs resolve against the API's `base_url`; every other scheme,
    protocol-relative or backslashed URL, and anything unparsable is None.
    """
    if not isinstance(url, str) or not url.strip():
        return None
    text = url.strip()
    try:
        if is_proxied_path(text):
            return text
        scheme = urlsplit(text).scheme.lower()
        if not scheme and not text.startswith(("//", "\\", "/\\")):
            if base_url is None:
                return None
            text = urljoin(base_url.rstrip("/") + "/", text)
            scheme = urlsplit(text).scheme.lower()
        parts = urlsplit(text)
    except ValueError:  # urlsplit raises on some malformed URLs ("http://[::1")
        return None
    return text if scheme in ("http", "https") and parts.netloc else None


def playback_plan(url: str) -> PlaybackPlan:
    """How the browser should get the file at `url` (absolute http(s), or a path on the page's
    server such as the hub's proxy path).

    "url": the browser can load it as is. "proxy": it is on the kernel's loopback and the hub's
    jupyter-server-proxy forwards it (`proxied_url`). "embed": the browser cannot reach it (a
    hub without jupyter-server-proxy, Colab, a remote VS Code), so the kernel must fetch the
    bytes and put them into the page.
    """
    try:
        if not urlsplit(url).scheme or not is_loopback_url(url):
            return "url"
        if _forced_embedding():
            return "embed"
        if not _browser_elsewhere():
            return "url"
    except ValueError:  # a malformed URL ("http://[::1"): nothing to plan, the caller shows text
        return "url"
    # Colab's own proxy (google.colab.kernel.proxyPort) is applied where the sandbox starts
    # (`sandbox_public_url`); a loopback URL that reaches us here was not proxied.
    if os.environ.get(HUB_PREFIX_ENV) and hub_proxy_prefix() is not None:
        return "proxy"
    return "embed"


def loopback_plays_as_is() -> bool:
    """True where every `playback_plan` is "url": the browser runs on the kernel's machine and
    nothing forces embedding, so a grid of files needs no plan per file."""
    return not _forced_embedding() and not _browser_elsewhere()


#: Said once per process, by whichever widget embeds a loopback file first.
LOOPBACK_EMBED_WARNING = (
    "The browser cannot reach this kernel's loopback address (JupyterHub without "
    "jupyter-server-proxy, Colab, or a remote VS Code): qubico-nb embeds the audio files into "
    f"the page instead (up to {EMBED_LIMIT_BYTES // 2**20} MB). Install jupyter-server-proxy on "
    "the hub to play them by URL."
)


def warn_loopback_embedding(*, stacklevel: int = 2) -> None:
    """`LOOPBACK_EMBED_WARNING`, once per process (shared by the viewer and `compare`)."""
    warn_once("embed-loopback", LOOPBACK_EMBED_WARNING, stacklevel=stacklevel + 1)


def proxied_url(url: str) -> str:
    """A loopback URL as the path jupyter-server-proxy serves it under the hub's prefix."""
    prefix = hub_proxy_prefix()
    parts = urlsplit(url)
    if prefix is None or parts.port is None:
        return url
    return urlunsplit(("", "", f"{prefix}{parts.port}{parts.path or '/'}", parts.query, ""))


def is_proxied_path(url: str) -> bool:
    """True for a path the hub's proxy serves (what a sandbox started under a hub hands out)."""
    prefix = hub_proxy_prefix()
    return prefix is not None and not urlsplit(url).scheme and url.startswith(prefix)


def local_file_plan() -> PlaybackPlan:
    """How the browser gets a file saved under the notebook's folder (after `download()`).

    JupyterLab and Notebook 7 serve the notebook's folder, so a relative URL works ("url").
    Voila serves only images by default (``VoilaConfiguration.file_allowlist``,
    https://github.com/voila-dashboards/voila/blob/main/voila/configuration.py), VS Code shows
    outputs in a webview with no file server behind it, where a local audio file does not load
    (https://github.com/microsoft/vscode-jupyter/issues/10020, a duplicate of
    https://github.com/microsoft/vscode-jupyter/issues/1012), and Colab's output frames come
    from another origin than the kernel's disk: "embed".
    """
    return "embed" if _forced_embedding() or host() in ("voila", "vscode", "colab") else "url"


def _forced_embedding() -> bool:
    return os.environ.get(PLAYBACK_ENV, "auto").strip().lower() == "embed"


def warn_once(key: str, message: str, *, stacklevel: int = 2) -> None:
    """A warning shown once per process per `key` (a notebook of viewers is not a wall of them)."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, stacklevel=stacklevel + 1)


def sandbox_public_url(port: int) -> str | None:
    """The URL a *browser* can use to reach a sandbox on this kernel's loopback port, if not direct.

    On JupyterHub / Binder the browser is elsewhere, so ``http://127.0.0.1:PORT`` in an
    ``<audio src>`` points at the user's own machine. jupyter-server-proxy forwards
    ``{JUPYTERHUB_SERVICE_PREFIX}proxy/PORT/`` to the kernel's loopback
    (https://jupyter-server-proxy.readthedocs.io/en/latest/arbitrary-ports-hosts.html);
    the same problem and fix for another kernel-side server:
    https://github.com/altair-viz/altair_data_server/issues/3 .
    Colab has its own proxy, ``google.colab.kernel.proxyPort`` (as used in
    https://github.com/tensorflow/tensorboard/pull/2798); its URLs have broken before
    (https://github.com/googlecolab/colabtools/issues/4738), so failure means "no proxy".
    """
    prefix = hub_proxy_prefix()
    if prefix is not None:
        return f"{prefix}{port}"
    if "google.colab" in sys.modules:
        try:
            from google.colab.output import eval_js  # type: ignore[import-not-found]

            return str(eval_js(f"google.colab.kernel.proxyPort({port})")).rstrip("/")
        except Exception:
            return None
    return None


# -- ipywidgets 7 and 8 ----------------------------------------------------------------------
def ipywidgets_major() -> int:
    import ipywidgets

    return int(str(ipywidgets.__version__).split(".", 1)[0])


def widget_view_bundle(widget: Any) -> dict[str, Any]:
    """The widget's own display bundle (its view and ``text/plain``), in ipywidgets 7 and 8.

    ipywidgets 8 builds it in ``Widget._repr_mimebundle_``; 7 (which Colab ships:
    https://github.com/googlecolab/colabtools/issues/3020) builds the same dict inside
    ``_ipython_display_`` and has no ``_repr_mimebundle_``
    (https://github.com/jupyter-widgets/ipywidgets/pull/2021 moved it, for 8.0).
    """
    import ipywidgets

    base = getattr(ipywidgets.Widget, "_repr_mimebundle_", None)
    if callable(base):
        return dict(base(widget) or {})
    if getattr(widget, "_view_name", None) is None or getattr(widget, "comm", None) is None:
        return {}
    return {
        "application/vnd.jupyter.widget-view+json": {
            "version_major": 2,
            "version_minor": 0,
            "model_id": widget.model_id,
        }
    }


def current_cell() -> tuple[str, str] | None:
    """(cell id, execution request id) of the cell running now, where the front end says so.

    JupyterLab and Notebook 7 send ``metadata.cellId`` with each execute request; a re-run of a
    cell keeps the cell id and gets a new request id, which tells a re-run cell's old widgets
    apart.
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        parent = kernel.get_parent() if hasattr(kernel, "get_parent") else shell.parent_header
        cell = (parent.get("metadata") or {}).get("cellId")
        request = (parent.get("header") or {}).get("msg_id")
    except Exception:
        return None
    return (str(cell), str(request)) if cell and request else None
