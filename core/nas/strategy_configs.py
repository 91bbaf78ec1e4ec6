"""The per-strategy options of a search and the final report's, as nested dataclasses of
SearchConfig (core.nas.config): DARTS, ENAS, aging evolution, zero-cost pre-ranking and the
report. Imported at submit time: no torch here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.spec import param

PROXIES = ("synflow", "naswot", "zico", "noskip", "params")


def parse_names(value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """ "synflow,zico", "synflow zico", ["synflow", "zico"] or a tuple's text "('synflow',
    'zico')" (a form echoing the default) -> ("synflow", "zico"); each must be in `allowed`."""
    if isinstance(value, str):
        items = value.translate(str.maketrans(",()[]'\"", "       ")).split()
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        raise ValueError(f"must be names from {', '.join(allowed)}")
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise ValueError(
            f"use one or more of {', '.join(allowed)}"
            + (f" (unknown: {', '.join(bad)})" if bad else "")
        )
    return tuple(items)


@dataclass(frozen=True)
class DartsConfig:
    """DARTS (Liu et al. 2019): alpha optimiser, warm-up, latency penalty."""

    second_order: bool = param(
        False,
        flag="--second-order",
        help="finite-difference unrolled gradient (eq. 7-8)",
        label="Second-order alpha gradient",
    )
    warmup: float = param(
        0.5,
        flag="--warmup",
        lo=0.0,
        lt=1.0,
        help=(
            "share of the search that trains weights only before alphas update (0: the paper); on "
            "a CPU budget alphas otherwise follow an untrained supernet"
        ),
        label="Weights-only warm-up",
        unit="share of the search",
    )
    arch_lr: float = param(
        3e-4, gt=0, help="Adam learning rate of the alphas", label="Alpha learning rate"
    )
    arch_weight_decay: float = param(
        1e-3, lo=0, help="weight decay of the alphas", label="Alpha weight decay"
    )
    partial_channels: int = param(
        1,
        flag="--partial-channels",
        lo=1,
        hi=64,
        help=(
            "PC-DARTS K: 1/K of each edge's channels go through its ops, with edge normalisation "
            "(1: plain DARTS; the paper uses 4)"
        ),
        label="Partial channels (PC-DARTS K)",
    )


@dataclass(frozen=True)
class EnasConfig:
    """ENAS (Pham et al. 2018): the LSTM controller and its REINFORCE update."""

    controller_hidden: int = param(
        64, lo=1, hi=4096, help="LSTM width", label="Controller width", unit="LSTM units"
    )
    controller_lr: float = param(
        3.5e-3, gt=0, help="Adam learning rate of the controller", label="Controller learning rate"
    )
    controller_steps: int = param(
        10, lo=1, help="controller updates per epoch", label="Controller updates per epoch"
    )
    entropy_weight: float = param(
        1e-4, lo=0, help="entropy bonus of the policy gradient", label="Entropy bonus"
    )
    baseline_decay: float = param(
        0.99, lo=0, hi=1, help="moving-average reward baseline", label="Reward baseline decay"
    )
    tanh_constant: float = param(
        2.5, gt=0, help="logits = c * tanh(logits / temperature)", label="Logit squashing constant"
    )
    temperature: float = param(
        5.0, gt=0, help="controller logit temperature", label="Controller temperature"
    )
    derive_samples: int = param(
        16,
        lo=1,
        help="candidates scored with shared weights per epoch",
        label="Candidates scored per epoch",
    )


@dataclass(frozen=True)
class EvolutionConfig:
    """Aging evolution (Real et al. 2019, algorithm 1): population P, tournament S."""

    population: int = param(
        10,
        lo=1,
        flag="--population",
        help="P: members alive at a time",
        label="Population",
        unit="cells alive",
    )
    sample_size: int = param(
        3,
        lo=1,
        flag="--sample-size",
        help="S: tournament size (<= population)",
        label="Tournament size",
        unit="cells",
    )
    parallel: int = param(
        1,
        flag="--parallel",
        lo=1,
        hi=1024,
        help=(
            "children proposed per round from the same population, trained at once by --executor "
            "ray (the same value gives the same search on every executor)"
        ),
        label="Children per round",
    )


@dataclass(frozen=True)
class ZeroCostConfig:
    """Training-free pre-ranking (core.nas.zero_cost_scores), as a strategy or a warm start."""

    cells: int = param(
        500,
        lo=1,
        hi=100_000,
        help="cells scored by the proxies (as many as the scoring share allows)",
        label="Cells to score",
    )
    score_share: float = param(
        0.5,
        gt=0,
        lt=1,
        help=("zero-cost: share of the search budget for scoring; the rest trains the top-k"),
        label="Scoring share",
        unit="of the search time",
    )
    top_k: int = param(
        5, lo=1, help="zero-cost: best-ranked cells trained (see fill)", label="Top cells trained"
    )
    # on: top-k children trained only child.epochs end near chance and cannot be told apart, so
    # they train on for the rest of the search budget (docs/BENCHMARKS.md, "search_budgets")
    fill: bool = param(
        True,
        help=(
            "zero-cost: train the top-k for as many epochs as the rest of the search budget "
            "affords (at least child.epochs)"
        ),
        label="Train the top cells for the rest of the search",
    )
    # the default is the combination that ranks cells most like a short report training does
    # (bench/proxies.py; its table in docs/BENCHMARKS.md, "proxies")
    proxies: tuple[str, ...] = param(
        ("synflow", "zico", "noskip"),
        parse=lambda v: parse_names(v, PROXIES),
        help=(
            "proxies combined by rank aggregation (synflow, naswot, zico, "
            "noskip: fewest skips in the normal cell, params)"
        ),
        label="Zero-cost proxies",
    )
    combine: Literal["mean-rank", "log-rank"] = param(
        "mean-rank",
        help=("rank aggregation: mean of the ranks, or sum of the log ranks"),
        label="Rank combination",
    )
    batch_size: int = param(
        32, lo=2, hi=1024, help="crops per proxy minibatch", label="Scoring batch", unit="crops"
    )
    zico_batches: int = param(
        2, lo=2, hi=16, help="minibatches of the ZiCo gradient statistics", label="ZiCo batches"
    )
    keep: float = param(
        0.2,
        gt=0,
        hi=1,
        help=("warm start of random search: share of the scored cells kept (a filter)"),
        label="Share of scored cells kept",
        unit="random search warm start",
    )
    warm_share: float = param(
        0.25,
        gt=0,
        lt=1,
        help=("warm start: share of the search budget spent scoring cells"),
        label="Warm-start scoring share",
        unit="of the search time",
    )


@dataclass(frozen=True)
class ReportConfig:
    """The final report: the searched cell retrained beside random cells (core.nas.report)."""

    random: int = param(
        3,
        lo=0,
        hi=100,
        help="K random cells beside the searched one",
        label="Random cells to compare",
    )
    repeats: int = param(
        2, lo=1, hi=20, help="seeds of the searched cell", label="Seeds of the searched cell"
    )
    epochs: int = param(
        24,
        lo=1,
        hi=10_000,
        help=("training epochs of each cell (at most: a time budget may afford fewer)"),
        label="Epochs per cell",
    )
    min_epochs: int = param(
        6,
        lo=1,
        help="fewest epochs worth a report; fewer random cells "
        "are trained rather than fewer epochs",
        label="Fewest epochs worth a report",
    )
    share: float = param(
        0.3,
        gt=0,
        lt=1,
        help="planned share of the job's minutes",
        label="Report share",
        unit="of the time budget",
    )
    max_share: float = param(
        0.6,
        gt=0,
        lt=1,
        help=(
            "at short budgets the report may take up to this share, so that the searched cell and "
            "one random cell get min_epochs (a report of fewer epochs measures mostly noise)"
        ),
        label="Largest report share",
        unit="at short budgets",
    )
