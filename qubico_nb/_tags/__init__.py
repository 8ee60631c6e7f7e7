"""Media files with every metadata block removed, the sound and picture kept bit for bit.

`strip_metadata` is what blind listening needs: a tag (an ID3 frame, a RIFF ``INFO`` chunk, a
Vorbis comment, an MP4 ``ilst`` item, a handler name...) can carry the prompt, the seed, the task
id or a file name, and a browser that gets the file has them before the reveal. Pure and
standard library only (no HTTP, no widgets): one module per container format.
"""

from __future__ import annotations

from collections.abc import Callable

from .._media import looks_like
from .errors import MetadataError
from .flac import strip_flac
from .isobmff import strip_mp4
from .mpeg import strip_mp3, without_id3v2_head
from .ogg import strip_ogg
from .riff import strip_riff

#: What `strip_metadata` reads, by container.
FORMATS = ("WAV (RIFF, RIFX, RF64, BW64)", "FLAC", "Ogg Vorbis", "Ogg Opus", "MP3", "MP4/M4A/MOV")
#: Each container's stripper, by the media type whose signature (`qubico_nb._media.SIGNATURES`,
#: the one table of how files begin) the bytes match, in the order they are tried.
_STRIPPERS: dict[str, Callable[[bytes], bytes]] = {
    "audio/wav": strip_riff,
    "audio/flac": strip_flac,
    "audio/ogg": strip_ogg,
    "video/quicktime": strip_mp4,
    "audio/mpeg": strip_mp3,
}


def strip_metadata(data: bytes | bytearray | memoryview) -> bytes:
    """The file's bytes with only what its decoder needs: an allow-list, not a list of tags.

    The container is recognized from the bytes, never from a name: WAV (a ``fmt `` cut to the
    fields its format defines, ``fact``'s sample count, RF64's ``ds64`` sizes, the first
    ``data`` chunk's whole sample frames), FLAC (STREAMINFO and the frames, up to the end of
    the last one), Ogg Vorbis and Opus (an empty comment header, vendor string included; pages
    re-numbered with fresh CRCs), MP3 (the MPEG audio frames, read one after the other: every
    tag and any byte between or after them is left out) and MP4/M4A/MOV (``ftyp``, ``moov``,
    ``mdat``, ``moof`` at the top; inside ``moov`` only the boxes playback needs, handler names,
    encoder names and creation times blanked, chunk offsets moved). Raises `MetadataError` for
    bytes it does not recognize or that are damaged: the original is never handed back unchecked.
    """
    raw = bytes(data)
    body = without_id3v2_head(raw)  # some taggers put an ID3v2 tag in front of any file
    for media_type, strip in _STRIPPERS.items():
        if looks_like(body, media_type):
            return strip(raw if strip is strip_mp3 else body)
    raise MetadataError(
        f"cannot remove metadata: the {len(raw):,} bytes are not a file this reads "
        f"({', '.join(FORMATS)}); it was not passed on with its tags"
    )


__all__ = ["FORMATS", "MetadataError", "strip_metadata"]
