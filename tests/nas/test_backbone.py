"""Searched backbone: strides and channels, genotype resolution, a detector trains one step."""

from __future__ import annotations

import pytest
import torch

from core.engine.reporter import Reporter
from core.errors import NotFoundError, SpecError
from core.nas.backbone import NasBackbone
from core.nas.genotypes import PUBLISHED_GENOTYPES, GenotypeError
from core.nas.resolve import resolve_genotype

DARTS_V2 = PUBLISHED_GENOTYPES["DARTS_V2"]


@pytest.mark.parametrize("stem", ["mbconv", "darts"])
@pytest.mark.parametrize("C, layers", [(8, 3), (16, 5), (8, 8)])
def test_strides_and_channels(C, layers, stem):
    net = NasBackbone(DARTS_V2, C=C, layers=layers, stem=stem)
    assert net.feature_info == [
        {"num_chs": 4 * C, "reduction": 8},
        {"num_chs": 8 * C, "reduction": 16},
        {"num_chs": 16 * C, "reduction": 32},
    ]
    feats = net(torch.randn(1, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [
        (1, 4 * C, 8, 12),
        (1, 8 * C, 4, 6),
        (1, 16 * C, 2, 3),
    ]


def test_stems_differ_and_a_wrong_one_is_named():
    """The mbconv stem (inverted residuals) has depthwise convolutions, the DARTS one has none;
    an unknown stem is refused with the choices."""

    def depthwise(net):
        return sum(
            isinstance(m, torch.nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels
            for m in [*net.stem0.modules(), *net.stem1.modules()]
        )

    assert depthwise(NasBackbone(DARTS_V2, C=8, layers=3, stem="mbconv")) == 4
    assert depthwise(NasBackbone(DARTS_V2, C=8, layers=3, stem="darts")) == 0
    with pytest.raises(SpecError, match="mbconv, darts"):
        NasBackbone(DARTS_V2, C=8, layers=3, stem="resnet")


def test_concat_length_sets_channels():
    net = NasBackbone(PUBLISHED_GENOTYPES["AmoebaNet"], C=8, layers=5)  # normal concat: 3 nodes
    assert [d["num_chs"] for d in net.feature_info] == [24, 48, 96]
    with pytest.raises(SpecError, match="layers >= 3"):
        NasBackbone(DARTS_V2, C=8, layers=2)


def test_resolve_published_file_arch_and_job(store, tmp_path):
    assert resolve_genotype(store, "nas:DARTS_V2") == DARTS_V2
    assert resolve_genotype(store, "nas:nasnet") == PUBLISHED_GENOTYPES["NASNet"]
    path = tmp_path / "g.json"
    path.write_text(PUBLISHED_GENOTYPES["DARTS_V1"].to_json())
    assert resolve_genotype(store, f"nas-file:{path}") == PUBLISHED_GENOTYPES["DARTS_V1"]

    job_id = store.insert_job("search", {"dataset": "x"})
    with pytest.raises(NotFoundError, match="has no genotype yet"):
        resolve_genotype(store, f"nas:{job_id}")
    reporter = Reporter(store, store.get_job(job_id), store.home / "runs" / str(job_id), "cpu")
    (reporter.run_dir / "genotype.json").write_text(DARTS_V2.to_json())
    reporter.artifact("genotype", reporter.run_dir / "genotype.json")
    arch = reporter.architecture(PUBLISHED_GENOTYPES["AmoebaNet"].to_dict(), score=0.5)
    assert resolve_genotype(store, f"nas:{job_id}") == DARTS_V2
    assert resolve_genotype(store, f"nas-arch:{arch}") == PUBLISHED_GENOTYPES["AmoebaNet"]


@pytest.mark.parametrize(
    "spec, error, message",
    [
        ("nas:", SpecError, "bad NAS backbone"),
        ("nas:ENAS", GenotypeError, "no published genotype"),
        ("nas:999", NotFoundError, "no job 999"),
        ("nas-file:/nonexistent/g.json", NotFoundError, "does not exist"),
        ("foo:1", SpecError, "bad NAS backbone prefix"),
    ],
)
def test_resolve_errors(store, spec, error, message):
    with pytest.raises(error, match=message):
        resolve_genotype(store, spec)


def test_bad_genotype_file_names_the_file(store, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        '{"normal": [["sep_conv_3x3", 5]], "normal_concat": [2], '
        '"reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1]], "reduce_concat": [2]}'
    )
    with pytest.raises(GenotypeError, match="bad.json.*has 1 entries"):
        resolve_genotype(store, f"nas-file:{path}")


def test_detector_with_searched_backbone_trains_one_step():
    det_mod = pytest.importorskip("core.det")
    from core.det.bench import DetectionBench

    torch.manual_seed(0)
    backbone = NasBackbone(DARTS_V2, C=8, layers=3)
    model = det_mod.create_detector("efficientdet_tiny", 2, image_size=128, backbone=backbone)
    bench = DetectionBench(model)
    images = torch.rand(2, 3, 128, 128)
    targets = [
        {"boxes": torch.tensor([[10.0, 12.0, 60.0, 70.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[30.0, 30.0, 100.0, 90.0]]), "labels": torch.tensor([0])},
    ]
    before = backbone.cells[0]._ops[0].op[1].weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = bench.loss(images, targets)
    assert torch.isfinite(losses["loss"]) and losses["loss"] > 0
    opt.zero_grad()
    losses["loss"].backward()
    assert backbone.cells[0]._ops[0].op[1].weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(before, backbone.cells[0]._ops[0].op[1].weight)
