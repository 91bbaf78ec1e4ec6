"""Detection drawing with OpenCV: one colour per class everywhere, tags that stay inside the image
and never cover one another.

Every view that shows a class (dataset previews, predictions, evaluation charts) takes its colour
from `class_color`, so "car" is the same colour in the Data tab, the Detect tab and the PR curves.
Images are RGB uint8 [H, W, 3]; boxes are (x1, y1, x2, y2) in pixels; labels are 0-based class
indices. Functions never modify their input image.

Ground truth against prediction (`match_detections`, `draw_comparison`) follows COCO's greedy
matching: predictions in descending score order take the best still-unmatched ground-truth box of
the same class with IoU >= the threshold.

Tags are placed greedily, highest score first: above the box, inside its top edge, below it,
inside its bottom edge (each left- then right-aligned); the first spot that overlaps no tag
already placed wins, and a box with no free spot keeps its outline without text (its class is
still told by its colour: `legend_strip` draws the colour key). `enlarge` scales a small image
(and its boxes) up before drawing so that text stays legible on a big screen.
"""

from __future__ import annotations

import colorsys
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.viz.labels import (
    draw_tag,
    fit_text,
    tag_rect,  # noqa: F401
)

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]

# Tableau-20 style palette: the ten most distinct first, their lighter twins after.
PALETTE: tuple[RGB, ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (174, 199, 232),
    (255, 187, 120),
    (152, 223, 138),
    (255, 152, 150),
    (197, 176, 213),
    (196, 156, 148),
    (247, 182, 210),
    (199, 199, 199),
    (219, 219, 141),
    (158, 218, 229),
)
GOLDEN_RATIO_CONJUGATE = 0.618033988749895
PANEL_HEADER_PX = 22  # height of the title strip above each comparison panel


def class_color(index: int) -> RGB:
    """A stable, distinct RGB colour for a 0-based class index.

    The first len(PALETTE) classes use a fixed palette; later ones step the hue by the golden
    ratio (well spread for any count) with saturation/value alternating between two levels.
    """
    if index < 0:
        raise ValueError(f"class index must be >= 0, got {index}")
    if index < len(PALETTE):
        return PALETTE[index]
    k = index - len(PALETTE)
    hue = (0.11 + k * GOLDEN_RATIO_CONJUGATE) % 1.0
    sat, val = (0.75, 0.95) if k % 2 == 0 else (0.55, 0.75)
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def class_color_hex(index: int) -> str:
    """`class_color` as '#rrggbb' for plotly charts."""
    r, g, b = class_color(index)
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class BoxStyle:
    """How boxes and tags look. `font_scale`/`thickness` None: chosen from the image size."""

    thickness: int | None = None
    font_scale: float | None = None
    show_labels: bool = True
    show_scores: bool = True
    dashed: bool = False  # dashed outline (used for false positives and misses)
    fill_alpha: float = 0.0  # translucent fill of the box in its class colour (0 = none)
    tag_prefix: str = ""  # e.g. "FP " in comparison views


def _auto_thickness(shape: tuple[int, ...]) -> int:
    return max(1, int(round(min(shape[:2]) / 300)))


def _auto_font_scale(shape: tuple[int, ...]) -> float:
    return float(np.clip(min(shape[:2]) / 700, 0.35, 0.9))


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")


def _dashed_rectangle(
    img: np.ndarray,
    p1: tuple[int, int],
    p2: tuple[int, int],
    color: RGB,
    thickness: int,
    dash: int = 6,
) -> None:
    """Draw a dashed axis-aligned rectangle in place."""
    (x1, y1), (x2, y2) = p1, p2
    for a, b, fixed, horizontal in (
        (x1, x2, y1, True),
        (x1, x2, y2, True),
        (y1, y2, x1, False),
        (y1, y2, x2, False),
    ):
        for start in range(a, b + 1, 2 * dash):
            end = min(start + dash, b)
            q1 = (start, fixed) if horizontal else (fixed, start)
            q2 = (end, fixed) if horizontal else (fixed, end)
            cv2.line(img, q1, q2, color, thickness, cv2.LINE_AA)


def _tag_text(label: int, class_names: Sequence[str], score: float | None, style: BoxStyle) -> str:
    name = class_names[label] if 0 <= label < len(class_names) else f"class {label}"
    parts = [style.tag_prefix + name] if style.show_labels else [style.tag_prefix.strip()]
    if score is not None and style.show_scores:
        parts.append(f"{score:.2f}")
    return " ".join(p for p in parts if p)


def draw_boxes(
    image_rgb: np.ndarray,
    boxes: np.ndarray | Sequence[Sequence[float]],
    labels: Sequence[int],
    class_names: Sequence[str],
    scores: Sequence[float] | None = None,
    style: BoxStyle = BoxStyle(),
    colors: Sequence[RGB] | None = None,
    taken_tags: list[tuple[int, int, int, int]] | None = None,
) -> np.ndarray:
    """Draw boxes with class-coloured outlines and "name score" tags; returns a new image.

    image_rgb: uint8 [H, W, 3] RGB. boxes: [N, 4] (x1, y1, x2, y2) pixels (clipped for drawing).
    labels: [N] 0-based class indices. scores: [N] in [0, 1] or None. colors: optional per-box
    override of the outline/tag colour (default: `class_color(label)`). Tags never overlap: a box
    whose tag finds no free spot is drawn without one. `taken_tags`: rectangles of tags already
    on the image (from an earlier call on it); updated with the ones placed here.
    """
    _check_image(image_rgb)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = [int(v) for v in np.asarray(labels).reshape(-1)]
    if len(labels) != len(boxes) or (scores is not None and len(scores) != len(boxes)):
        raise ValueError(
            f"boxes ({len(boxes)}), labels ({len(labels)}) and scores "
            f"({None if scores is None else len(scores)}) must have the same length"
        )
    out = image_rgb.copy()
    h, w = out.shape[:2]
    thickness = style.thickness or _auto_thickness(out.shape)
    font_scale = style.font_scale or _auto_font_scale(out.shape)
    clipped = np.column_stack(
        [np.clip(boxes[:, [0, 2]], 0, w - 1), np.clip(boxes[:, [1, 3]], 0, h - 1)]
    )
    clipped = np.rint(clipped[:, [0, 2, 1, 3]]).astype(int)
    if style.fill_alpha > 0 and len(boxes):
        overlay = out.copy()
        for i, (x1, y1, x2, y2) in enumerate(clipped):
            color = colors[i] if colors is not None else class_color(labels[i])
            cv2.rectangle(overlay, (x1, y1), (x2, y2), color, -1)
        out = cv2.addWeighted(overlay, style.fill_alpha, out, 1 - style.fill_alpha, 0)
    for i, (x1, y1, x2, y2) in enumerate(clipped):
        color = colors[i] if colors is not None else class_color(labels[i])
        if style.dashed:
            _dashed_rectangle(out, (x1, y1), (x2, y2), color, thickness)
        else:
            cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
    if style.show_labels or (style.show_scores and scores is not None):
        order = (
            range(len(clipped))
            if scores is None
            else np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        )
        taken = list(taken_tags) if taken_tags is not None else []
        for i in order:
            color = colors[i] if colors is not None else class_color(labels[i])
            score = None if scores is None else float(scores[i])
            text = _tag_text(labels[i], class_names, score, style)
            if text:
                draw_tag(out, clipped[i], text, color, font_scale, thickness, taken)
        if taken_tags is not None:
            taken_tags[:] = taken
    return out


# -- ground truth against prediction -----------------------------------------------------------


@dataclass(frozen=True)
class MatchResult:
    """Outcome of matching predictions to ground truth in one image.

    pred_tp: bool [P] (True = true positive); pred_match: int [P] index of the matched ground-truth
    box or -1; gt_matched: bool [G] (False = missed).
    """

    pred_tp: np.ndarray
    pred_match: np.ndarray
    gt_matched: np.ndarray


def box_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [len(a), len(b)] of (x1, y1, x2, y2) boxes.

    The numpy twin of torchvision.ops.box_iou, so drawing needs no torch tensors.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_detections(
    gt_boxes: np.ndarray,
    gt_labels: Sequence[int],
    pred_boxes: np.ndarray,
    pred_labels: Sequence[int],
    pred_scores: Sequence[float],
    iou_threshold: float = 0.5,
) -> MatchResult:
    """Greedy COCO-style matching per class (boxes xyxy pixels, labels 0-based)."""
    gt_labels = np.asarray(gt_labels, dtype=int).reshape(-1)
    pred_labels = np.asarray(pred_labels, dtype=int).reshape(-1)
    iou = box_iou_np(pred_boxes, gt_boxes)
    iou[pred_labels[:, None] != gt_labels[None, :]] = -1.0
    pred_match = np.full(len(pred_labels), -1, dtype=int)
    gt_matched = np.zeros(len(gt_labels), dtype=bool)
    for p in np.argsort(-np.asarray(pred_scores, dtype=np.float64), kind="stable"):
        if iou.shape[1] == 0:
            break
        candidates = np.where(gt_matched, -1.0, iou[p])
        g = int(np.argmax(candidates))
        if candidates[g] >= iou_threshold:
            pred_match[p] = g
            gt_matched[g] = True
    return MatchResult(pred_match >= 0, pred_match, gt_matched)


def _with_header(image: np.ndarray, title: str) -> np.ndarray:
    """The image with a dark title strip on top."""
    strip = np.full((PANEL_HEADER_PX, image.shape[1], 3), 32, dtype=np.uint8)
    text, _, th, _ = fit_text(title, image.shape[1] - 8, 0.5, 1)
    cv2.putText(
        strip,
        text,
        (4, (PANEL_HEADER_PX + th) // 2),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (240, 240, 240),
        1,
        cv2.LINE_AA,
    )
    return np.vstack([strip, image])


def draw_comparison(
    image_rgb: np.ndarray,
    gt_boxes: np.ndarray,
    gt_labels: Sequence[int],
    pred_boxes: np.ndarray,
    pred_labels: Sequence[int],
    pred_scores: Sequence[float],
    class_names: Sequence[str],
    iou_threshold: float = 0.5,
    gap_px: int = 6,
) -> np.ndarray:
    """Ground truth (left) beside prediction (right), one image [H + header, 2W + gap, 3].

    Left: matched ground truth solid, missed ground truth dashed with a "MISS" tag. Right: true
    positives solid, false positives dashed with an "FP" tag. Colours are the class colours; the
    panel titles count TP / FP / misses.
    """
    _check_image(image_rgb)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    pred_boxes = np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4)
    gt_labels = np.asarray(gt_labels, dtype=int).reshape(-1)
    pred_labels = np.asarray(pred_labels, dtype=int).reshape(-1)
    pred_scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    m = match_detections(gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores, iou_threshold)
    left_tags: list[tuple[int, int, int, int]] = []
    left = draw_boxes(
        image_rgb,
        gt_boxes[m.gt_matched],
        gt_labels[m.gt_matched],
        class_names,
        taken_tags=left_tags,
    )
    left = draw_boxes(
        left,
        gt_boxes[~m.gt_matched],
        gt_labels[~m.gt_matched],
        class_names,
        style=BoxStyle(dashed=True, tag_prefix="MISS "),
        taken_tags=left_tags,
    )
    tp, fp = m.pred_tp, ~m.pred_tp
    right_tags: list[tuple[int, int, int, int]] = []
    right = draw_boxes(
        image_rgb,
        pred_boxes[tp],
        pred_labels[tp],
        class_names,
        pred_scores[tp],
        taken_tags=right_tags,
    )
    right = draw_boxes(
        right,
        pred_boxes[fp],
        pred_labels[fp],
        class_names,
        pred_scores[fp],
        style=BoxStyle(dashed=True, tag_prefix="FP "),
        taken_tags=right_tags,
    )
    n_miss, n_tp, n_fp = int((~m.gt_matched).sum()), int(tp.sum()), int(fp.sum())
    left = _with_header(left, f"ground truth: {len(gt_boxes)} ({n_miss} missed)")
    right = _with_header(right, f"prediction: {n_tp} TP, {n_fp} FP")
    gap = np.full((left.shape[0], gap_px, 3), 255, dtype=np.uint8)
    return np.hstack([left, gap, right])


def image_grid(
    images: Sequence[np.ndarray],
    columns: int = 4,
    tile_size: int = 256,
    captions: Sequence[str] | None = None,
    gap_px: int = 4,
    background: RGB = (255, 255, 255),
) -> np.ndarray:
    """A mosaic of RGB uint8 images, each letterboxed into a tile_size x tile_size cell.

    Returns uint8 [rows * (tile + gap) - gap (+ caption strips), columns * (tile + gap) - gap, 3].
    Captions (optional, one per image) go in a strip above each tile.
    """
    if not images:
        raise ValueError("image_grid needs at least one image")
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"got {len(captions)} captions for {len(images)} images")
    columns = max(1, min(columns, len(images)))
    tiles = [_tile(img, tile_size, background) for img in images]
    if captions is not None:
        tiles = [_with_header(t, c) for t, c in zip(tiles, captions)]
    th, tw = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    grid = np.empty((rows * (th + gap_px) - gap_px, columns * (tw + gap_px) - gap_px, 3), np.uint8)
    grid[:] = background
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = r * (th + gap_px), c * (tw + gap_px)
        grid[y : y + th, x : x + tw] = tile
    return grid


def _tile(image: np.ndarray, size: int, background: RGB) -> np.ndarray:
    """Letterbox an RGB uint8 image into size x size (aspect kept, centred)."""
    _check_image(image)
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    tile = np.empty((size, size, 3), np.uint8)
    tile[:] = background
    y, x = (size - nh) // 2, (size - nw) // 2
    tile[y : y + nh, x : x + nw] = resized
    return tile


def enlarge(
    image: np.ndarray, boxes: np.ndarray | Sequence[Sequence[float]], min_side: int
) -> tuple[np.ndarray, np.ndarray]:
    """(image scaled so its shorter side is at least `min_side`, boxes [N, 4] scaled with it).

    Drawing on the enlarged image keeps lines and text sharp where a browser would blow up a
    small image. An image already large enough is returned as it is.
    """
    _check_image(image)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    h, w = image.shape[:2]
    factor = min_side / min(h, w)
    if factor <= 1:
        return image, boxes
    size = (int(round(w * factor)), int(round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), boxes * factor


def legend_strip(class_names: Sequence[str], width: int, font_scale: float = 0.55) -> np.ndarray:
    """A white strip [H, width, 3] with one colour swatch and name per class, wrapping lines."""
    font, thickness, pad, swatch = cv2.FONT_HERSHEY_SIMPLEX, 1, 8, 14
    (_, text_h), base = cv2.getTextSize("Ag", font, font_scale, thickness)
    line_h = max(swatch, text_h + base) + pad
    items, x, row = [], pad, 0
    for k, name in enumerate(class_names):
        (tw, _), _ = cv2.getTextSize(name, font, font_scale, thickness)
        item_w = swatch + 6 + tw + 2 * pad
        if x + item_w > width and x > pad:
            x, row = pad, row + 1
        items.append((k, name, x, row))
        x += item_w
    strip = np.full(((row + 1) * line_h + pad, width, 3), 255, dtype=np.uint8)
    for k, name, x, r in items:
        y = pad + r * line_h
        cv2.rectangle(strip, (x, y), (x + swatch, y + swatch), class_color(k), -1)
        cv2.putText(
            strip,
            name,
            (x + swatch + 6, y + swatch - 2),
            font,
            font_scale,
            (30, 30, 30),
            thickness,
            cv2.LINE_AA,
        )
    return strip
