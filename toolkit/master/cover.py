"""Podcast cover art: Apple wants a square RGB JPEG or PNG, 1400-3000 px.

A generated cover lets a show publish before anyone draws one; its colours come from a hash
of the title, so the same show always gets the same, byte-identical image."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from toolkit.errors import DramaError

MIN_SIZE, MAX_SIZE = 1400, 3000
MAX_BYTES = 20_000_000
_BOMBS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
JPEG_QUALITY = 90


def make_cover(title: str, author: str, size: int = MAX_SIZE) -> bytes:
    """A diagonal two-colour gradient with the title large and wrapped, the author below."""
    image = Image.fromarray(_gradient(title, size))
    draw = ImageDraw.Draw(image)
    margin = size // 10
    title_font, lines = _fit_title(draw, title, size - 2 * margin, size // 2)
    line_height = title_font.size * 1.15
    y = size * 0.42 - line_height * len(lines) / 2
    for line in lines:
        draw.text((size / 2, y), line, font=title_font, fill="white", anchor="mt")
        y += line_height
    author_font = ImageFont.load_default(size=max(size // 28, 12))
    draw.text((size / 2, size - margin), author, font=author_font, fill="white", anchor="md")
    return _jpeg(image)


def load_cover(path: Path) -> bytes:
    """A user's cover as JPEG bytes: an RGB JPEG is passed through untouched; anything else
    (PNG, palette, alpha, CMYK, greyscale) is flattened onto white and re-encoded."""
    if Path(path).stat().st_size > MAX_BYTES:
        raise DramaError(f"cover is over {MAX_BYTES // 1_000_000} MB, expected a smaller image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # raised, not printed
            image = Image.open(path)
        with image:
            # Format and size come from the header: checked before any pixel is decoded, so a
            # 10000 px image or a decompression bomb is refused without the memory it asks for.
            if image.format not in ("JPEG", "PNG"):
                raise DramaError(f"cover must be a JPEG or PNG image, found {image.format}")
            width, height = image.size
            if width != height or not MIN_SIZE <= width <= MAX_SIZE:
                raise DramaError(
                    f"cover must be a square image {MIN_SIZE}-{MAX_SIZE} px, found {width}x{height}"
                )
            image.load()
    except _BOMBS as exc:
        pixels = str(exc).split("(")[1].split(")")[0] if "(" in str(exc) else "too many pixels"
        raise DramaError(
            f"cover has {pixels}, a possible decompression bomb; expected a square image "
            f"{MIN_SIZE}-{MAX_SIZE} px",
            file=str(path),
        ) from None
    except (OSError, ValueError, UnidentifiedImageError) as exc:
        raise DramaError(f"cover must be a JPEG or PNG image: {exc}", file=str(path)) from exc
    if image.format == "JPEG" and image.mode == "RGB":
        return Path(path).read_bytes()
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return _jpeg(flat)


def _gradient(title: str, size: int) -> np.ndarray:
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    top = np.array([40 + digest[0] % 80, 20 + digest[1] % 60, 60 + digest[2] % 100], np.float32)
    bottom = top * 0.25
    ramp = np.add.outer(np.arange(size), np.arange(size)).astype(np.float32) / (2 * size - 2)
    rgb = np.empty((size, size, 3), np.uint8)
    for channel in range(3):
        rgb[..., channel] = (top[channel] + (bottom[channel] - top[channel]) * ramp).round()
    return rgb


def _fit_title(
    draw: ImageDraw.ImageDraw, title: str, width: int, height: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font size at which the word-wrapped title fits the box."""
    for points in range(height // 3, 12, -max(height // 60, 1)):
        font = ImageFont.load_default(size=points)
        lines = _wrap(draw, title, font, width)
        fits = all(draw.textlength(line, font=font) <= width for line in lines)
        if fits and points * 1.15 * len(lines) <= height:
            return font, lines
    font = ImageFont.load_default(size=12)
    return font, _wrap(draw, title, font, width)


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int
) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
