"""Job kind `search.detector` (`python -m core search --level detector`): search the whole
detector - backbone, input size, BiFPN width and depth, head depth - by training it on the
dataset, scored by val AP50 and by latency on the job's device (core.nas.detector.study).

Module top stays light: `validate` and `resolve` run at submit time in the CLI/GUI process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.engine.jobs import TaskDef
from core.nas.detector.config import (
    DetectorSearchConfig,
    resolve_detector_search,
    validate_detector_search,
)

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter


def run_detector_search(spec: dict, reporter: Reporter) -> dict:
    """The SEARCH_DETECTOR task; `threads` applies to this job only."""
    import torch

    from core.nas.detector.study import DetectorSearch

    cfg = DetectorSearchConfig.from_spec(spec)
    threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return DetectorSearch(cfg, reporter).run()
    finally:
        torch.set_num_threads(threads)


SEARCH_DETECTOR = TaskDef(
    run=run_detector_search, validate=validate_detector_search, resolve=resolve_detector_search
)
