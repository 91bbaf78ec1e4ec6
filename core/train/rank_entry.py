"""One rank of a data-parallel train job, as torchrun starts it (core.train.distributed.launch):

    python -m torch.distributed.run --nproc-per-node N -m core.train.rank_entry JOB_ID \\
        --home HOME --device cpu|cuda

Every rank reads the job's spec from the store, joins the process group
(core.train.distributed.ddp.setup) and runs the same Trainer; rank 0 alone writes (metrics, events,
progress, checkpoints, files, the model row and the job's result), the others only read. torchrun's
`@record` writes an exception's message to the rank's error file, which the launcher turns into the
job's error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import record

from core.engine.jobs import run_dir
from core.engine.store import Store
from core.engine.worker import LOG_FORMAT
from core.train.distributed.ddp import LR_RULE, scaled_lr, setup, teardown
from core.train.distributed.reporting import rank_reporter
from core.train.job import train_job
from core.train.presets import build_config

log = logging.getLogger(__name__)


def describe(ctx, config) -> str:
    """The job's log line about the data-parallel set-up (the lr scaling rule said)."""
    lr = config.effective_lr
    norm = (
        "per-process BatchNorm (sync_bn off)"
        if not config.sync_bn
        else "SyncBatchNorm (torch)"
        if ctx.device_type == "cuda"
        else "SyncBatchNorm (core.train.distributed.syncbn, gloo)"
    )
    return (
        f"data-parallel training on {ctx.world_size} processes ({ctx.backend}, "
        f"{config.nnodes} node(s)): per-process batch {config.batch_size}, global batch "
        f"{config.batch_size * ctx.world_size}; lr scaled x {ctx.world_size} ({LR_RULE}): "
        f"{lr:.3g} -> {scaled_lr(lr, ctx.world_size):.3g}; {norm}; rank seeds "
        f"{config.seed} + rank"
    )


def run_rank(ctx, job_id: int, home: str | None) -> dict:
    """Train this rank's part of job `job_id`; rank 0 stores and returns the result."""
    store = Store(home)
    job = store.get_job(job_id, reconcile=False)
    folder = Path(run_dir(store, job_id))
    reporter = rank_reporter(ctx.is_main, store, job, folder, ctx.device)
    handler = None
    if ctx.is_main:  # rank 0's lines join the worker's in runs/<id>/log.txt
        handler = logging.FileHandler(folder / "log.txt", encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(handler)
    try:
        reporter.info(describe(ctx, build_config(job["spec"])))
        result = train_job(job["spec"], reporter, dist=ctx)
        if ctx.is_main:
            reporter.flush()
            store.set_result(job_id, result)
        return result
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        store.close()


@record
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.rank_entry")
    parser.add_argument("job_id", type=int)
    parser.add_argument("--home", help="the job's home folder (shared by every node)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    ctx = setup(args.device)
    try:
        run_rank(ctx, args.job_id, args.home)
    finally:
        teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
