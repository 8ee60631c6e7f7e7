"""The public surface: every exported name resolves, nothing shadows it, and importing is cheap."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import qubico_nb


def test_every_exported_name_resolves_to_what_its_module_defines() -> None:
    import importlib

    for name, module in qubico_nb._EXPORTS.items():
        value = getattr(qubico_nb, name)
        assert not isinstance(value, types.ModuleType), name
        assert value is getattr(importlib.import_module(f"qubico_nb.{module}"), name), name
    assert qubico_nb.__all__ == sorted([*qubico_nb._EXPORTS, "__version__"])


def test_dir_lists_public_names_and_real_attributes() -> None:
    listed = dir(qubico_nb)
    assert {"compare", "TaskViewer", "__version__", "__name__", "__path__"} <= set(listed)
    assert listed == sorted(listed)


def test_type_checking_imports_match_the_export_table() -> None:
    tree = ast.parse(Path(qubico_nb.__file__).read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
    )
    seen = {
        alias.name: node.module
        for node in ast.walk(block)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == qubico_nb._EXPORTS


def test_no_submodule_is_named_like_a_public_name() -> None:
    submodules = {info.name for info in pkgutil.iter_modules(qubico_nb.__path__)}
    assert not submodules & set(qubico_nb.__all__)


def test_importing_every_submodule_first_shadows_no_function() -> None:
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(qubico_nb.__path__)
        if info.name not in ("__main__", "cli", "demo")
    )
    code = (
        "import importlib, types\n"
        f"for m in {names!r}: importlib.import_module('qubico_nb.' + m)\n"
        "from qubico_nb import *\n"
        "import qubico_nb\n"
        "bad = [n for n in qubico_nb.__all__ if isinstance(globals()[n], types.ModuleType)]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_comes_from_one_place() -> None:
    from importlib.metadata import version

    assert qubico_nb.__version__ == version("qubico-nb")


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        qubico_nb.Nope  # noqa: B018


def test_import_loads_no_heavy_modules() -> None:
    code = (
        "import sys, qubico_nb, qubico_nb.sandbox, qubico_nb.cli; "
        "print(sorted(m for m in ('pandas', 'ipywidgets', 'IPython', 'requests') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
