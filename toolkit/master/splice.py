"""One CBR MP3 out of segments encoded apart (so that they can be encoded in parallel).

A chapter is cut every SEGMENT frames on the MP3 frame grid, and each segment is encoded
with PRE_ROLL frames of the audio before it (the encoder has settled by the cut) and
POST_ROLL frames after it. At each cut the stream keeps the earlier segment's frames up to a
frame f and the later one's from f on. LAME's frames borrow bytes from the frames before
them (the bit reservoir, main_data_begin bytes back), so f is the first frame from the cut
whose borrowing fits in what the earlier segment left free before it, and the borrowed bytes
are copied there. The first segment's Info (LAME) header is rewritten for the whole file:
frame count, bytes, seek table, encoder padding, music length and both CRCs.

The cuts depend only on the audio's length and the choice of f only on the segments' bytes,
so the file is the same however many processes encoded the segments."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

FRAME = 1152  # samples per MPEG-1 Layer III frame
DELAY = 576  # LAME's encoder delay, in samples
SEGMENT = 1200  # frames (~31 s) per segment
PRE_ROLL = 16  # frames encoded before a segment and dropped
SEARCH = 48  # frames from a cut the splice may be put off by, looking for one that fits
POST_ROLL = SEARCH + 8  # frames encoded after a segment: the splice is looked for in there
_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_RATES = (44100, 48000, 32000)


class Frame(NamedTuple):
    offset: int
    length: int
    data: int  # offset of its main data: after header, CRC and side information
    begin: int  # main_data_begin: bytes borrowed from the frames before


def segments(n: int) -> list[tuple[int, int, int]]:
    """(first frame, first sample, end sample) of the input of each segment of `n` samples;
    a segment's frame i is frame `first + i` of the whole."""
    cuts = max(1, n // FRAME // SEGMENT)
    out = []
    for k in range(cuts):
        first = max(0, k * SEGMENT - PRE_ROLL)
        end = n if k == cuts - 1 else min(n, ((k + 1) * SEGMENT + POST_ROLL) * FRAME)
        out.append((first, first * FRAME, end))
    return out


def frames(mp3: bytes) -> list[Frame]:
    """The MPEG-1 Layer III frames of a stream, the Info frame included."""
    out, at = [], 0
    while at + 4 <= len(mp3):
        header = int.from_bytes(mp3[at : at + 4], "big")
        if header >> 21 != 0x7FF or (header >> 17) & 0xF != 0xD:
            raise ValueError(f"not an MPEG-1 Layer III frame at byte {at}")
        bitrate = _BITRATES[(header >> 12) & 0xF] * 1000
        rate = _RATES[(header >> 10) & 3]
        length = 144 * bitrate // rate + ((header >> 9) & 1)
        crc = 0 if header & 0x10000 else 2
        side = 17 if (header >> 6) & 3 == 3 else 32
        begin = int.from_bytes(mp3[at + 4 + crc : at + 6 + crc], "big") >> 7
        out.append(Frame(at, length, at + 4 + crc + side, begin))
        at += length
    return out


def join(parts: list[bytes], n: int) -> bytes:
    """The segments' encodes (of segments(n), in order) as one stream of n samples.
    Raises ValueError if some cut has no frame to splice at (then encode it whole)."""
    if len(parts) == 1:
        return parts[0]
    listed = [frames(part)[1:] for part in parts]  # each one's audio frames
    starts = [first for first, _, _ in segments(n)]
    out = bytearray(parts[0][: listed[0][0].offset])  # the Info frame, rewritten below
    kept: list[Frame] = []  # of `out`
    take, source = 0, 0  # frames of parts[source] from index `take` on are next
    for k in range(1, len(parts)):
        cut = _cut(listed[k - 1], starts[k - 1], listed[k], starts[k], k * SEGMENT)
        if cut is None:
            raise ValueError(f"no frame to splice at segment {k}")
        for frame in listed[source][take : cut - starts[source]]:
            kept.append(_append(out, parts[source], frame))
        borrowed = _main_data_before(parts[k], listed[k], cut - starts[k])
        _overwrite_main_data(out, kept, borrowed)
        take, source = cut - starts[k], k
    for frame in listed[source][take:]:
        kept.append(_append(out, parts[source], frame))
    _rewrite_info(out, kept, n)
    return bytes(out)


def _cut(before: list[Frame], first_before: int, after: list[Frame], first_after: int, at: int):
    """The first frame from `at` that the later segment can start at, or None."""
    for f in range(at, at + SEARCH):
        i, j = f - first_before, f - first_after
        if i >= len(before) or j >= len(after):
            break
        if after[j].begin <= before[i].begin:
            return f
    return None


def _append(out: bytearray, source: bytes, frame: Frame) -> Frame:
    at = len(out)
    out += source[frame.offset : frame.offset + frame.length]
    return Frame(at, frame.length, at + frame.data - frame.offset, frame.begin)


def _main_data_before(mp3: bytes, listed: list[Frame], index: int) -> bytes:
    """The bytes frame `index` borrows from the frames before it."""
    want = listed[index].begin
    pieces, i = [], index - 1
    while want > 0:
        frame = listed[i]
        region = mp3[frame.data : frame.offset + frame.length]
        pieces.append(region[-want:])
        want -= len(pieces[-1])
        i -= 1
    return b"".join(reversed(pieces))


def _overwrite_main_data(out: bytearray, kept: list[Frame], data: bytes) -> None:
    """Put `data` at the end of the main data of the last frames of `out`."""
    end, i = len(data), len(kept) - 1
    while end > 0:
        frame = kept[i]
        room = frame.offset + frame.length - frame.data
        size = min(room, end)
        stop = frame.offset + frame.length
        out[stop - size : stop] = data[end - size : end]
        end -= size
        i -= 1


def _rewrite_info(out: bytearray, kept: list[Frame], n: int) -> None:
    """The Info frame at the start of `out` made to describe the audio frames `kept`."""
    tag = out.index(b"Info", 0, kept[0].offset)
    audio = len(out) - kept[0].offset
    out[tag + 8 : tag + 16] = len(kept).to_bytes(4, "big") + len(out).to_bytes(4, "big")
    # Seek table as LAME writes it: the audio bytes up to the end of the frame at each
    # percent of the frames, in 256ths of all of them (the first entry 0).
    ends = [frame.offset + frame.length - kept[0].offset for frame in kept]
    toc = [0] + [min(255, 256 * ends[len(kept) * i // 100] // audio) for i in range(1, 100)]
    out[tag + 16 : tag + 116] = bytes(toc)
    lame = tag + 120
    padding = len(kept) * FRAME - DELAY - n
    out[lame + 21 : lame + 24] = ((DELAY << 12) | padding).to_bytes(3, "big")
    out[lame + 28 : lame + 32] = len(out).to_bytes(4, "big")
    out[lame + 32 : lame + 34] = _music_crc(out, kept).to_bytes(2, "big")
    out[lame + 34 : lame + 36] = _crc(bytes(out[: lame + 34])).to_bytes(2, "big")


def _table() -> np.ndarray:
    """CRC-16/ARC (LAME's CRC of the tag and of the music) for each byte value."""
    crc = np.arange(256)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ 0xA001, crc >> 1)
    return crc


_TABLE = _table()


def _crc(data: bytes, crc: int = 0) -> int:
    table = _TABLE.tolist()
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _music_crc(out: bytearray, kept: list[Frame]) -> int:
    """CRC of every audio frame's bytes: each frame's CRC at once (numpy, across frames),
    then joined in order (the CRC is linear: crc(a + b) = crc(a + zeros) ^ crc(b))."""
    longest = max(frame.length for frame in kept)
    rows = np.zeros((len(kept), longest), np.uint8)
    for row, frame in zip(rows, kept, strict=True):  # zeros in front change no CRC from 0
        row[longest - frame.length :] = np.frombuffer(out, np.uint8, frame.length, frame.offset)
    crcs = np.zeros(len(kept), np.int64)
    for column in rows.T:
        crcs = (crcs >> 8) ^ _TABLE[(crcs ^ column) & 0xFF]
    shifts = {length: _zeros_shift(length) for length in {f.length for f in kept}}
    crc = 0
    for frame, one in zip(kept, crcs.tolist(), strict=True):
        low, high = shifts[frame.length]
        crc = low[crc & 0xFF] ^ high[crc >> 8] ^ one
    return crc


def _zeros_shift(length: int) -> tuple[list[int], list[int]]:
    """What `length` zero bytes make of a CRC, by its low and its high byte."""
    crc = np.r_[np.arange(256), np.arange(256) << 8]
    for _ in range(length):
        crc = (crc >> 8) ^ _TABLE[crc & 0xFF]
    return crc[:256].tolist(), crc[256:].tolist()
