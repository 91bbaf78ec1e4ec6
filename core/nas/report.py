"""The honest final report of a search: the searched cell retrained from scratch beside K random
cells under the same fixed budget (the random-search baseline argument of Li & Talwalkar 2019 and
Yang et al. 2020, "NAS evaluation is frustratingly hard").

Every network is a fresh `CifarNetwork` (the proxy C and layers) trained for `report_epochs`
(batch `net_batch_size`, lr `net_lr`) on the whole proxy train split and scored on the proxy val
split, which the search never saw. The searched genotype is trained with `report_repeats` seeds;
the K random genotypes (seeded, same skip cap) with one seed each. The report is written whatever
the outcome:
{"searched": {"mean", "std", "accs"}, "random": {"mean", "std", "accs", "genotypes"},
"margin": searched mean - random mean, "genotype", ...}. Each finished training is checkpointed,
so an interrupted report resumes where it stopped.
"""

from __future__ import annotations

import random
from typing import Callable

import torch

from core.nas.genotypes import Genotype
from core.nas.proxy import spread, train_and_score
from core.nas.space import sample_genotype
from core.nas.strategies.base import SEARCH_PROGRESS_SHARE, SearchContext

RANDOM_SEED_OFFSET = 7919  # random report cells come from their own seeded stream
TRAIN_SEED_OFFSET = 104729


def report_genotypes(ctx: SearchContext) -> list[Genotype]:
    """The K random genotypes of the report (deterministic in the config seed)."""
    rng = random.Random(ctx.cfg.seed + RANDOM_SEED_OFFSET)
    return [sample_genotype(rng, ctx.cfg.nodes, ctx.cfg.skip_cap)
            for _ in range(ctx.cfg.report_random)]


def final_report(ctx: SearchContext, genotype: Genotype, search_score: float,
                 on_done: Callable[[], None] | None = None) -> dict:
    """Train and score the searched and random genotypes; returns the report dict."""
    cfg, data = ctx.cfg, ctx.data
    randoms = report_genotypes(ctx)
    jobs = [("searched", genotype, r) for r in range(cfg.report_repeats)]
    jobs += [("random", g, k) for k, g in enumerate(randoms)]
    done: dict = ctx.run_state.report.setdefault("accs", {})
    settings = ctx.train_settings(cfg.report_epochs)
    for n, (role, g, k) in enumerate(jobs):
        key = f"{role}:{k}"
        if key in done:
            continue
        ctx.reporter.progress(SEARCH_PROGRESS_SHARE + (1 - SEARCH_PROGRESS_SHARE) * n / len(jobs),
                              f"final report: training {role} cell {k + 1} ({n + 1}/{len(jobs)})")
        seed = cfg.seed + TRAIN_SEED_OFFSET + (k if role == "searched" else 100 + k)
        torch.manual_seed(seed)
        stats = train_and_score(ctx.network(g).to(ctx.device), (data.train_x, data.train_y),
                                (data.val_x, data.val_y), settings, seed, ctx.check_stop)
        done[key] = stats["val_acc"]
        ctx.log_architecture(g, stats["val_acc"], "final", None, role=role, repeat=k,
                             report_epochs=cfg.report_epochs,
                             score_source="retrained from scratch, proxy val split")
        ctx.save()
        if on_done is not None:
            on_done()
    searched = spread([done[f"searched:{r}"] for r in range(cfg.report_repeats)])
    rand = spread([done[f"random:{k}"] for k in range(len(randoms))])
    rand["genotypes"] = [g.to_dict() for g in randoms]
    margin = (searched["mean"] - rand["mean"]) if rand["accs"] else None
    return {
        "strategy": cfg.strategy,
        "genotype": genotype.to_dict(),
        "search_score": search_score,
        "searched": searched,
        "random": rand,
        "margin": margin,
        "beats_random_mean": None if margin is None else margin >= 0,
        "budget": {"report_epochs": cfg.report_epochs, "C": cfg.C, "layers": cfg.layers,
                   "image_size": data.size, "train_crops": len(data.train_y),
                   "val_crops": len(data.val_y), "batch_size": cfg.net_batch_size,
                   "lr": cfg.net_lr},
    }
