"""Faster R-CNN box coding (Ren et al. 2015, eq. 2) in effdet's order (ty, tx, th, tw), no scaling.

Boxes and anchors are (x1, y1, x2, y2) in pixels; codes are [..., 4] = (ty, tx, th, tw) with
ty = (yc - yc_a) / h_a, tx = (xc - xc_a) / w_a, th = log(h / h_a), tw = log(w / w_a).
"""

from __future__ import annotations

import torch

# Added to widths/heights before dividing and taking logs (as effdet / TF object_detection).
EPS = 1e-7


def _centers_sizes(boxes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    x1, y1, x2, y2 = boxes.unbind(-1)
    return (y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1


def encode(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """boxes, anchors [..., 4] xyxy (broadcastable) -> codes [..., 4] (ty, tx, th, tw)."""
    yc, xc, h, w = _centers_sizes(boxes)
    yc_a, xc_a, h_a, w_a = _centers_sizes(anchors)
    h_a, w_a, h, w = h_a + EPS, w_a + EPS, h + EPS, w + EPS
    return torch.stack(
        [(yc - yc_a) / h_a, (xc - xc_a) / w_a, torch.log(h / h_a), torch.log(w / w_a)], dim=-1
    )


def decode(codes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """codes [..., 4] (ty, tx, th, tw), anchors [..., 4] xyxy -> boxes [..., 4] xyxy."""
    yc_a, xc_a, h_a, w_a = _centers_sizes(anchors)
    ty, tx, th, tw = codes.unbind(-1)
    h = torch.exp(th) * h_a
    w = torch.exp(tw) * w_a
    yc = ty * h_a + yc_a
    xc = tx * w_a + xc_a
    return torch.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], dim=-1)
