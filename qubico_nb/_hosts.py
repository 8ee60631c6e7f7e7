"""Differences between notebook hosts (JupyterLab, Notebook 7, Voila, VS Code, Colab, Binder).

Each workaround names the upstream issue or documentation it answers.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets can render), False in a plain interpreter."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


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
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and importlib.util.find_spec("jupyter_server_proxy") is not None:
        return f"{prefix.rstrip('/')}/proxy/{port}"
    if "google.colab" in sys.modules:
        try:
            from google.colab.output import eval_js  # type: ignore[import-not-found]

            return str(eval_js(f"google.colab.kernel.proxyPort({port})")).rstrip("/")
        except Exception:
            return None
    return None
