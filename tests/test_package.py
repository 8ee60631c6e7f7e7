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


# -- as distributed (issue 20) ------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
#: What running the project leaves in a checkout: none of it belongs in a distribution.
LEFT_BEHIND = [
    ".hypothesis/examples/x",
    ".pytest_cache/v/x",
    ".mypy_cache/x.json",
    ".ruff_cache/x",
    ".venv-compat-3.10/bin/python",
    "tests/__pycache__/x.cpython-311.pyc",
    "notebooks/downloads/a.wav",
    "notebooks/listening-test.verdicts.jsonl",
    "notebooks/.ipynb_checkpoints/quickstart-checkpoint.ipynb",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel and an sdist built from a copy of the checkout after a run of everything."""
    pytest.importorskip("hatchling", reason="pip install -e '.[dev]' brings hatchling")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    copy = tmp_path_factory.mktemp("checkout")
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes((ROOT / name).read_bytes())
    for name in LEFT_BEHIND:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text("left behind")
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(dist)],
        cwd=copy,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return dist


@pytest.mark.slow
def test_the_sdist_holds_the_project_and_nothing_left_behind(built: Path) -> None:
    import tarfile

    (sdist,) = built.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "notebooks/review.ipynb", "qubico_nb/cli.py"} <= names
    assert "scripts/make_notebooks.py" in names and "tests/test_package.py" in names
    leaked = [n for n in names for junk in LEFT_BEHIND if n == junk or n.startswith(junk + "/")]
    assert not leaked and not [n for n in names if "cache" in n.split("/")[0] or ".pyc" in n]


@pytest.mark.slow
def test_pip_install_then_the_demo_finds_its_notebooks(built: Path, tmp_path: Path) -> None:
    """`pip install qubico-nb` and `qubico-nb demo` are the whole setup: the wheel carries the
    notebooks. Installed offline into a fresh venv that borrows the dev venv's dependencies."""
    import sysconfig
    import venv

    (wheel,) = built.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    # a plain path (not a site dir): the dev venv's editable qubico_nb stays out of sight
    Path(site, "dev-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    helped = subprocess.run(
        [str(env_dir / "bin" / "qubico-nb"), "demo", "--help"],
        cwd=outside,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0 and "usage: qubico-nb demo" in helped.stdout, helped.stderr
    script = (
        "import sys, qubico_nb\n"
        "from qubico_nb.demo import find_notebooks, prepare_workspace\n"
        "source = find_notebooks(None)\n"
        "copied = prepare_workspace(source, __import__('pathlib').Path(sys.argv[1]))\n"
        "print(qubico_nb.__file__, source, sorted(p.name for p in copied.glob('*.ipynb')))\n"
    )
    found = subprocess.run(
        [str(python), "-c", script, str(tmp_path / "demo")],
        cwd=outside,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split(" ", 2)
    assert found[0].startswith(site) and found[1] == str(Path(site) / "qubico_nb" / "notebooks")
    assert found[2].strip() == str(sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))


def test_binder_pins_every_package_the_notebooks_import() -> None:
    # postBuild installs qubico-nb with --no-deps over these pins: a dependency missing here
    # is an ImportError on Binder (listening-test.ipynb needs the stats and plot extras).
    import re

    root = Path(__file__).resolve().parent.parent
    project = (root / "pyproject.toml").read_text("utf-8")

    def names(block: str) -> set[str]:
        found = re.search(rf"^{block} = \[(.*?)^\]", project, re.S | re.M)
        assert found, block
        return {m.lower() for m in re.findall(r'^\s*"([A-Za-z0-9_.-]+)', found.group(1), re.M)}

    wanted = names("dependencies") | names("stats") | names("plot") | names("video")
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (root / "binder" / "requirements.txt").read_text("utf-8").splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    }
    assert wanted - pinned == set()
