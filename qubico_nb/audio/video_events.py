"""Where something visibly happens in a video: motion that stops or turns, light that comes on.

The sync measure needs the moments a sound could belong to. A ball hitting the floor shows as
motion in one direction that ends (it stops or bounces back); a lamp or a flash as light that
rises. Motion that merely goes on (a passing car, a ball falling) or starts (a ball let go) is
not such a moment and must not count. So each frame pair of a small grey copy gets, per cell of a
grid, how much moves up, down, left and right (the normal flow of the brightness gradients,
weighted by their strength); an event is one direction's motion that ends, and the brightness of
a cell that rises. Decoding is PyAV (``qubico-nb[video]``); each frame is shrunk to a few
thousand grey pixels as it comes, and the header's sizes are checked before anything is decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import AudioDecodeError

#: Video the header says is longer, larger or faster than this is refused before decoding.
MAX_VIDEO_SECONDS = 20 * 60.0
MAX_FRAME_PIXELS = 8192 * 8192
MAX_FRAME_RATE = 480.0
#: The grey copy each frame is shrunk to (its width; the height keeps the aspect ratio).
GRAY_WIDTH = 64
#: Events are found per cell of this grid (rows, columns), so one object's motion is not
#: averaged away by the rest of the picture...
GRID = (4, 4)
#: ...and an event's strength is the sum of the strongest cells (a quarter of the picture), so
#: noise in the other cells does not add up to an event.
STRONGEST_CELLS = 4
#: Gaussian blur of the grey copy (pixels), so a small object's edges overlap from one frame
#: to the next and the direction of its motion can be read from the brightness gradients.
BLUR_PX = 1.5
#: Scales of the log compression: flow energy per cell (grey levels squared per pixel, summed
#: over the cell) and the mean brightness change of a cell (grey levels).
FLOW_SCALE = 50.0
LIGHT_SCALE = 5.0
#: Frames are processed this many at a time (vectorised; a few MB at most).
_CHUNK = 64

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class VisualEvents:
    """How strongly something happens in each frame interval of a video.

    ``times`` are the middles of the frame intervals (seconds from the first frame);
    ``strength`` the event strength there (0: nothing starts, stops or lights up).
    """

    times: FloatArray
    strength: FloatArray
    frame_rate: float
    duration_s: float


def require_av() -> Any:
    """The `av` module, or an ImportError that names the extra to install."""
    try:
        import av
    except ImportError:
        raise ImportError(
            "measuring audio-video sync decodes video with PyAV, which is not installed: "
            "pip install 'qubico-nb[video]'"
        ) from None
    return av


def open_for_reading(av: Any, handle: Any) -> Any:
    """`av.open` for reading, tolerant of tags that are not valid text: PyAV before 19 refuses
    such a file unless told to ignore them; 19 dropped the option."""
    if int(str(av.__version__).split(".")[0]) < 19:
        return av.open(handle, mode="r", metadata_errors="ignore")
    return av.open(handle, mode="r")


def declared_seconds(container: Any, stream: Any) -> float | None:
    """The length a stream's (else the container's) header declares, if any."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def _header_checks(container: Any, stream: Any, name: str) -> float:
    """The frame rate the header declares; refuses what no sane clip declares."""
    width = int(stream.codec_context.width or 0)
    height = int(stream.codec_context.height or 0)
    if width <= 0 or height <= 0:
        raise AudioDecodeError(f"cannot decode video ({name}): its frames have no size")
    if width * height > MAX_FRAME_PIXELS:
        raise AudioDecodeError(
            f"video ({name}) declares {width}x{height} frames, more than the "
            f"{MAX_FRAME_PIXELS:,} pixels measured here; scale it down first"
        )
    seconds = declared_seconds(container, stream)
    if seconds is not None and seconds > MAX_VIDEO_SECONDS:
        raise AudioDecodeError(
            f"video ({name}) declares {seconds:,.0f} s, more than the {MAX_VIDEO_SECONDS:,.0f} s "
            "measured here; cut it first"
        )
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if fps > MAX_FRAME_RATE:
        raise AudioDecodeError(
            f"video ({name}) declares {fps:,.0f} frames per second, more than the "
            f"{MAX_FRAME_RATE:g} measured here"
        )
    return fps


def video_events(source: bytes | Path, name: str = "") -> VisualEvents:
    """Decode a video frame by frame into its `VisualEvents` (holding a few dozen small grey
    frames at most). Raises `AudioDecodeError` when it cannot be decoded or declares absurd
    sizes."""
    av = require_av()
    name = name or (f"{len(source):,} bytes" if isinstance(source, bytes) else str(source))
    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        container = open_for_reading(av, handle)
    except (av.FFmpegError, ValueError, OSError) as err:
        raise AudioDecodeError(f"cannot decode video ({name}): {err}") from None
    with container:
        if not container.streams.video:
            raise AudioDecodeError(f"cannot decode video ({name}): it has no video stream")
        stream = container.streams.video[0]
        declared_fps = _header_checks(container, stream, name)
        stream.thread_type = "AUTO"
        width = int(stream.codec_context.width)
        height = int(stream.codec_context.height)
        small_w = min(GRAY_WIDTH, width)
        small_h = max(GRID[0], min(height, round(small_w * height / width)))
        meter = _Meter(small_h, small_w)
        limit = int(MAX_VIDEO_SECONDS * max(declared_fps, 30.0)) + 1
        shrink = av.video.reformatter.VideoReformatter()  # keeps its scaler between frames
        times: list[float] = []
        count = 0
        try:
            for frame in container.decode(stream):
                count += 1
                if count > limit:
                    raise AudioDecodeError(
                        f"video ({name}) holds more frames than its header declares; "
                        "it may be damaged"
                    )
                time = float(frame.time) if frame.time is not None else count / (declared_fps or 25)
                if times and time <= times[-1]:
                    continue  # a duplicated or out-of-order frame shows nothing new
                times.append(time)
                meter.add(
                    shrink.reformat(
                        frame, width=small_w, height=small_h, format="gray", interpolation="AREA"
                    ).to_ndarray()
                )
        except av.FFmpegError as err:
            if len(times) < 3:
                raise AudioDecodeError(f"cannot decode video ({name}): {err}") from None
            # A clip cut short: what was decoded is still measured.
        if len(times) < 3:
            raise AudioDecodeError(
                f"cannot decode video ({name}): fewer than three frames could be decoded"
            )
    stamps = np.asarray(times, dtype=np.float64)
    fps = 1.0 / float(np.median(np.diff(stamps)))
    middles = 0.5 * (stamps[1:] + stamps[:-1])
    return VisualEvents(
        times=middles[:-1],
        strength=meter.strength(),
        frame_rate=fps,
        duration_s=float(stamps[-1]) + 1.0 / fps,
    )


class _Meter:
    """Per frame interval and grid cell: the flow energy in each of four directions and the
    mean brightness change, from small grey frames fed one at a time."""

    def __init__(self, height: int, width: int) -> None:
        self.frames = np.empty((_CHUNK + 1, height, width), dtype=np.float32)
        self.held = 0
        self.energy: list[npt.NDArray[np.float32]] = []  # (intervals, 4, cells) each
        self.light: list[npt.NDArray[np.float32]] = []  # (intervals, cells) each
        rows, cols = GRID
        # Which cell each row and column falls in, as matrices: a cell's sum is a product.
        self.row_cells = np.arange(height)[None, :] * rows // height == np.arange(rows)[:, None]
        self.col_cells = np.arange(width)[:, None] * cols // width == np.arange(cols)[None, :]
        self.row_cells = self.row_cells.astype(np.float32)
        self.col_cells = self.col_cells.astype(np.float32)
        self.areas = (self.row_cells.sum(1)[:, None] * self.col_cells.sum(0)[None, :]).ravel()

    def add(self, grey: npt.NDArray[np.uint8]) -> None:
        self.frames[self.held] = grey
        self.held += 1
        if self.held == self.frames.shape[0]:
            self._flush()

    def _flush(self) -> None:
        from scipy.ndimage import gaussian_filter

        if self.held < 2:
            return
        frames = gaussian_filter(
            self.frames[: self.held], (0, BLUR_PX, BLUR_PX), mode="nearest", truncate=2.0
        )
        change = frames[1:] - frames[:-1]
        twice_mean = frames[1:] + frames[:-1]
        # Brightness constancy: the flow along the gradient is -change / |gradient|; weighted by
        # |gradient|^2 its components are -change * gradient (central differences of the mean of
        # the two frames; the outermost rows and columns have none).
        down = change[:, 1:-1] * (twice_mean[:, :-2] - twice_mean[:, 2:])
        right = change[:, :, 1:-1] * (twice_mean[:, :, :-2] - twice_mean[:, :, 2:])
        rows, cols = self.row_cells, self.col_cells
        down_sums = rows[:, 1:-1] @ (np.stack([down, np.abs(down)], axis=1) @ cols)
        right_sums = rows @ (np.stack([right, np.abs(right)], axis=1) @ cols[1:-1])
        # Each direction's positive and negative part (down and up, right and left), in the
        # units of the mean frame's gradient.
        signed = np.concatenate([down_sums[:, :1], right_sums[:, :1]], axis=1)
        size = np.concatenate([down_sums[:, 1:], right_sums[:, 1:]], axis=1)
        energy = np.concatenate([size + signed, size - signed], axis=1) * np.float32(1 / 8)
        self.energy.append(energy.reshape(*energy.shape[:2], -1))
        light = (rows @ change @ cols).reshape(change.shape[0], -1) / self.areas
        self.light.append(light)
        self.frames[0] = self.frames[self.held - 1]  # the next chunk starts where this one ends
        self.held = 1

    def strength(self) -> FloatArray:
        """Per interval but the last: how strongly motion in one direction ends after it (it
        stops or turns) or the light rises during it, summed over the strongest cells."""
        self._flush()
        energy = np.log1p(np.concatenate(self.energy) / np.float32(FLOW_SCALE))
        light = np.concatenate(self.light)
        stops = np.maximum(energy[:-1] - energy[1:], 0).max(axis=1)
        rises = np.log1p(np.maximum(light[:-1], 0) / np.float32(LIGHT_SCALE))
        cells = stops + rises
        keep = min(STRONGEST_CELLS, cells.shape[1])
        strongest = np.partition(cells, cells.shape[1] - keep, axis=1)[:, -keep:]
        return strongest.sum(axis=1, dtype=np.float64)
