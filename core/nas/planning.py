"""The job plan of a search: how `minutes` splits into the search, the final report and saving.

`minutes` bounds the whole job. The plan keeps a reserve for loading the crops and saving
(RESERVE_SHARE of the budget, at least RESERVE_MIN_S), gives the final report at most
`report.share` of the time left (the budget less the reserve and what start-up took; at short
budgets up to `report.max_share`, so that the searched cell and one random cell still get
`report.min_epochs`) and the search the rest. The report trains `report.repeats` seeds
of the searched cell and `report.random` random cells for `report.epochs` epochs each; when that
does not fit its share it trains fewer epochs, and below `report.min_epochs` fewer networks
(first one seed of the searched cell, then fewer random cells, keeping one), so the report says
what it could afford. Time the report does not need goes to the search.

No phase is planned shorter than it can be useful: the search gets at least its strategy's floor
(`search_floor_s`: two trained candidates, a few supernet steps, or a few scored cells and one
trained one) and the report at least one epoch of the searched cell and one random cell. When
both do not fit, the report goes ("search only", and the plan says why); when the search's floor
does not fit either, the plan is "too short" and says the budget that would fit: a job is refused
at submit (core.nas.tasks) or fails at once when it starts, rather than overrunning.

`replan` re-makes the plan mid-search when an epoch costs more than when the plan was made (the
machine got busier): the report is cut first (fewer epochs, then networks, down to the smallest
one), then the search's end moves earlier, and only when the search would end below its floor
the report goes; the job still ends within its budget.

The cost of an epoch comes from measured training speed when the job runs (`epoch_s`, timed on
the job's device before the search and again before the report); before the start (CLI, GUI) it
comes from a CPU cost model (COST_*: a 2-core CPU, one thread, measured on DARTS cells) and the
plan says it is estimated. No torch here: the CLI and the GUI call `plan` at submit time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from core.nas.config import ReportConfig, SearchConfig

RESERVE_SHARE = 0.05
RESERVE_MIN_S = 3.0
# one training step of a discrete proxy network (C=8, 5 cells) per crop, in seconds: about
# 0.3 s per batch of 32 at 32x32 and 0.12 s at 16x16 on the reference CPU
COST_PER_CROP_AT_32 = 0.0075
COST_PER_CROP_FIXED = 0.0019
EVAL_COST = 0.35  # a forward pass costs about a third of a training step
DEFAULT_CLASSES = 6
DEFAULT_CROPS = 600
MIN_EPOCH_S = 1e-3  # a measured epoch below this is clock resolution (counted as this)
ROUNDING_S = 1e-6  # float sums of planned seconds compare equal within this
# the final report plans this share of the time left when it starts: on a busy machine its
# networks train slower than timed, and one cut at the hard limit leaves the report without it
REPORT_MARGIN = 0.85
# before the plan is measured: imports and loading the crops, then TIMING_STEPS training steps
# of each of TIMED_CELLS cells (core.nas.report.measured_plan)
STARTUP_S = 5.0
TIMING_STEPS = 5
TIMED_CELLS = 2
# the least search worth running (search_floor_s)
FLOOR_CANDIDATES = 2  # evolution, random: trained candidates
FLOOR_SUPERNET_STEPS = 2  # darts, enas: supernet steps (weights, then alphas)
FLOOR_SCORED_CELLS = 10  # zero-cost: cells ranked by the proxies (then one top cell trains)
# a supernet step costs about this many discrete-network training steps of as many crops:
# DARTS trains every op of every edge (weights, then alphas), ENAS one sampled child's ops;
# scoring one cell (synflow, NASWOT, ZiCo) costs about SCORE_STEP_COST training steps
SUPERNET_CROP_COST = {"darts": 28.0, "enas": 4.0}
SCORE_STEP_COST = 6.0
SUPERNET_STRATEGIES = tuple(SUPERNET_CROP_COST)
# plan modes
FULL, SEARCH_ONLY, TOO_SHORT = "full", "search only", "too short"


@dataclass(frozen=True)
class ReportPlan:
    """What the final report can afford: networks x epochs, and the seconds that takes."""

    repeats: int
    random: int
    epochs: int
    seconds: float

    @property
    def networks(self) -> int:
        return self.repeats + self.random

    def describe(self) -> str:
        if self.networks == 0:
            return "no final report"
        searched = "searched" if self.repeats == 1 else f"searched x{self.repeats}"
        cells = f"{self.random} random cell{'s' if self.random != 1 else ''}"
        return f"{searched} + {cells} x {self.epochs} epoch{'s' if self.epochs != 1 else ''}"


NO_REPORT = ReportPlan(0, 0, 0, 0.0)


def afford(seconds: float, epoch_s: float, report: ReportConfig) -> ReportPlan:
    """The largest report (see the module docstring) whose training fits `seconds`; at least
    the smallest one (one epoch of the searched cell and, if any are asked, one random cell),
    even when that does not fit (`fitting` says when it does not)."""
    repeats, random = report.repeats, report.random
    if repeats + random == 0:
        return NO_REPORT
    epoch_s = max(epoch_s, MIN_EPOCH_S)
    enough = min(report.min_epochs, report.epochs)
    while True:
        nets = repeats + random
        epochs = (
            report.epochs
            if math.isinf(seconds)
            else min(report.epochs, int(max(0.0, seconds) // (nets * epoch_s)))
        )
        if epochs >= enough or (repeats == 1 and random <= 1):
            break
        if repeats > 1:
            repeats -= 1
        else:
            random -= 1
    epochs = max(1, epochs)
    return ReportPlan(repeats, random, epochs, nets * epochs * epoch_s)


def fitting(seconds: float, epoch_s: float, report: ReportConfig) -> ReportPlan:
    """`afford`, but never more than `seconds`: below the smallest report the searched cell
    alone (one epoch), below that NO_REPORT."""
    chosen = afford(seconds, epoch_s, report)
    if chosen.seconds <= seconds:
        return chosen
    alone = ReportPlan(1, 0, 1, max(epoch_s, MIN_EPOCH_S))
    return alone if alone.seconds <= seconds else NO_REPORT


def report_seconds(report: ReportConfig, left: float, epoch_s: float) -> float:
    """The report's planned room: `report.share` of the `left` seconds, or, when that cannot
    give the searched cell and one random cell `min_epochs`, what they need, up to
    `report.max_share`."""
    room = report.share * left
    floor = (1 + min(report.random, 1)) * min(report.min_epochs, report.epochs) * epoch_s
    return max(room, min(floor, report.max_share * left))


def epoch_steps(train_crops: int, val_crops: int, batch_size: int) -> float:
    """Training steps of one report epoch, its evaluation counted as EVAL_COST of a step per
    batch: epoch seconds = step seconds x this."""
    return max(1, math.ceil(train_crops / batch_size)) + EVAL_COST * val_crops / batch_size


def search_floor_s(cfg: SearchConfig, epoch_s: float, step_s: float) -> float:
    """The least search worth running, in seconds at the given costs (a report `epoch_s` over
    the whole proxy train split, a training `step_s` of `child.batch_size` crops): darts/enas a
    few supernet steps, zero-cost a few scored cells and one trained top cell, evolution/random
    two trained candidates (after the warm start's scoring)."""
    candidate = cfg.child.epochs * epoch_s * (1.0 - cfg.crops.val_fraction)  # the search-train half
    if cfg.strategy in SUPERNET_CROP_COST:
        crops = cfg.supernet.batch_size / cfg.child.batch_size
        return FLOOR_SUPERNET_STEPS * SUPERNET_CROP_COST[cfg.strategy] * crops * step_s
    zc = cfg.zero_cost
    if cfg.strategy == "zero-cost":
        scoring = FLOOR_SCORED_CELLS * SCORE_STEP_COST * step_s
        return max(scoring / zc.score_share, candidate / (1.0 - zc.score_share))
    warm = zc.warm_share if cfg.warm_start == "zero-cost" else 0.0
    return FLOOR_CANDIDATES * candidate / (1.0 - warm)


def estimated_epoch_s(cfg: SearchConfig, train_crops: int, val_crops: int | None = None) -> float:
    """CPU cost model of one report epoch of one network (training plus its evaluation share)."""
    scale = (cfg.network.C / 8) ** 2 * (cfg.network.layers / 5)
    per_crop = COST_PER_CROP_AT_32 * (cfg.crops.size / 32) ** 2 * scale + COST_PER_CROP_FIXED
    val = val_crops if val_crops is not None else train_crops // 4
    return per_crop * (train_crops + EVAL_COST * val)


def crops_estimate(cfg: SearchConfig, dataset_row: Mapping[str, Any] | None = None) -> int:
    """Proxy train crops of a dataset row (objects in its train split, capped per class)."""
    row = dataset_row or {}
    classes = len(row.get("classes") or []) or DEFAULT_CLASSES
    objects = (row.get("counts") or {}).get("train_objects")
    cap = cfg.crops.max_per_class * classes if cfg.crops.max_per_class is not None else None
    if objects is None:
        return cap if cap is not None else DEFAULT_CROPS
    return int(objects) if cap is None else min(int(objects), cap)


def plan(
    config: SearchConfig | Mapping[str, Any],
    *,
    epoch_s: float | None = None,
    train_crops: int | None = None,
    val_crops: int | None = None,
    elapsed_s: float = 0.0,
) -> dict:
    """The planned split of a search job's budget (seconds), JSON-ready.

    {"budget_s", "search_s", "report_s", "reserve_s", "report": {repeats, random, epochs,
    networks}, "epoch_s", "report_max_s" (the whole asked-for report), "train_crops",
    "val_crops", "measured", "mode" (FULL, SEARCH_ONLY or TOO_SHORT), "search_floor_s",
    "report_floor_s" (the smallest report), "min_minutes" (the least budget for a FULL plan),
    "text"}; `elapsed_s` already spent at planning (unmeasured: the estimated start-up counts
    instead). budget_s and search_s are None without a time limit (report_s: estimated).
    """
    cfg = config if isinstance(config, SearchConfig) else SearchConfig.from_spec(config)
    crops = train_crops if train_crops is not None else crops_estimate(cfg)
    val = val_crops if val_crops is not None else crops // 4
    measured = epoch_s is not None
    epoch_s = max(MIN_EPOCH_S, epoch_s if measured else estimated_epoch_s(cfg, crops, val))
    step_s = epoch_s / epoch_steps(crops, val, cfg.child.batch_size)
    floor = search_floor_s(cfg, epoch_s, step_s)
    smallest = afford(0.0, epoch_s, cfg.report)
    spent = elapsed_s if measured else elapsed_s + STARTUP_S + TIMED_CELLS * TIMING_STEPS * step_s
    budget = cfg.budget_s
    if math.isinf(budget):
        report, mode = afford(math.inf, epoch_s, cfg.report), FULL
        out = {"budget_s": None, "search_s": None, "reserve_s": RESERVE_MIN_S}
    else:
        reserve = max(RESERVE_MIN_S, RESERVE_SHARE * budget)
        left = budget - reserve - spent
        if left >= floor + smallest.seconds:
            room = min(report_seconds(cfg.report, left, epoch_s), left - floor)
            report, mode = afford(room, epoch_s, cfg.report), FULL
        elif left >= floor:
            report, mode = NO_REPORT, SEARCH_ONLY
        else:
            report, mode = NO_REPORT, TOO_SHORT
        out = {
            "budget_s": budget,
            "search_s": max(0.0, left - report.seconds),
            "reserve_s": reserve,
        }
    needed = floor + smallest.seconds + spent
    out.update(
        report_s=report.seconds,
        report={**asdict(report), "networks": report.networks},
        epoch_s=epoch_s,
        report_max_s=afford(math.inf, epoch_s, cfg.report).seconds,
        train_crops=crops,
        val_crops=val,
        measured=measured,
        mode=mode,
        search_floor_s=floor,
        report_floor_s=smallest.seconds,
        min_minutes=math.ceil(max(needed / (1 - RESERVE_SHARE), needed + RESERVE_MIN_S) / 6) / 10,
        strategy=cfg.strategy,
        search_end=search_end(cfg),
    )
    out["text"] = describe(out)
    return out


def search_end(cfg: SearchConfig) -> str:
    """When a search without a time limit ends, in words: "its 50 epochs end" (darts, enas),
    "100 architectures are trained" (evolution, random), "500 cells are scored" (zero-cost)."""
    if cfg.strategy in SUPERNET_STRATEGIES:
        n = cfg.max_epochs
        return f"its {n} epochs end" if n != 1 else "its 1 epoch ends"
    n = cfg.max_samples
    if cfg.strategy == "zero-cost":
        return f"{n} cells are scored" if n != 1 else "1 cell is scored"
    return f"{n} architectures are trained" if n != 1 else "1 architecture is trained"


def replan(
    p: Mapping[str, Any],
    config: SearchConfig | Mapping[str, Any],
    *,
    epoch_s: float,
    elapsed_s: float,
    search_elapsed_s: float,
) -> dict:
    """Plan `p` re-made mid-search for a report epoch that now costs `epoch_s`: the job has run
    `elapsed_s`, its search `search_elapsed_s`. The report keeps what `p` planned when it still
    fits beside the search's planned rest; else it is cut (fewer epochs, then networks, to the
    smallest report), then the search ends earlier; when the search would then end below its
    floor, the report goes and the search keeps the time left. Never more than `p` planned."""
    cfg = config if isinstance(config, SearchConfig) else SearchConfig.from_spec(config)
    if p["budget_s"] is None or p["mode"] == TOO_SHORT:
        return dict(p)
    epoch_s = max(MIN_EPOCH_S, epoch_s)
    step_s = epoch_s / epoch_steps(p["train_crops"], p["val_crops"], cfg.child.batch_size)
    floor = search_floor_s(cfg, epoch_s, step_s)
    left = max(0.0, p["budget_s"] - p["reserve_s"] - elapsed_s)  # for the search's rest + report
    rest = min(max(0.0, p["search_s"] - search_elapsed_s), left)  # the search's planned rest
    planned = report_plan(p)
    asked = replace(
        cfg.report, repeats=planned.repeats, random=planned.random, epochs=max(1, planned.epochs)
    )
    smallest = afford(0.0, epoch_s, asked)  # NO_REPORT when none was planned
    if planned.networks == 0:
        report = NO_REPORT
    elif left - rest + ROUNDING_S >= smallest.seconds:  # the report shrinks, the search keeps
        report = afford(left - rest + ROUNDING_S, epoch_s, asked)  # its rest
    elif left >= smallest.seconds and search_elapsed_s + left - smallest.seconds >= floor:
        report, rest = smallest, left - smallest.seconds  # the search ends earlier
    else:  # the report goes: the search keeps the time left
        report, rest = NO_REPORT, left
    out = {
        **p,
        "search_s": search_elapsed_s + rest,
        "report_s": report.seconds,
        "report": {**asdict(report), "networks": report.networks},
        "epoch_s": epoch_s,
        "mode": FULL if report.networks else SEARCH_ONLY,
        "search_floor_s": floor,
        "report_floor_s": smallest.seconds if planned.networks else p["report_floor_s"],
        "slowdown": epoch_s / max(MIN_EPOCH_S, p["epoch_s"]),
        "replanned_at_s": elapsed_s,
    }
    out["text"] = describe(out)
    return out


def report_plan(p: Mapping[str, Any]) -> ReportPlan:
    """The ReportPlan inside a plan dict."""
    r = p["report"]
    return ReportPlan(r["repeats"], r["random"], r["epochs"], r["seconds"])


def describe(p: Mapping[str, Any]) -> str:
    """One line, e.g. 'plan: search 2m 24s, report 1m 12s (searched + 2 random cells x 8
    epochs)'; 'estimated' when the epoch cost is not measured yet; a SEARCH_ONLY plan says what
    the report would need, a TOO_SHORT one the budget that would fit."""
    estimated = "" if p["measured"] else "; estimated before measuring the training speed"
    if p["mode"] == TOO_SHORT:
        return (
            f"too short: {p.get('strategy', 'the search')} with its smallest report needs "
            f"about {p['min_minutes']:g} min on this machine (search at least "
            f"{duration(p['search_floor_s'])}, report {duration(p['report_floor_s'])}, "
            f"start-up and saving besides); give --minutes {p['min_minutes']:g} or more" + estimated
        )
    report = report_plan(p)
    if p["search_s"] is None:  # no time limit: the search ends with its own count
        search = f"until {p.get('search_end', 'its epochs or samples end')} (no time limit)"
    else:
        search = duration(p["search_s"])
    text = f"plan: search {search}, "
    if p["mode"] == SEARCH_ONLY:
        text += (
            f"no final report (its smallest, {duration(p['report_floor_s'])}, does not fit "
            "beside the search on this machine)"
        )
    else:
        text += f"report {duration(p['report_s'])} ({report.describe()})"
    if p["budget_s"] is not None:
        text += f", within {duration(p['budget_s'])}"
    if p.get("slowdown") is not None:
        text += f"; re-planned: epochs cost {p['slowdown']:.1f}x the first timing"
    return text + estimated


def duration(seconds: float) -> str:
    """72.4 -> '1m 12s', 8 -> '8s', 3725 -> '1h 2m'."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s" if s % 60 else f"{s // 60}m"
    return f"{s // 3600}h {(s % 3600) // 60}m"
