"""The public surface: every exported name resolves, and importing the package is cheap."""

from __future__ import annotations

import subprocess
import sys

import qubico_nb


def test_every_exported_name_resolves() -> None:
    for name in qubico_nb.__all__:
        assert getattr(qubico_nb, name) is not None, name
    assert set(dir(qubico_nb)) >= set(qubico_nb.__all__)


def test_unknown_names_raise_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        qubico_nb.Nope  # noqa: B018


def test_import_loads_no_heavy_modules() -> None:
    code = ("import sys, qubico_nb, qubico_nb.sandbox, qubico_nb.cli; "
            "print(sorted(m for m in ('pandas', 'ipywidgets', 'IPython', 'requests') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
