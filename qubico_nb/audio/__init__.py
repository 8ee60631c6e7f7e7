"""Audio analysis: `analyze_file` measures one sound; `analyze` measures every work of a table;
`sync_offset` measures how late a sound lands on its video (PyAV: ``qubico-nb[video]``).

`qubico_nb.audio.analysis` is pure (bytes or a path in, numbers out); `qubico_nb.audio.table`
fetches files through the client and the on-disk file cache (`qubico_nb.store.files`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .analysis import (
    AudioAnalysis,
    AudioDecodeError,
    analyze_file,
    analyze_samples,
    decode_peaks,
    encode_peaks,
)
from .sync import CONFIDENT, SyncEstimate, sync_offset

if TYPE_CHECKING:
    from .table import ANALYSIS_COLUMNS, SYNC_COLUMNS, analyze


def __getattr__(name: str) -> Any:
    # The table half needs pandas and the client: load it only when it is asked for.
    if name in ("analyze", "ANALYSIS_COLUMNS", "SYNC_COLUMNS"):
        from . import table

        return getattr(table, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANALYSIS_COLUMNS",
    "CONFIDENT",
    "SYNC_COLUMNS",
    "AudioAnalysis",
    "AudioDecodeError",
    "SyncEstimate",
    "analyze",
    "analyze_file",
    "analyze_samples",
    "decode_peaks",
    "encode_peaks",
    "sync_offset",
]
