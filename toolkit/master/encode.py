"""Encode mastered audio to delivery files, byte-identical for identical audio.

Everything is encoded in memory (pedalboard writes to a BytesIO); the build writes the bytes
with an atomic rename, so a half-encoded file never sits at the final path."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import Executor

import numpy as np
import pedalboard
from mutagen.ogg import OggPage
from pedalboard.io import AudioFile

from toolkit.fsutil import Blobs
from toolkit.master.loudness import METER_CHUNK, Meter, Rendered
from toolkit.master.splice import join, segments
from toolkit.mix.timeline import RATE

# pedalboard drives LAME through its ABR/CBR presets, which scale the input down (LAME's
# abr_switch_map: 0.95 up to 160 kbps, 0.97 at 192, 0.98 at 224). Measured here: a 128 kbps
# file decodes 0.446 dB quieter. Undo it so the MP3 plays at the loudness we mastered.
_LAME_PRESET_SCALE = {192: 0.97, 224: 0.98, 256: 1.0, 320: 1.0}
_OGG_SERIAL = 0x44524D41  # fixed Ogg stream serial ("DRMA"); the encoder picks a random one
OPUS_KBPS = 64  # stereo speech, music and beds: about half the MP3's size, no audible loss
_CHUNK = 1 << 16  # samples handed to the encoder at once: no whole-chapter copies
Audio = np.ndarray | Rendered  # (samples, channels) float32, or made as it is sliced


def encode_mp3(
    audio: Audio,
    bitrate: int = 128,
    helper: Executor | None = None,
    encoded: Blobs | None = None,
) -> bytes:
    """(samples, 2) float32 at RATE -> MP3 bytes, CBR at `bitrate` kbps with a LAME Info header.

    Encoded in segments spliced into one stream (see splice.py), each sliced from `audio`
    only when its turn comes (a master's audio is made as it is sliced). A segment whose
    input samples are exactly those of one in `encoded` (the segments of earlier encodes, by
    their input) is taken from there: after an edit only the segments from the edit on are
    encoded. A `helper` process encodes half of the rest meanwhile. The bytes are the same
    with or without either. Expects mastered audio (peaks at least 0.5 dB under full scale):
    the preset compensation raises the level by up to 0.45 dB before the encoder."""
    spans = [(lo, hi) for _, lo, hi in segments(len(audio))]
    if helper is None:
        parts = [_segment(audio[lo:hi], bitrate, encoded) for lo, hi in spans]
    else:
        keys = [_segment_key(audio[lo:hi], bitrate) for lo, hi in spans] if encoded else []
        found = [encoded.get(key) for key in keys] if encoded else [None] * len(spans)
        todo = [i for i, part in enumerate(found) if part is None]
        half = _halfway([spans[i][1] - spans[i][0] for i in todo])
        theirs = [audio[slice(*spans[i])] for i in todo[half:]]
        later = helper.submit(_encode_mp3_all, theirs, bitrate) if theirs else None
        del theirs
        made = [_encode_mp3_all([audio[slice(*spans[i])]], bitrate)[0] for i in todo[:half]]
        parts = list(found)
        for i, part in zip(todo, made + (later.result() if later else []), strict=True):
            parts[i] = part
            if encoded:
                encoded.put(keys[i], part)
    try:
        return join([bytes(part) for part in parts], len(audio))
    except ValueError:  # no frame to splice at (not seen on speech): encoded whole
        return _encode_mp3_all([audio[0 : len(audio)]], bitrate)[0]


def _segment(piece: np.ndarray, bitrate: int, encoded: Blobs | None) -> bytes | memoryview:
    """One segment's MP3: from `encoded` when there, else encoded (and kept there)."""
    key = _segment_key(piece, bitrate) if encoded else ""
    part = encoded.get(key) if encoded else None
    if part is None:
        part = _encode_mp3_all([piece], bitrate)[0]
        if encoded:
            encoded.put(key, part)
    return part


def _segment_key(piece: np.ndarray, bitrate: int) -> str:
    """What a segment's MP3 is made from: its samples, the bitrate and the encoder."""
    digest = hashlib.blake2b(f"{bitrate} {pedalboard.__version__} {len(piece)}".encode())
    for channel in piece.T:
        digest.update(np.ascontiguousarray(channel, dtype=np.float32))
    return digest.hexdigest()[:40]


def _halfway(sizes: list[int]) -> int:
    """How many pieces from the front make nearest half the samples (the last piece is up to
    twice the others' length, so half the count can be 40 % of the work)."""
    total, before = sum(sizes), np.cumsum([0, *sizes])
    return int(np.argmin(np.abs(2 * before - total)))


def _encode_mp3_all(pieces: list[np.ndarray], bitrate: int) -> list[bytes]:
    scale = np.float32(1 / _LAME_PRESET_SCALE.get(bitrate, 0.95))
    return [_encode(piece, "mp3", scale, quality=f"{bitrate} kbps") for piece in pieces]


def warm() -> None:
    """Nothing: submitted to a helper process so it has imported this module in advance."""


def encode_flac(audio: Audio) -> bytes:
    """24-bit FLAC: a lossless master to re-encode from later."""
    return _encode(audio, "flac", None, bit_depth=24)


def encode_ogg(audio: Audio) -> bytes:
    """Ogg Vorbis at 128 kbps, with the stream serial fixed so the bytes are reproducible."""
    return _fixed_serial(_encode(audio, "ogg", None, quality="128 kbps"))


def _fixed_serial(data: bytes) -> bytes:
    """An Ogg file with every page's stream serial set to one constant (CRCs recomputed)."""
    source, pages = io.BytesIO(data), []
    while source.tell() < len(data):
        page = OggPage(source)
        page.serial = _OGG_SERIAL
        pages.append(page.write())  # write() recomputes the page CRC
    return b"".join(pages)


def encode_opus(audio: Audio, bitrate: int = OPUS_KBPS) -> bytes:
    """Ogg Opus at `bitrate` kbps (libopus through PyAV, which ships its own ffmpeg), 48 kHz as
    Opus requires. Bit-exact flags and a fixed stream serial make the bytes reproducible."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="ogg", container_options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libopus", rate=48000, layout="stereo")
        stream.bit_rate = bitrate * 1000
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000)
        for start in range(0, max(len(audio), 1), _CHUNK):
            chunk = np.ascontiguousarray(np.asarray(audio[start : start + _CHUNK], np.float32).T)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = RATE
            frame.pts = start
            for resampled in resampler.resample(frame):
                container.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            container.mux(stream.encode(resampled))
        container.mux(stream.encode(None))
    return _fixed_serial(out.getvalue())


def decode(data: bytes) -> np.ndarray:
    """Encoded bytes back to (samples, channels) float32: to measure what listeners get.
    A transposed view of the decoder's (channels, samples) buffer, which the meters use as is."""
    with AudioFile(io.BytesIO(data)) as f:
        return f.read(f.frames).T


def measure_decoded(data: bytes) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of encoded bytes as decoded, a chunk
    at a time: the same as measuring decode(data), without the decoded whole in memory."""
    with AudioFile(io.BytesIO(data)) as f:
        meter = Meter(f.frames)
        while f.tell() < f.frames:
            meter.add(f.read(min(METER_CHUNK, f.frames - f.tell())))
    return meter.result()


def _encode(audio: Audio, fmt: str, scale: np.float32 | None, **options: object) -> bytes:
    """(samples, channels) audio, times `scale` if given, encoded a chunk at a time."""
    out = io.BytesIO()
    with AudioFile(out, "w", RATE, audio[:0].shape[1], format=fmt, **options) as f:
        for start in range(0, max(len(audio), 1), _CHUNK):
            chunk = audio[start : start + _CHUNK]
            if scale is not None:
                chunk = chunk * scale
            f.write(np.ascontiguousarray(np.asarray(chunk, dtype=np.float32).T))
    return out.getvalue()
