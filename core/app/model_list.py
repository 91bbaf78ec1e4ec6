"""Every stored detector side by side: what the Models tab and `python -m core models list` show.

One row per model: its name and a title that says what it is ("EfficientDet-tiny on the
searched cell of search 5, shapes-demo, 15 epochs"), where it came from (the Guided demo, a
training, a detector search's pick, an import), its architecture (backbone, input size, BiFPN
width and depth, head depth), parameters, AP50 and AP on its dataset's val split, latency at
batch 1 (measured once when it was stored, on the device of its job: core.det.latency), its
training time and date. `pareto_names` marks the models no other model of the same dataset
beats on both AP50 and latency. Only reads the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.engine.queries import find_job
from core.engine.store import Store

COLUMNS = (
    "name", "title", "origin", "dataset", "backbone", "image_size", "fpn_channels",
    "fpn_cell_repeats", "box_class_repeats", "params", "AP50", "AP", "latency_ms",
    "latency_device", "train_seconds", "created_at", "job_id",
)  # fmt: skip
ORIGIN_WORDS = {
    "demo": "Guided demo",
    "train": "training",
    "search.detector": "detector search pick",
    "import": "imported",
}


def origin(row: Mapping[str, Any], job: Mapping[str, Any] | None) -> str:
    """demo, train, search.detector or import (see ORIGIN_WORDS)."""
    config = row.get("config") or {}
    if config.get("origin"):
        return str(config["origin"])
    if row.get("kind") != "trained":
        return "import"
    return "demo" if (job or {}).get("origin") == "demo" else "train"


def det_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The detector's architecture: nested under "det_config" (trained models), or the config
    itself (models imported from effdet weights)."""
    if isinstance(config.get("det_config"), Mapping):
        return config["det_config"]
    return config if "backbone_name" in config else {}


def backbone_words(config: Mapping[str, Any]) -> str:
    """The backbone in words: "searched cell of search 5", "published cell DARTS_V2", or the
    timm name of an EfficientNet/MobileNet backbone."""
    record = config.get("backbone") or {}
    if record.get("kind") == "nas":
        spec = str(record.get("spec") or "")
        value = spec.partition(":")[2]
        if value.isdigit():
            return f"searched cell of search {value}"
        return f"published cell {value}" if value else "searched cell"
    train = config.get("train") or {}
    det = det_config(config)
    return str(train.get("backbone") or det.get("backbone_name") or "an unrecorded backbone")


def title(row: Mapping[str, Any], dataset: str | None, epochs: int | None = None) -> str:
    """What the model is, in words: "EfficientDet-tiny on the searched cell of search 5,
    shapes-demo, 15 epochs" (`epochs`: those trained, when a time budget ended the job before
    its spec's epochs)."""
    config = row.get("config") or {}
    det = det_config(config)
    name = str(det.get("name") or "detector")
    family = name.replace("tf_", "").replace("efficientdet_", "EfficientDet-")
    parts = [f"{family} on {backbone_words(config)}"]
    if dataset:
        parts.append(dataset)
    epochs = epochs or (config.get("train") or {}).get("epochs")
    if epochs:
        parts.append(f"{epochs} epoch{'s' * (int(epochs) != 1)}")
    return ", ".join(parts)


def _size(det: Mapping[str, Any]) -> str | None:
    size = det.get("image_size")
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return f"{size[1]}x{size[0]}" if size[0] != size[1] else str(size[0])
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def model_row(store: Store, row: Mapping[str, Any]) -> dict[str, Any]:
    """One stored model as the table shows it (COLUMNS; None where it was not recorded)."""
    config = row.get("config") or {}
    det = det_config(config)
    metrics = row.get("metrics") or {}
    job = find_job(store, row.get("job_id"))
    result = (job or {}).get("result") or {}
    dataset = (config.get("train") or {}).get("dataset") or ((job or {}).get("spec") or {}).get(
        "dataset"
    )
    latency = config.get("latency") or {}
    return {
        "name": row["name"],
        "title": title(row, dataset, result.get("epochs")),
        "origin": origin(row, job),
        "dataset": dataset,
        "backbone": backbone_words(config),
        "image_size": _size(det),
        "fpn_channels": det.get("fpn_channels"),
        "fpn_cell_repeats": det.get("fpn_cell_repeats"),
        "box_class_repeats": det.get("box_class_repeats"),
        "params": config.get("params") or metrics.get("params"),
        "AP50": _number(metrics.get("AP50")),
        "AP": _number(metrics.get("AP")),
        "latency_ms": _number(latency.get("ms")),
        "latency_device": latency.get("device"),
        "train_seconds": _number(result.get("train_seconds")),
        "created_at": row.get("created_at"),
        "job_id": row.get("job_id"),
    }


def model_table(store: Store, dataset: str | None = None) -> list[dict[str, Any]]:
    """Every stored model (of `dataset` when given), the most accurate first; a model without
    an AP50 last; between equals the faster one first."""
    rows = [model_row(store, r) for r in store.list_models()]
    if dataset:
        rows = [r for r in rows if r["dataset"] == dataset]
    return sorted(
        rows,
        key=lambda r: (
            r["AP50"] is None,
            -(r["AP50"] or 0.0),
            r["latency_ms"] is None,
            r["latency_ms"] or 0.0,
            r["name"],
        ),
    )


def dominates(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """a is at least as accurate (AP50) and as fast (latency) as b, and better in one."""
    return (
        a["AP50"] >= b["AP50"]
        and a["latency_ms"] <= b["latency_ms"]
        and (a["AP50"] > b["AP50"] or a["latency_ms"] < b["latency_ms"])
    )


def pareto_names(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The models no other model beats on both AP50 and latency, fastest first; models without
    either figure are not on the front (nor do they push anything off it)."""
    pool = [r for r in rows if r["AP50"] is not None and r["latency_ms"] is not None]
    front = [r for r in pool if not any(dominates(q, r) for q in pool)]
    return [r["name"] for r in sorted(front, key=lambda r: (r["latency_ms"], -r["AP50"]))]
