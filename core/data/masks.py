"""Object masks of the built-in datasets (core.data.generate): filled shapes and font glyphs.

A mask is a binary uint8 patch cropped to its object: `shape_mask(name, size, rng)` a rotated,
slightly stretched filled polygon (circle, square, triangle, star, hexagon, cross) about `size`
px wide; `glyph_mask(text, size, rng)` a Hershey-font digit or letter about `size` px tall,
rotated by at most GLYPH_MAX_ROTATION degrees (so a 6 never becomes a 9).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

GLYPH_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
)
GLYPH_MAX_ROTATION = 25.0  # degrees; more would make 6/9 ambiguous


def _regular(n: int, phase: float = 0.0) -> np.ndarray:
    t = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    outer = _regular(2 * points, -math.pi / 2)
    radius = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)[:, None]
    return outer * radius


def _cross(arm: float = 0.34) -> np.ndarray:
    a = arm
    return np.array(
        [
            [-a, -1],
            [a, -1],
            [a, -a],
            [1, -a],
            [1, a],
            [a, a],
            [a, 1],
            [-a, 1],
            [-a, a],
            [-1, a],
            [-1, -a],
            [-a, -a],
        ],
        dtype=np.float64,
    )


UNIT_POLYGONS: dict[str, np.ndarray] = {
    "circle": _regular(48),
    "square": np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * 0.85,
    "triangle": _regular(3, -math.pi / 2),
    "star": _star(),
    "hexagon": _regular(6),
    "cross": _cross(),
}


def shape_mask(name: str, size: float, rng: np.random.Generator) -> np.ndarray:
    """Binary uint8 patch of a rotated, slightly stretched filled polygon about `size` wide."""
    aspect = math.exp(rng.uniform(-0.15, 0.15)) if name != "circle" else 1.0
    angle = rng.uniform(0, 2 * math.pi)
    pts = UNIT_POLYGONS[name] * np.array([aspect, 1.0 / aspect]) * (size / 2)
    c, s = math.cos(angle), math.sin(angle)
    pts = pts @ np.array([[c, s], [-s, c]])
    pts -= pts.min(axis=0)
    h, w = int(math.ceil(pts[:, 1].max())) + 1, int(math.ceil(pts[:, 0].max())) + 1
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1, lineType=cv2.LINE_8)
    return mask


def glyph_mask(text: str, size: float, rng: np.random.Generator) -> np.ndarray:
    """Binary uint8 patch of a Hershey-font glyph about `size` tall, rotated by a small angle."""
    font = GLYPH_FONTS[rng.integers(len(GLYPH_FONTS))]
    if rng.random() < 0.3:
        font |= cv2.FONT_ITALIC
    (_, h1), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = size / max(h1, 1)
    thickness = max(1, int(round(size * rng.uniform(0.06, 0.16))))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    pad = thickness + 2
    patch = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(patch, text, (pad, pad + th), font, scale, 1, thickness, cv2.LINE_8)
    angle = rng.uniform(-GLYPH_MAX_ROTATION, GLYPH_MAX_ROTATION)
    ph, pw = patch.shape
    rot = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, 1.0)
    cos, sin = abs(rot[0, 0]), abs(rot[0, 1])
    nw, nh = int(ph * sin + pw * cos) + 2, int(ph * cos + pw * sin) + 2
    rot[:, 2] += (nw / 2 - pw / 2, nh / 2 - ph / 2)
    patch = cv2.warpAffine(patch, rot, (nw, nh), flags=cv2.INTER_NEAREST)
    return _crop_to_content(patch)


def _crop_to_content(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return mask[:1, :1]
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
