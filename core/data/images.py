"""Image decoding shared by training, import and display: every image becomes RGB uint8 [H, W, 3].

One function, `read_rgb`, so that a picture looks the same in a training batch, in a preview and
in the validation report: EXIF orientation applied; grayscale, RGBA/LA (composited over black),
palette and 16-bit images converted to 8-bit RGB. The pixel count is read from the header first,
so a decompression bomb is refused before anything large is allocated.
"""

from __future__ import annotations

import logging
import os
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import DatasetError
from core.io import write_bytes

log = logging.getLogger(__name__)

MAX_PIXELS = 64_000_000  # width * height above this is refused (decompression-bomb guard)
# Formats/modes OpenCV decodes exactly as we want (8-bit, EXIF applied by IMREAD_COLOR).
_FAST_FORMATS = {"JPEG", "PNG", "BMP"}
_FAST_MODES = {"RGB", "L"}
_EXIF_ORIENTATION = 0x0112


class ImageTooLargeError(DatasetError):
    """An image has more pixels than allowed (decompression-bomb guard)."""


def image_size(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(height, width) after EXIF orientation, read from the header only.

    Raises DatasetError if the file is not a readable image or has more than `max_pixels`.
    """
    with _open_header(Path(path), max_pixels) as im:
        w, h = im.size
        if _orientation(im) in (5, 6, 7, 8):  # rotated by 90 degrees: width and height swap
            w, h = h, w
    return h, w


def read_rgb(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to RGB uint8 [H, W, 3] (EXIF-oriented).

    Raises DatasetError with the file name for unreadable, truncated or too large images.
    """
    path = Path(path)
    with _open_header(path, max_pixels) as im:
        fast = im.format in _FAST_FORMATS and im.mode in _FAST_MODES
        if not fast:
            return _decode_with_pil(im, path)
    data = np.fromfile(path, dtype=np.uint8)  # works for any (non-ASCII) file name
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f"{path.name}: OpenCV cannot decode this image (truncated or corrupt)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def check_decodable(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(height, width) of an image after checking that its pixel data decodes to the end.

    Memory stays small: a JPEG is decoded at 1/8 scale (libjpeg's DCT scaling still reads
    every block, so truncation is caught); other formats are decoded once by PIL without the
    RGB copies of `read_rgb`. Raises DatasetError (ImageTooLargeError over `max_pixels`).
    """
    path = Path(path)
    h, w = image_size(path, max_pixels)
    with _open_header(path, max_pixels) as im:
        try:
            if im.format == "JPEG":
                im.draft(im.mode, (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
            im.load()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            detail = str(exc).replace(str(path), path.name)
            raise DatasetError(f"{path.name}: cannot decode ({detail})") from exc
    return h, w


def write_image(path: str | os.PathLike, rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write RGB uint8 [H, W, 3] as JPEG (.jpg/.jpeg) or PNG (other suffixes)."""
    path = Path(path)
    suffix = path.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(
        suffix if suffix != ".jpeg" else ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params
    )
    if not ok:
        raise DatasetError(f"cannot encode {path.name} as {suffix}")
    write_bytes(path, buf.tobytes())


def _open_header(path: Path, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():  # our own pixel check below replaces PIL's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except FileNotFoundError as exc:
        raise DatasetError(f"{path.name}: file not found") from exc
    except Image.DecompressionBombError as exc:  # PIL refuses far beyond its own limit
        raise too_large_error(path, _declared_size(path), max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise DatasetError(f"{path.name}: not an image (unknown format or corrupt file)") from exc
    except (OSError, SyntaxError) as exc:
        detail = str(exc).replace(str(path), path.name)
        raise DatasetError(f"{path.name}: not an image ({detail})") from exc
    if im.size[0] * im.size[1] > max_pixels:
        im.close()
        raise too_large_error(path, im.size, max_pixels)
    w, h = im.size
    if w <= 0 or h <= 0:
        im.close()
        raise DatasetError(f"{path.name}: empty image ({w}x{h})")
    return im


def too_large_error(
    path: Path, size: tuple[int, int] | None, max_pixels: int
) -> ImageTooLargeError:
    """'photo.png: too large: 30000 x 30000, limit 64 megapixels (...)'."""
    shown = f"{size[0]} x {size[1]}" if size else "its header declares too many pixels"
    return ImageTooLargeError(
        f"{path.name}: too large: {shown}, limit {max_pixels / 1e6:g} megapixels "
        "(decompression-bomb guard); downscale the image"
    )


def _declared_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the header of an image beyond PIL's own pixel limit, whose
    DecompressionBombError names no size: PIL's format readers are asked directly (they read
    the header only), as Image.open does before its limit check."""
    Image.init()
    with open(path, "rb") as fp:
        prefix = fp.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            if accept and not accept(prefix):
                continue
            fp.seek(0)
            try:
                return factory(fp, path.name).size
            except (SyntaxError, IndexError, TypeError, ValueError, OSError, struct.error):
                fp.seek(0)
    return None


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except (ValueError, TypeError, OSError):
        return 1


def _decode_with_pil(im: Image.Image, path: Path) -> np.ndarray:
    try:
        im.load()
        im = ImageOps.exif_transpose(im)
    except (OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"{path.name}: cannot decode ({exc})") from exc
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im).astype(np.float64)
        scale = 255.0 / 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 1.0
        gray = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        gray = np.clip(np.rint(arr * (255.0 if arr.max() <= 1.0 else 1.0)), 0, 255)
        return np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        rgb = rgba[..., :3] * (rgba[..., 3:4] / 255.0)  # composite over black
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    if mode in ("RGB;16", "RGB;16B", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "P", "1", "L", "RGB"):
        return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
    raise DatasetError(f"{path.name}: unsupported image mode {mode!r}; convert it to RGB")
