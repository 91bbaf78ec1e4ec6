"""Benchmark of the zero-cost proxies (core.nas.zero_cost_scores): how well does each rank
trained cells?

Samples N random cells of the default space (the stream the zero-cost strategy scores first:
core.nas.strategies.zero_cost), scores each with synflow, NASWOT, ZiCo and #params on the same
fixed minibatches that strategy uses (`proxy_batches`, `score_cell`: same network seeds), then
trains each from scratch as the final report trains its random cells (whole proxy train split,
batch `child.batch_size`, lr `child.lr`, the report's seeds; scored on the held-out proxy val split)
for a short schedule, and reports Kendall tau-b and Spearman rho of every proxy, of #params and
of the rank aggregates (mean-rank and log-rank of the default proxies `zero_cost.proxies` and of
all four) against the trained accuracy, with the top-5 hit rate (of the 5 cells the proxy ranks
best, how many are in the true top 10). `--check-schedule K` also trains the first K cells with
the report's full schedule (`report.epochs`) and gives the Kendall tau between the short and the
full schedule's accuracies: evidence that the short schedule ranks like the report's.

Run: `.venv/bin/python bench/proxies.py [--home DIR] [--cells 40] [--seed 0] [--epochs E]
[--minutes 12] [--workers 2] [--image-size 16] [--check-schedule 8] [--no-write]`.
Without --epochs the schedule is chosen from one measured epoch so that the N trainings take
about --minutes (printed before they start). Each training runs one torch thread; --workers
trainings run at once in their own processes (the numbers do not depend on it: every training
is seeded on its own). The dataset is bench/search.py's (`shapes-nas-bench`, generated in the
home if missing). Results accumulate in <home>/bench_proxies_seed<S>_<P>px.json (a rerun with
the same seed and size reuses the cells already trained) and the section `proxies` of
docs/BENCHMARKS.md is rewritten unless --no-write.

scipy is not a dependency, so Kendall tau-b and Spearman rho (ties: average ranks, as scipy's
`kendalltau` and `spearmanr`) are written here and tested by hand (tests/nas/test_rank_stats.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import command_line, machine, table, write_section  # noqa: E402
from core.nas import zero_cost_scores  # noqa: E402
from core.nas.config import PROXIES, SearchConfig  # noqa: E402
from core.nas.config_groups import FAST_IMAGE_SIZE  # noqa: E402
from core.nas.genotypes import Genotype  # noqa: E402
from core.nas.network import CifarNetwork  # noqa: E402
from core.nas.proxy_training import ProxyTensors  # noqa: E402

TOP, TRUE_TOP = 5, 10  # top-5 hit rate: of the proxy's best 5, how many in the true top 10


# -- rank statistics ---------------------------------------------------------------------------
def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b: (concordant - discordant) / sqrt((n0 - tx)(n0 - ty)), n0 = n(n-1)/2
    pairs, tx / ty pairs tied in x / y (a pair tied in both counts in neither); nan when x or y
    is constant."""
    if len(x) != len(y):
        raise ValueError(f"kendall_tau_b: {len(x)} vs {len(y)} values")
    n = len(x)
    concordant = discordant = tied_x = tied_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 or dy == 0:
                tied_x += dx == 0
                tied_y += dy == 0
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    pairs = n * (n - 1) // 2
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return (concordant - discordant) / denominator if denominator > 0 else math.nan


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's correlation of the average ranks; nan when x or y is constant."""
    if len(x) != len(y):
        raise ValueError(f"spearman: {len(x)} vs {len(y)} values")
    rx, ry = (
        zero_cost_scores.ranks(list(x)),
        zero_cost_scores.ranks(list(y)),
    )  # both descending: rho unchanged
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    var = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return cov / var if var > 0 else math.nan


def top_hits(
    scores: Sequence[float], truth: Sequence[float], top: int = TOP, true_top: int = TRUE_TOP
) -> int:
    """How many of the `top` best by `scores` (ties: earlier first, as zero_cost.ranking) are in
    the `true_top` best by `truth` (every cell tied with the true_top-th one counts as in it)."""
    best = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:top]
    cut = sorted(truth, reverse=True)[min(true_top, len(truth)) - 1]
    return sum(truth[i] >= cut for i in best)


# -- the proxy task ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ProxyTask:
    """What zero_cost.score_cell and proxy_batches read of a search context: cfg, data, device
    and the proxy network of a genotype (as SearchContext.network builds it)."""

    cfg: SearchConfig
    data: ProxyTensors
    device: torch.device = torch.device("cpu")

    def network(self, genotype: Genotype) -> CifarNetwork:
        return CifarNetwork(
            self.cfg.network.C, self.data.num_classes, self.cfg.network.layers, False, genotype
        )


def load_task(home: str, images: int, seed: int, size: int) -> ProxyTask:
    """The proxy crops of bench/search.py's dataset (generated in `home` if missing)."""
    from bench.search import DATASET, ensure_dataset
    from core.engine.store import Store
    from core.nas.proxy_training import load_raw, prepare

    store = Store(home)
    ensure_dataset(store, images)
    spec = {"dataset": DATASET, "strategy": "zero-cost", "seed": seed, "crops.image_size": size}
    cfg = SearchConfig.from_spec(spec)
    raw = load_raw(
        store, DATASET, None, cfg.crops.size, cfg.crops.context, cfg.seed, cfg.crops.max_per_class
    )
    return ProxyTask(cfg, prepare(raw, cfg.crops.size, cfg.crops.val_fraction, cfg.seed, "cpu"))


def sample_cells(cfg: SearchConfig, n: int) -> list[Genotype]:
    """The first n cells the zero-cost strategy would score with this seed."""
    from core.nas.space import sample_genotype
    from core.nas.strategies.zero_cost import SAMPLE_SEED_OFFSET

    rng = random.Random(cfg.seed + SAMPLE_SEED_OFFSET)
    return [sample_genotype(rng, cfg.network.nodes, cfg.network.skip_cap) for _ in range(n)]


def score_cells(task: ProxyTask, cells: list[Genotype]) -> list[dict[str, float]]:
    """Every proxy of every cell (non-finite values as the strategy logs them: -1e300)."""
    from core.nas.strategies.zero_cost import proxy_batches, score_cell

    batches = proxy_batches(task)  # type: ignore[arg-type]
    out = []
    for index, genotype in enumerate(cells):
        values = score_cell(task, genotype, index, batches)  # type: ignore[arg-type]
        out.append({k: (v if math.isfinite(v) else -1e300) for k, v in values.items()})
    return out


# -- training ----------------------------------------------------------------------------------
def trial_of(task: ProxyTask, genotype: Genotype, index: int, epochs: int):
    """Cell `index` trained as the report trains its random cell `index` (seed, split)."""
    from core.nas.report import TRAIN_SEED_OFFSET
    from core.nas.search_context import SearchContext
    from core.nas.trials import Trial

    cfg = task.cfg
    settings = SearchContext.train_settings(task, epochs)  # type: ignore[arg-type]  # reads cfg
    return Trial(
        genotype.to_dict(),
        cfg.network.C,
        task.data.num_classes,
        cfg.network.layers,
        settings,
        cfg.seed + TRAIN_SEED_OFFSET + 100 + index,
        "report",
        None,
        "cpu",
        1,
    )


_DATA: ProxyTensors | None = None  # a worker process's copy of the proxy tensors


def _init_worker(data: ProxyTensors) -> None:
    global _DATA
    torch.set_num_threads(1)
    _DATA = data


def _train(trial) -> dict[str, float]:
    from core.nas.trials import run_trial

    return run_trial(trial, _DATA)


def train_all(task: ProxyTask, jobs: list[tuple[int, Genotype, int]], workers: int, on_done):
    """Train (index, genotype, epochs) jobs, `workers` at a time in spawned processes (in this
    one for workers=1); on_done(index, epochs, stats) as each finishes."""
    trials = [(i, e, trial_of(task, g, i, e)) for i, g, e in jobs]
    if workers <= 1 or len(trials) <= 1:
        _init_worker(task.data)
        for i, e, trial in trials:
            on_done(i, e, _train(trial))
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
    with ProcessPoolExecutor(workers, context, _init_worker, (task.data,)) as pool:
        futures = {pool.submit(_train, trial): (i, e) for i, e, trial in trials}
        for future in as_completed(futures):
            on_done(*futures[future], future.result())


# -- results -----------------------------------------------------------------------------------
class Results:
    """The trained accuracies per cell and schedule, kept in a JSON file of the bench home."""

    def __init__(self, path: Path, cells: list[Genotype]):
        self.path = path
        saved = json.loads(path.read_text()).get("cells", []) if path.is_file() else []
        self.cells = []
        for i, genotype in enumerate(cells):
            old = saved[i] if i < len(saved) else {}
            same = old.get("genotype") == genotype.to_dict()
            self.cells.append(
                {
                    "genotype": genotype.to_dict(),
                    "acc": old["acc"] if same else {},
                    "seconds": old["seconds"] if same else {},
                }
            )

    def has(self, index: int, epochs: int) -> bool:
        return str(epochs) in self.cells[index]["acc"]

    def add(self, index: int, epochs: int, stats: dict[str, float]) -> None:
        self.cells[index]["acc"][str(epochs)] = stats["val_acc"]
        self.cells[index]["seconds"][str(epochs)] = stats["seconds"]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"cells": self.cells}, indent=1))
        os.replace(tmp, self.path)

    def accs(self, epochs: int, indices: Sequence[int]) -> list[float]:
        return [self.cells[i]["acc"][str(epochs)] for i in indices]

    def seconds(self, epochs: int) -> list[float]:
        return [c["seconds"][str(epochs)] for c in self.cells if str(epochs) in c["seconds"]]


def combinations(
    scores: dict[str, list[float]], default: tuple[str, ...]
) -> dict[str, list[float]]:
    """Rank aggregates (mean-rank, log-rank) of the default proxies, of every pair and the
    triple of the training-free proxies, and of all four."""
    free = [n for n in PROXIES if n != "params"]
    subsets = [tuple(c) for k in range(2, len(free) + 1) for c in itertools.combinations(free, k)]
    out = {}
    for names in dict.fromkeys((tuple(default), *subsets, PROXIES)):
        for method in ("mean-rank", "log-rank"):
            out[f"{method}({', '.join(names)})"] = zero_cost_scores.rank_aggregate(
                {n: scores[n] for n in names}, method
            )
    return out


def correlation_rows(
    scored: list[dict[str, float]], accs: list[float], default: tuple[str, ...]
) -> list[dict]:
    """Per proxy, #params and combination: Kendall tau-b, Spearman rho, top-5 hits."""
    scores = {name: [s[name] for s in scored] for name in PROXIES}
    rows = []
    for name, values in {**scores, **combinations(scores, default)}.items():
        kind = "baseline" if name == "params" else "proxy" if name in scores else "combination"
        rows.append(
            {
                "name": name,
                "kind": kind,
                "kendall": kendall_tau_b(values, accs),
                "spearman": spearman(values, accs),
                "hits": top_hits(values, accs),
            }
        )
    return rows


def op_counts(genotype: Genotype) -> dict[str, int]:
    """{"conv", "pool", "skip"}: how many ops of each family the normal cell has."""
    ops = [op for op, _ in genotype.normal]
    return {
        "conv": sum("conv" in op for op in ops),
        "pool": sum("pool" in op for op in ops),
        "skip": ops.count("skip_connect"),
    }


def structure_rows(cells: list[Genotype], accs: list[float]) -> list[dict]:
    """The normal cell's parameterised (conv) ops as a score (not a proxy: what a ranking fitted
    to it could reach; its skip ops, negated, are the `noskip` score above)."""
    counts = {"conv ops (normal cell)": [op_counts(g)["conv"] for g in cells]}
    return [
        {
            "name": name,
            "kind": "structure",
            "kendall": kendall_tau_b(v, accs),
            "spearman": spearman(v, accs),
            "hits": top_hits(v, accs),
        }
        for name, v in counts.items()
    ]


def verdict(rows: list[dict], default: tuple[str, ...], combine: str) -> str:
    """Which combination ranks best (Kendall tau; the default wins a tie), and whether the
    default (`zero_cost.proxies` combined by `zero_cost.combine`) is that one."""

    def tau(row: dict) -> float:
        return -math.inf if math.isnan(row["kendall"]) else row["kendall"]

    default_name = f"{combine}({', '.join(default)})"
    combos = [r for r in rows if r["kind"] == "combination"]
    best = max(combos, key=lambda r: (tau(r), r["name"] == default_name))
    text = (
        f"Best combination by Kendall tau: `{best['name']}` (tau {best['kendall']:.3f}); "
        f"the default (`zero_cost.proxies` = {','.join(default)}, `zero_cost.combine` = "
        f"{combine}) "
    )
    if best["name"] == default_name:
        text += "is that one: the default combination follows this table."
    else:
        own = next(r["kendall"] for r in combos if r["name"] == default_name)
        text += (
            f"is not (tau {own:.3f}): to follow this table the default becomes `{best['name']}`."
        )
    single = max((r for r in rows if r["kind"] != "combination"), key=tau)
    if tau(single) > tau(best):
        text += (
            f" A single score ranks better than every combination: `{single['name']}` "
            f"(tau {single['kendall']:.3f})."
        )
    return text


def schedule_check(results: Results, epochs: int, full: int, k: int) -> dict | None:
    """Short vs full schedule accuracies of the first k cells (None: not trained)."""
    indices = [i for i in range(k) if results.has(i, epochs) and results.has(i, full)]
    if k <= 0 or full == epochs or len(indices) < 2:
        return None
    short, long_ = results.accs(epochs, indices), results.accs(full, indices)
    return {
        "cells": len(indices),
        "kendall": kendall_tau_b(short, long_),
        "spearman": spearman(short, long_),
        "short_mean": sum(short) / len(short),
        "full_mean": sum(long_) / len(long_),
    }


# -- report ------------------------------------------------------------------------------------
def render(run: dict, rows: list[dict], check: dict | None) -> str:
    """The markdown section: settings, the correlation table, the verdict, the schedule check."""
    cfg: SearchConfig = run["cfg"]
    net = cfg.network
    lines = [
        f"Machine: {machine()}; {run['workers']} training(s) at a time, one torch thread "
        f"each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the "
        "end.",
        f"Repeat: `{run['command']}`.",
        "",
        f"{run['cells']} random cells of the default space (C={net.C}, {net.layers} cells, "
        f"{net.nodes} nodes, skip cap {net.skip_cap}; the first cells the zero-cost "
        f"strategy scores with seed {cfg.seed}) on `{run['dataset']}` ({cfg.crops.size} px "
        f"crops, {run['train_crops']} train / {run['val_crops']} held-out, "
        f"{run['classes']} classes). Proxies on the zero-cost strategy's minibatches "
        f"({cfg.zero_cost.zico_batches} x {cfg.zero_cost.batch_size} crops of the "
        f"search-train half), {run['score_s'] / run['cells']:.2f} s per cell. Trained as "
        f"the report trains a random cell (whole proxy train split, batch "
        f"{cfg.child.batch_size}, lr {cfg.child.learning_rate} cosine, {cfg.child.optimizer}, its "
        f"seeds) for {run['epochs']} epoch(s) (the report: up to {cfg.report.epochs}), "
        f"{run['train_s']:.1f} s per "
        f"cell; accuracy on the held-out split (mean {run['acc_mean']:.3f}, range "
        f"{run['acc_min']:.3f}-{run['acc_max']:.3f}); "
        + (
            f"trainings took {run['wall_s'] / 60:.1f} min of wall time."
            if run["trained"]
            else "accuracies read from the bench home's results file (trained by an earlier "
            "run of this command)."
        ),
        "",
        table(
            ["score", "kind", "Kendall tau-b", "Spearman rho", f"top-{TOP} in true top-{TRUE_TOP}"],
            [
                [
                    f"`{r['name']}`",
                    r["kind"],
                    f"{r['kendall']:.3f}",
                    f"{r['spearman']:.3f}",
                    f"{r['hits']}/{min(TOP, run['cells'])}",
                ]
                for r in rows
            ],
        ),
        "",
        verdict(rows, cfg.zero_cost.proxies, cfg.zero_cost.combine),
        "",
    ]
    if check is not None:
        lines += [
            f"Schedule check: the first {check['cells']} cells also trained with the "
            f"report's {cfg.report.epochs} epochs; Kendall tau-b between the "
            f"{run['epochs']}-epoch and the {cfg.report.epochs}-epoch accuracies "
            f"{check['kendall']:.3f}, Spearman {check['spearman']:.3f} (mean accuracy "
            f"{check['short_mean']:.3f} vs {check['full_mean']:.3f}).",
            "",
        ]
    return "\n".join(lines)


# -- the run -----------------------------------------------------------------------------------
PROBE_CELLS = 3  # cells trained one epoch each to time an epoch


def probe_epoch_s(task: ProxyTask, cells: list[Genotype], results: Results) -> float:
    """Measured seconds of one epoch (and the evaluation) of a cell, the mean over the first
    PROBE_CELLS cells trained one epoch each in this process (kept as 1-epoch results)."""
    jobs = [(i, g, 1) for i, g in enumerate(cells[:PROBE_CELLS]) if not results.has(i, 1)]
    train_all(task, jobs, 1, results.add)
    seconds = results.seconds(1)[:PROBE_CELLS]
    return sum(seconds) / len(seconds)


def choose_epochs(args: argparse.Namespace, epoch_s: float, score_s: float, full: int) -> int:
    """--epochs, or the most epochs (at most the report's) that fit --minutes."""
    if args.epochs is not None:
        return args.epochs
    room = max(0.0, 60.0 * args.minutes - score_s) * args.workers / args.cells
    return max(1, min(full, int(room // epoch_s)))


def plan_text(args: argparse.Namespace, epochs: int, full: int, epoch_s: float) -> str:
    short = args.cells * epochs * epoch_s / args.workers
    text = (
        f"one epoch measured at {epoch_s:.1f} s (one thread, alone): {args.cells} cells x "
        f"{epochs} epoch(s) / {args.workers} at a time = about {short / 60:.1f} min"
    )
    if args.check_schedule and full != epochs:
        extra = min(args.check_schedule, args.cells) * full * epoch_s / args.workers
        text += (
            f", plus the schedule check ({min(args.check_schedule, args.cells)} cells x "
            f"{full} epochs) about {extra / 60:.1f} min"
        )
    return text + " (parallel trainings may each run slower on a busy machine)"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--home",
        default="/tmp/nasdet-bench-search",
        help="bench home (bench/search.py's: its dataset is reused)",
    )
    p.add_argument("--images", type=int, default=1000, help="images of a generated dataset")
    p.add_argument("--cells", type=int, default=40, help="random cells scored and trained")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--image-size",
        type=int,
        default=FAST_IMAGE_SIZE,
        help="proxy crop side (16: the --fast crops; 32: the search default)",
    )
    p.add_argument("--epochs", type=int, help="short schedule (default: what fits --minutes)")
    p.add_argument(
        "--minutes",
        type=float,
        default=12.0,
        help="time for the short-schedule trainings when --epochs is not given",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="trainings at once, one process and one torch thread each",
    )
    p.add_argument(
        "--check-schedule",
        type=int,
        default=0,
        metavar="K",
        help="also train the first K cells with the report's full schedule",
    )
    p.add_argument("--no-write", action="store_true", help="do not touch docs/BENCHMARKS.md")
    args = p.parse_args()
    if args.cells < 2 or args.workers < 1 or (args.epochs is not None and args.epochs < 1):
        p.error("--cells must be >= 2, --workers and --epochs >= 1")
    return args


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    task = load_task(args.home, args.images, args.seed, args.image_size)
    cfg, full = task.cfg, task.cfg.report.epochs
    cells = sample_cells(cfg, args.cells)
    t0 = time.perf_counter()
    scored = score_cells(task, cells)
    score_s = time.perf_counter() - t0
    print(f"scored {len(cells)} cells in {score_s:.1f} s", flush=True)
    results = Results(
        Path(args.home) / f"bench_proxies_seed{cfg.seed}_{cfg.crops.size}px.json", cells
    )
    epoch_s = probe_epoch_s(task, cells, results)
    epochs = choose_epochs(args, epoch_s, score_s, full)
    print(plan_text(args, epochs, full, epoch_s), flush=True)
    jobs = [(i, g, epochs) for i, g in enumerate(cells) if not results.has(i, epochs)]
    jobs += [
        (i, g, full)
        for i, g in enumerate(cells[: args.check_schedule])
        if full != epochs and not results.has(i, full)
    ]

    def done(index: int, e: int, stats: dict[str, float]) -> None:
        results.add(index, e, stats)
        print(
            f"cell {index} ({e} epochs): val acc {stats['val_acc']:.3f} in "
            f"{stats['seconds']:.1f} s",
            flush=True,
        )

    t1 = time.perf_counter()
    train_all(task, jobs, args.workers, done)
    accs = results.accs(epochs, range(len(cells)))
    rows = correlation_rows(scored, accs, cfg.zero_cost.proxies) + structure_rows(cells, accs)
    run = {
        "cfg": cfg,
        "cells": len(cells),
        "epochs": epochs,
        "workers": args.workers,
        "dataset": cfg.dataset,
        "train_crops": len(task.data.train_y),
        "val_crops": len(task.data.val_y),
        "classes": task.data.num_classes,
        "score_s": score_s,
        "train_s": sum(results.seconds(epochs)) / len(cells),
        "wall_s": time.perf_counter() - t1,
        "trained": len(jobs),
        "acc_mean": sum(accs) / len(accs),
        "acc_min": min(accs),
        "acc_max": max(accs),
        "command": command_line("bench/proxies.py"),
    }
    text = render(run, rows, schedule_check(results, epochs, full, args.check_schedule))
    print(text, flush=True)
    if not args.no_write:
        write_section("proxies", text)


if __name__ == "__main__":
    main()
