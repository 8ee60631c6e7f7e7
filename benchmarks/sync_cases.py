"""Clips with a known audio-video offset, made at run time, for the sync benchmark.

Each case is a short MP4 (H.264, made with PyAV) and a WAV whose sound events are shifted by a
known offset from the visual events that cause them:

- impacts: a ball falls under gravity and hits the floor, bouncing or coming to rest; each
  contact sounds (a thud: filtered noise and a decaying mode);
- flashes: a lamp lights for a few frames and decays; each lights with a zap or a click.

Events happen at any time, not only on frame boundaries (a frame shows the scene over half its
interval, as a camera would, so fast motion blurs). Each case has 3 to 6 causes (a ball dropped,
bouncing 0-3 times, or a lamp), each contact or lighting with its sound: 3 to 16 sounded events,
7 in the median case. Distractors no method should follow: at most one silent visual event per
case, never near a majority (a ball gliding across in 29% of the benchmark's cases, a lamp
blinking silently in 30%); every ball hangs still before it is let go and every lamp fades out,
both silently; 0 to 2 sounds with no visual cause; sensor noise on the picture; and steady
background noise (pink, sometimes a hum) at a chosen signal-to-noise ratio. SNR is the mean
power of the event sounds over their first 100 ms against the mean power of the background.

    python benchmarks/sync_cases.py        # writes a few cases to /tmp/sync-cases to look at
"""

from __future__ import annotations

import io
import math
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

AUDIO_RATE = 44100
#: The frame sizes and rates the cases draw from.
SIZES = ((192, 108), (160, 120), (256, 144))
FRAME_RATES = (24.0, 25.0, 30.0)
#: SNRs (dB) the benchmark reports, and the offsets it draws from (seconds).
SNRS_DB = (0.0, 5.0, 10.0, 20.0)
OFFSET_RANGE_S = (-0.6, 0.6)
#: Pixels per second squared: a fall of 60 px takes about 0.37 s.
GRAVITY_PX = 900.0
#: Scene samples averaged into each frame over its exposure (motion blur).
EXPOSURE_SAMPLES = 5


@dataclass(frozen=True)
class SyncCase:
    """One clip: its MP4 and WAV bytes, the true offset (positive: the sound is late)."""

    name: str
    offset_s: float
    snr_db: float
    frame_rate: float
    duration_s: float
    video: bytes = field(repr=False)
    audio: bytes = field(repr=False)
    events_s: tuple[float, ...] = ()


@dataclass
class Ball:
    x: float
    radius: float
    shade: float
    contacts: list[float]  # times it touches the floor
    drop_at: float
    drop_height: float

    def height(self, t: float) -> float:
        """Height above the floor at time t: held still until it is dropped."""
        if t < self.drop_at:
            return self.drop_height
        first = self.contacts[0]
        if t < first:
            fall = first - t
            return 0.5 * GRAVITY_PX * fall * fall
        for i, start in enumerate(self.contacts):
            end = self.contacts[i + 1] if i + 1 < len(self.contacts) else None
            if end is None or t < end:
                if end is None:
                    return 0.0
                arc = end - start
                u = t - start
                return 0.5 * GRAVITY_PX * u * (arc - u)
        return 0.0


def _ball(rng: np.random.Generator, width: int, height: int, at: float) -> Ball:
    """A ball dropped (from a height inside the picture) so it first touches the floor at
    `at`, bouncing 0-3 times."""
    radius = rng.uniform(0.05, 0.09) * height
    highest = math.sqrt(2 * max(height - 3 * radius, 1.0) / GRAVITY_PX)
    drop = rng.uniform(0.5, 1.0) * highest
    contacts = [at]
    speed = GRAVITY_PX * drop
    restitution = rng.uniform(0.3, 0.6) if rng.random() < 0.7 else 0.0
    t = at
    while restitution and len(contacts) < 4:
        speed *= restitution
        arc = 2 * speed / GRAVITY_PX
        if arc < 0.12:
            break
        t += arc
        contacts.append(t)
    return Ball(
        x=rng.uniform(0.15, 0.85) * width,
        radius=radius,
        shade=rng.uniform(150, 255),
        contacts=contacts,
        drop_at=at - drop,
        drop_height=0.5 * GRAVITY_PX * drop * drop,
    )


@dataclass
class Lamp:
    x0: int
    y0: int
    x1: int
    y1: int
    on: float
    frames: float  # seconds lit before it decays
    level: float

    def brightness(self, t: float) -> float:
        if t < self.on:
            return 0.0
        lit = t - self.on
        return self.level * (1.0 if lit < self.frames else math.exp(-(lit - self.frames) / 0.05))


def backdrop(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    coarse = rng.uniform(30, 110, size=(height // 12 + 2, width // 12 + 2))
    ys = np.linspace(0, coarse.shape[0] - 1.001, height)
    xs = np.linspace(0, coarse.shape[1] - 1.001, width)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    c = coarse
    top = c[y0][:, x0] * (1 - fx) + c[y0][:, x0 + 1] * fx
    bottom = c[y0 + 1][:, x0] * (1 - fx) + c[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _draw_disc(image: np.ndarray, cx: float, cy: float, r: float, shade: float) -> None:
    h, w = image.shape
    y0, y1 = max(0, int(cy - r - 2)), min(h, int(cy + r + 3))
    x0, x1 = max(0, int(cx - r - 2)), min(w, int(cx + r + 3))
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.ogrid[y0:y1, x0:x1]
    cover = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0.0, 1.0)
    patch = image[y0:y1, x0:x1]
    patch += cover * (shade - patch)


def _thud(rng: np.random.Generator, strength: float) -> np.ndarray:
    n = int(rng.uniform(0.12, 0.3) * AUDIO_RATE)
    t = np.arange(n) / AUDIO_RATE
    decay = np.exp(-t * rng.uniform(18, 45))
    noise = rng.standard_normal(n)
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(n, 1 / AUDIO_RATE)
    spectrum[freqs > rng.uniform(800, 4000)] = 0
    body = np.fft.irfft(spectrum, n)
    body /= np.max(np.abs(body)) or 1.0
    mode = np.sin(2 * np.pi * rng.uniform(80, 400) * t)
    return strength * decay * (0.7 * body + 0.5 * mode)


def _zap(rng: np.random.Generator, strength: float) -> np.ndarray:
    n = int(rng.uniform(0.08, 0.25) * AUDIO_RATE)
    t = np.arange(n) / AUDIO_RATE
    decay = np.exp(-t * rng.uniform(12, 35))
    f0 = rng.uniform(600, 3000)
    sweep = np.sin(2 * np.pi * (f0 * t - rng.uniform(0, 0.5) * f0 * t * t))
    click = rng.standard_normal(n) * np.exp(-t * 300)
    return strength * decay * (0.6 * sweep + 0.4 * click)


def _add(out: np.ndarray, at_s: float, piece: np.ndarray) -> None:
    start = int(round(at_s * AUDIO_RATE))
    if start >= out.size or start + piece.size <= 0:
        return
    lo = max(0, -start)
    end = min(out.size, start + piece.size)
    out[start + lo : end] += piece[lo : end - start]


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Steady background: pink-ish noise plus, sometimes, a hum."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / AUDIO_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    out = np.fft.irfft(spectrum, n)
    if rng.random() < 0.4:
        t = np.arange(n) / AUDIO_RATE
        out += np.std(out) * np.sin(2 * np.pi * rng.uniform(50, 120) * t)
    return out / (np.std(out) or 1.0)


def _event_times(rng: np.random.Generator, duration: float, count: int) -> list[float]:
    times: list[float] = []
    while len(times) < count:
        t = rng.uniform(0.4, duration - 0.4)
        if all(abs(t - other) > 0.35 for other in times):
            times.append(t)
    return sorted(times)


def make_case(seed: int, snr_db: float) -> SyncCase:
    """One case, the same for the same seed and SNR."""
    rng = np.random.default_rng([seed, int(snr_db * 10) + 1000])
    width, height = SIZES[int(rng.integers(len(SIZES)))]
    fps = FRAME_RATES[int(rng.integers(len(FRAME_RATES)))]
    duration = float(rng.uniform(4.0, 10.0))
    offset = float(rng.uniform(*OFFSET_RANGE_S))
    floor = int(height * 0.85)

    balls: list[Ball] = []
    lamps: list[Lamp] = []
    events = _event_times(rng, duration, int(rng.integers(3, 7)))
    sounds: list[tuple[float, np.ndarray]] = []
    for at in events:
        if rng.random() < 0.6:
            ball = _ball(rng, width, floor, at)
            balls.append(ball)
            strength = rng.uniform(0.5, 1.0)
            for k, contact in enumerate(ball.contacts):
                sounds.append((contact, _thud(rng, strength * 0.6**k)))
        else:
            w, h = int(width * rng.uniform(0.15, 0.4)), int(height * rng.uniform(0.15, 0.4))
            x, y = int(rng.integers(0, width - w)), int(rng.integers(0, floor - h))
            lamp = Lamp(x, y, x + w, y + h, at, rng.uniform(0.03, 0.2), rng.uniform(80, 160))
            lamps.append(lamp)
            sounds.append((at, _zap(rng, rng.uniform(0.5, 1.0))))
    # Distractors: a ball gliding across without a sound, or a lamp blinking silently.
    gliders = []
    distractor = rng.random()
    if distractor < 0.35:
        y = rng.uniform(0.2, 0.6) * floor
        speed = rng.uniform(30, 120) * rng.choice([-1, 1])
        gliders.append((y, speed, rng.uniform(0, width), rng.uniform(0.04, 0.08) * height))
    elif distractor < 0.6:
        w, h = int(width * 0.2), int(height * 0.2)
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, floor - h))
        on = rng.uniform(0.3, duration - 0.3)
        lamps.append(Lamp(x, y, x + w, y + h, on, rng.uniform(0.05, 0.2), rng.uniform(50, 120)))

    background = backdrop(rng, width, height)
    background[floor:] = 45.0
    sensor = rng.uniform(1.0, 4.0)
    scene = Scene(width, height, floor, background, balls, lamps, gliders)
    video = encode_video(scene, fps, duration, rng=rng, sensor=sensor)

    n = int(duration * AUDIO_RATE)
    signal = np.zeros(n)
    for at, piece in sounds:
        _add(signal, at + offset, piece)
    # Distractors: sounds no picture explains.
    for at in _event_times(rng, duration, int(rng.integers(0, 3))):
        _add(
            signal, at, _thud(rng, rng.uniform(0.3, 0.8)) if rng.random() < 0.5 else _zap(rng, 0.5)
        )
    heads = [piece[: int(0.1 * AUDIO_RATE)] for _, piece in sounds]
    event_power = float(np.mean([np.mean(h**2) for h in heads]))
    noise = _noise(rng, n) * math.sqrt(event_power / 10 ** (snr_db / 10))
    mix = signal + noise
    mix *= 0.9 / (np.max(np.abs(mix)) or 1.0)
    buffer = io.BytesIO()
    sf.write(buffer, mix.astype(np.float32), AUDIO_RATE, format="WAV", subtype="PCM_16")
    return SyncCase(
        name=f"case-{seed}-snr{snr_db:g}",
        offset_s=offset,
        snr_db=snr_db,
        frame_rate=fps,
        duration_s=duration,
        video=video,
        audio=buffer.getvalue(),
        events_s=tuple(sorted(at for at, _ in sounds)),
    )


@dataclass
class Scene:
    """What a clip shows: a still background, balls, lamps and silent gliders over a floor."""

    width: int
    height: int
    floor: int
    background: np.ndarray
    balls: list[Ball] = field(default_factory=list)
    lamps: list[Lamp] = field(default_factory=list)
    gliders: list[tuple[float, float, float, float]] = field(default_factory=list)

    def at(self, t: float) -> np.ndarray:
        """The grey picture at time t."""
        image = self.background.copy()
        for lamp in self.lamps:
            image[lamp.y0 : lamp.y1, lamp.x0 : lamp.x1] += lamp.brightness(t)
        for y, speed, x0, r in self.gliders:  # leaves one side, comes back on the other
            x = (x0 + speed * t) % (self.width + 4 * r) - 2 * r
            _draw_disc(image, x, y, r, 200.0)
        for ball in self.balls:
            y = self.floor - ball.radius - ball.height(t)
            _draw_disc(image, ball.x, y, ball.radius, ball.shade)
        return image


def encode_video(
    scene: Scene,
    fps: float,
    duration: float,
    *,
    rng: np.random.Generator,
    sensor: float = 0.0,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> bytes:
    """An H.264 MP4 of `scene`, each frame exposed over half its interval, as a camera does
    (so fast motion blurs), with Gaussian sensor noise of `sensor` grey levels."""
    from fractions import Fraction

    import av

    # faststart rewrites the file after the fact: it needs a real file, not a buffer
    folder = tempfile.TemporaryDirectory()
    out = Path(folder.name) / "clip.mp4"
    with av.open(str(out), mode="w", format="mp4", options=container_options or {}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = scene.width, scene.height
        stream.pix_fmt = "yuv420p"
        stream.options = options or {"preset": "ultrafast", "crf": "23"}
        for k in range(int(round(duration * fps))):
            shots = [
                scene.at(k / fps + (j / (EXPOSURE_SAMPLES - 1) - 0.5) * 0.5 / fps)
                for j in range(EXPOSURE_SAMPLES)
            ]
            image = np.mean(shots, axis=0)
            if sensor:
                image += rng.normal(0.0, sensor, image.shape)
            gray = np.clip(image, 0, 255).astype(np.uint8)
            rgb = np.stack([gray, gray, (gray * 0.9).astype(np.uint8)], axis=-1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with folder:
        return out.read_bytes()


def cases(count: int, snrs: tuple[float, ...] = SNRS_DB, seed: int = 0) -> Iterator[SyncCase]:
    """`count` cases at each SNR (seeds from `seed`)."""
    for snr in snrs:
        for k in range(count):
            yield make_case(seed + k, snr)


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/sync-cases")
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases(2):
        (folder / f"{case.name}.mp4").write_bytes(case.video)
        (folder / f"{case.name}.wav").write_bytes(case.audio)
        print(case.name, f"offset {case.offset_s:+.3f} s", f"{case.frame_rate:g} fps")
