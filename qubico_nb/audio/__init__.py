"""Audio analysis: `analyze_file` measures one sound; `analyze` measures every work of a table.

`qubico_nb.audio.analysis` is pure (bytes or a path in, numbers out); `qubico_nb.audio.table`
fetches files through the client and the on-disk file cache.
"""

from __future__ import annotations

from .analysis import (
    AudioAnalysis,
    AudioDecodeError,
    analyze_file,
    analyze_samples,
    decode_peaks,
    encode_peaks,
)

__all__ = ["AudioAnalysis", "AudioDecodeError", "analyze_file", "analyze_samples", "decode_peaks",
           "encode_peaks"]
