"""The drawing canvas of "Try a picture of your own": a plain 2D <canvas> in a gr.HTML.

Not gr.ImageEditor: its first export of the drawing (a WebGL render of every layer, then one
upload per layer) spends most of the demo's 1 s target in the browser before the request even
leaves (docs/BENCHMARKS.md, "demo_default_app"). Here every lifted pen sends the canvas as one
small PNG data URL in the event itself (`trigger('change', {png})`), and the detector answers at
once; a stroke that ends near where it began is filled, so a drawn loop becomes a solid shape
like the dataset's. `decode_drawing` checks what comes back before anything reads it.
"""

from __future__ import annotations

import base64
import binascii
import json

import gradio as gr
import numpy as np

from core.errors import SpecError

PNG_PREFIX = "data:image/png;base64,"
MAX_PNG_BYTES = 2 << 20  # a 256 px drawing is a few KB; anything near this is not one
BRUSH = 14  # px of the 256 px canvas
CLOSE_PX = 40  # a stroke ending this near its start is a closed loop: filled

_JS = """
const canvas = element.querySelector('canvas');
const ctx = canvas.getContext('2d');
const colors = COLORS;
let color = colors[0], points = null;
const clear = () => { ctx.fillStyle = '#ffffff'; ctx.fillRect(0, 0, canvas.width, canvas.height); };
clear();
const at = (e) => {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width,
          (e.clientY - r.top) * canvas.height / r.height];
};
const pen = () => {
  ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = BRUSH;
  ctx.lineCap = 'round'; ctx.lineJoin = 'round';
};
canvas.addEventListener('pointerdown', (e) => {
  e.preventDefault(); canvas.setPointerCapture(e.pointerId); points = [at(e)]; pen();
  ctx.beginPath(); ctx.arc(points[0][0], points[0][1], BRUSH / 2, 0, 2 * Math.PI); ctx.fill();
});
canvas.addEventListener('pointermove', (e) => {
  if (!points) return;
  const p = at(e), q = points[points.length - 1];
  pen(); ctx.beginPath(); ctx.moveTo(q[0], q[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
  points.push(p);
});
const end = () => {
  if (!points) return;
  const [a, b] = [points[0], points[points.length - 1]];
  if (points.length > 8 && Math.hypot(a[0] - b[0], a[1] - b[1]) < CLOSE_PX) {
    pen(); ctx.beginPath(); ctx.moveTo(a[0], a[1]);
    for (const p of points) ctx.lineTo(p[0], p[1]);
    ctx.closePath(); ctx.fill(); ctx.stroke();
  }
  points = null;
  trigger('change', {png: canvas.toDataURL('image/png')});
};
canvas.addEventListener('pointerup', end);
canvas.addEventListener('pointercancel', end);
element.querySelectorAll('.own-color').forEach((b) => b.addEventListener('click', () => {
  color = b.dataset.color;
  element.querySelectorAll('.own-color').forEach((o) => o.classList.toggle('picked', o === b));
}));
element.querySelector('.own-clear').addEventListener('click', clear);
"""

_CSS = """
.own-draw canvas { width: 100%; max-width: 380px; aspect-ratio: 1; border: 1px solid #d1d5db;
  border-radius: 6px; touch-action: none; cursor: crosshair; display: block; background: #fff; }
.own-tools { display: flex; gap: 6px; align-items: center; margin-bottom: 6px; flex-wrap: wrap; }
.own-color { width: 26px; height: 26px; border-radius: 50%; border: 2px solid #fff;
  box-shadow: 0 0 0 1px #9ca3af; cursor: pointer; padding: 0; }
.own-color.picked { box-shadow: 0 0 0 3px #111827; }
.own-clear { margin-left: auto; padding: 2px 10px; border: 1px solid #9ca3af; border-radius: 6px;
  background: #fff; cursor: pointer; }
"""


def drawing_canvas(colors: list[str], side: int, elem_id: str) -> gr.HTML:
    """A `side` px canvas with a colour for each of `colors` and a Clear button; its 'change'
    event carries {'png': data URL} each time the pen is lifted."""
    chips = "".join(
        f"<button type='button' class='own-color{' picked' * (k == 0)}' "
        f"data-color='{c}' title='{c}' style='background:{c}'></button>"
        for k, c in enumerate(colors)
    )
    template = (
        f"<div class='own-draw'><div class='own-tools'>{chips}"
        f"<button type='button' class='own-clear'>Clear</button></div>"
        f"<canvas width='{side}' height='{side}'></canvas></div>"
    )
    js = (
        _JS.replace("COLORS", json.dumps(colors))
        .replace("CLOSE_PX", str(CLOSE_PX))
        .replace("BRUSH", str(BRUSH))
    )
    return gr.HTML(html_template=template, css_template=_CSS, js_on_load=js, elem_id=elem_id)


def decode_drawing(data_url: object, side: int) -> np.ndarray:
    """The RGB uint8 picture a drawing canvas sent, or SpecError saying what is wrong."""
    import cv2

    if not isinstance(data_url, str) or not data_url.startswith(PNG_PREFIX):
        raise SpecError(
            "the drawing did not arrive as a PNG picture; clear the canvas and draw again"
        )
    payload = data_url[len(PNG_PREFIX) :]
    if len(payload) > MAX_PNG_BYTES * 4 // 3 + 4:
        raise SpecError(
            f"the drawing is larger than {MAX_PNG_BYTES >> 20} MB; clear the canvas and draw again"
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise SpecError(
            "the drawing is not valid base64 PNG data; clear the canvas and draw again"
        ) from None
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.shape[:2] != (side, side):
        raise SpecError(
            f"the drawing is not a {side}x{side} PNG picture; clear the canvas and draw again"
        )
    return np.ascontiguousarray(image[:, :, ::-1])
