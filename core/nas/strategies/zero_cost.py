"""Zero-cost search: rank many untrained cells with training-free proxies, train the best few.

Following Abdelfattah et al. (ICLR 2021, "Zero-Cost Proxies for Lightweight NAS", section 5:
pre-ranking before a search) and ZiCo (Li et al., ICLR 2023): uniform cells of the default space
are built and scored on a few fixed minibatches of the search-train half with synflow, NASWOT,
ZiCo and #params, and the structure prior `noskip` (core.nas.zero_cost_scores); every scored cell is
logged (kind and role "candidate", extra fields `synflow`, `naswot`, `zico`, `noskip`,
`params`). Scoring stops after `zero_cost.cells` cells or `zero_cost.score_share` of the search
budget. The proxies named in `zero_cost.proxies` are combined by rank aggregation
(`zero_cost.combine`), the `top_k` best cells are trained like evolution's children (with
`zero_cost.fill`, the default, as many epochs as the rest of the search budget affords, at
least `child.epochs`; scored on the search-val half, kind "trained"), and the best trained one
is the answer (the best-ranked one when no training fitted).

`prerank` is also the warm start of evolution (initial population) and random search (a filter):
`warm_start = "zero-cost"` (`warm_ranking`). All state is checkpointed; a resumed job continues
scoring or training where it stopped.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import torch

from core.errors import SearchError
from core.nas import zero_cost_scores
from core.nas.config import PROXIES
from core.nas.genotypes import Genotype
from core.nas.search_context import SearchContext, SearchOutcome, rng_state, set_rng_state
from core.nas.space import sample_genotype
from core.nas.strategies.sampling import BudgetCut, evaluate_candidates

SAVE_EVERY_S = 5.0  # checkpoint the scored cells at most this often
CELL_SEED = 100_019  # network initialisation of scored cell i: seed * CELL_SEED + i
PROXY_SEED_OFFSET = 31
SAMPLE_SEED_OFFSET = 1_000_003  # scored cells: a stream apart from the strategies' own samples


def proxy_batches(ctx: SearchContext) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`zico_batches` fixed minibatches of the search-train half (seeded; the first is NASWOT's)."""
    zc, data = ctx.cfg.zero_cost, ctx.data
    n = len(data.search_train_y)
    order = torch.randperm(
        n, generator=torch.Generator().manual_seed(ctx.cfg.seed + PROXY_SEED_OFFSET)
    )
    size = max(2, min(zc.batch_size, n // zc.zico_batches or n))
    out = []
    for b in range(zc.zico_batches):
        idx = order[(b * size) % n :][:size]
        if len(idx) < 2:
            idx = order[:size]
        idx = idx.to(data.search_train_x.device)
        out.append((data.search_train_x[idx], data.search_train_y[idx]))
    return out


def score_cell(
    ctx: SearchContext,
    genotype: Genotype,
    index: int,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
) -> dict[str, float]:
    """{"synflow", "naswot", "zico", "noskip", "params"} of the genotype's freshly initialised
    network."""
    torch.manual_seed(ctx.cfg.seed * CELL_SEED + index)
    model = ctx.network(genotype).to(ctx.device)
    size = ctx.data.size
    return {
        "synflow": zero_cost_scores.synflow(model, (3, size, size)),
        "naswot": zero_cost_scores.naswot(model, batches[0][0]),
        "zico": zero_cost_scores.zico(model, batches),
        "noskip": zero_cost_scores.noskip(genotype),
        "params": zero_cost_scores.params(model),
    }


def prerank(
    ctx: SearchContext,
    st: dict,
    cells: int,
    save: Callable[[], None],
    share: float,
    after_s: float | None = None,
) -> list[dict]:
    """Score uniform cells into st["scored"] until `cells` are scored or `share` of the search
    budget has passed (read at every cell: a re-plan may shorten it); `save()` checkpoints;
    `after_s`: the search's estimated seconds after the scoring (its ETA). Returns the scored
    records (resumable)."""
    cfg = ctx.cfg
    rng = random.Random(cfg.seed + SAMPLE_SEED_OFFSET)
    if "rng" in st:
        set_rng_state(st["rng"], rng)
    scored: list[dict] = st.setdefault("scored", [])
    batches = proxy_batches(ctx)
    torch_state = torch.get_rng_state()
    last_save = time.monotonic()
    while len(scored) < cells and (not scored or ctx.budget.elapsed < share * ctx.budget.seconds):
        ctx.check_stop()
        index = len(scored)
        genotype = sample_genotype(rng, cfg.network.nodes, cfg.network.skip_cap)
        values = score_cell(ctx, genotype, index, batches)
        values = {k: (v if math.isfinite(v) else -1e300) for k, v in values.items()}
        arch_id = ctx.log_architecture(
            genotype,
            None,
            "candidate",
            index,
            **values,
            score_source="training-free proxies, untrained network",
        )
        scored.append({"genotype": genotype.to_dict(), **values, "arch_id": arch_id})
        st["rng"] = rng_state(rng)
        if time.monotonic() - last_save > SAVE_EVERY_S:
            save()
            last_save = time.monotonic()
        seconds = share * ctx.budget.seconds
        done = max(len(scored) / cells, ctx.budget.elapsed / seconds if seconds > 0 else 1.0)
        ctx.progress(
            share * min(1.0, done),
            f"zero-cost: scored {len(scored)} cells",
            left_s=None
            if after_s is None or not math.isfinite(seconds)
            else max(0.0, seconds - ctx.budget.elapsed) + after_s,
        )
    torch.set_rng_state(torch_state)
    save()
    return scored


def ranking(records: list[dict], names: tuple[str, ...], method: str) -> list[dict]:
    """Records best first by the rank aggregate of the named proxies (ties: earlier first)."""
    if not records:
        return []
    combined = zero_cost_scores.rank_aggregate(
        {n: [_value(r, n) for r in records] for n in names}, method
    )
    order = sorted(range(len(records)), key=lambda i: (-combined[i], i))
    return [{**records[i], "combined": combined[i], "rank": r + 1} for r, i in enumerate(order)]


def _value(record: dict, name: str) -> float:
    """A scored record's proxy value (noskip from the genotype for checkpoints made before it)."""
    if name == "noskip" and name not in record:
        return zero_cost_scores.noskip(Genotype.from_dict(record["genotype"]))
    return record[name]


def warm_ranking(ctx: SearchContext, st: dict) -> list[dict]:
    """The warm start of evolution/random: cells scored in `zero_cost.warm_share` of the search
    budget (or `zero_cost.cells` without a time limit), ranked; kept in st["warm"]."""
    zc = ctx.cfg.zero_cost
    warm = st.setdefault("warm", {})
    if not warm.get("done"):
        prerank(ctx, warm, zc.cells, lambda: ctx.save(st), zc.warm_share)
        warm["done"] = True
        ctx.save(st)
        ctx.reporter.info(f"zero-cost warm start: {len(warm['scored'])} cells scored")
    return ranking(warm["scored"], zc.proxies, zc.combine)


def search(ctx: SearchContext) -> SearchOutcome:
    cfg, zc = ctx.cfg, ctx.cfg.zero_cost
    st = ctx.state or {"phase": "score", "trained": []}
    if ctx.state is not None:
        ctx.reporter.info(
            f"zero-cost: resumed ({len(st.get('scored', []))} cells scored, "
            f"{len(st['trained'])} trained)"
        )
    if st["phase"] == "score":
        prerank(
            ctx,
            st,
            cfg.max_samples,
            lambda: ctx.save(st),
            zc.score_share,
            after_s=zc.top_k * _cell_train_s(ctx),
        )
        st["phase"] = "train"
        ctx.save(st)
    ranked = ranking(st["scored"], zc.proxies, zc.combine)
    if not ranked:
        raise SearchError(
            "zero-cost ended before scoring a cell; give it a larger budget (--minutes)"
        )
    if "epochs" not in st:
        st["epochs"] = _top_epochs(ctx, min(zc.top_k, len(ranked)))
        ctx.save(st)
    _train_top(ctx, st, ranked[: zc.top_k])
    return _outcome(st, ranked)


FILL_SAFETY = 0.8  # share of the remaining search budget `fill` plans to use (timing noise)


def _top_epochs(ctx: SearchContext, cells: int) -> int:
    """Epochs per top cell: child.epochs, or with `zero_cost.fill` as many as the remaining
    search budget affords for `cells` cells (at least child.epochs, at most the report's)."""
    cfg = ctx.cfg
    per_epoch = _cell_train_s(ctx) / cfg.child.epochs
    left = ctx.budget.remaining
    if not cfg.zero_cost.fill or not math.isfinite(left) or per_epoch <= 0:
        return cfg.child.epochs
    fit = int(FILL_SAFETY * left / (max(1, cells) * per_epoch))
    epochs = max(cfg.child.epochs, min(cfg.report.epochs, fit))
    if epochs > cfg.child.epochs:
        ctx.reporter.info(
            f"zero-cost: the top {cells} cells train {epochs} epochs each "
            f"(the rest of the search budget, {left:.0f} s)"
        )
    return epochs


def _cell_train_s(ctx: SearchContext, trained: list[dict] | None = None) -> float:
    """Seconds to train one top cell: the mean of those trained so far, else the plan's timed
    report epoch scaled to child.epochs on the search-train half."""
    times = [t["seconds"] for t in trained or [] if "seconds" in t]
    if times:
        return sum(times) / len(times)
    epoch_s = (ctx.plan or {}).get("epoch_s") or 0.0
    share = len(ctx.data.search_train_y) / max(1, len(ctx.data.train_y))
    return ctx.cfg.child.epochs * epoch_s * share


def _train_top(ctx: SearchContext, st: dict, top: list[dict]) -> None:
    """Train the top-ranked cells (like evolution's children; all at once on Ray, in rank
    order locally) until the budget ends."""
    first, todo = len(st["trained"]), top[len(st["trained"]) :]
    cells = [(Genotype.from_dict(r["genotype"]), first + j) for j, r in enumerate(todo)]
    results = evaluate_candidates(ctx, cells, st.get("epochs"))
    try:
        for record, (genotype, index), stats in zip(todo, cells, results):
            _log_trained(ctx, st, record, genotype, index, stats, len(top))
    except BudgetCut:
        return
    finally:
        results.close()


def _log_trained(
    ctx: SearchContext,
    st: dict,
    record: dict,
    genotype: Genotype,
    index: int,
    stats: dict,
    total: int,
) -> None:
    """Log one trained top cell, checkpoint, report progress."""
    score, extra = ctx.objective(genotype, stats["val_acc"])
    names = (*PROXIES, "rank", "combined")
    ctx.log_architecture(
        genotype,
        score,
        "trained",
        index,
        train_acc=stats["train_acc"],
        val_acc=stats["val_acc"],
        seconds=round(stats["seconds"], 2),
        **{k: _value(record, k) for k in names},
        **extra,
        score_source="trained from scratch, search-val half",
    )
    st["trained"].append(
        {
            "genotype": record["genotype"],
            "score": score,
            "rank": record["rank"],
            "seconds": stats["seconds"],
        }
    )
    ctx.epoch_metrics(
        index, val_acc=stats["val_acc"], best_score=max(t["score"] for t in st["trained"])
    )
    ctx.save(st)
    ctx.progress(
        max(ctx.budget.fraction(), (index + 1) / total),
        f"zero-cost: trained {index + 1}/{total} top cells",
        left_s=(total - index - 1) * _cell_train_s(ctx, st["trained"]),
    )


def _outcome(st: dict, ranked: list[dict]) -> SearchOutcome:
    if st["trained"]:
        best = max(st["trained"], key=lambda t: (t["score"], -t["rank"]))
        return SearchOutcome(
            Genotype.from_dict(best["genotype"]),
            best["score"],
            f"best trained of the top {len(st['trained'])} of "
            f"{len(ranked)} scored cells (rank {best['rank']})",
        )
    return SearchOutcome(
        Genotype.from_dict(ranked[0]["genotype"]),
        0.0,
        f"best-ranked of {len(ranked)} scored cells (none trained in time)",
    )
