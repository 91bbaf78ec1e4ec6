"""Built-in detection datasets drawn with OpenCV: "shapes" and "glyphs" (no download).

shapes: filled polygons (circle, square, triangle, star, hexagon, cross, ...) with random colour,
shading, size (about 4% to 60% of the image side), aspect and rotation. glyphs: digits 0-9 and a
few letters in OpenCV's Hershey fonts at random size, thickness, slant and rotation (limited, so a
6 never becomes a 9). Backgrounds are colour gradients with low-frequency texture, stripes and
noise; harder levels add distractor strokes, smaller objects, heavier occlusion and blur. The object
masks themselves are drawn by core.data.masks.

Boxes are tight around the *visible* pixels: objects are composited into an id map (later objects
occlude earlier ones); a new object is rejected if it would leave an earlier one with less than
`min_visible` of its pixels, and each box is the extent of its object's pixels in the final id map.
Every image is drawn from its own generator seeded by (seed, index): a dataset is the same for a
seed whatever the order or batching.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.data.images import write_image
from core.data.internal import IMAGES_DIR, coco_document, split_json, write_json
from core.data.masks import glyph_mask, shape_mask
from core.data.spec import GENERATOR_KINDS
from core.errors import SpecError

log = logging.getLogger(__name__)

KINDS = GENERATOR_KINDS
SHAPE_CLASSES = ("circle", "square", "triangle", "star", "hexagon", "cross")
GLYPH_CLASSES = tuple("0123456789") + ("A", "E", "H", "K", "X")
JPEG_QUALITY = 95
IMAGE_SUFFIX = ".jpg"
MIN_OBJECT_PIXELS = 12  # objects smaller than this (visible pixels) are not annotated
PLACEMENT_TRIES = 6
COARSE_GRID = 16  # background gradient/texture resolution before upsampling


@dataclass(frozen=True)
class Difficulty:
    """How hard a generated scene is."""

    min_size: float  # object size range, as a fraction of the shorter image side
    max_size: float
    min_visible: float  # every object keeps at least this fraction of its pixels visible
    outside: float  # an object may extend this fraction of its size past the border
    texture: float  # background texture amplitude (0-255 scale)
    noise: float  # pixel noise standard deviation (0-255 scale)
    clutter: tuple[int, int]  # number of distractor strokes (min, max)
    blur: bool  # 3x3 Gaussian blur of the final image
    min_contrast: float  # minimum RGB distance between an object and the background under it


DIFFICULTIES: dict[str, Difficulty] = {
    "easy": Difficulty(0.12, 0.6, 0.8, 0.0, 10.0, 3.0, (0, 0), False, 120.0),
    "medium": Difficulty(0.06, 0.6, 0.55, 0.1, 25.0, 6.0, (2, 6), False, 80.0),
    "hard": Difficulty(0.04, 0.6, 0.35, 0.2, 40.0, 10.0, (6, 14), True, 50.0),
}


@dataclass
class SceneObject:
    """One annotated object: label index, visible box (x1, y1, x2, y2) pixels, visible pixels."""

    label: int
    box: tuple[int, int, int, int]
    area: int
    full_area: int


@dataclass
class Scene:
    """A drawn image RGB uint8 [H, W, 3], its id map uint8 [H, W] (0 background, object i at
    value i + 1) and the visible objects (`objects[k].label`; its id is `ids[k]`)."""

    image: np.ndarray
    id_map: np.ndarray
    objects: list[SceneObject]
    ids: list[int]


def classes_for(kind: str) -> list[str]:
    if kind == "shapes":
        return list(SHAPE_CLASSES)
    if kind == "glyphs":
        return list(GLYPH_CLASSES)
    raise SpecError(f"unknown generator kind {kind!r}; use one of {', '.join(KINDS)}")


# -- backgrounds ---------------------------------------------------------------------------------
def _random_color(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array(
        [[[rng.integers(0, 180), rng.integers(90, 256), rng.integers(70, 256)]]], np.uint8
    )
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _background(h: int, w: int, level: Difficulty, rng: np.random.Generator) -> np.ndarray:
    """Float32 [H, W, 3]: two-colour gradient + low-frequency texture (+ stripes at times).

    The smooth part is built on a coarse grid and upsampled once (one resize instead of several
    full-resolution float passes)."""
    c0, c1 = _random_color(rng) * 0.8, _random_color(rng) * 0.8
    angle = rng.uniform(0, 2 * math.pi)
    grid = COARSE_GRID
    g = np.linspace(0, 1, grid, dtype=np.float32)
    t = math.cos(angle) * g[None, :] + math.sin(angle) * g[:, None]
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    coarse = c0 + t[..., None] * (c1 - c0)
    cells = int(rng.integers(3, 9))
    blotch = rng.standard_normal((cells, cells, 3)).astype(np.float32)
    coarse += cv2.resize(blotch, (grid, grid), interpolation=cv2.INTER_CUBIC) * level.texture
    bg = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.4:
        period = rng.uniform(6, 24)
        phase = rng.uniform(0, 2 * math.pi)
        xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
        stripes = np.sin(
            2 * math.pi * (xs[None, :] * math.cos(angle) + ys[:, None] * math.sin(angle)) / period
            + phase
        )
        bg += (stripes * (level.texture * 0.5))[..., None]
    return bg


def _draw_clutter(image: np.ndarray, level: Difficulty, rng: np.random.Generator) -> None:
    """Distractor strokes (lines, arcs, polylines) that belong to no class, in place."""
    h, w = image.shape[:2]
    for _ in range(int(rng.integers(level.clutter[0], level.clutter[1] + 1))):
        color = tuple(float(v) for v in _random_color(rng))
        thick = int(rng.integers(1, 3))
        kind = rng.integers(3)
        if kind == 0:
            p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(image, p0, p1, color, thick, cv2.LINE_AA)
        elif kind == 1:
            center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            axes = (int(rng.integers(4, max(5, w // 4))), int(rng.integers(4, max(5, h // 4))))
            start = float(rng.uniform(0, 360))
            cv2.ellipse(
                image,
                center,
                axes,
                float(rng.uniform(0, 180)),
                start,
                start + float(rng.uniform(40, 200)),
                color,
                thick,
                cv2.LINE_AA,
            )
        else:
            n = int(rng.integers(3, 7))
            pts = np.stack([rng.integers(0, w, n), rng.integers(0, h, n)], axis=1)
            cv2.polylines(image, [pts.astype(np.int32)], False, color, thick, cv2.LINE_AA)


# -- composition ---------------------------------------------------------------------------------
def render_scene(
    kind: str,
    rng: np.random.Generator,
    size: tuple[int, int],
    objects: tuple[int, int] = (1, 6),
    difficulty: str = "medium",
) -> Scene:
    """Draw one image of `size` (H, W) with between objects[0] and objects[1] labelled objects."""
    classes = classes_for(kind)
    level = DIFFICULTIES[difficulty]
    h, w = size
    canvas = _background(h, w, level, rng)
    _draw_clutter(canvas, level, rng)
    id_map = np.zeros((h, w), np.uint8)
    labels: list[int] = []
    full_areas: list[int] = []
    visible: list[int] = []
    regions: list[tuple[int, int, int, int]] = []
    target = int(rng.integers(objects[0], objects[1] + 1))
    short = min(h, w)
    for _ in range(target * PLACEMENT_TRIES):
        if len(labels) >= target:
            break
        label = int(rng.integers(len(classes)))
        obj_size = short * math.exp(rng.uniform(math.log(level.min_size), math.log(level.max_size)))
        mask = (
            shape_mask(classes[label], obj_size, rng)
            if kind == "shapes"
            else glyph_mask(classes[label], obj_size, rng)
        )
        placed = _place(mask, id_map, canvas, len(labels) + 1, visible, full_areas, level, rng)
        if placed is not None:
            labels.append(label)
            full_areas.append(placed[0])
            visible.append(placed[0])
            regions.append(placed[1])
    image = _finish(canvas, level, rng)
    return Scene(image, id_map, *_visible_objects(id_map, labels, full_areas, regions, level))


def _place(
    mask: np.ndarray,
    id_map: np.ndarray,
    canvas: np.ndarray,
    obj_id: int,
    visible: list[int],
    full_areas: list[int],
    level: Difficulty,
    rng: np.random.Generator,
) -> tuple[int, tuple[int, int, int, int]] | None:
    """Composite `mask` at a random spot as object `obj_id` unless it would hide an earlier
    object too much; paints the canvas. Returns (in-image pixel count, region (y1, x1, y2, x2))
    or None if rejected."""
    h, w = id_map.shape
    mh, mw = mask.shape
    out_y, out_x = int(level.outside * mh), int(level.outside * mw)
    if mh - 2 * out_y > h or mw - 2 * out_x > w:
        return None
    y0 = int(rng.integers(-out_y, h - mh + out_y + 1))
    x0 = int(rng.integers(-out_x, w - mw + out_x + 1))
    ya, xa, yb, xb = max(y0, 0), max(x0, 0), min(y0 + mh, h), min(x0 + mw, w)
    m = mask[ya - y0 : yb - y0, xa - x0 : xb - x0].view(np.bool_)  # 0/1 uint8 -> bool, no copy
    area = int(m.sum())
    if area < MIN_OBJECT_PIXELS:
        return None
    region = id_map[ya:yb, xa:xb]
    hidden = np.bincount(region[m], minlength=obj_id)
    for k in np.flatnonzero(hidden[1:]) + 1:
        if visible[k - 1] - hidden[k] < level.min_visible * full_areas[k - 1]:
            return None
    for k in np.flatnonzero(hidden[1:]) + 1:
        visible[k - 1] -= int(hidden[k])
    region[m] = obj_id
    patch = canvas[ya:yb, xa:xb]
    patch[m] = _object_pixels(patch[m], m, level, rng)
    return area, (ya, xa, yb, xb)


def _object_pixels(
    under: np.ndarray, m: np.ndarray, level: Difficulty, rng: np.random.Generator
) -> np.ndarray:
    """Colours [P, 3] for the object's pixels: a contrasting colour with a linear shading."""
    mean = under.mean(axis=0)
    color = _random_color(rng)
    for _ in range(4):
        if np.linalg.norm(color - mean) >= level.min_contrast:
            break
        color = _random_color(rng)
    else:
        color = np.where(mean > 127, mean * 0.25, 255 - (255 - mean) * 0.25).astype(np.float32)
    ys, xs = np.nonzero(m)
    direction = rng.uniform(-1, 1, 2)
    t = (ys * direction[0] + xs * direction[1]) / max(m.shape)
    shade = 1.0 + 0.25 * (t - t.mean())
    return np.clip(color[None, :] * shade[:, None].astype(np.float32), 0, 255)


def _finish(canvas: np.ndarray, level: Difficulty, rng: np.random.Generator) -> np.ndarray:
    """The final uint8 image: Gaussian pixel noise of std `level.noise`, then blur if asked.

    Noise is drawn as random bytes mapped through a lookup table of Gaussian quantiles and added
    with saturating uint8 arithmetic: several times faster than float normals."""
    image = np.clip(canvas, 0, 255, out=canvas).astype(np.uint8)
    if level.noise > 0:
        pos, neg = _noise_tables(level.noise)
        raw = np.frombuffer(rng.bytes(image.size), np.uint8).reshape(image.shape)
        image = cv2.subtract(cv2.add(image, cv2.LUT(raw, pos)), cv2.LUT(raw, neg))
    if level.blur:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    return image


@lru_cache(maxsize=8)
def _noise_tables(std: float) -> tuple[np.ndarray, np.ndarray]:
    """uint8 LUTs [256] giving the positive and negative parts of N(0, std) at byte quantiles."""
    q = (np.arange(256) + 0.5) / 256
    values = np.rint(std * math.sqrt(2) * np.array([_erfinv(2 * p - 1) for p in q]))
    return (np.clip(values, 0, 255).astype(np.uint8), np.clip(-values, 0, 255).astype(np.uint8))


def _erfinv(y: float) -> float:
    """Inverse error function by Newton steps on math.erf (only used to build small tables)."""
    x = 0.0
    for _ in range(50):
        x -= (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


def _visible_objects(
    id_map: np.ndarray,
    labels: list[int],
    full_areas: list[int],
    regions: list[tuple[int, int, int, int]],
    level: Difficulty,
) -> tuple[list[SceneObject], list[int]]:
    """Each object's box is the extent of its pixels in the final id map (searched only in the
    region where it was placed: an object never grows)."""
    objects, ids = [], []
    if not labels:
        return objects, ids
    counts = np.bincount(id_map.ravel(), minlength=len(labels) + 1)
    for k, label in enumerate(labels, start=1):
        area = int(counts[k])
        if area < MIN_OBJECT_PIXELS or area < 0.5 * level.min_visible * full_areas[k - 1]:
            continue  # almost fully occluded: not annotated
        ya, xa, yb, xb = regions[k - 1]
        ys, xs = np.nonzero(id_map[ya:yb, xa:xb] == k)
        box = (
            xa + int(xs.min()),
            ya + int(ys.min()),
            xa + int(xs.max()) + 1,
            ya + int(ys.max()) + 1,
        )
        objects.append(SceneObject(label, box, area, full_areas[k - 1]))
        ids.append(k)
    return objects, ids


# -- datasets ------------------------------------------------------------------------------------
def split_indices(images: int, val_fraction: float, seed: int) -> np.ndarray:
    """Boolean [images]: True for validation images (a seeded permutation, at least one of each
    when there are two or more images and val_fraction > 0)."""
    n_val = int(round(images * val_fraction))
    if val_fraction > 0 and images >= 2:
        n_val = min(max(n_val, 1), images - 1)
    is_val = np.zeros(images, bool)
    is_val[np.random.default_rng([seed, 0x5EED]).permutation(images)[:n_val]] = True
    return is_val


def generate_dataset(
    root: str | Path,
    kind: str = "shapes",
    images: int = 600,
    size: int | tuple[int, int] = 256,
    objects: tuple[int, int] = (1, 6),
    difficulty: str = "medium",
    val_fraction: float = 0.2,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    check_stop: Callable[[], None] | None = None,
) -> dict:
    """Draw a dataset into `root` (train.json, val.json, images/) in the internal COCO form.

    `size` is W (square) or (H, W). Returns {"classes": [...], "counts": {...}}.
    `check_stop()` is called between images (it raises to cancel).
    """
    root = Path(root)
    (root / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    classes = classes_for(kind)
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    is_val = split_indices(images, val_fraction, seed)
    docs = {"train": ([], []), "val": ([], [])}
    ann_id = 0
    for index in range(images):
        if check_stop is not None:
            check_stop()
        scene = render_scene(kind, np.random.default_rng([seed, index]), hw, objects, difficulty)
        file_name = f"{index:06d}{IMAGE_SUFFIX}"
        write_image(root / IMAGES_DIR / file_name, scene.image, JPEG_QUALITY)
        imgs, anns = docs["val" if is_val[index] else "train"]
        imgs.append({"id": index + 1, "file_name": file_name, "height": hw[0], "width": hw[1]})
        for obj in scene.objects:
            ann_id += 1
            x1, y1, x2, y2 = obj.box
            anns.append(
                {
                    "id": ann_id,
                    "image_id": index + 1,
                    "category_id": obj.label + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": obj.area,
                    "iscrowd": 0,
                }
            )
        if progress is not None and (index % 50 == 49 or index == images - 1):
            progress((index + 1) / images, f"drew {index + 1}/{images} images")
    for split, (imgs, anns) in docs.items():
        write_json(split_json(root, split), coco_document(imgs, anns, classes))
    counts = {f"{s}_{k}": len(docs[s][i]) for s in docs for i, k in ((0, "images"), (1, "objects"))}
    log.info("generated %s dataset in %s: %s", kind, root, counts)
    return {"classes": classes, "counts": counts}
