"""ID3v2.3 tags for an episode MP3: what players show, the cover, and scene chapters.

v2.3 rather than v2.4 because Apple's and many car players' ID3 readers still expect it
(mutagen writes the year as TYER there). Tagging works on bytes in memory, so the final file
is written once, atomically; mutagen adds no timestamps, so the bytes are reproducible."""

from __future__ import annotations

import io
from collections.abc import Sequence

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

from toolkit.mix.timeline import Mark


def tag_mp3(
    mp3: bytes,
    *,
    title: str,
    artist: str,
    album: str,
    track: int,
    total: int,
    year: int,
    genre: str,
    comment: str,
    cover_jpeg: bytes | None,
    marks: Sequence[Mark],
    duration_s: float,
    lang: str = "eng",
) -> bytes:
    """Return `mp3` with an ID3v2.3 tag in front. Chapter ends are clamped to the duration so
    a mark that runs past the last sample does not confuse players. `lang` is ISO 639-2."""
    text = Encoding.UTF16  # ID3v2.3 knows only Latin-1 and UTF-16
    tags = ID3()
    tags.add(TIT2(encoding=text, text=[title]))
    tags.add(TPE1(encoding=text, text=[artist]))
    tags.add(TALB(encoding=text, text=[album]))
    tags.add(TRCK(encoding=text, text=[f"{track}/{total}"]))
    tags.add(TDRC(encoding=text, text=[str(year)]))  # becomes TYER in v2.3
    tags.add(TCON(encoding=text, text=[genre]))
    tags.add(COMM(encoding=text, lang=lang, desc="", text=[comment]))
    if cover_jpeg is not None:
        tags.add(
            APIC(
                encoding=text,
                mime="image/jpeg",
                type=PictureType.COVER_FRONT,
                desc="Cover",
                data=cover_jpeg,
            )
        )
    if marks:
        end_ms = round(duration_s * 1000)
        ids = [f"ch{i}" for i in range(len(marks))]
        tags.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=text, text=["Chapters"])],
            )
        )
        for element_id, mark in zip(ids, sorted(marks, key=lambda m: m.start), strict=True):
            tags.add(
                CHAP(
                    element_id=element_id,
                    start_time=min(round(mark.start * 1000), end_ms),
                    end_time=min(round(mark.end * 1000), end_ms),
                    sub_frames=[TIT2(encoding=text, text=[mark.title])],
                )
            )
    tags.update_to_v23()  # mutagen writes v2.4-only frames (TDRC) unless converted first
    buffer = io.BytesIO(mp3)
    tags.save(buffer, v2_version=3)
    return buffer.getvalue()
