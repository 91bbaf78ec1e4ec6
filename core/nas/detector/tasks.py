"""Job kind `search.detector` (`python -m core search --level detector`): search the whole
detector - backbone, input size, BiFPN width and depth, head depth - by training it on the
dataset, scored by val AP50 and by latency on the job's device.

Validation runs at submit time in the CLI/GUI process, so only the light checks are imported here
(core.nas.detector.config: no torch); the run is named, and imported when a worker runs the job:
core.nas.detector.study.run_detector_search.
"""

from __future__ import annotations

from core.engine.jobs import TaskDef, run_by_name
from core.nas.detector.config import resolve_detector_search, validate_detector_search

SEARCH_DETECTOR = TaskDef(
    run=run_by_name("core.nas.detector.study:run_detector_search"),
    validate=validate_detector_search,
    resolve=resolve_detector_search,
)
