"""ENAS: an LSTM controller trained by REINFORCE samples cells over shared weights (Pham et al.
2018, "Efficient Neural Architecture Search via Parameter Sharing", sections 2.3-2.4).

This is the NASNet controller idea (Zoph et al. 2018: an RNN emits, per node, two inputs and two
ops, trained with policy gradient) made tractable by weight sharing: every sampled cell runs as a
path through the one supernet (`SuperNet.forward(x, genotype=g)`), so a sample costs one batch,
not one training run. Per node the controller picks an input by attention over the anchors of
the earlier states, then an op from the search set without `none`, twice; first the normal cell,
then the reduction cell. Logits use the ENAS temperature (5) and tanh constant (2.5).

Each epoch: (1) shared weights - one SGD step per search-train batch, each on a freshly sampled
cell; (2) controller - `controller_steps` REINFORCE updates, reward = accuracy of a sampled cell
on a search-val batch, moving-average baseline (decay 0.99), entropy bonus; every sample and its
reward is logged (kind "sampled"); (3) derive - `enas.derive_samples` cells sampled and scored on
one search-val batch, the best rescored on the whole half and logged (kind "derived"). The answer
is the best derived cell over all epochs (capped to `network.skip_cap` skips in the normal cell:
samples with more are redrawn).
"""

from __future__ import annotations

import logging
import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import SearchError
from core.nas.genotypes import Genotype, concat_range
from core.nas.proxy_training import batches, cycle_batches, weight_step
from core.nas.search_context import SearchContext, SearchOutcome, rng_state, set_rng_state
from core.nas.space import CANDIDATE_OPS, SKIP
from core.nas.supernet import SuperNet

log = logging.getLogger(__name__)

MAX_REDRAWS = 50  # samples over the skip cap are redrawn (then the cap is enforced by hand)
CAP_REPLACEMENT = "sep_conv_3x3"  # what an excess skip becomes when capped by hand


class Controller(nn.Module):
    """LSTM policy over cells: sample() -> (genotype, sum log-prob, sum entropy)."""

    def __init__(
        self,
        nodes: int,
        ops: tuple[str, ...] = CANDIDATE_OPS,
        hidden: int = 64,
        temperature: float = 5.0,
        tanh_constant: float = 2.5,
    ):
        super().__init__()
        self.nodes, self.ops, self.hidden = nodes, ops, hidden
        self.temperature, self.tanh_constant = temperature, tanh_constant
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.g_emb = nn.Parameter(torch.zeros(1, hidden))  # the first input
        self.op_emb = nn.Embedding(len(ops), hidden)
        self.w_soft = nn.Linear(hidden, len(ops), bias=False)  # op logits
        self.w_attn_1 = nn.Linear(hidden, hidden, bias=False)  # anchors
        self.w_attn_2 = nn.Linear(hidden, hidden, bias=False)  # query
        self.v_attn = nn.Linear(hidden, 1, bias=False)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def _logits(self, raw: torch.Tensor) -> torch.Tensor:
        return self.tanh_constant * torch.tanh(raw / self.temperature)

    def _choose(self, logits: torch.Tensor, force: int | None = None):
        dist = torch.distributions.Categorical(logits=logits)
        index = dist.sample() if force is None else torch.tensor([force])
        return int(index), dist.log_prob(index).sum(), dist.entropy().sum()

    def _sample_cell(self, state, x):
        h, c = state
        anchors, anchors_w = [], []
        for _ in range(2):  # the two cell inputs: anchors from zero inputs (ENAS)
            h, c = self.lstm(torch.zeros_like(x), (h, c))
            anchors.append(torch.zeros_like(h))
            anchors_w.append(self.w_attn_1(h))
        pairs, log_p, entropy = [], 0.0, 0.0
        for _ in range(self.nodes):
            used = []
            for _ in range(2):
                h, c = self.lstm(x, (h, c))
                query = torch.tanh(torch.cat(anchors_w) + self.w_attn_2(h))
                logits = self._logits(self.v_attn(query).view(1, -1))
                if used:  # the two inputs of a node are distinct
                    logits = logits.masked_fill(
                        torch.arange(logits.shape[1]) == used[0], float("-inf")
                    )
                index, lp, ent = self._choose(logits)
                used.append(index)
                log_p, entropy = log_p + lp, entropy + ent
                h, c = self.lstm(anchors[index], (h, c))  # zeros for the cell inputs
                op, lp, ent = self._choose(self._logits(self.w_soft(h)))
                log_p, entropy = log_p + lp, entropy + ent
                pairs.append((self.ops[op], index))
                x = self.op_emb(torch.tensor([op]))
            anchors.append(h)
            anchors_w.append(self.w_attn_1(h))
        return pairs, log_p, entropy, (h, c), x

    def sample(self) -> tuple[Genotype, torch.Tensor, torch.Tensor]:
        h = c = torch.zeros(1, self.hidden)
        normal, lp_n, ent_n, state, x = self._sample_cell((h, c), self.g_emb)
        reduce, lp_r, ent_r, _, _ = self._sample_cell(state, x)
        concat = concat_range(self.nodes)
        genotype = Genotype(normal, concat, reduce, concat)
        return genotype, lp_n + lp_r, ent_n + ent_r


def sample_capped(controller: Controller, skip_cap: int | None):
    """Controller samples, redrawn while the normal cell has more than skip_cap skips; after
    MAX_REDRAWS the cap is enforced by hand (excess skips become CAP_REPLACEMENT). The log-prob
    stays the sampled cell's, so REINFORCE still rewards the controller for what it chose."""
    for _ in range(MAX_REDRAWS):
        genotype, log_p, entropy = controller.sample()
        if skip_cap is None or genotype.count(SKIP) <= skip_cap:
            return genotype, log_p, entropy
    log.warning(
        "controller sampled > %s skip connections %s times; capping by hand", skip_cap, MAX_REDRAWS
    )
    return cap_skips(genotype, skip_cap), log_p, entropy


def cap_skips(genotype: Genotype, skip_cap: int) -> Genotype:
    """The genotype with the normal cell's skip_connect ops after the first skip_cap replaced."""
    normal, seen = [], 0
    for op, index in genotype.normal:
        if op == SKIP:
            seen += 1
            op = CAP_REPLACEMENT if seen > skip_cap else op
        normal.append((op, index))
    return Genotype(normal, genotype.normal_concat, genotype.reduce, genotype.reduce_concat)


def search(ctx: SearchContext) -> SearchOutcome:
    cfg, data, net, sn = ctx.cfg, ctx.data, ctx.cfg.network, ctx.cfg.supernet
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    shared = SuperNet(net.C, data.num_classes, net.layers, net.nodes)
    shared = shared.to(ctx.device, memory_format=torch.channels_last)
    controller = Controller(
        net.nodes,
        hidden=cfg.enas.controller_hidden,
        temperature=cfg.enas.temperature,
        tanh_constant=cfg.enas.tanh_constant,
    )
    w_opt = torch.optim.SGD(
        shared.weight_parameters(), lr=sn.lr, momentum=sn.momentum, weight_decay=sn.weight_decay
    )
    c_opt = torch.optim.Adam(controller.parameters(), lr=cfg.enas.controller_lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    st = ctx.state or {"epoch": 0, "baseline": None, "best": None, "done": False, "sample": 0}
    if ctx.state is not None:
        shared.load_state_dict(st["shared"])
        controller.load_state_dict(st["controller"])
        w_opt.load_state_dict(st["w_opt"])
        c_opt.load_state_dict(st["c_opt"])
        set_rng_state(st["rng"], rng)
        generator.set_state(st["gen"])
        ctx.reporter.info(f"enas: resumed at epoch {st['epoch']}")
    total = cfg.max_epochs
    while not st["done"] and st["epoch"] < total:
        epoch = st["epoch"]
        lr = sn.lr_min + 0.5 * (sn.lr - sn.lr_min) * (1 + math.cos(math.pi * epoch / total))
        for group in w_opt.param_groups:
            group["lr"] = lr
        train_acc, cut = _train_shared(ctx, shared, controller, w_opt, generator, epoch)
        rewards = [] if cut else _train_controller(ctx, shared, controller, c_opt, st, generator)
        # a budget cut before the first derive still derives once: the job needs an answer
        derived = (
            None
            if cut and st["best"] is not None
            else _derive(ctx, shared, controller, generator, epoch)
        )
        if derived is not None and (st["best"] is None or derived[1] >= st["best"]["score"]):
            st["best"] = {"genotype": derived[0].to_dict(), "score": derived[1], "epoch": epoch}
        best = st["best"]["score"] if st["best"] else None
        ctx.epoch_metrics(
            epoch,
            train_acc=train_acc,
            val_acc=sum(rewards) / len(rewards) if rewards else None,
            best_score=best,
            baseline=st["baseline"],
            lr=lr,
        )
        st["epoch"] = epoch + 1
        st["done"] = cut or ctx.budget.exhausted()
        st.update(
            shared=shared.state_dict(),
            controller=controller.state_dict(),
            w_opt=w_opt.state_dict(),
            c_opt=c_opt.state_dict(),
            rng=rng_state(rng),
            gen=generator.get_state(),
        )
        ctx.save(st)
        ctx.progress(
            max(st["epoch"] / total, ctx.budget.fraction()),
            f"enas epoch {st['epoch']}/{total}: best {best if best is None else round(best, 3)}",
        )
    if st["best"] is None:
        raise SearchError(
            "enas ended before deriving a cell; give it a larger budget "
            "(--minutes) or a smaller proxy (--fast)"
        )
    return SearchOutcome(
        Genotype.from_dict(st["best"]["genotype"]),
        st["best"]["score"],
        f"best derived cell (epoch {st['best']['epoch'] + 1})",
    )


def _train_shared(ctx, shared, controller, w_opt, generator, epoch) -> tuple[float, bool]:
    cfg, data = ctx.cfg, ctx.data
    correct = seen = 0
    shared.train()
    steps = math.ceil(len(data.search_train_y) / cfg.supernet.batch_size)
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
        if ctx.budget.exhausted():
            return correct / max(1, seen), True
        with torch.no_grad():
            genotype, _, _ = sample_capped(controller, cfg.network.skip_cap)
        logits = shared(xb.contiguous(memory_format=torch.channels_last), genotype)
        loss = F.cross_entropy(logits, yb)
        weight_step(loss, w_opt, shared.weight_parameters(), cfg.supernet.grad_clip)
        correct += int((logits.argmax(1) == yb).sum())
        seen += len(yb)
        ctx.reporter.metric("search/loss", loss.item(), step=epoch * steps + step)
    return correct / max(1, seen), False


def reinforce_step(
    optimizer: torch.optim.Optimizer,
    log_p: torch.Tensor,
    entropy: torch.Tensor,
    reward: float,
    baseline: float | None,
    decay: float,
    entropy_weight: float,
) -> float:
    """One REINFORCE update of the controller (Williams 1992; ENAS section 2.2): the moving
    baseline b <- decay * b + (1 - decay) * R (first R: b = R), loss = -log p(cell) * (R - b)
    - entropy_weight * entropy, one optimizer step. Returns the new baseline."""
    baseline = reward if baseline is None else baseline
    baseline = decay * baseline + (1 - decay) * reward
    loss = -log_p * (reward - baseline) - entropy_weight * entropy
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return baseline


def _train_controller(ctx, shared, controller, c_opt, st, generator) -> list[float]:
    cfg, data = ctx.cfg, ctx.data
    stream = cycle_batches(data.search_val_x, data.search_val_y, cfg.supernet.batch_size, generator)
    rewards = []
    for _ in range(cfg.enas.controller_steps):
        ctx.check_stop()
        genotype, log_p, entropy = sample_capped(controller, cfg.network.skip_cap)
        xv, yv = next(stream)
        with torch.no_grad():
            reward = float(
                (shared(xv.contiguous(memory_format=torch.channels_last), genotype).argmax(1) == yv)
                .float()
                .mean()
            )
        reward, objective = ctx.objective(genotype, reward)
        baseline = reinforce_step(
            c_opt,
            log_p,
            entropy,
            reward,
            st["baseline"],
            cfg.enas.baseline_decay,
            cfg.enas.entropy_weight,
        )
        st["baseline"] = baseline
        rewards.append(reward)
        ctx.log_architecture(
            genotype,
            reward,
            "sampled",
            st["sample"],
            epoch=st["epoch"],
            reward=reward,
            baseline=baseline,
            **objective,
            score_source="shared-weight accuracy on one search-val batch",
        )
        st["sample"] += 1
    return rewards


def _derive(ctx, shared, controller, generator, epoch) -> tuple[Genotype, float] | None:
    """Best of a few controller samples on one val batch, rescored on the whole val half."""
    cfg, data = ctx.cfg, ctx.data
    xv, yv = next(
        batches(data.search_val_x, data.search_val_y, 4 * cfg.supernet.batch_size, generator)
    )
    xv = xv.contiguous(memory_format=torch.channels_last)
    candidates = []
    shared.train()  # shared BN statistics are per-sample (as ENAS): score in train mode
    with torch.no_grad():
        for _ in range(cfg.enas.derive_samples):
            ctx.check_stop()
            genotype, _, _ = sample_capped(controller, cfg.network.skip_cap)
            candidates.append(
                (float((shared(xv, genotype).argmax(1) == yv).float().mean()), genotype)
            )
    best = max(candidates, key=lambda c: c[0])[1]
    score = _score(shared, data.search_val_x, data.search_val_y, best, ctx.check_stop)
    ctx.log_architecture(
        best,
        score,
        "derived",
        epoch,
        epoch=epoch,
        score_source="shared-weight accuracy on the search-val half",
    )
    return best, score


@torch.no_grad()
def _score(shared, x, y, genotype, check_stop, batch: int = 128) -> float:
    """Accuracy of a sampled cell over x, y with batch-statistics BN (the shared BN is per-cell)."""
    shared.train()
    correct = 0
    for start in range(0, len(y), batch):
        check_stop()
        xb = x[start : start + batch].contiguous(memory_format=torch.channels_last)
        correct += int((shared(xb, genotype).argmax(1) == y[start : start + batch]).sum())
    return correct / max(1, len(y))
