"""ID3v2.3 tags for an episode MP3: what players show, the cover, and scene chapters.

v2.3 rather than v2.4 because Apple's and many car players' ID3 readers still expect it
(mutagen writes the year as TYER there). Tagging works on bytes in memory, so the final file
is written once, atomically; mutagen adds no timestamps, so the bytes are reproducible.

FLAC, Ogg Vorbis and Ogg Opus masters carry the same facts as Vorbis comments: the cover as
METADATA_BLOCK_PICTURE and scene chapters as CHAPTERnnn / CHAPTERnnnNAME (the chapter
extension that foobar2000, VLC and ffmpeg read)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

from mutagen.id3 import (
    APIC,
    CHAP,
    COMM,
    CTOC,
    ID3,
    TALB,
    TCON,
    TDRC,
    TIT2,
    TPE1,
    TRCK,
    CTOCFlags,
    Encoding,
    PictureType,
)
from mutagen.id3._tags import save_frame

from toolkit.mix.timeline import Mark


@dataclass(frozen=True)
class Tags:
    """What players show of an episode, whatever its container."""

    title: str
    artist: str
    album: str
    track: int
    total: int
    year: int
    genre: str
    comment: str
    cover_jpeg: bytes | None
    marks: Sequence[Mark]


class _InOrderID3(ID3):
    """ID3 that writes frames in the order they were added. Stock mutagen sorts frames of one
    kind by their size, so CHAP frames land out of time order and ffmpeg, which takes them in
    file order, then makes a 1 ms chapter and one running past the end."""

    def _write(self, config) -> bytearray:
        frames = sorted(self.values(), key=lambda frame: frame.FrameID == "APIC")  # stable
        return bytearray().join(save_frame(frame, config=config) for frame in frames)


def tag_mp3(mp3: bytes, tags: Tags, duration_s: float, lang: str = "eng") -> bytes:
    """Return `mp3` with an ID3v2.3 tag in front. Chapter ends are clamped to the duration so
    a mark that runs past the last sample does not confuse players. `lang` is ISO 639-2."""
    text = Encoding.UTF16  # ID3v2.3 knows only Latin-1 and UTF-16
    frames = _InOrderID3()
    frames.add(TIT2(encoding=text, text=[tags.title]))
    frames.add(TPE1(encoding=text, text=[tags.artist]))
    frames.add(TALB(encoding=text, text=[tags.album]))
    frames.add(TRCK(encoding=text, text=[f"{tags.track}/{tags.total}"]))
    frames.add(TDRC(encoding=text, text=[str(tags.year)]))  # becomes TYER in v2.3
    frames.add(TCON(encoding=text, text=[tags.genre]))
    frames.add(COMM(encoding=text, lang=lang, desc="", text=[tags.comment]))
    if tags.cover_jpeg is not None:
        frames.add(
            APIC(
                encoding=text,
                mime="image/jpeg",
                type=PictureType.COVER_FRONT,
                desc="Cover",
                data=tags.cover_jpeg,
            )
        )
    if tags.marks:
        end_ms = round(duration_s * 1000)
        marks = sorted(tags.marks, key=lambda m: m.start)
        ids = [f"ch{i}" for i in range(len(marks))]
        frames.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=text, text=["Chapters"])],
            )
        )
        for element_id, mark in zip(ids, marks, strict=True):
            frames.add(
                CHAP(
                    element_id=element_id,
                    start_time=min(round(mark.start * 1000), end_ms),
                    end_time=min(round(mark.end * 1000), end_ms),
                    sub_frames=[TIT2(encoding=text, text=[mark.title])],
                )
            )
    frames.update_to_v23()  # mutagen writes v2.4-only frames (TDRC) unless converted first
    buffer = io.BytesIO(mp3)
    frames.save(buffer, v2_version=3)
    return buffer.getvalue()


def tag_vorbis(data: bytes, tags: Tags) -> bytes:
    """Return a FLAC, Ogg Vorbis or Ogg Opus file's bytes with Vorbis comments: the same
    tags, cover and scene chapters as the MP3."""
    from mutagen import File
    from mutagen.flac import FLAC, Picture

    buffer = io.BytesIO(data)
    audio = File(buffer)
    if audio is None:
        raise ValueError("not a FLAC or Ogg file")
    audio.clear()  # drops what the encoder wrote; the vendor string stays
    comments = {
        "TITLE": tags.title,
        "ARTIST": tags.artist,
        "ALBUM": tags.album,
        "TRACKNUMBER": str(tags.track),
        "TRACKTOTAL": str(tags.total),
        "DATE": str(tags.year),
        "GENRE": tags.genre,
        "COMMENT": tags.comment,
    }
    for n, mark in enumerate(sorted(tags.marks, key=lambda m: m.start), start=1):
        comments[f"CHAPTER{n:03d}"] = _vorbis_clock(mark.start)
        comments[f"CHAPTER{n:03d}NAME"] = mark.title
    for key, value in comments.items():
        audio[key] = [value]
    if tags.cover_jpeg is not None:
        picture = Picture()
        picture.type, picture.mime, picture.desc = PictureType.COVER_FRONT, "image/jpeg", "Cover"
        picture.data = tags.cover_jpeg
        if isinstance(audio, FLAC):
            audio.clear_pictures()
            audio.add_picture(picture)
        else:
            audio["METADATA_BLOCK_PICTURE"] = [base64.b64encode(picture.write()).decode()]
    buffer.seek(0)
    audio.save(buffer)
    return buffer.getvalue()


def _vorbis_clock(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    return f"{h:02d}:{m:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
