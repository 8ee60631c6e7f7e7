"""Blind means blind through the files: every tag kind of WAV, FLAC, Ogg, MP3 and MP4 carrying
the prompt, the seed, the task id and a file name is gone after `strip_metadata`, and the file
still decodes to the very same samples (the same compressed packets, for the video).

mutagen writes the tags wherever it can (a tagger as users run them); the kinds it does not
write (RIFF INFO and bext, FLAC APPLICATION, Lyrics3, the Enhanced TAG, APEv1, an appended
ID3v2.4, MP4 free/uuid boxes and handler names) are written by hand here.
"""

from __future__ import annotations

import contextlib
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mutagen import apev2, flac, id3, mp3, mp4, oggopus, oggvorbis, wave

from qubico_nb._media import _boxes
from qubico_nb._tags import MetadataError, strip_metadata
from qubico_nb._tags.ogg import page_crc
from qubico_nb.sandbox.assets import ASSETS_DIR, DEMO_VIDEO

from .media import box

PROMPT = "a lonely whale sings under the arctic ice"
SEED = "seed-918273645"
TASK_ID = "task-7f3e9a1c-2b4d"
FILE_NAME = "take_03_final.wav"
IDENTIFIERS = (PROMPT, SEED, TASK_ID, FILE_NAME)


def assert_anonymous(data: bytes) -> None:
    """None of the identifiers is in the bytes, in any text encoding a tag uses."""
    for text in IDENTIFIERS:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert text.encode(encoding) not in data, (text, encoding)
    # the pieces an ID3v1 tag keeps of a long prompt (30 characters) are gone too
    assert PROMPT[:30].encode() not in data


def assert_tagged(data: bytes) -> None:
    """A fixture really carries each identifier (so the test above tests something)."""
    found = {
        text for text in IDENTIFIERS for enc in ("utf-8", "utf-16-le") if text.encode(enc) in data
    }
    assert found == set(IDENTIFIERS)


def tone(rate: int = 44100, seconds: float = 1.5, channels: int = 2) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t)
    return np.stack([left, 0.3 * np.sin(2 * np.pi * 660 * t)][:channels], axis=1)


def encoded(fmt: str, subtype: str, rate: int = 44100) -> bytes:
    sink = io.BytesIO()
    sf.write(sink, tone(rate), rate, format=fmt, subtype=subtype)
    return sink.getvalue()


def samples(data: bytes) -> tuple[np.ndarray, int]:
    return sf.read(io.BytesIO(data), dtype="float32", always_2d=True)


def tagged_by(tmp_path: Path, data: bytes, suffix: str, tag: Callable[[str], None]) -> bytes:
    path = tmp_path / f"work{suffix}"
    path.write_bytes(data)
    tag(str(path))
    return path.read_bytes()


def id3v2_tag(version: int = 4, *, utf16: bool = False) -> bytes:
    """An ID3v2 tag (mutagen's) carrying every identifier."""
    tags = id3.ID3()
    encoding = 1 if utf16 else 3
    tags.add(id3.TIT2(encoding=encoding, text=PROMPT))
    tags.add(id3.TPE1(encoding=encoding, text=SEED))
    tags.add(id3.TALB(encoding=encoding, text=TASK_ID))
    tags.add(id3.TOFN(encoding=encoding, text=FILE_NAME))
    tags.add(id3.COMM(encoding=encoding, lang="eng", desc="seed", text=SEED))
    sink = io.BytesIO()
    tags.save(sink, v2_version=version, padding=lambda info: 64)
    return sink.getvalue()


# -- WAV ---------------------------------------------------------------------------------------
def riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def info_list() -> bytes:
    items = b"".join(
        riff_chunk(key, value.encode() + b"\x00")
        for key, value in (
            (b"INAM", PROMPT),
            (b"ICMT", SEED),
            (b"ISRC", TASK_ID),
            (b"IPRD", FILE_NAME),
        )
    )
    return riff_chunk(b"LIST", b"INFO" + items)


def bext() -> bytes:
    description = PROMPT.encode().ljust(256, b"\x00")
    originator = SEED.encode().ljust(32, b"\x00")
    reference = TASK_ID.encode().ljust(32, b"\x00")
    return riff_chunk(
        b"bext",
        description
        + originator
        + reference
        + bytes(10 + 8 + 8 + 2 + 64 + 190)
        + FILE_NAME.encode(),
    )


def with_chunks(wav: bytes, before: bytes, after: bytes) -> bytes:
    """The WAV with chunks added before its fmt chunk and at its end, sizes made right."""
    body = wav[12:] + after
    out = wav[:4] + struct.pack("<I", 4 + len(before) + len(body)) + b"WAVE" + before + body
    return out


def riff_kinds(data: bytes) -> list[bytes]:
    kinds, at = [], 12
    while at + 8 <= len(data):
        size = struct.unpack("<I", data[at + 4 : at + 8])[0]
        kinds.append(data[at : at + 4])
        at += 8 + size + size % 2
    return kinds


def test_wav_loses_info_id3_bext_and_every_other_chunk(tmp_path: Path) -> None:
    for subtype in ("PCM_16", "FLOAT"):
        plain = encoded("WAV", subtype)

        def tag(path: str) -> None:
            audio = wave.WAVE(path)
            audio.add_tags()
            for frame in id3.ID3(io.BytesIO(id3v2_tag())).values():
                audio.tags.add(frame)
            audio.save()

        with_id3 = tagged_by(tmp_path, plain, ".wav", tag)
        odd = riff_chunk(b"iXML", f"<x>{FILE_NAME}</x>!".encode())  # odd size: a pad byte
        upper = riff_chunk(b"ID3 ", id3v2_tag(3, utf16=True))
        data = with_chunks(with_id3, info_list() + bext(), odd + upper + info_list())
        assert b"id3 " in riff_kinds(data) and b"LIST" in riff_kinds(data)
        assert_tagged(data)
        stripped = strip_metadata(data)
        assert_anonymous(stripped)
        assert set(riff_kinds(stripped)) <= {b"fmt ", b"data", b"fact"}
        assert struct.unpack("<I", stripped[4:8])[0] == len(stripped) - 8
        got, want = samples(stripped), samples(plain)
        assert got[1] == want[1] and np.array_equal(got[0], want[0])
        assert strip_metadata(stripped) == stripped  # nothing left to take


def test_a_wav_missing_the_pad_byte_of_its_last_chunk_is_still_read() -> None:
    plain = encoded("WAV", "PCM_16")
    data = with_chunks(plain, b"", riff_chunk(b"LIST", b"INFOINAM\x03\x00\x00\x00abc")[:-1])
    assert b"abc" not in strip_metadata(data)


# -- FLAC --------------------------------------------------------------------------------------
def flac_blocks(data: bytes) -> list[int]:
    kinds, at = [], 4
    while True:
        header = data[at]
        kinds.append(header & 0x7F)
        at += 4 + int.from_bytes(data[at + 1 : at + 4], "big")
        if header & 0x80:
            return kinds


def application_block(after_streaminfo: bytes) -> bytes:
    """The FLAC with an APPLICATION block (id 'qbnb') inserted after STREAMINFO."""
    payload = b"qbnb" + f"{TASK_ID}|{FILE_NAME}".encode()
    block = bytes([2]) + len(payload).to_bytes(3, "big") + payload
    return after_streaminfo[:42] + block + after_streaminfo[42:]


def id3v1(title: str = SEED, artist: str = TASK_ID) -> bytes:
    return (
        b"TAG"
        + title.encode().ljust(30, b"\0")
        + artist.encode().ljust(30, b"\0")
        + bytes(30 + 4 + 30 + 1)
    )


def test_flac_keeps_only_streaminfo_and_the_frames(tmp_path: Path) -> None:
    plain = encoded("FLAC", "PCM_24")

    def tag(path: str) -> None:
        audio = flac.FLAC(path)
        audio["title"] = PROMPT
        audio["comment"] = SEED
        audio["qubico_task"] = TASK_ID
        picture = flac.Picture()
        picture.type, picture.mime, picture.desc = 3, "image/png", FILE_NAME
        picture.data = b"\x89PNG\r\n\x1a\n" + PROMPT.encode()
        audio.add_picture(picture)
        audio.save()

    data = application_block(tagged_by(tmp_path, plain, ".flac", tag))
    data = id3v2_tag(3) + data + id3v1()  # taggers that treat FLAC like MP3
    assert_tagged(data)
    stripped = strip_metadata(data)
    assert_anonymous(stripped)
    assert stripped[:4] == b"fLaC" and flac_blocks(stripped) == [0]
    got, want = samples(stripped), samples(plain)
    assert got[1] == want[1] and np.array_equal(got[0], want[0])
    assert strip_metadata(stripped) == stripped


# -- Ogg ---------------------------------------------------------------------------------------
def ogg_pages(data: bytes, *, check: bool = True) -> list[tuple[int, int, int, bytes]]:
    """(flags, granule, sequence, body) of every page, each page's CRC checked by hand."""
    pages, at = [], 0
    while at < len(data):
        assert data[at : at + 4] == b"OggS"
        flags, granule, _, sequence, crc, count = struct.unpack_from("<BqIIIB", data, at + 5)
        lacing = data[at + 27 : at + 27 + count]
        end = at + 27 + count + sum(lacing)
        blank = bytearray(data[at:end])
        blank[22:26] = bytes(4)
        assert not check or _reference_crc(bytes(blank)) == crc
        pages.append((flags, granule, sequence, data[at + 27 + count : end]))
        at = end
    return pages


def _reference_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (
                ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF
                if crc & 0x80000000
                else (crc << 1) & 0xFFFFFFFF
            )
    return crc


def test_the_fast_ogg_crc_is_the_reference_crc() -> None:
    rng = np.random.default_rng(5)
    for size in (0, 1, 27, 300, 4096):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert page_crc(data) == _reference_crc(data)


@pytest.mark.parametrize(
    ("subtype", "rate", "module", "empty"),
    [
        ("VORBIS", 44100, oggvorbis.OggVorbis, b"\x03vorbis" + bytes(8) + b"\x01"),
        ("OPUS", 48000, oggopus.OggOpus, b"OpusTags" + bytes(8)),
    ],
)
def test_ogg_gets_an_empty_comment_header_and_valid_pages(
    tmp_path: Path, subtype: str, rate: int, module: type, empty: bytes
) -> None:
    plain = encoded("OGG", subtype, rate)

    def tag(path: str) -> None:
        audio = module(path)
        audio["title"] = PROMPT
        audio["comment"] = SEED
        audio["qubico_task"] = TASK_ID
        audio["filename"] = FILE_NAME
        audio["lyrics"] = (PROMPT + " ") * 3000  # ~130 kB: the comment header spans pages
        audio.save()

    data = tagged_by(tmp_path, plain, ".ogg", tag)
    assert_tagged(data)
    stripped = strip_metadata(data)
    assert_anonymous(stripped)
    assert b"Lavf" not in stripped and b"libopus" not in stripped and b"Xiph" not in stripped
    pages = ogg_pages(stripped)
    assert [sequence for _, _, sequence, _ in pages] == list(range(len(pages)))
    assert pages[1][3].startswith(empty)
    before = {granule for _, granule, _, _ in ogg_pages(data, check=False) if granule > 0}
    assert {granule for _, granule, _, _ in pages if granule > 0} == before
    assert pages[-1][0] & 4  # the end-of-stream flag is kept
    got, want = samples(stripped), samples(plain)
    assert got[1] == want[1] and np.array_equal(got[0], want[0])
    assert len(stripped) < len(plain)  # even the encoder's vendor string is gone


# -- MP3 ---------------------------------------------------------------------------------------
def ape_v1(items: dict[str, str]) -> bytes:
    body = b"".join(
        struct.pack("<II", len(v.encode()), 0) + k.encode() + b"\0" + v.encode()
        for k, v in items.items()
    )
    return body + b"APETAGEX" + struct.pack("<IIII", 1000, len(body) + 32, len(items), 0) + bytes(8)


def lyrics3_v2(text: str) -> bytes:
    field = b"LYR" + f"{len(text.encode()):05d}".encode() + text.encode()
    block = b"LYRICSBEGIN" + b"IND0000210" + field
    return block + f"{len(block):06d}".encode() + b"LYRICS200"


def enhanced_tag() -> bytes:
    return (
        b"TAG+"
        + PROMPT.encode()[:60].ljust(60, b"\0")
        + FILE_NAME.encode().ljust(60, b"\0")
        + bytes(60 + 1 + 30 + 6 + 6)
    )


def appended_id3v24() -> bytes:
    """An ID3v2.4 tag with a footer, as appended at the end of a file."""
    tag = bytearray(id3v2_tag(4))
    tag[5] |= 0x10  # footer present
    return bytes(tag) + b"3DI" + bytes(tag[3:10])


def mp3_cases(plain: bytes, tmp_path: Path) -> dict[str, bytes]:
    def mutagen_tags(path: str) -> None:
        audio = mp3.MP3(path)
        audio.add_tags()
        for frame in id3.ID3(io.BytesIO(id3v2_tag(3, utf16=True))).values():
            audio.tags.add(frame)
        audio.save(v2_version=3, v1=2)  # ID3v2.3 in UTF-16 and an ID3v1.1 tag
        ape = apev2.APEv2()
        ape["Title"], ape["Comment"], ape["Task"], ape["File"] = PROMPT, SEED, TASK_ID, FILE_NAME
        ape.save(path)

    with_footer = bytearray(id3v2_tag(4))
    with_footer[5] |= 0x10
    with_footer += b"3DI" + with_footer[3:10]
    return {
        "ID3v2.3 UTF-16, APEv2, ID3v1.1": tagged_by(tmp_path, plain, ".mp3", mutagen_tags),
        "ID3v2.4 with footer, Lyrics3 v2, Enhanced TAG": bytes(with_footer)
        + plain
        + lyrics3_v2(f"{PROMPT} {TASK_ID}")
        + enhanced_tag()
        + id3v1(),
        "two ID3v2 heads, APEv1, Lyrics3 v1, appended ID3v2.4": id3v2_tag(3)
        + id3v2_tag(4)
        + plain
        + ape_v1({"Title": PROMPT, "File": FILE_NAME})
        + b"LYRICSBEGIN"
        + f"{SEED} {TASK_ID}".encode()
        + b"LYRICSEND"
        + id3v1()
        + appended_id3v24(),
    }


def test_mp3_loses_every_tag_kind_and_keeps_its_frames(tmp_path: Path) -> None:
    plain = encoded("MP3", "MPEG_LAYER_III")
    want = samples(plain)
    for name, data in mp3_cases(plain, tmp_path).items():
        assert_tagged(data)
        stripped = strip_metadata(data)
        assert_anonymous(stripped)
        assert stripped == plain, name  # exactly the encoder's frames, Xing/LAME frame included
        got = samples(stripped)
        assert got[1] == want[1] and np.array_equal(got[0], want[0]), name


# -- MP4 ---------------------------------------------------------------------------------------
DEMO = (ASSETS_DIR / DEMO_VIDEO).read_bytes()


def tree(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, list]]:
    containers = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta"}
    return [
        (kind, tree(data, body, body_end) if kind in containers else [])
        for kind, body, body_end in _boxes(data, start, len(data) if end is None else end)
    ]


def kinds_in(nodes: list[tuple[bytes, list]]) -> set[bytes]:
    return {kind for kind, _ in nodes} | {k for _, kids in nodes for k in kinds_in(kids)}


def find(
    data: bytes, path: list[bytes], start: int = 0, end: int | None = None
) -> list[tuple[int, int]]:
    """(payload start, end) of every box at `path` (types from the top)."""
    found = []
    for kind, body, body_end in _boxes(data, start, len(data) if end is None else end):
        if kind == path[0]:
            found += [(body, body_end)] if len(path) == 1 else find(data, path[1:], body, body_end)
    return found


def chunks(data: bytes) -> list[bytes]:
    """The first 64 bytes at every chunk offset of every track: what a player reads."""
    out = []
    for body, _ in find(data, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco"]):
        (count,) = struct.unpack(">I", data[body + 4 : body + 8])
        for n in range(count):
            (offset,) = struct.unpack(">I", data[body + 8 + 4 * n : body + 12 + 4 * n])
            out.append(data[offset : offset + 64])
    return out


def with_handler_name(data: bytes, name: str) -> bytes:
    """The demo with the video handler named `name`, moov moved after mdat (so that growing it
    moves no chunk)."""
    ((moov_body, moov_end),) = find(data, [b"moov"])
    ((mdat_body, mdat_end),) = find(data, [b"mdat"])
    moov = bytearray(data[moov_body - 8 : moov_end])
    ((hdlr, hdlr_end),) = find(bytes(moov), [b"moov", b"trak", b"mdia", b"hdlr"])
    stco_body = find(bytes(moov), [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco"])[0][0]
    head = data[: moov_body - 8]
    shift = len(moov)  # mdat moves back by the moov it no longer follows
    (count,) = struct.unpack(">I", moov[stco_body + 4 : stco_body + 8])
    for n in range(count):
        at = stco_body + 8 + 4 * n
        struct.pack_into(">I", moov, at, struct.unpack(">I", moov[at : at + 4])[0] - shift)
    named = moov[: hdlr + 24] + name.encode() + b"\x00" + moov[hdlr_end:]
    grown = len(named) - len(moov)
    struct.pack_into(">I", named, hdlr - 8, hdlr_end - hdlr + 8 + grown)
    for path in ([b"moov"], [b"moov", b"trak"], [b"moov", b"trak", b"mdia"]):
        ((body, _),) = find(bytes(moov), path)
        struct.pack_into(
            ">I", named, body - 8, struct.unpack(">I", moov[body - 8 : body - 4])[0] + grown
        )
    between = data[moov_end : mdat_body - 8]
    return head + between + data[mdat_body - 8 : mdat_end] + bytes(named)


def tag_mp4(path: str) -> None:
    video = mp4.MP4(path)
    video["\xa9nam"] = PROMPT
    video["\xa9cmt"] = SEED
    video["\xa9too"] = FILE_NAME
    video["----:com.apple.iTunes:qubico_task"] = mp4.MP4FreeForm(TASK_ID.encode())
    video.save()


def xmp_uuid() -> bytes:
    xmp_id = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
    return box(b"uuid", xmp_id + f"<x:xmpmeta>{PROMPT} {SEED}</x:xmpmeta>".encode())


def mp4_cases(tmp_path: Path) -> dict[str, bytes]:
    moov_first = tagged_by(tmp_path, DEMO, ".mp4", tag_mp4)
    named = with_handler_name(DEMO, f"{FILE_NAME} {TASK_ID}")
    moov_last = tagged_by(tmp_path, named, ".mp4", tag_mp4)
    return {
        "moov before mdat (chunk offsets move)": moov_first
        + xmp_uuid()
        + box(b"free", f"{FILE_NAME} {TASK_ID}".encode()),
        "moov after mdat, handler named": moov_last + box(b"skip", PROMPT.encode()),
    }


def test_mp4_loses_its_metadata_boxes_and_every_chunk_reads_the_same_bytes(tmp_path: Path) -> None:
    want = chunks(DEMO)
    for name, data in mp4_cases(tmp_path).items():
        assert_tagged(data)
        assert b"udta" in data and chunks(data) == want, name  # the fixture is sound
        stripped = strip_metadata(data)
        assert_anonymous(stripped)
        kinds = kinds_in(tree(stripped))
        assert not kinds & {b"udta", b"meta", b"ilst", b"uuid", b"free", b"skip"}, (name, kinds)
        assert not any(kind.startswith(b"\xa9") for kind in kinds)
        assert chunks(stripped) == want, name
        for body, end in find(stripped, [b"moov", b"trak", b"mdia", b"hdlr"]):
            assert stripped[body + 24 : end] == b"\x00"  # the handler's name is empty
        mvhd = find(stripped, [b"moov", b"mvhd"])[0][0]
        assert stripped[mvhd + 4 : mvhd + 12] == bytes(8)  # no creation date
        assert strip_metadata(stripped) == stripped


def test_the_stripped_demo_clip_still_decodes_to_the_same_packets(tmp_path: Path) -> None:
    av = pytest.importorskip("av")

    def packets(data: bytes) -> list[bytes]:
        with av.open(io.BytesIO(data)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.size]

    def first_frame(data: bytes) -> np.ndarray:
        with av.open(io.BytesIO(data)) as container:
            return next(container.decode(video=0)).to_ndarray()

    want = packets(DEMO)
    for name, data in mp4_cases(tmp_path).items():
        stripped = strip_metadata(data)
        assert packets(stripped) == want, name
        assert np.array_equal(first_frame(stripped), first_frame(DEMO))


# -- an allow-list: a byte no decoder reads is left out, wherever it hides -------------------
SECRET = f"{PROMPT}|{SEED}|{TASK_ID}|{FILE_NAME}".encode()


def riff(*chunks: bytes, form: bytes = b"RIFF") -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return form + struct.pack("<I", len(body)) + body


def wav_cases(plain: bytes) -> dict[str, bytes]:
    """WAVs whose hidden text is in bytes a tag list would not name (`plain`: 16-bit stereo)."""
    fmt, samples_ = plain[20:36], plain[44:]
    assert plain[36:40] == b"data"
    extensible = (
        struct.pack("<HHIIHH", 0xFFFE, 2, 44100, 0, 4, 16)  # bytes/s wrong: recomputed
        + struct.pack("<HHI", 22, 16, 0x3 | 1 << 30)  # a reserved speaker bit set
        + bytes.fromhex("0100000000001000800000aa00389b71")  # the PCM sub-format
    )
    return {
        "text after PCM's fmt fields": riff(
            riff_chunk(b"fmt ", fmt + b"\x00\x00" + SECRET), riff_chunk(b"data", samples_)
        ),
        "text after fact's sample count": riff(
            riff_chunk(b"fmt ", fmt),
            riff_chunk(b"fact", struct.pack("<I", len(samples_) // 4) + SECRET),
            riff_chunk(b"data", samples_),
        ),
        "a second data chunk": riff(
            riff_chunk(b"fmt ", fmt), riff_chunk(b"data", samples_), riff_chunk(b"data", SECRET)
        ),
        "a part frame after the last sample frame": riff(
            riff_chunk(b"fmt ", fmt), riff_chunk(b"data", samples_ + SECRET[:3])
        ),
        "text after the extensible fields": riff(
            riff_chunk(b"fmt ", extensible + SECRET), riff_chunk(b"data", samples_)
        ),
        "BW64": riff(
            riff_chunk(b"ds64", struct.pack("<QQQI", 0, len(samples_), 0, 0) + SECRET),
            riff_chunk(b"fmt ", fmt),
            riff_chunk(b"data", samples_),
            form=b"BW64",
        ),
    }


def test_wav_keeps_only_the_fields_a_decoder_reads() -> None:
    plain = encoded("WAV", "PCM_16")
    cases = wav_cases(plain)
    want = samples(plain)
    for name, data in cases.items():
        assert SECRET[:3] in data, name
        stripped = strip_metadata(data)
        assert SECRET[:3] not in stripped, name
        got = samples(b"RF64" + stripped[4:] if name == "BW64" else stripped)  # libsndfile: RF64
        assert got[1] == want[1] and np.array_equal(got[0], want[0]), name
        assert strip_metadata(stripped) == stripped, name
    fmt_out = strip_metadata(cases["text after the extensible fields"])[20:60]
    assert struct.unpack("<I", fmt_out[8:12])[0] == 44100 * 4
    assert struct.unpack("<I", fmt_out[20:24])[0] == 0x3


def test_a_wav_of_a_sample_format_it_does_not_know_is_refused() -> None:
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 8000, 1, 8) + struct.pack("<H", 4) + b"SEED"
    with pytest.raises(MetadataError, match="0x1234"):
        strip_metadata(riff(riff_chunk(b"fmt ", fmt), riff_chunk(b"data", bytes(100))))


@pytest.mark.parametrize(
    ("subtype", "channels"), [("PCM_16", 1), ("PCM_16", 2), ("PCM_24", 2), ("PCM_S8", 2)]
)
def test_flac_ends_where_its_last_frame_ends(subtype: str, channels: int) -> None:
    sink = io.BytesIO()
    sf.write(sink, tone(channels=channels), 44100, format="FLAC", subtype=subtype)
    plain = sink.getvalue()
    for junk in (SECRET, b"\xff\xf8" + SECRET, b"\xff\xf8\x00" * 500 + SECRET, bytes(3000)):
        stripped = strip_metadata(plain + junk)
        assert stripped == strip_metadata(plain) and stripped.endswith(plain[-200:])
        assert SECRET[:12] not in stripped


def test_mp3_keeps_its_frames_and_nothing_between_or_after_them() -> None:
    plain = encoded("MP3", "MPEG_LAYER_III")
    middle = len(plain) // 2
    while plain[middle : middle + 2] != b"\xff\xfb":  # a frame boundary
        middle += 1
    cases = {
        "after": plain + SECRET,
        "between": plain[:middle] + SECRET + plain[middle:],
        "a last frame cut short": plain + plain[middle : middle + 20],
    }
    for name, data in cases.items():
        assert strip_metadata(data) == plain, name


def grown(data: bytes, path: list[bytes], extra: bytes) -> bytes:
    """`data` with `extra` appended inside the box at `path` (each box on the way made larger)."""
    ((_, end),) = find(data, path)
    out = bytearray(data[:end] + extra + data[end:])
    for depth in range(1, len(path) + 1):
        ((body, _),) = find(data, path[:depth])
        size = struct.unpack(">I", data[body - 8 : body - 4])[0]
        struct.pack_into(">I", out, body - 8, size + len(extra))
    return bytes(out)


def test_mp4_drops_bytes_after_the_fields_of_the_boxes_it_keeps() -> None:
    moov_last = with_handler_name(DEMO, "")  # growing moov moves no chunk
    stbl = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]
    want = chunks(DEMO)
    for path in ([b"moov", b"mvhd"], [b"moov", b"trak", b"tkhd"], [*stbl, b"stts"],
                 [*stbl, b"stsz"], [*stbl, b"stco"]):  # fmt: skip
        data = grown(moov_last, path, SECRET)
        assert chunks(data) == want
        stripped = strip_metadata(data)
        assert SECRET[:12] not in stripped and chunks(stripped) == want, path
        assert strip_metadata(stripped) == stripped


def test_mp4_sample_entries_keep_only_their_codec_configuration() -> None:
    moov_last = with_handler_name(DEMO, "")
    stsd = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]
    extra = box(b"uuid", SECRET)
    data = bytearray(grown(moov_last, stsd, extra))  # after avc1's boxes, the one entry
    entry = data.find(b"avc1", data.find(b"stsd")) - 4
    struct.pack_into(
        ">I", data, entry, struct.unpack(">I", data[entry : entry + 4])[0] + len(extra)
    )
    assert chunks(bytes(data)) == chunks(DEMO)
    stripped = strip_metadata(bytes(data))
    assert SECRET[:12] not in stripped and chunks(stripped) == chunks(DEMO)
    assert b"avcC" in stripped and b"Lavc" not in stripped  # the encoder's name is gone
    data[entry + 4 : entry + 8] = b"zzzz"  # a kind of sample entry it cannot read
    with pytest.raises(MetadataError, match="sample entry"):
        strip_metadata(bytes(data))


def test_an_m4a_keeps_its_aac_packets() -> None:
    av = pytest.importorskip("av")
    sink = io.BytesIO()
    with av.open(sink, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100, layout="stereo")
        sound = np.ascontiguousarray(tone().T.astype(np.float32))
        for at in range(0, sound.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(sound[:, at : at + 1024]), format="fltp", layout="stereo"
            )
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    m4a = sink.getvalue() + box(b"prmt", SECRET)

    def packets(data: bytes) -> list[bytes]:
        with av.open(io.BytesIO(data)) as container:
            return [bytes(p) for p in container.demux(audio=0) if p.size]

    stripped = strip_metadata(m4a)
    assert SECRET not in stripped and b"Lavf" not in stripped
    assert packets(stripped) == packets(m4a) and len(packets(m4a)) > 60


def test_mp4_keeps_only_the_boxes_playback_needs() -> None:
    moov_last = with_handler_name(DEMO, "")  # growing moov moves no chunk
    ((moov_body, moov_end),) = find(moov_last, [b"moov"])
    inside = moov_last[moov_body:moov_end] + box(b"prmt", SECRET)
    ((dref, dref_end),) = find(moov_last, [b"moov", b"trak", b"mdia", b"minf", b"dinf", b"dref"])
    cases = {
        "an unknown box at the top": DEMO + box(b"prmt", SECRET),
        "an unknown box in moov": moov_last[: moov_body - 8] + box(b"moov", inside),
        "a random-access index at the end": DEMO + box(b"mfra", SECRET),
    }
    want = chunks(DEMO)
    for name, data in cases.items():
        stripped = strip_metadata(data)
        assert SECRET not in stripped and chunks(stripped) == want, name
        assert {kind for kind, _ in tree(stripped)} <= {b"ftyp", b"moov", b"mdat"}, name
    assert moov_last[dref:dref_end] == struct.pack(">II", 0, 1) + box(b"url ", b"\x00\x00\x00\x01")
    elsewhere = box(b"url ", b"\x00\x00\x00\x00" + FILE_NAME.encode())
    named = bytearray(moov_last)
    named[dref - 8 : dref_end] = box(b"dref", struct.pack(">II", 0, 1) + elsewhere)
    with pytest.raises(MetadataError):  # sizes now wrong or the media elsewhere: refused
        strip_metadata(bytes(named))


# -- refusals ----------------------------------------------------------------------------------
def _flac() -> bytes:
    return encoded("FLAC", "PCM_16")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, not a media file",
        bytes(1000),
        b"RIFF\x10\x00\x00\x00WAVEfmt \x10\x00\x00\x00",  # fmt runs past the end
        b"RIFF\x04\x00\x00\x00WAVE",  # no fmt, no data
        b"fLaC\x00\x00\x00\x22" + bytes(10),  # STREAMINFO cut short
        b"fLaC\x7f\x00\x00\x00",  # the forbidden block type
        b"OggS" + bytes(40),  # a page of a version that does not exist
        b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(16) + b"not mpeg",  # a tag, then no frame
        b"\xff\xfb\x00\x00" + bytes(1000),  # MP3 of a free-format bitrate: no length to walk
        box(b"ftyp", b"isom") + box(b"mdat", b"x"),  # no moov
        box(b"ftyp", b"isom") + b"\x00\x00\x01\x00moov",  # a box larger than the file
    ],
    ids=[
        "empty",
        "text",
        "zeros",
        "wav chunk past the end",
        "wav without chunks",
        "flac cut",
        "flac block 127",
        "ogg version",
        "mp3 without frames",
        "mp3 free format",
        "mp4 without moov",
        "mp4 box past the end",
    ],
)
def test_unknown_or_damaged_bytes_are_an_error_never_passed_through(data: bytes) -> None:
    with pytest.raises(MetadataError, match="cannot remove metadata"):
        strip_metadata(data)


def test_an_ogg_page_with_a_bad_checksum_or_another_codec_is_refused(tmp_path: Path) -> None:
    ogg = bytearray(encoded("OGG", "VORBIS"))
    ogg[40] ^= 0xFF  # inside the first page's body
    with pytest.raises(MetadataError, match="checksum"):
        strip_metadata(bytes(ogg))
    body = b"\x7fFLAC" + bytes(40)
    lacing = bytes([len(body)])
    page = bytearray(
        b"OggS\x00\x02" + bytes(8) + struct.pack("<III", 1, 0, 0) + b"\x01" + lacing + body
    )
    struct.pack_into("<I", page, 22, page_crc(page))
    with pytest.raises(MetadataError, match="neither Vorbis nor Opus"):
        strip_metadata(bytes(page))


def test_a_stripped_file_is_never_the_tagged_original_when_a_tag_is_left_unread() -> None:
    """A chunk offset that points into a dropped box means the layout is not understood."""
    moov = box(
        b"moov",
        box(
            b"trak",
            box(b"mdia", box(b"minf", box(b"stbl", box(b"stco", struct.pack(">III", 0, 1, 20))))),
        ),
    )
    data = box(b"ftyp", b"isom") + box(b"free", bytes(8)) + moov + box(b"mdat", bytes(16))
    with pytest.raises(MetadataError, match="points outside the media data"):
        strip_metadata(data)


def test_gzip_is_not_mistaken_for_media() -> None:
    with pytest.raises(MetadataError):
        strip_metadata(zlib.compress(_flac()))


def test_damaged_copies_of_every_format_give_bytes_or_a_metadata_error(tmp_path: Path) -> None:
    """Cut, flipped and stuffed copies of real files: only MetadataError ever escapes."""
    import random

    plain_mp3 = encoded("MP3", "MPEG_LAYER_III")
    originals = [
        encoded("WAV", "PCM_16"),
        encoded("FLAC", "PCM_16"),
        encoded("OGG", "VORBIS"),
        *mp3_cases(plain_mp3, tmp_path).values(),
        *mp4_cases(tmp_path).values(),
    ]
    rng = random.Random(15)  # a fixed sequence of damage: the same cases every run
    for _ in range(600):
        data = bytearray(rng.choice(originals))
        damage = rng.random()
        if damage < 0.3:
            data = data[: rng.randrange(len(data))]
        elif damage < 0.8:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(min(len(data), 3000))] = rng.randrange(256)
        else:
            at = rng.randrange(len(data))
            data[at:at] = rng.randbytes(rng.randint(1, 40))
        with contextlib.suppress(MetadataError):
            strip_metadata(bytes(data))


def test_the_module_is_pure_standard_library() -> None:
    """No HTTP, no widgets, not even numpy: anything (the board, an export) may call it."""
    import ast
    import sys

    import qubico_nb._tags

    for path in Path(qubico_nb._tags.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", (path.name, name)


def test_any_bytes_like_is_taken() -> None:
    plain = encoded("WAV", "PCM_16")
    assert strip_metadata(bytearray(plain)) == strip_metadata(memoryview(plain)) == plain
