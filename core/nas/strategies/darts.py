"""DARTS: differentiable architecture search (Liu, Simonyan, Yang, ICLR 2019).

Bilevel optimisation over the supernet (section 2.3, algorithm 1): each step first updates the
architecture weights alpha on a batch of the search-val half (Adam 3e-4, betas (0.5, 0.999),
weight decay 1e-3; the backward computes alpha gradients only), then the network weights w on
a batch of the search-train half (SGD 0.025, momentum 0.9, weight decay 3e-4, cosine to 0.001,
gradient clip 5). The alpha gradient is first order by default (w taken as w*(alpha), eq. 6
with xi = 0); `second_order` uses the unrolled model w' = w - xi * grad_w L_train(w, alpha)
with xi = current learning rate and the finite-difference Hessian-vector product of eq. 8
(epsilon = 0.01 / ||grad_w' L_val||).

Warm-up: the first `warmup` share of the search (0.5 by default; 0 is the paper) trains the
weights alone, as PC-DARTS and P-DARTS do, so that the alphas follow a supernet that has learned
something: in minutes of CPU the supernet sees a few thousand crops, and alphas that move from
the first step follow an untrained network (bench/search.py compares warm-up with none).

Each epoch: the alpha softmax snapshot and derived genotype go to runs/<id>/alphas.json
(artifact "alphas"), the derived genotype to the architectures table (kind "derived", scored by
the supernet's accuracy on the alpha batches of that epoch; none in warm-up epochs), metrics
search/train_acc, search/val_acc, search/best_score. The answer is the genotype derived from the
final alphas. When the minutes budget is binding, the cosine schedule is shortened to the
epochs that fit the plan's search share (re-estimated after each epoch), and a step is not
started when the previous step's duration says it would end past the budget (a cut epoch still
logs its snapshot and derived cell; the search's first step always runs).

PC-DARTS (`darts.partial_channels` K > 1, `--partial-channels K`): the supernet's edges see 1/K
of the channels, with edge normalisation (core.nas.supernet); the betas are architecture
parameters beside the alphas, and the snapshots hold softmax(alpha) x normalised beta.

Latency-aware objective (`objective = "accuracy-latency"`, FBNet / ProxylessNAS style): the
alpha loss gains -w * log(E[lat] / target), E[lat] the supernet's expected backbone latency from
an op latency table measured on the job's device at the detector's input size
(core.nas.latency); metric search/expected_latency_ms per epoch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call

from core.errors import SearchError
from core.io import write_json_atomic
from core.nas.genotypes import Genotype
from core.nas.latency import expected_latency, latency_loss, op_latency_table
from core.nas.proxy_training import batches, cosine_lr, cycle_batches, weight_step
from core.nas.search_context import SearchContext, SearchOutcome, rng_state, set_rng_state
from core.nas.space import edge_list
from core.nas.supernet import SuperNet

log = logging.getLogger(__name__)

ARCH_BETAS = (0.5, 0.999)
HVP_R = 1e-2  # finite-difference scale of the Hessian-vector product (DARTS eq. 8)
ALPHAS_FILE = "alphas.json"


class Architect:
    """Alpha updates, first or second order (the authors' architect.py, without model copies)."""

    def __init__(
        self,
        model: SuperNet,
        lr: float,
        weight_decay: float,
        momentum: float,
        network_weight_decay: float,
        penalty: Callable[[], torch.Tensor] | None = None,
    ):
        """`penalty()`: an extra alpha loss (the expected-latency term), or None."""
        self.model = model
        self.penalty = penalty
        self.momentum = momentum
        self.network_weight_decay = network_weight_decay
        self.optimizer = torch.optim.Adam(
            model.arch_parameters(), lr=lr, betas=ARCH_BETAS, weight_decay=weight_decay
        )

    def step(
        self,
        train_batch,
        val_batch,
        eta: float,
        w_optimizer: torch.optim.Optimizer,
        second_order: bool,
    ) -> torch.Tensor:
        """One alpha update; returns the val-batch logits (for the running val accuracy)."""
        self.optimizer.zero_grad(set_to_none=True)
        if second_order:
            logits = self._unrolled_backward(train_batch, val_batch, eta, w_optimizer)
        else:
            logits = self.model(val_batch[0])
            alphas = self.model.arch_parameters()
            # gradients for the alphas only: the backward skips every weight gradient (the
            # depthwise-conv weight gradients are most of a CPU step's time)
            grads = torch.autograd.grad(F.cross_entropy(logits, val_batch[1]), alphas)
            for a, g in zip(alphas, grads):
                a.grad = g
        if self.penalty is not None:  # depends on the alphas only
            alphas = self.model.arch_parameters()
            for a, g in zip(alphas, torch.autograd.grad(self.penalty(), alphas, allow_unused=True)):
                if g is not None:
                    a.grad = a.grad + g
        self.optimizer.step()
        return logits.detach()

    def _unrolled_backward(self, train_batch, val_batch, eta, w_optimizer) -> torch.Tensor:
        names, weights = zip(
            *[(n, p) for n, p in self.model.named_parameters() if not n.startswith("alphas_")]
        )
        alphas = self.model.arch_parameters()
        loss = F.cross_entropy(self.model(train_batch[0]), train_batch[1])
        grads = torch.autograd.grad(loss, weights)
        unrolled = []
        for w, g in zip(weights, grads):
            buf = w_optimizer.state.get(w, {}).get("momentum_buffer")
            moment = buf * self.momentum if buf is not None else torch.zeros_like(w)
            unrolled.append(
                (w - eta * (moment + g + self.network_weight_decay * w)).detach().requires_grad_()
            )
        params = dict(zip(names, unrolled))
        params.update({"alphas_normal": alphas[0], "alphas_reduce": alphas[1]})
        logits = functional_call(self.model, params, (val_batch[0],))
        val_loss = F.cross_entropy(logits, val_batch[1])
        grads = torch.autograd.grad(val_loss, list(alphas) + unrolled)
        d_alpha, vector = grads[:2], grads[2:]
        implicit = self._hessian_vector_product(weights, vector, train_batch)
        for a, g, ig in zip(alphas, d_alpha, implicit):
            a.grad = g - eta * ig
        return logits

    def _hessian_vector_product(self, weights, vector, batch) -> list[torch.Tensor]:
        """(grad_alpha L_train(w+) - grad_alpha L_train(w-)) / 2 eps, w+- = w +- eps * vector."""
        eps = HVP_R / torch.cat([v.flatten() for v in vector]).norm().clamp_min(1e-12)
        alphas = self.model.arch_parameters()
        grads = []
        for sign in (1.0, -2.0):
            with torch.no_grad():
                for w, v in zip(weights, vector):
                    w.add_(v, alpha=float(sign * eps))
            loss = F.cross_entropy(self.model(batch[0]), batch[1])
            grads.append(torch.autograd.grad(loss, alphas))
        with torch.no_grad():
            for w, v in zip(weights, vector):
                w.add_(v, alpha=float(eps))
        return [(p - n) / (2 * eps) for p, n in zip(*grads)]


def _write_alphas(ctx: SearchContext, history: list[dict]) -> None:
    path = write_json_atomic(ctx.reporter.run_dir / ALPHAS_FILE, history)
    ctx.reporter.artifact("alphas", path)


def _snapshot(model: SuperNet, epoch: int, genotype: Genotype) -> dict:
    weights = model.alpha_weights()
    return {
        "epoch": epoch,
        "normal": weights["normal"],
        "reduce": weights["reduce"],
        "genotype": genotype.to_dict(),
        "edges": [list(e) for e in edge_list(model.nodes)],
        "primitives": list(model.primitives),
    }


def search(ctx: SearchContext) -> SearchOutcome:
    cfg, data, net, sn = ctx.cfg, ctx.data, ctx.cfg.network, ctx.cfg.supernet
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = SuperNet(
        net.C, data.num_classes, net.layers, net.nodes, partial_channels=cfg.darts.partial_channels
    )
    model = model.to(ctx.device, memory_format=torch.channels_last)
    w_opt = torch.optim.SGD(
        model.weight_parameters(), lr=sn.lr, momentum=sn.momentum, weight_decay=sn.weight_decay
    )
    st = ctx.state or {
        "epoch": 0,
        "planned": cfg.max_epochs,
        "history": [],
        "best": 0.0,
        "done": False,
    }
    architect = Architect(
        model,
        cfg.darts.arch_lr,
        cfg.darts.arch_weight_decay,
        sn.momentum,
        sn.weight_decay,
        _latency_penalty(ctx, model, st),
    )
    if ctx.state is not None:
        model.load_state_dict(st["model"])
        w_opt.load_state_dict(st["w_opt"])
        architect.optimizer.load_state_dict(st["a_opt"])
        set_rng_state(st["rng"], rng)
        ctx.reporter.info(f"darts: resumed at epoch {st['epoch']} of {st['planned']}")
    generator = torch.Generator().manual_seed(cfg.seed)
    if "gen" in st:
        generator.set_state(st["gen"])
    while not st["done"] and st["epoch"] < st["planned"]:
        epoch = st["epoch"]
        t0 = time.monotonic()
        with _pc_darts_guard(ctx, cfg):
            stats = _run_epoch(ctx, model, architect, w_opt, epoch, st["planned"], generator)
        if stats["steps"] == 0:  # the budget ended before this epoch's first step
            st["done"] = True
            break
        _log_epoch(ctx, model, architect, st, epoch, stats)
        if ctx.budget.seconds != math.inf and not stats["cut"]:
            _replan(ctx, st, epoch, time.monotonic() - t0)
        st["epoch"] = epoch + 1
        st["done"] = stats["cut"] or ctx.budget.exhausted()
        st.update(
            model=model.state_dict(),
            w_opt=w_opt.state_dict(),
            a_opt=architect.optimizer.state_dict(),
            rng=rng_state(rng),
            gen=generator.get_state(),
        )
        ctx.save(st)
        ctx.progress(
            max(st["epoch"] / st["planned"], ctx.budget.fraction()),
            f"darts epoch {st['epoch']}/{st['planned']}: "
            + (
                "weights warm-up" if stats["val_acc"] is None else f"val acc {stats['val_acc']:.3f}"
            ),
        )
    if not st["history"]:
        raise SearchError(
            "darts ended before its first epoch; give it a larger budget "
            "(--minutes) or a smaller proxy (--fast)"
        )
    last = st["history"][-1]
    return SearchOutcome(
        Genotype.from_dict(last["genotype"]),
        st.get("last", 0.0),
        f"derived from the alphas after epoch {last['epoch'] + 1}",
    )


def _pc_darts_guard(ctx: SearchContext, cfg):
    """oneDNN off for PC-DARTS on a CPU: with one thread its convolution backward (weights)
    corrupts the heap on the partial-channel edges and aborts the process ("corrupted
    double-linked list"; torch 2.14.1 on an AMD EPYC without AVX-512, the CI machine). ATen's
    own kernels run those steps instead; plain DARTS keeps oneDNN."""
    if cfg.darts.partial_channels > 1 and torch.device(ctx.device).type == "cpu":
        return _mkldnn_off()
    return contextlib.nullcontext()


@contextlib.contextmanager
def _mkldnn_off():
    was = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = was


def _log_epoch(
    ctx: SearchContext, model: SuperNet, architect: Architect, st: dict, epoch: int, stats: dict
) -> None:
    """The epoch's alpha snapshot (alphas.json), derived cell and metrics."""
    genotype = model.genotype(ctx.cfg.network.skip_cap)
    if stats["val_acc"] is not None:
        st["best"] = max(st["best"], stats["val_acc"])
        st["last"] = stats["val_acc"]
    st["history"].append(_snapshot(model, epoch, genotype))
    _write_alphas(ctx, st["history"])
    ctx.log_architecture(
        genotype,
        stats["val_acc"],
        "derived",
        epoch,
        epoch=epoch,
        score_source="supernet accuracy on the alpha batches",
        alphas={k: st["history"][-1][k] for k in ("normal", "reduce")},
    )
    expected = None
    if architect.penalty is not None:
        with torch.no_grad():
            expected = float(_expected_ms(model, st["latency_table"], ctx.cfg.network.nodes))
    ctx.epoch_metrics(
        epoch,
        train_acc=stats["train_acc"],
        val_acc=stats["val_acc"],
        best_score=st["best"],
        lr=stats["lr"],
        expected_latency_ms=expected,
    )


def _replan(ctx: SearchContext, st: dict, epoch: int, epoch_s: float) -> None:
    """Epochs that fit the search budget, re-estimated after every epoch (warm-up epochs are
    faster than the later ones); the cosine schedule follows."""
    fit = epoch + 1 + int(max(0.0, ctx.budget.remaining) // max(epoch_s, 1e-3))
    planned = max(epoch + 1, min(st["planned"], fit))
    if planned < st["planned"] and st["planned"] == ctx.cfg.max_epochs:  # first cut only
        ctx.reporter.info(
            f"darts: about {planned} epochs fit the search's "
            f"{ctx.budget.seconds:.0f} s; cosine schedule shortened to them"
        )
    st["planned"] = planned


def _expected_ms(model: SuperNet, table: dict, nodes: int) -> torch.Tensor:
    weights = {
        "normal": F.softmax(model.alphas_normal, dim=-1),
        "reduce": F.softmax(model.alphas_reduce, dim=-1),
    }
    return expected_latency(weights, table, model.primitives, 2 * nodes)


def _latency_penalty(
    ctx: SearchContext, model: SuperNet, st: dict
) -> Callable[[], torch.Tensor] | None:
    """With the accuracy-latency objective: -w log(E[lat] / target), E[lat] from an op latency
    table measured on the job's device for the backbone at `objective.latency_size` (FBNet
    style)."""
    cfg = ctx.cfg
    if cfg.objective.kind != "accuracy-latency":
        return None
    if "latency_table" not in st:
        st["latency_table"] = op_latency_table(
            model.primitives, cfg.objective.latency_size, ctx.device, cfg.network.nodes
        )
        ctx.reporter.info(
            "darts: op latency table measured at {}px on {}: {}".format(
                cfg.objective.latency_size,
                ctx.device,
                ", ".join(
                    f"{op} {st['latency_table']['normal'][op]:.2f} ms" for op in model.primitives
                ),
            )
        )
    target = ctx.target_ms
    return lambda: latency_loss(
        _expected_ms(model, st["latency_table"], cfg.network.nodes),
        target,
        cfg.objective.latency_weight,
    )


def _run_epoch(
    ctx: SearchContext,
    model: SuperNet,
    architect: Architect,
    w_opt: torch.optim.Optimizer,
    epoch: int,
    planned: int,
    generator: torch.Generator,
) -> dict:
    """One DARTS epoch over the search-train half; alpha batches cycle over the search-val half."""
    cfg, data = ctx.cfg, ctx.data
    lr = cosine_lr(cfg.supernet.lr, cfg.supernet.lr_min, epoch, planned)
    for group in w_opt.param_groups:
        group["lr"] = lr
    val_stream = cycle_batches(
        data.search_val_x, data.search_val_y, cfg.supernet.batch_size, generator
    )
    steps = math.ceil(len(data.search_train_y) / cfg.supernet.batch_size)
    tr_correct = tr_seen = va_correct = va_seen = done = 0
    cut, step_s = False, 0.0
    model.train()
    for step, (xb, yb) in enumerate(
        batches(
            data.search_train_x,
            data.search_train_y,
            cfg.supernet.batch_size,
            generator,
            augment=True,
        )
    ):
        ctx.check_stop()
        if ctx.budget.remaining < step_s and (epoch or step):  # would end past the budget
            # (the search's first step always runs: a derived cell needs one)
            cut = True
            break
        t0 = time.monotonic()
        xb = xb.contiguous(memory_format=torch.channels_last)
        xv, yv = next(val_stream)
        xv = xv.contiguous(memory_format=torch.channels_last)
        if max((epoch + step / steps) / planned, ctx.budget.fraction()) >= cfg.darts.warmup:
            v_logits = architect.step((xb, yb), (xv, yv), lr, w_opt, cfg.darts.second_order)
            va_correct += int((v_logits.argmax(1) == yv).sum())
            va_seen += len(yv)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        weight_step(loss, w_opt, model.weight_parameters(), cfg.supernet.grad_clip)
        tr_correct += int((logits.argmax(1) == yb).sum())
        tr_seen += len(yb)
        done += 1
        step_s = time.monotonic() - t0
        ctx.reporter.metric("search/loss", loss.item(), step=epoch * steps + step)
        ctx.progress(
            (epoch + (step + 1) / steps) / planned,
            f"darts epoch {epoch + 1}/{planned} step {step + 1}/{steps}",
        )
    return {
        "train_acc": tr_correct / max(1, tr_seen),
        "val_acc": va_correct / va_seen if va_seen else None,  # None: a warm-up epoch
        "lr": lr,
        "cut": cut,
        "steps": done,
    }
