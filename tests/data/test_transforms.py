"""Letterbox geometry and box-aware augmentation: boxes stay on their objects."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.transforms import (
    AugmentConfig,
    DetectionTransform,
    hue_rotate,
    letterbox,
    round_up_to_multiple,
)


def _scene():
    """A 100 x 200 black image with a red and a green rectangle; their boxes (x1, y1, x2, y2)."""
    image = np.zeros((100, 200, 3), np.uint8)
    image[20:60, 30:90] = (255, 0, 0)
    image[50:90, 120:190] = (0, 255, 0)
    boxes = np.array([[30, 20, 90, 60], [120, 50, 190, 90]], np.float32)
    return image, boxes, np.array([0, 1]), np.array([False, True])


def test_letterbox_scale_and_padding():
    image, _, _, _ = _scene()
    out, scale, offset = letterbox(image, 100)
    assert out.shape == (100, 100, 3) and out.dtype == np.uint8
    assert scale == pytest.approx(0.5) and offset == (0.0, 0.0)
    assert out[50:, :].max() == 0  # bottom half is padding (image is 50 px tall)
    assert tuple(out[20, 30]) == (255, 0, 0)  # (x=60, y=40) * 0.5 is still red


def test_eval_transform_maps_boxes_and_back():
    image, boxes, labels, crowd = _scene()
    out = DetectionTransform((128, 160), augment=False)(image, boxes, labels, crowd)
    assert out.image.shape == (3, 128, 160) and out.image.dtype == torch.float32
    assert out.scale == pytest.approx(0.8)
    np.testing.assert_allclose(out.boxes.numpy(), boxes * 0.8, atol=1e-4)
    back = (out.boxes.numpy() - np.array(out.offset * 2)) / out.scale
    np.testing.assert_allclose(back, boxes, atol=1e-4)
    assert out.iscrowd.tolist() == [False, True]


@pytest.mark.parametrize("seed", range(6))
def test_augmented_boxes_stay_on_their_objects(seed):
    torch.manual_seed(seed)
    image, boxes, labels, crowd = _scene()
    config = AugmentConfig(scale_range=(0.5, 2.0), brightness=0, contrast=0, saturation=0, hue=0)
    out = DetectionTransform(128, augment=True, config=config)(image, boxes, labels, crowd)
    img = out.image.numpy()
    assert img.shape == (3, 128, 128)
    for box, label in zip(out.boxes.numpy(), out.labels.tolist()):
        channel = img[label]  # red object -> channel 0, green -> channel 1
        x1, y1, x2, y2 = np.round(box).astype(int)
        inside = channel[y1:y2, x1:x2]
        assert inside.size > 0 and (inside > 0.5).mean() > 0.9
        ys, xs = np.nonzero(channel > 0.5)  # the object's pixels in the output: tight box
        assert abs(xs.min() - x1) <= 1 and abs(xs.max() + 1 - x2) <= 1
        assert abs(ys.min() - y1) <= 1 and abs(ys.max() + 1 - y2) <= 1


def test_flip_mirrors_boxes():
    torch.manual_seed(0)
    image, boxes, labels, crowd = _scene()
    config = AugmentConfig(
        hflip=1.0, scale_range=(1.0, 1.0), brightness=0, contrast=0, saturation=0, hue=0
    )
    out = DetectionTransform((100, 200), augment=True, config=config)(image, boxes, labels, crowd)
    np.testing.assert_allclose(out.boxes.numpy()[0], [110, 20, 170, 60], atol=1e-4)
    assert out.image[0, 40, 140] == 1.0 and out.image[0, 40, 60] == 0.0


def test_round_up_to_multiple():
    assert round_up_to_multiple(300, 128) == (384, 384)
    assert round_up_to_multiple((256, 200), 32) == (256, 224)


def test_colour_jitter_keeps_padding_zero_and_range():
    torch.manual_seed(0)
    image, boxes, labels, crowd = _scene()
    config = AugmentConfig(
        hflip=0.0, scale_range=(1.0, 1.0), brightness=0.5, contrast=0.5, saturation=0.5, hue=0.1
    )
    out = DetectionTransform(200, augment=True, config=config)(image, boxes, labels, crowd)
    assert out.image[:, 100:].abs().max() == 0  # the letterbox padding below the image
    assert 0.0 <= float(out.image.min()) and float(out.image.max()) <= 1.0
    assert out.image[:, :100].std() > 0


def test_hue_rotate():
    x = torch.rand(3, 4, 5)
    torch.testing.assert_close(hue_rotate(x.clone(), 0.0), x, atol=1e-5, rtol=0)
    gray = torch.full((3, 2, 2), 0.4)
    torch.testing.assert_close(hue_rotate(gray, 0.3), gray, atol=1e-5, rtol=0)  # no chroma
    red = torch.tensor([0.8, 0.1, 0.1]).view(3, 1, 1)
    turned = hue_rotate(red, 1 / 3).flatten()
    assert turned.argmax() == 1  # a third of a turn takes red towards green
