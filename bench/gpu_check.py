"""GPU check: train D0 at 512 with AMP for N steps, ours beside effdet 0.4.1.

Reports images/s and peak GPU memory for both on the same GPU (same weights, same batches,
SGD momentum 0.9, bf16 autocast where supported else fp16 + GradScaler, channels_last), and
writes the table to docs/BENCHMARKS.md (section gpu). One short script; exits 2 without a GPU.

    .venv/bin/python bench/gpu_check.py [--steps 200] [--batch-size 16] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import machine, table, write_section  # noqa: E402

NAME, SIZE, NUM_CLASSES = "efficientdet_d0", 512, 90
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def batches(batch: int, count: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(count):
        images = torch.rand(batch, 3, SIZE, SIZE, generator=g)
        targets = []
        for _ in range(batch):
            xy = torch.rand(8, 2, generator=g) * 400
            wh = 16 + torch.rand(8, 2, generator=g) * 100
            targets.append(
                {
                    "boxes": torch.cat([xy, xy + wh], 1).to(device),
                    "labels": torch.randint(0, NUM_CLASSES, (8,), generator=g).to(device),
                }
            )
        out.append((images.to(device), targets))
    return out


def amp_dtype() -> torch.dtype:
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def run(step_fn, params, data, steps: int, device: torch.device) -> tuple[float, float]:
    """(images/s over steps after 10 warm-up steps, peak memory GiB)."""
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    dtype = amp_dtype()
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    torch.cuda.reset_peak_memory_stats(device)
    start = None
    for i in range(steps + 10):
        if i == 10:
            torch.cuda.synchronize(device)
            start = time.perf_counter()
        images, targets = data[i % len(data)]
        with torch.autocast("cuda", dtype=dtype):
            loss = step_fn(images, targets)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return steps * data[0][0].shape[0] / elapsed, torch.cuda.max_memory_allocated(device) / 2**30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing measured", file=sys.stderr)
        return 2
    import effdet

    from core.det.bench import DetectionBench
    from core.det.effdet_import import import_effdet

    device = torch.device("cuda")
    torch.manual_seed(0)
    theirs = effdet.create_model(NAME, pretrained=False, pretrained_backbone=False)
    ours = DetectionBench(import_effdet(theirs.state_dict(), NAME)).to(device).train()
    ours = ours.to(memory_format=torch.channels_last)
    train_bench = effdet.DetBenchTrain(theirs, create_labeler=True).to(device).train()
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    data = batches(args.batch_size, 4, device)

    def ours_step(images, targets):
        return ours.loss(images.contiguous(memory_format=torch.channels_last), targets)["loss"]

    def theirs_step(images, targets):
        bbox = torch.stack([t["boxes"][:, [1, 0, 3, 2]] for t in targets])
        cls = torch.stack([t["labels"] + 1 for t in targets]).float()
        return train_bench((images - mean) / std, {"bbox": bbox, "cls": cls})["loss"]

    ips_ours, mem_ours = run(ours_step, ours.parameters(), data, args.steps, device)
    ips_theirs, mem_theirs = run(theirs_step, train_bench.parameters(), data, args.steps, device)
    rows = [
        ["ours", f"{ips_ours:.1f}", f"{mem_ours:.2f}"],
        ["effdet 0.4.1", f"{ips_theirs:.1f}", f"{mem_theirs:.2f}"],
        ["ours / effdet", f"{ips_ours / ips_theirs:.2f}", f"{mem_ours / mem_theirs:.2f}"],
    ]
    text = table(
        [
            "D0 512 train, AMP " + str(amp_dtype()).removeprefix("torch."),
            "images/s",
            "peak memory GiB",
        ],
        rows,
    )
    print(text)
    if not args.no_write:
        write_section(
            "gpu",
            "\n".join(
                [
                    "## GPU (bench/gpu_check.py)",
                    "",
                    f"Machine: {machine()}, {torch.cuda.get_device_name(0)}; "
                    f"batch {args.batch_size}, {args.steps} steps after 10 warm-up.",
                    "Repeat: `.venv/bin/python bench/gpu_check.py`.",
                    "",
                    text,
                ]
            ),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
