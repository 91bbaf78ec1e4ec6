"""Data-parallel equivalence on the CPU (gloo, 2 processes): one DDP step over a global batch of
4 images (2 per rank) gives the weights of one single-process step on the 4 images.

Both BatchNorm regimes: synchronised statistics (train-mode BN, core.train.distributed.syncbn) and
frozen BN (eval-mode BN layers). The two halves of the batch hold different numbers of boxes, so a
loss normalised per rank (instead of by the global positives,
core.train.distributed.ddp.DistributedLoss) or per-rank BN statistics give other weights, and the
test fails.
"""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from core.det import DetectionBench, create_detector
from core.train.distributed import ddp
from core.train.distributed.syncbn import CpuSyncBatchNorm, convert_cpu_sync_batchnorm

LR, CLIP = 0.05, 10.0
REGIMES = ("sync", "frozen")


def _batch() -> tuple[torch.Tensor, list[dict]]:
    """4 images; images 0-1 (rank 0) hold 1 box each, images 2-3 (rank 1) 3 boxes each."""
    g = torch.Generator().manual_seed(1)
    images = torch.rand(4, 3, 128, 128, generator=g)
    targets = []
    for i in range(4):
        n = 1 if i < 2 else 3
        xy = torch.rand(n, 2, generator=g) * 70
        wh = 20 + torch.rand(n, 2, generator=g) * 30
        targets.append(
            {"boxes": torch.cat([xy, xy + wh], 1), "labels": torch.randint(0, 2, (n,), generator=g)}
        )
    return images, targets


def _bench(regime: str, ctx: ddp.DistContext) -> DetectionBench:
    torch.manual_seed(0)
    model = ctx.prepare_model(create_detector("efficientdet_tiny", 2, image_size=128))
    bench = DetectionBench(model).train()
    if regime == "frozen":
        for m in bench.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
    return bench


def _step(bench: DetectionBench, loss_fn, images, targets) -> float:
    opt = torch.optim.SGD(bench.parameters(), lr=LR, momentum=0.9)
    losses = loss_fn(images, targets)
    opt.zero_grad()
    losses["loss"].backward()
    nn.utils.clip_grad_norm_(bench.parameters(), CLIP)
    opt.step()
    return float(ddp.all_reduce_mean(losses["loss"].detach()))


def _rank(rank: int, init: str, out: str) -> None:
    torch.set_num_threads(1)
    env = {"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank)}
    ctx = ddp.setup("cpu", init_method=init, timeout_s=60, env=env)
    try:
        images, targets = _batch()
        mine = slice(2 * rank, 2 * rank + 2)
        results = {}
        for regime in REGIMES:
            bench = _bench(regime, ctx)
            loss = _step(bench, ctx.wrap_loss(bench), images[mine], targets[mine])
            results[regime] = {"loss": loss, "state": bench.model.state_dict()}
        if ctx.is_main:
            torch.save(results, out)
    finally:
        ddp.teardown()


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path_factory.mktemp("ddp") / "rank0.pt"
    mp.spawn(_rank, args=(f"tcp://127.0.0.1:{port}", str(out)), nprocs=2, join=True)
    return torch.load(out, weights_only=True)


@pytest.mark.parametrize("regime", REGIMES)
def test_one_ddp_step_equals_one_step_on_the_global_batch(ddp_results, regime):
    images, targets = _batch()
    bench = _bench(regime, ddp.SINGLE)
    before = {k: v.clone() for k, v in bench.model.state_dict().items()}
    loss = _step(bench, bench.loss, images, targets)
    got = ddp_results[regime]
    assert got["loss"] == pytest.approx(loss, abs=1e-5)
    moved = 0.0
    for key, value in bench.model.state_dict().items():
        other = got["state"][key]
        assert torch.allclose(other.float(), value.float(), atol=1e-5, rtol=0), key
        moved = max(moved, float((value.float() - before[key].float()).abs().max()))
    assert moved > 1e-3  # the step changed the weights: the comparison is not trivial


def test_cpu_sync_batchnorm_without_a_group_is_batchnorm_with_timm_activation():
    from timm.layers import BatchNormAct2d

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 1), BatchNormAct2d(4, act_layer=nn.ReLU), nn.BatchNorm2d(4))
    reference = [m.state_dict() for m in net]
    x = torch.randn(5, 3, 6, 6)
    expected = net(x)
    for m, state in zip(net, reference):
        m.load_state_dict(state)
    converted = convert_cpu_sync_batchnorm(net)
    assert isinstance(converted[1], CpuSyncBatchNorm) and isinstance(converted[2], CpuSyncBatchNorm)
    assert isinstance(converted[1].act, nn.ReLU)
    assert torch.allclose(converted(x), expected, atol=1e-6)


def test_linear_scaling_rule_and_rank_seeds():
    ctx = ddp.DistContext(rank=3, world_size=4)
    assert ddp.scaled_lr(0.01, 4) == pytest.approx(0.04)
    assert ctx.rank_seed(10) == 13 and ddp.SINGLE.rank_seed(10) == 10
    assert ctx.device == "cpu" and ctx.backend == "gloo" and not ctx.is_main
    assert ddp.DistContext(1, 2, 1, "cuda").device == "cuda:1"
    with pytest.raises(Exception, match="RANK"):
        ddp.context_from_env({"RANK": "x"})
    with pytest.raises(Exception, match="bad torchrun environment"):
        ddp.context_from_env({"RANK": "2", "WORLD_SIZE": "2"})


def test_sync_bn_is_converted_only_for_several_processes_and_when_asked():
    def kinds(ctx, sync_bn=True):
        net = ctx.prepare_model(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)), sync_bn)
        return type(net[1])

    two = ddp.DistContext(rank=0, world_size=2)
    assert kinds(two) is CpuSyncBatchNorm
    assert kinds(two, sync_bn=False) is nn.BatchNorm2d
    assert kinds(ddp.SINGLE) is nn.BatchNorm2d
