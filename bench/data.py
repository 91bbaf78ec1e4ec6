"""Benchmark of core.data: generation speed (target: 2,000 images at 256 px in <= 30 s), the
shapes-demo default job size, import, training-pipeline throughput and NAS proxy build.

Run: `.venv/bin/python bench/data.py [--images 2000]` (writes its section of docs/BENCHMARKS.md).
All single process; wall and CPU seconds are both given because the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import machine, table, write_section  # noqa: E402
from core.data.crops import load_proxy  # noqa: E402
from core.data.dataset import DetectionDataset  # noqa: E402
from core.data.export import export_dataset  # noqa: E402
from core.data.generate import generate_dataset  # noqa: E402
from core.data.importers import import_dataset  # noqa: E402
from core.data.internal import commit_dataset, new_workdir  # noqa: E402
from core.data.spec import GENERATE_DEFAULTS  # noqa: E402
from core.engine.store import Store  # noqa: E402

GENERATION_TARGET_S = 30.0
DEMO_TARGET_S = 20.0


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def timed(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def generate(store: Store, name: str, kind: str, images: int, size: int):
    work = new_workdir(store.home, name)
    out, wall, cpu = timed(generate_dataset, work, kind, images, size, (1, 6), "medium", 0.2, 0)
    commit_dataset(store, work, name, kind, out["classes"])
    folder = store.home / "datasets" / name / "images"
    mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    return wall, cpu, mb


def pipeline_rate(store: Store, name: str, augment: bool, size: int, n: int) -> float:
    ds = DetectionDataset(store, name, "train", size, augment=augment)
    torch.manual_seed(0)
    _, wall, _ = timed(lambda: [ds[i % len(ds)] for i in range(n)])
    return n / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        wall, cpu, mb = generate(store, "shapes", "shapes", args.images, args.size)
        per_2000 = 2000 / args.images
        rows.append(
            [
                f"generate shapes, {args.images} x {args.size} px (medium)",
                f"{wall:.1f} s",
                f"{cpu:.1f} s",
                f"{args.images / wall:.0f} img/s; {mb / args.images * 1e3:.0f}"
                f" kB/img; target <= {GENERATION_TARGET_S:.0f} s for 2,000: wall "
                + _verdict(wall * per_2000 <= GENERATION_TARGET_S)
                + ", CPU "
                + _verdict(cpu * per_2000 <= GENERATION_TARGET_S),
            ]
        )
        n_glyphs = max(args.images // 4, 10)
        wall, cpu, _ = generate(store, "glyphs", "glyphs", n_glyphs, args.size)
        rows.append(
            [
                f"generate glyphs, {n_glyphs} x {args.size} px (medium)",
                f"{wall:.1f} s",
                f"{cpu:.1f} s",
                f"{n_glyphs / wall:.0f} img/s",
            ]
        )
        demo_n, demo_size = GENERATE_DEFAULTS["images"], GENERATE_DEFAULTS["size"][0]
        wall, cpu, _ = generate(store, "demo", "shapes", demo_n, demo_size)
        rows.append(
            [
                f"shapes-demo defaults ({demo_n} x {demo_size} px)",
                f"{wall:.1f} s",
                f"{cpu:.1f} s",
                f"target < {DEMO_TARGET_S:.0f} s: wall "
                + _verdict(wall < DEMO_TARGET_S)
                + ", CPU "
                + _verdict(cpu < DEMO_TARGET_S),
            ]
        )
        exported = export_dataset(store, "demo", Path(tmp) / "export-coco", "coco")
        work = Path(tmp) / "import-work"
        (work / "images").mkdir(parents=True)
        _, wall, cpu = timed(import_dataset, exported, work)
        rows.append(
            [
                f"import COCO ({demo_n} images, full decode check)",
                f"{wall:.1f} s",
                f"{cpu:.1f} s",
                f"{demo_n / wall:.0f} img/s",
            ]
        )
        for augment in (False, True):
            rate = pipeline_rate(store, "demo", augment, 512, 200)
            rows.append(
                [
                    f"DetectionDataset 512 px, augment={augment}, 1 process",
                    f"{1000 / rate:.1f} ms/img",
                    "",
                    f"{rate:.0f} img/s",
                ]
            )
        _, wall, cpu = timed(load_proxy, store, "shapes", 32, 0.2, 0)
        rows.append(
            [
                f"NAS proxy crops, 32 px ({args.images} images, first build)",
                f"{wall:.1f} s",
                f"{cpu:.1f} s",
                "cached afterwards",
            ]
        )
        _, wall, _ = timed(load_proxy, store, "shapes", 32, 0.2, 0)
        rows.append(["NAS proxy crops, cached load", f"{wall * 1000:.0f} ms", "", ""])
    out = table(["measure", "wall", "CPU", "note"], rows)
    print(out)
    load = os.getloadavg()[0]
    write_section(
        "data",
        f"## Data (bench/data.py)\n\nMachine: {machine()}; load average "
        f"{load:.1f} on {os.cpu_count()} cores while measuring (a shared machine "
        "inflates wall times; CPU time is this process only).\n"
        f"Repeat: `.venv/bin/python bench/data.py`.\n\n{out}\n\n"
        "Images are JPEG quality 95 (about 10x faster to encode than PNG and 3x "
        "smaller with the noise textures); boxes come from the drawn masks, not "
        "from the decoded JPEG.",
    )


if __name__ == "__main__":
    main()
