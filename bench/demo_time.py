"""How long the Guided demo takes with a demo preset (issue 7: "about 15 minutes" on 2 cores).

Runs the jobs the Guided demo tab submits, with the same specs (assets/presets.json), one after
the other in this process as a worker would: the first-start dataset, the search, then a train
job on the searched cell (`nas:<search job>`). Prints and records each step's wall time, the
searched-vs-random margin and the detector's val AP50.

    .venv/bin/python bench/demo_time.py [--preset default] [--threads 2] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import machine, table, write_section  # noqa: E402
from bench.train_quick import run  # noqa: E402
from core.engine.store import Store  # noqa: E402

PRESETS = Path(__file__).resolve().parents[1] / "assets" / "presets.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    presets = json.loads(PRESETS.read_text())
    demo = presets["demo"][args.preset]
    store = Store(tempfile.mkdtemp(prefix="demo_time_"))
    dataset = dict(demo.get("first_start_dataset") or presets["first_start_dataset"],
                   name=demo["dataset"])
    steps = []

    def timed(name: str, kind: str, spec: dict) -> dict:
        started = time.monotonic()
        job = run(store, kind, spec)
        steps.append([name, f"{time.monotonic() - started:.0f}"])
        print(f"{name}: {steps[-1][1]} s", flush=True)
        return job

    timed("dataset (first start)", "dataset.generate", dataset)
    search = timed("search + final report", "search", dict(demo["search"], dataset=demo["dataset"]))
    train = timed("train on the searched cell", "train",
                  dict(demo["train"], dataset=demo["dataset"], backbone=f"nas:{search['id']}"))
    total = sum(float(s[1]) for s in steps)
    steps.append(["**total**", f"**{total:.0f}** ({total / 60:.1f} min)"])
    report = search["result"]
    body = (f"## Guided demo duration (bench/demo_time.py)\n\n"
            f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end.\n"
            f"Repeat: `.venv/bin/python bench/demo_time.py --preset {args.preset}`. The jobs the "
            f"Guided demo submits with the `{args.preset}` preset ({demo.get('about', '')}), run "
            "one after the other as the worker runs them.\n\n"
            + table(["step", "wall s"], steps)
            + f"\n\nSearched cell {report['searched']['mean']:.3f} vs random "
              f"{report['random']['mean']:.3f} proxy accuracy (margin {report['margin']:+.3f}); "
              f"detector val AP50 {train['result']['AP50']:.3f} after "
              f"{train['result']['epochs']} epochs.\n")
    print(body)
    if not args.no_write:
        write_section(f"demo_{args.preset}", body)


if __name__ == "__main__":
    main()
