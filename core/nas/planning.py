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

The cost of an epoch comes from measured training speed when the job runs (`epoch_s`, timed on
the job's device before the search and again before the report); before the start (CLI, GUI) it
comes from a CPU cost model (COST_*: a 2-core CPU, one thread, measured on DARTS cells) and the
plan says it is estimated. No torch here: the CLI and the GUI call `plan` at submit time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
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
        searched = "searched" if self.repeats == 1 else f"searched x{self.repeats}"
        cells = f"{self.random} random cell{'s' if self.random != 1 else ''}"
        return f"{searched} + {cells} x {self.epochs} epoch{'s' if self.epochs != 1 else ''}"


def afford(seconds: float, epoch_s: float, report: ReportConfig) -> ReportPlan:
    """The largest report (see the module docstring) whose training fits `seconds`."""
    repeats, random = report.repeats, report.random
    epoch_s = max(epoch_s, 1e-6)
    enough = min(report.min_epochs, report.epochs)
    while True:
        nets = repeats + random
        epochs = (
            report.epochs
            if math.isinf(seconds)
            else min(report.epochs, int(seconds // (nets * epoch_s)))
        )
        if epochs >= enough or (repeats == 1 and random <= 1):
            break
        if repeats > 1:
            repeats -= 1
        else:
            random -= 1
    epochs = max(1, epochs)
    return ReportPlan(repeats, random, epochs, nets * epochs * epoch_s)


def report_seconds(report: ReportConfig, left: float, epoch_s: float) -> float:
    """The report's planned room: `report.share` of the `left` seconds, or, when that cannot
    give the searched cell and one random cell `min_epochs`, what they need, up to
    `report.max_share`."""
    room = report.share * left
    floor = (1 + min(report.random, 1)) * min(report.min_epochs, report.epochs) * epoch_s
    return max(room, min(floor, report.max_share * left))


def estimated_epoch_s(cfg: SearchConfig, train_crops: int, val_crops: int | None = None) -> float:
    """CPU cost model of one report epoch of one network (training plus its evaluation share)."""
    scale = (cfg.C / 8) ** 2 * (cfg.layers / 5)
    per_crop = COST_PER_CROP_AT_32 * (cfg.size / 32) ** 2 * scale + COST_PER_CROP_FIXED
    val = val_crops if val_crops is not None else train_crops // 4
    return per_crop * (train_crops + EVAL_COST * val)


def crops_estimate(cfg: SearchConfig, dataset_row: Mapping[str, Any] | None = None) -> int:
    """Proxy train crops of a dataset row (objects in its train split, capped per class)."""
    row = dataset_row or {}
    classes = len(row.get("classes") or []) or DEFAULT_CLASSES
    objects = (row.get("counts") or {}).get("train_objects")
    cap = cfg.max_per_class * classes if cfg.max_per_class is not None else None
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
    "measured", "text"}; `elapsed_s` already spent at planning. budget_s and search_s are
    None without a time limit (report_s: estimated).
    """
    cfg = config if isinstance(config, SearchConfig) else SearchConfig.from_spec(config)
    crops = train_crops if train_crops is not None else crops_estimate(cfg)
    measured = epoch_s is not None
    epoch_s = epoch_s if epoch_s is not None else estimated_epoch_s(cfg, crops, val_crops)
    budget = cfg.budget_s
    if math.isinf(budget):
        report = afford(math.inf, epoch_s, cfg.report)
        out = {
            "budget_s": None,
            "search_s": None,
            "report_s": report.seconds,
            "reserve_s": RESERVE_MIN_S,
        }
    else:
        reserve = max(RESERVE_MIN_S, RESERVE_SHARE * budget)
        left = max(0.0, budget - reserve - elapsed_s)
        report = afford(report_seconds(cfg.report, left, epoch_s), epoch_s, cfg.report)
        out = {
            "budget_s": budget,
            "search_s": max(0.0, left - report.seconds),
            "report_s": report.seconds,
            "reserve_s": reserve,
        }
    full = afford(math.inf, epoch_s, cfg.report)  # what the report trains given the time
    out.update(
        report={**asdict(report), "networks": report.networks},
        epoch_s=epoch_s,
        report_max_s=full.seconds,
        train_crops=crops,
        measured=measured,
    )
    out["text"] = describe(out)
    return out


def report_plan(p: Mapping[str, Any]) -> ReportPlan:
    """The ReportPlan inside a plan dict."""
    r = p["report"]
    return ReportPlan(r["repeats"], r["random"], r["epochs"], r["seconds"])


def describe(p: Mapping[str, Any]) -> str:
    """One line, e.g. 'plan: search 2m 24s, report 1m 12s (searched + 2 random cells x 8
    epochs)'; 'estimated' when the epoch cost is not measured yet."""
    report = report_plan(p)
    search = "until its epochs/samples end" if p["search_s"] is None else duration(p["search_s"])
    text = f"plan: search {search}, report {duration(p['report_s'])} ({report.describe()})"
    if p["budget_s"] is not None:
        text += f", within {duration(p['budget_s'])}"
    return text + ("" if p["measured"] else "; estimated before measuring the training speed")


def duration(seconds: float) -> str:
    """72.4 -> '1m 12s', 8 -> '8s', 3725 -> '1h 2m'."""
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s" if s % 60 else f"{s // 60}m"
    return f"{s // 3600}h {(s % 3600) // 60}m"
