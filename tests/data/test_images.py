"""read_rgb: every image mode becomes RGB uint8 the same way; EXIF; bombs; bad files."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.data.images import ImageTooLargeError, image_size, read_rgb
from core.errors import DatasetError


def test_rgb_png_and_non_ascii_name(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "bild_äö.png")
    out = read_rgb(tmp_path / "bild_äö.png")
    assert out.dtype == np.uint8 and np.array_equal(out, arr)


def test_gray_palette_rgba_16bit(tmp_path):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    assert np.array_equal(read_rgb(tmp_path / "g.png"), np.repeat(gray[..., None], 3, 2))

    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:, :2] = (200, 10, 10)
    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=4).save(tmp_path / "p.png")
    assert tuple(read_rgb(tmp_path / "p.png")[0, 0]) == (200, 10, 10)

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:, :2, 3] = 255  # left half opaque, right half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_rgb(tmp_path / "a.png")
    assert out.shape == (4, 4, 3) and out[0, 0, 0] == 200 and out[0, 3, 0] == 0

    deep = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4369  # 0 .. 65535
    Image.fromarray(deep).save(tmp_path / "d16.png")
    out = read_rgb(tmp_path / "d16.png")
    assert out.dtype == np.uint8 and out[0, 0, 0] == 0 and out[3, 3, 0] == 255
    assert out[1, 2, 0] == round(6 * 4369 * 255 / 65535)


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :10] = 255  # white stripe on the left
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    out = read_rgb(tmp_path / "o.jpg")
    assert out.shape == (40, 20, 3) and image_size(tmp_path / "o.jpg") == (40, 20)
    assert out[:10].mean() > 200 and out[-10:].mean() < 50  # stripe now at the top


def _png_header_only(path, width, height):
    """A tiny PNG whose header claims a huge size (a decompression bomb)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [9_000, 60_000])  # below and above PIL's own hard limit
def test_pixel_bomb_refused_before_decoding(tmp_path, side):
    _png_header_only(tmp_path / "bomb.png", side, side)
    with pytest.raises(ImageTooLargeError, match="decompression-bomb guard"):
        read_rgb(tmp_path / "bomb.png")


def test_unreadable_files(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.raises(DatasetError, match="x.jpg"):
        read_rgb(tmp_path / "x.jpg")
    with pytest.raises(DatasetError, match="not found"):
        read_rgb(tmp_path / "none.png")
