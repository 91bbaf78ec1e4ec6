"""Job kind `search` (SEARCH): its checks at submit and the plan line; the run is
core.nas.search_job.run_search, named here and imported by the worker that runs the job.

At submit the spec is checked (types, ranges, the dataset or proxy file), and a budget the plan
finds too short for the strategy on a CPU (core.nas.planning's cost model) is refused. Nothing
here loads torch: `validate` and `resolve` run in the CLI/GUI process.
"""

from __future__ import annotations

from pathlib import Path

from core.engine.jobs import TaskDef, run_by_name
from core.errors import NotFoundError, SpecError
from core.nas.config import SearchConfig
from core.nas.planning import TOO_SHORT, crops_estimate, plan
from core.spec_values import did_you_mean

GPU_DEVICES = ("cuda", "mps")  # the submit-time cost model is a CPU's: not checked on these


def validate_search(spec: dict) -> dict:
    """Fill defaults and check types/ranges (SpecError); returns the normalised spec."""
    return SearchConfig.from_spec(spec).to_spec()


def resolve_search(spec: dict, store, device: str = "auto") -> None:
    """At submit: the dataset exists in the store (or the proxy file on disk); SpecError if not."""
    if spec.get("dataset"):
        names = [row["name"] for row in store.list_datasets()]
        if spec["dataset"] not in names:
            raise SpecError(
                f"search: dataset={spec['dataset']!r}: no such dataset"
                f"{did_you_mean(spec['dataset'], names)}; `python -m core data "
                "list` shows them"
            )
    elif spec.get("proxy_path") and not Path(store.resolve_path(spec["proxy_path"])).is_file():
        raise SpecError(f"search: proxy_path={spec['proxy_path']!r}: no such file")
    if not device.startswith(GPU_DEVICES):
        cfg = SearchConfig.from_spec(spec)
        estimated = plan(cfg, train_crops=crops_estimate(cfg, _dataset_row(store, cfg)))
        if estimated["mode"] == TOO_SHORT:
            raise SpecError(f"search: minutes={cfg.minutes:g}: {estimated['text']}")


def _dataset_row(store, cfg: SearchConfig) -> dict | None:
    """The store's row of the search's dataset (None: a proxy file, or no such dataset)."""
    if not cfg.dataset:
        return None
    try:
        return store.get_dataset(cfg.dataset)
    except NotFoundError:
        return None


SEARCH = TaskDef(
    run=run_by_name("core.nas.search_job:run_search"),
    validate=validate_search,
    resolve=resolve_search,
)


def plan_line(store, spec: dict) -> str:
    """The plan a search will follow, in one line, before it is queued (validates the spec:
    SpecError): what the CLI prints and the Search tab shows."""
    cfg = SearchConfig.from_spec(spec)
    resolve_search(cfg.to_spec(), store)
    return plan(cfg, train_crops=crops_estimate(cfg, _dataset_row(store, cfg)))["text"]
