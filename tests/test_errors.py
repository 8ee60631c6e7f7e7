"""Every error is an ordinary exception: args, hashable, pickle and deepcopy keep its fields."""

from __future__ import annotations

import copy
import inspect
import pickle
import subprocess
import sys

import pytest

from qubico_nb import errors
from qubico_nb.errors import (
    APIStatusError,
    CreateOutcomeUnknownError,
    QubicoError,
    ResponseTooLargeError,
    TaskFailedError,
    WaitTimeoutError,
    status_error,
)

CLASSES = sorted(
    (obj for obj in vars(errors).values() if inspect.isclass(obj) and issubclass(obj, QubicoError)),
    key=lambda cls: cls.__name__,
)


class _FakeTask:  # what TaskFailedError needs of a task; picklable at module level
    id = "t-1"
    error = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _FakeTask)

    def __hash__(self) -> int:
        return 1


def _instance(cls: type[QubicoError]) -> QubicoError:
    if issubclass(cls, APIStatusError):
        return cls(
            "boom: do this", status=503, code=503, server_message="server said", retry_after=2.0
        )
    if cls is CreateOutcomeUnknownError:
        return cls(
            "lost",
            model="Qubico/mmaudio",
            task_type="video2audio",
            input={"prompt": "rain"},
            sent_at=1700000000.5,
        )
    if cls is ResponseTooLargeError:
        return cls("too big", limit=16)
    if cls is TaskFailedError:
        return cls(_FakeTask())
    if cls is WaitTimeoutError:
        return cls("t-1", "processing", 3.0)
    return cls("something went wrong; do this")


def test_every_class_is_covered() -> None:
    assert len(CLASSES) >= 18 and QubicoError in CLASSES


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_an_ordinary_exception(cls: type[QubicoError]) -> None:
    error = _instance(cls)
    assert error.args and str(error)
    assert hash(error) == hash(error) and {error: 1}[error] == 1
    copied = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    for twin in (copied, copy.deepcopy(error), copy.copy(error)):
        assert type(twin) is cls
        assert twin.args == error.args and str(twin) == str(error)
        assert vars(twin).keys() == vars(error).keys()
        for name, value in vars(error).items():
            assert getattr(twin, name) == value, name


def test_fields_survive_and_names_say_what_they_hold() -> None:
    lost = pickle.loads(pickle.dumps(_instance(CreateOutcomeUnknownError)))  # noqa: S301
    assert isinstance(lost, CreateOutcomeUnknownError)
    assert (lost.model, lost.task_type, lost.input, lost.sent_at) == (
        "Qubico/mmaudio",
        "video2audio",
        {"prompt": "rain"},
        1700000000.5,
    )
    error = status_error(404, "task not found", code=404, what="get task 'x'")
    assert error.server_message == "task not found"
    assert error.message == "task not found"  # the old name, read-only
    assert "check the task id" in str(error) and "check" not in error.server_message
    with pytest.raises(AttributeError):
        error.message = "x"  # type: ignore[misc]


def test_errors_import_nothing_else_of_the_package() -> None:
    source = inspect.getsource(errors)
    imports = [line for line in source.splitlines() if line.startswith(("from .", "import qub"))]
    assert imports == ["from ._constants import API_KEY_ENV"]
    code = (
        "import sys, qubico_nb.errors; "
        "print(sorted(m for m in sys.modules if m.startswith('qubico_nb.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['qubico_nb._constants', 'qubico_nb._version', 'qubico_nb.errors']"
