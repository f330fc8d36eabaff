"""The sizes the site shows of a post's image, made once at ingest with Pillow."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

# Longest side in pixels: a card in a grid, and the look's own page on a large screen.
SIZES = {"card": 640, "full": 1440}
FORMATS = {"jpg": ("JPEG", "image/jpeg", 85), "webp": ("WEBP", "image/webp", 80)}
MAX_PIXELS = 40_000_000  # Instagram serves at most 1440 × 1800; anything far larger is not one


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can read."""


@dataclass(frozen=True, slots=True)
class RenderedFile:
    name: str  # e.g. card.webp
    data: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Rendered:
    files: tuple[RenderedFile, ...]
    width: int  # of the full rendition
    height: int


def content_key(data: bytes) -> str:
    """The folder a source file's renditions go to: its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    return f"looks/{digest[:2]}/{digest}"


def render(source: bytes) -> Rendered:
    """card and full, each as JPEG and WebP, never larger than the source."""
    image = _open(source)
    files: list[RenderedFile] = []
    full_size = image.size
    for size_name, longest in SIZES.items():
        resized = image.copy()
        resized.thumbnail((longest, longest), Image.Resampling.LANCZOS)
        if size_name == "full":
            full_size = resized.size
        for ext, (fmt, content_type, quality) in FORMATS.items():
            out = io.BytesIO()
            resized.save(out, fmt, quality=quality)
            files.append(RenderedFile(f"{size_name}.{ext}", out.getvalue(), content_type))
    return Rendered(files=tuple(files), width=full_size[0], height=full_size[1])


def _open(source: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(source))
        if image.width * image.height > MAX_PIXELS:
            raise NotAnImage(f"{image.width}×{image.height} is too large for a post")
        image.load()
    except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise NotAnImage(str(exc)) from exc
    upright = ImageOps.exif_transpose(image)  # phones store rotation as a tag
    return upright.convert("RGB")
