"""The audiobook: every released episode as one AAC file (.m4b) with a chapter per episode.

MP4 chapters (the QuickTime chapter track and Nero's `chpl`, which ffmpeg writes both) are a
flat list, so scenes cannot nest under their episode. The book lists episodes only: that is
what an audiobook player's chapter menu is for, and scene marks stay in each episode's own
files. Audio comes from each chapter's cached lossless master, encoded once, end to end, so
there is no gap or encoder priming at the joins."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from toolkit.mix.timeline import RATE

AAC_KBPS = 96  # stereo AAC-LC: speech, music and beds, about 43 MB an hour
_CHUNK = 1 << 16


@dataclass(frozen=True)
class BookChapter:
    title: str
    flac: bytes  # the chapter's lossless master


@dataclass(frozen=True)
class BookTags:
    title: str
    author: str
    year: int
    genre: str
    description: str
    copyright: str


def make_book(chapters: Sequence[BookChapter], tags: BookTags, cover_jpeg: bytes) -> bytes:
    """The .m4b bytes: AAC of the chapters in order, one MP4 chapter each, tags and cover.
    Bit-exact muxing and no clock in the tags, so the same chapters give the same bytes."""
    import av

    out, starts, at = io.BytesIO(), [], 0
    with av.open(out, "w", format="ipod", container_options={"fflags": "+bitexact"}) as book:
        stream = book.add_stream("aac", rate=RATE, layout="stereo")
        stream.bit_rate = AAC_KBPS * 1000
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        for chapter in chapters:
            starts.append(at)
            for block in _blocks(chapter.flac):
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = RATE, at
                at += block.shape[1]
                book.mux(stream.encode(frame))
        book.mux(stream.encode(None))
        book.set_chapters(
            [
                {
                    "id": n,
                    "start": start,
                    "end": end,
                    "time_base": Fraction(1, RATE),
                    "metadata": {"title": chapter.title},
                }
                for n, (chapter, start, end) in enumerate(
                    zip(chapters, starts, [*starts[1:], at], strict=True), start=1
                )
            ]
        )
    return _tag(out.getvalue(), tags, cover_jpeg)


def _blocks(flac: bytes):
    """A lossless master as (2, n) float32 blocks, never the whole chapter at once."""
    from pedalboard.io import AudioFile

    with AudioFile(io.BytesIO(flac)) as source:
        while source.tell() < source.frames:
            block = source.read(_CHUNK)
            if block.shape[0] == 1:
                block = np.repeat(block, 2, axis=0)
            yield np.ascontiguousarray(block, dtype=np.float32)


def _tag(m4b: bytes, tags: BookTags, cover_jpeg: bytes) -> bytes:
    """iTunes-style MP4 tags; `stik` 2 marks it as an audiobook for Apple's players."""
    from mutagen.mp4 import MP4, MP4Cover

    buffer = io.BytesIO(m4b)
    book = MP4(buffer)
    if book.tags is None:
        book.add_tags()
    book.tags.clear()
    book.tags.update(
        {
            "\xa9nam": [tags.title],
            "\xa9alb": [tags.title],
            "\xa9ART": [tags.author],
            "aART": [tags.author],
            "\xa9wrt": [tags.author],
            "\xa9day": [str(tags.year)],
            "\xa9gen": [tags.genre],
            "desc": [tags.description],
            "stik": [2],
            "covr": [MP4Cover(cover_jpeg, imageformat=MP4Cover.FORMAT_JPEG)],
        }
    )
    if tags.copyright:
        book.tags["cprt"] = [tags.copyright]
    buffer.seek(0)
    book.save(buffer)
    return buffer.getvalue()
