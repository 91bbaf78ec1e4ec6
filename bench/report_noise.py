"""How much does a short final report measure? Random cells trained twice with a report's
schedule (two seeds) and once as a zero-cost top-k child, against the proxies and op counts.

Run: `.venv/bin/python bench/report_noise.py [--home DIR] [--cells 16] [--epochs 4]
[--image-size 32]`. The cells are the first ones the zero-cost strategy scores with seed 0
(bench/proxies.py `sample_cells`), on bench/search.py's dataset; two trainings run at a time,
one torch thread each. Prints Kendall tau-b of each quantity against the mean of the two report
accuracies (the second seed's tau is the report's repeatability) and writes the per-cell rows to
<home>/report_noise_<cells>_<epochs>.json. Not written into docs/BENCHMARKS.md automatically.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.proxies import (
    _init_worker,
    _train,
    kendall_tau_b,
    load_task,  # noqa: E402
    op_counts,
    sample_cells,
    score_cells,
)
from core.nas.search_context import SearchContext  # noqa: E402
from core.nas.trials import Trial  # noqa: E402

QUANTITIES = (
    "synflow",
    "naswot",
    "zico",
    "params",
    "skip",
    "pool",
    "conv",
    "child",
    "-childloss",
    "report_b",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", default="/tmp/nasdet-bench-budgets")
    p.add_argument("--cells", type=int, default=16)
    p.add_argument("--epochs", type=int, default=4, help="the report's schedule (2-min job: 4)")
    p.add_argument("--image-size", type=int, default=32)
    a = p.parse_args()
    task = load_task(a.home, 1000, 0, a.image_size)
    cfg = task.cfg
    cells = sample_cells(cfg, a.cells)
    scores = score_cells(task, cells)
    runs = (
        ("report_a", a.epochs, 1000, "report"),
        ("report_b", a.epochs, 5000, "report"),
        ("child", cfg.child.epochs, 9000, "search"),
    )
    jobs = {
        (i, name): Trial(
            g.to_dict(),
            cfg.network.C,
            task.data.num_classes,
            cfg.network.layers,
            SearchContext.train_settings(task, epochs),
            seed + i,
            split,
            None,
            "cpu",
            1,
        )
        for i, g in enumerate(cells)
        for name, epochs, seed, split in runs
    }
    done: dict = {}
    with ProcessPoolExecutor(
        2, multiprocessing.get_context("spawn"), _init_worker, (task.data,)
    ) as pool:
        futures = {pool.submit(_train, trial): key for key, trial in jobs.items()}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            print(futures[future], round(done[futures[future]]["val_acc"], 3), flush=True)
    rows = []
    for i, g in enumerate(cells):
        rows.append(
            {
                "cell": i,
                **scores[i],
                **op_counts(g),
                "report_a": done[(i, "report_a")]["val_acc"],
                "report_b": done[(i, "report_b")]["val_acc"],
                "child": done[(i, "child")]["val_acc"],
                "-childloss": -done[(i, "child")]["loss"],
                "genotype": g.to_dict(),
            }
        )
    out = Path(a.home) / f"report_noise_{a.cells}_{a.epochs}.json"
    out.write_text(json.dumps(rows, indent=1))
    truth = [(r["report_a"] + r["report_b"]) / 2 for r in rows]
    print(
        f"\nreport accuracy (mean of 2 seeds): {min(truth):.3f}-{max(truth):.3f}, "
        f"mean {sum(truth) / len(truth):.3f}; child {min(r['child'] for r in rows):.3f}-"
        f"{max(r['child'] for r in rows):.3f}"
    )
    print("| quantity | Kendall tau-b vs the report mean |\n|---|---|")
    for q in QUANTITIES:
        against = [r["report_a"] for r in rows] if q == "report_b" else truth
        print(f"| {q} | {kendall_tau_b([r[q] for r in rows], against):+.3f} |")
    print(f"rows: {out}")


if __name__ == "__main__":
    main()
