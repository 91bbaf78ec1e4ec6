"""Which training recipe of the discrete networks lets a short search-time training rank cells as
the final report does? (The evidence behind `SearchConfig.child.optimizer`'s default.)

Samples N random cells of the default space (C=8, 5 cells, 4 nodes, skip cap 2) and trains each
twice per recipe, as a search candidate would be trained (`--child-epochs` on the search-train
half, scored on the search-val half) and as the final report trains it (`--report-epochs` on the
whole proxy train split, scored on the held-out val split), with the crops of the demo's search
(shapes-demo, 16 px, at most 150 objects per class). Prints, per recipe: the mean accuracies,
Kendall tau-b between the two, and a simulated demo report: the best-scored of 5 candidates
against the mean of 2 other cells, over 2,000 draws (P(margin > 0) and the mean margin).

Run: `.venv/bin/python bench/net_recipe.py [--home DIR] [--cells 12] [--recipes adam,sgd]`
(about 4 minutes per recipe at 12 cells on 2 cores; the home needs the shapes-demo dataset,
generated there if missing). Prints only; docs/BENCHMARKS.md quotes the run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from bench.common import DEMO_DATASET, ensure_demo_dataset  # noqa: E402
from bench.proxies import kendall_tau_b  # noqa: E402
from core.engine.store import Store  # noqa: E402
from core.nas.config_groups import NET_LR  # noqa: E402
from core.nas.network import CifarNetwork  # noqa: E402
from core.nas.proxy_training import TrainSettings, load_raw, prepare, train_and_score  # noqa: E402
from core.nas.space import sample_genotype  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", type=Path, default=Path("/tmp/nasdet-bench-recipe"))
    p.add_argument("--cells", type=int, default=12)
    p.add_argument("--recipes", default="adam,sgd")
    p.add_argument("--child-epochs", type=int, default=3)
    p.add_argument("--report-epochs", type=int, default=6)
    args = p.parse_args()
    torch.set_num_threads(2)
    store = Store(args.home)
    ensure_demo_dataset(store)
    data = prepare(load_raw(store, DEMO_DATASET, None, 16, 0.2, 0, 150), 16, 0.5, 0)
    rng = random.Random(11)
    cells = [sample_genotype(rng, 4, 2) for _ in range(args.cells)]
    for recipe in args.recipes.split(","):
        t0, search, report = time.time(), [], []
        for i, genotype in enumerate(cells):
            for split, epochs, seed in (
                ("search", args.child_epochs, 5 * i),
                ("report", args.report_epochs, 5 * i + 1),
            ):
                torch.manual_seed(seed)
                net = CifarNetwork(8, len(data.classes), 5, False, genotype)
                settings = TrainSettings(epochs, 32, NET_LR[recipe], optimizer=recipe)
                train, val = (
                    (
                        (data.search_train_x, data.search_train_y),
                        (data.search_val_x, data.search_val_y),
                    )
                    if split == "search"
                    else ((data.train_x, data.train_y), (data.val_x, data.val_y))
                )
                acc = train_and_score(net, train, val, settings, seed=seed)["val_acc"]
                (search if split == "search" else report).append(acc)
        draws, margins = random.Random(0), []
        for _ in range(2000):
            idx = draws.sample(range(len(cells)), 7)
            pick = max(idx[:5], key=lambda j: search[j])
            margins.append(report[pick] - statistics.fmean(report[j] for j in idx[5:]))
        print(
            f"{recipe} lr {NET_LR[recipe]}: {time.time() - t0:.0f} s; search-time mean "
            f"{statistics.fmean(search):.3f}, report mean {statistics.fmean(report):.3f} "
            f"(sd {statistics.stdev(report):.3f}); Kendall tau "
            f"{kendall_tau_b(search, report):.2f}; simulated demo report: P(margin > 0) "
            f"{sum(m > 0 for m in margins) / len(margins):.2f}, mean margin "
            f"{statistics.fmean(margins):+.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
