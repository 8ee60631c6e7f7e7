"""Media files with every metadata block removed, the sound and picture kept bit for bit.

`strip_metadata` is what blind listening needs: a tag (an ID3 frame, a RIFF ``INFO`` chunk, a
Vorbis comment, an MP4 ``ilst`` item, a handler name...) can carry the prompt, the seed, the task
id or a file name, and a browser that gets the file has them before the reveal. Pure and
standard library only (no HTTP, no widgets): one module per container format.
"""

from __future__ import annotations

from .errors import MetadataError
from .flac import strip_flac
from .isobmff import strip_mp4
from .mpeg import strip_mp3, without_id3v2_head
from .ogg import strip_ogg
from .riff import strip_riff

#: What `strip_metadata` reads, by container.
FORMATS = ("WAV (RIFF, RIFX, RF64)", "FLAC", "Ogg Vorbis", "Ogg Opus", "MP3", "MP4/M4A/MOV")


def strip_metadata(data: bytes | bytearray | memoryview) -> bytes:
    """The file's bytes with every metadata block removed and the media data bit-exact.

    The container is recognized from the bytes, never from a name: WAV (keeps ``fmt ``, ``data``,
    ``fact`` and RF64's ``ds64``), FLAC (keeps STREAMINFO), Ogg Vorbis and Opus (an empty comment
    header, vendor string included; pages re-numbered with fresh CRCs), MP3 (drops ID3v2, ID3v1,
    Enhanced TAG, APEv1/v2 and Lyrics3 tags) and MP4/M4A/MOV (drops ``udta``, ``meta``, ``uuid``,
    ``free`` and ``©xyz`` boxes, blanks handler names and creation times, moves chunk offsets).
    Raises `MetadataError` for bytes it does not recognize or that are damaged: the original is
    never handed back unchecked.
    """
    raw = bytes(data)
    body = without_id3v2_head(raw)  # some taggers put an ID3v2 tag in front of any file
    if body[:4] in (b"RIFF", b"RIFX", b"RF64"):
        return strip_riff(body)
    if body[:4] == b"fLaC":
        return strip_flac(body)
    if body[:4] == b"OggS":
        return strip_ogg(body)
    if body[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return strip_mp4(body)
    if raw[:3] == b"ID3" or (len(body) > 1 and body[0] == 0xFF and body[1] & 0xE0 == 0xE0):
        return strip_mp3(raw)
    raise MetadataError(
        f"cannot remove metadata: the {len(raw):,} bytes are not a file this reads "
        f"({', '.join(FORMATS)}); it was not passed on with its tags"
    )


__all__ = ["FORMATS", "MetadataError", "strip_metadata"]
