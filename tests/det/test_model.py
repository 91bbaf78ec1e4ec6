"""EfficientDet model: D-table parameter counts (effdet 0.4.1's, exactly), output shapes and
backbones."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.det import count_parameters, create_detector, list_models
from core.det.bifpn import FpnNode, bifpn_nodes
from core.det.config import get_config
from core.errors import SpecError

# effdet 0.4.1 parameter counts with 90 classes (COCO), the reference for ours.
EFFDET_PARAMS = {
    "efficientdet_d0": 3_877_763,
    "efficientdet_d1": 6_622_026,
    "efficientdet_d2": 8_091_215,
    "efficientdet_d3": 12_022_376,
    "efficientdet_d4": 20_723_675,
    "efficientdet_d5": 33_653_315,
    "tf_efficientdet_d0": 3_880_067,
    "tf_efficientdet_d1": 6_625_898,
    "tf_efficientdet_d2": 8_097_039,
    "tf_efficientdet_d3": 12_032_296,
    "tf_efficientdet_d4": 20_723_675,
    "tf_efficientdet_d5": 33_653_315,
    "tf_efficientdet_d6": 51_871_782,
    "tf_efficientdet_d7": 51_871_782,
    "tf_efficientdet_d7x": 77_147_166,
}


@pytest.mark.parametrize("name", list(EFFDET_PARAMS))
def test_parameter_count_and_output_shapes(name):
    """Exact parameter count and the raw output layout per level at the smallest valid
    non-square size, both on the meta device (shapes without arithmetic: every variant, fast)."""
    with torch.device("meta"):
        model = create_detector(name, num_classes=90).eval()
        assert count_parameters(model) == EFFDET_PARAMS[name]
        side = model.config.stride_multiple
        h, w = 2 * side, side
        class_out, box_out = model(torch.zeros(1, 3, h, w))
    levels = range(model.config.min_level, model.config.max_level + 1)
    assert [tuple(c.shape) for c in class_out] == [(1, 9 * 90, h >> l, w >> l) for l in levels]
    assert [tuple(b.shape) for b in box_out] == [(1, 9 * 4, h >> l, w >> l) for l in levels]


def test_cpu_forward_of_a_small_variant_is_finite():
    model = create_detector("tf_efficientdet_d0", num_classes=4).eval()
    with torch.no_grad():
        class_out, box_out = model(torch.rand(1, 3, 256, 128))
    assert [tuple(c.shape) for c in class_out] == [(1, 36, 256 >> l, 128 >> l) for l in range(3, 8)]
    assert all(torch.isfinite(t).all() for t in class_out + box_out)


def test_d_table_matches_the_paper():
    widths = [get_config(f"tf_efficientdet_d{i}").fpn_channels for i in range(8)]
    assert widths == [64, 88, 112, 160, 224, 288, 384, 384]
    assert [get_config(f"tf_efficientdet_d{i}").fpn_cell_repeats for i in range(8)] == [
        3,
        4,
        5,
        6,
        7,
        7,
        8,
        8,
    ]
    assert [get_config(f"tf_efficientdet_d{i}").box_class_repeats for i in range(8)] == [
        3,
        3,
        3,
        4,
        4,
        4,
        5,
        5,
    ]
    assert [get_config(f"tf_efficientdet_d{i}").image_size[0] for i in range(8)] == [
        512,
        640,
        768,
        896,
        1024,
        1280,
        1280,
        1536,
    ]
    assert get_config("tf_efficientdet_d7").anchor_scale == 5.0
    assert get_config("tf_efficientdet_d7x").max_level == 8
    assert get_config("tf_efficientdet_d6").fpn_weight_method == "sum"
    assert (
        get_config("efficientdet_d0").pad_type == ""
        and get_config("tf_efficientdet_d0").pad_type == "same"
    )


def test_bifpn_node_order_is_automl():
    nodes = bifpn_nodes(3, 7)
    assert nodes == (
        FpnNode(6, (3, 4)),
        FpnNode(5, (2, 5)),
        FpnNode(4, (1, 6)),
        FpnNode(3, (0, 7)),
        FpnNode(4, (1, 7, 8)),
        FpnNode(5, (2, 6, 9)),
        FpnNode(6, (3, 5, 10)),
        FpnNode(7, (4, 11)),
    )


def test_small_variant_and_overrides_are_smaller_than_d0():
    tiny = create_detector("efficientdet_tiny", num_classes=3)
    assert count_parameters(tiny) < 1_000_000
    custom = create_detector(
        "efficientdet_d0",
        3,
        image_size=(128, 256),
        overrides={"fpn_channels": 32, "fpn_cell_repeats": 2},
    )
    assert custom.config.fpn_channels == 32 and len(custom.fpn.cells) == 2
    assert custom.config.image_size == (128, 256)


def test_bad_image_size_and_unknown_name_raise_spec_error():
    with pytest.raises(SpecError, match="multiples of 128"):
        create_detector("efficientdet_tiny", 3, image_size=200)
    with pytest.raises(SpecError, match="unknown detector"):
        create_detector("efficientdet_d9", 3)


class ToyBackbone(nn.Module):
    """A module with feature_info as list of dicts (like the NAS backbone)."""

    feature_info = [
        {"num_chs": 8, "reduction": 8},
        {"num_chs": 16, "reduction": 16},
        {"num_chs": 24, "reduction": 32},
    ]

    def __init__(self):
        super().__init__()
        self.c3 = nn.Conv2d(3, 8, 8, stride=8)
        self.c4 = nn.Conv2d(8, 16, 2, stride=2)
        self.c5 = nn.Conv2d(16, 24, 2, stride=2)

    def forward(self, x):
        c3 = self.c3(x)
        c4 = self.c4(c3)
        return [c3, c4, self.c5(c4)]


def test_custom_backbone_module_plugs_in():
    model = create_detector("efficientdet_tiny", 2, backbone=ToyBackbone()).eval()
    assert model.config.backbone_name == "custom"
    class_out, box_out = model(torch.zeros(1, 3, 128, 128))
    assert class_out[0].shape == (1, 18, 16, 16) and box_out[-1].shape == (1, 36, 1, 1)


def test_timm_backbone_by_name_with_other_feature_indices():
    model = create_detector("efficientdet_tiny", 2, backbone="resnet18").eval()
    assert model.config.backbone_name == "resnet18"
    assert model(torch.zeros(1, 3, 128, 128))[0][0].shape == (1, 18, 16, 16)


def test_backbone_with_wrong_strides_is_rejected():
    bad = ToyBackbone()
    bad.feature_info = [{"num_chs": 8, "reduction": 4}] + ToyBackbone.feature_info[1:]
    with pytest.raises(SpecError, match="strides"):
        create_detector("efficientdet_tiny", 2, backbone=bad)


def test_pretrained_backbone_loads_from_file(tmp_path):
    import timm

    ref = timm.create_model("tinynet_e", pretrained=False)
    path = tmp_path / "tinynet_e.pth"
    torch.save(ref.state_dict(), path)
    model = create_detector("efficientdet_tiny", 2, pretrained_backbone=path)
    assert torch.equal(model.backbone.conv_stem.weight, ref.conv_stem.weight)


def test_class_bias_prior_and_fusion_weights_init():
    model = create_detector("efficientdet_tiny", 2)
    bias = model.class_net.predict.conv_pw.bias
    assert torch.allclose(torch.sigmoid(bias), torch.full_like(bias, 0.01))
    assert torch.equal(model.fpn.cells[0].nodes[0].fusion.weight, torch.ones(2))
    bn = model.fpn.cells[0].nodes[0].conv.bn
    assert bn.momentum == 0.01 and bn.eps == 1e-3


def test_registry_lists_effdet_names():
    names = list_models()
    assert set(EFFDET_PARAMS) <= set(names)
