"""Text tags on detection images: size, placement without overlap, drawing (OpenCV, RGB uint8).

Candidate spots for a box's tag, in order: above the box, inside its top edge, below it, inside
its bottom edge, each left- then right-aligned, all clamped into the image. `draw_tag` with a
`taken` list takes the first spot that overlaps no tag already drawn, or draws nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

RGB = tuple[int, int, int]
TAG_PAD = 2  # px around a tag's text


def text_color_for(background: RGB) -> RGB:
    """Black or white, whichever reads better on `background` (relative luminance)."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


def fit_text(
    text: str, max_width: int, font_scale: float, thickness: int
) -> tuple[str, int, int, int]:
    """Truncate `text` (with '..') until it is at most max_width px wide.

    Returns (text, width, height, baseline) in px.
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    candidate = text
    while True:
        (w, h), base = cv2.getTextSize(candidate, font, font_scale, thickness)
        if w <= max_width or len(candidate) <= 1:
            return candidate, w, h, base
        text = text[:-1]
        candidate = text + ".." if len(text) > 1 else text[:1]


def tag_rect(
    box: Sequence[float], tag_w: int, tag_h: int, image_w: int, image_h: int
) -> tuple[int, int, int, int]:
    """Where a tag of (tag_w, tag_h) px goes for `box`: above it if there is room, else just inside
    its top edge; always clamped into the image. Returns (x1, y1, x2, y2), x2/y2 exclusive."""
    bx1, by1 = int(round(box[0])), int(round(box[1]))
    x = int(np.clip(bx1, 0, max(image_w - tag_w, 0)))
    y = by1 - tag_h if by1 - tag_h >= 0 else by1
    y = int(np.clip(y, 0, max(image_h - tag_h, 0)))
    return x, y, min(x + tag_w, image_w), min(y + tag_h, image_h)


def tag_candidates(
    box: Sequence[float], tag_w: int, tag_h: int, image_w: int, image_h: int
) -> list[tuple[int, int, int, int]]:
    """Spots for a tag of (tag_w, tag_h) px near `box`, in order of preference (see the module
    docstring), each clamped into the image; (x1, y1, x2, y2), x2/y2 exclusive."""
    bx1, by1, bx2, by2 = (int(round(v)) for v in box[:4])
    spots = []
    for y in (by1 - tag_h, by1, by2 + 1, by2 - tag_h):
        for x in (bx1, bx2 - tag_w):
            cx = int(np.clip(x, 0, max(image_w - tag_w, 0)))
            cy = int(np.clip(y, 0, max(image_h - tag_h, 0)))
            spot = (cx, cy, min(cx + tag_w, image_w), min(cy + tag_h, image_h))
            if spot not in spots:
                spots.append(spot)
    return [tag_rect(box, tag_w, tag_h, image_w, image_h)] + spots


def rects_overlap(a: Sequence[int], b: Sequence[int]) -> bool:
    """True when two (x1, y1, x2, y2) rectangles (x2/y2 exclusive) share any pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _tag_size(
    text: str, w_img: int, font_scale: float, thickness: int
) -> tuple[str, int, int, int, int]:
    """(fitted text, tag width, tag height, text height, text thickness) of a tag."""
    text_thickness = max(1, thickness // 2)
    text, tw, th, base = fit_text(text, w_img - 2 * TAG_PAD, font_scale, text_thickness)
    return text, tw + 2 * TAG_PAD, th + base + 2 * TAG_PAD, th, text_thickness


def _paint_tag(
    img: np.ndarray,
    rect: Sequence[int],
    text: str,
    color: RGB,
    font_scale: float,
    text_h: int,
    text_thickness: int,
) -> None:
    x1, y1, x2, y2 = rect
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), color, -1)
    cv2.putText(
        img,
        text,
        (x1 + TAG_PAD, y1 + TAG_PAD + text_h),
        cv2.FONT_HERSHEY_SIMPLEX,
        font_scale,
        text_color_for(color),
        text_thickness,
        cv2.LINE_AA,
    )


def draw_tag(
    img: np.ndarray,
    box: Sequence[float],
    text: str,
    color: RGB,
    font_scale: float,
    thickness: int,
    taken: list[tuple[int, int, int, int]] | None = None,
) -> tuple[int, int, int, int] | None:
    """Draw a filled tag with `text` near `box`, inside the image; returns its rectangle.

    With `taken` (rectangles of tags already drawn), the first free candidate spot is used and
    appended to `taken`; when every spot overlaps one, nothing is drawn and None is returned.
    """
    h_img, w_img = img.shape[:2]
    text, tag_w, tag_h, th, tt = _tag_size(text, w_img, font_scale, thickness)
    if taken is None:
        rect = tag_rect(box, tag_w, tag_h, w_img, h_img)
    else:
        free = [
            r
            for r in tag_candidates(box, tag_w, tag_h, w_img, h_img)
            if not any(rects_overlap(r, t) for t in taken)
        ]
        if not free:
            return None
        rect = free[0]
        taken.append(rect)
    _paint_tag(img, rect, text, color, font_scale, th, tt)
    return rect
