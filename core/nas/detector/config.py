"""The `search.detector` job spec (`python -m core search --level detector`): what to search, for
how long, against which latency target; its validation and, at submit, the backbones resolved.

`resolve_detector_search` fills `backbones` when not given: the cells found by the newest
succeeded cell searches on the same dataset (`nas:<job>`, at most `MAX_SEARCHED_CELLS`), the
published cells and the timm networks of core.nas.detector.space, so the job's spec says the
space it searched. Cheap to import (no torch): it runs at submit time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import SpecError
from core.nas.detector.space import (
    BOX_CLASS_REPEATS,
    FPN_CELL_REPEATS,
    FPN_CHANNELS,
    IMAGE_SIZES,
    SEARCH_PRESET,
    DetectorSpace,
    default_backbones,
)
from core.references import check_dataset, check_nas_backbone
from core.spec import dump, load, param
from core.spec_values import did_you_mean

KIND = "search.detector"
MAX_SEARCHED_CELLS = 3
SIZE_MULTIPLE = 128  # 2**max_level of EfficientDet's P3-P7
NAS_PREFIXES = ("nas:", "nas-file:", "nas-arch:")


@dataclass(frozen=True)
class DetectorSearchConfig:
    """A detector search: trials are trainings on `dataset`, judged at epoch rungs."""

    dataset: str = param(help="dataset name (`data list`)")
    minutes: float | None = param(
        10.0,
        gt=0,
        hi=100_000,
        help="wall-clock budget of the whole job: trials and the pick (null: no limit; then "
        "`trials` bounds it)",
    )
    trials: int | None = param(None, lo=1, hi=10_000, help="most trials (null: what fits)")
    target_ms: float | None = param(
        None,
        gt=0,
        hi=1e6,
        help="latency target, batch 1 on the job's device (null: the measured latency of the "
        f"{SEARCH_PRESET} detector, or of its nearest in the space)",
    )
    seed: int = param(0, lo=0, hi=2**31 - 1)
    epochs: int | None = param(
        None,
        lo=1,
        hi=1000,
        help="epochs of a complete trial, the top rung (null: planned from the measured epoch)",
    )
    min_epochs: int = param(1, lo=1, hi=1000, help="first rung: epochs before a trial is judged")
    reduction_factor: int = param(
        3, lo=2, hi=10, help="successive halving: about 1 in this many trials goes on at a rung"
    )
    startup_trials: int = param(
        4, lo=1, hi=1000, help="TPE: random trials before it samples from its model"
    )
    backbones: tuple[str, ...] | None = param(
        None,
        help="backbone choices: timm names, nas:NAME, nas:JOB_ID (null: this dataset's "
        "searched cells, nas:DARTS_V2, mobilenetv3_small_100, efficientnet_b0)",
    )
    image_sizes: tuple[int, ...] = param(
        IMAGE_SIZES, lo=SIZE_MULTIPLE, hi=2048, help="input sides (multiples of 128)"
    )
    fpn_channels: tuple[int, ...] = param(FPN_CHANNELS, lo=4, hi=512, help="BiFPN widths")
    fpn_cell_repeats: tuple[int, ...] = param(FPN_CELL_REPEATS, lo=1, hi=8, help="BiFPN depths")
    box_class_repeats: tuple[int, ...] = param(BOX_CLASS_REPEATS, lo=1, hi=8, help="head depths")
    threads: int | None = param(
        None, lo=1, hi=1024, help="torch CPU threads for this job (null: leave as is)"
    )

    def __post_init__(self) -> None:
        if self.minutes is None and self.trials is None:
            raise SpecError(f"{KIND}: give minutes or trials (or both): nothing else ends it")
        if self.epochs is not None and self.epochs < self.min_epochs:
            raise SpecError(
                f"{KIND}: epochs={self.epochs}: must be >= min_epochs ({self.min_epochs})"
            )
        for name in ("image_sizes", "fpn_channels", "fpn_cell_repeats", "box_class_repeats"):
            if not getattr(self, name):
                raise SpecError(f"{KIND}: {name}: give at least one value")
        odd = [s for s in self.image_sizes if s % SIZE_MULTIPLE]
        if odd:
            raise SpecError(
                f"{KIND}: image_sizes={odd[0]}: sides must be multiples of {SIZE_MULTIPLE}"
            )
        if self.backbones is not None:
            if not self.backbones:
                raise SpecError(f"{KIND}: backbones: give at least one, or null for the default")
            for name in self.backbones:
                if ":" in name and not name.startswith(NAS_PREFIXES):
                    raise SpecError(
                        f"{KIND}: backbones={name!r}: use a timm model name, nas:NAME, "
                        "nas:JOB_ID, nas-arch:ID or nas-file:PATH"
                    )

    @property
    def budget_s(self) -> float:
        """Seconds of the whole job (inf without minutes)."""
        return math.inf if self.minutes is None else 60.0 * self.minutes

    def space(self) -> DetectorSpace:
        """The space this job searches (`backbones` must be resolved)."""
        if self.backbones is None:
            raise SpecError(f"{KIND}: backbones are resolved at submit; none in this spec")
        return DetectorSpace(
            backbones=tuple(dict.fromkeys(self.backbones)),
            image_sizes=tuple(dict.fromkeys(self.image_sizes)),
            fpn_channels=tuple(dict.fromkeys(self.fpn_channels)),
            fpn_cell_repeats=tuple(dict.fromkeys(self.fpn_cell_repeats)),
            box_class_repeats=tuple(dict.fromkeys(self.box_class_repeats)),
        )

    @classmethod
    def from_spec(cls, spec: dict) -> DetectorSearchConfig:
        return load(cls, spec, what=KIND)

    def to_spec(self) -> dict:
        return dump(self)


def validate_detector_search(spec: dict) -> dict:
    """TaskDef.validate: the normalised spec with every default filled in (SpecError)."""
    return DetectorSearchConfig.from_spec(spec).to_spec()


def searched_cells(store, dataset: str, limit: int = MAX_SEARCHED_CELLS) -> tuple[str, ...]:
    """`nas:<job>` of the newest succeeded cell searches on `dataset` that saved a cell."""
    out = []
    for job in store.list_jobs(status="succeeded", kind="search"):
        if (job.get("spec") or {}).get("dataset") == dataset and store.artifacts(
            job["id"], kind="genotype"
        ):
            out.append(f"nas:{job['id']}")
        if len(out) >= limit:
            break
    return tuple(out)


def resolve_detector_search(spec: dict, store, device: str = "auto") -> dict:
    """TaskDef.resolve: the dataset exists; `backbones` filled in (see the module docstring)
    and each one checked (a cell's genotype is valid; a timm name is a timm model)."""
    check_dataset(store, spec["dataset"], KIND)
    backbones = spec.get("backbones")
    if backbones is None:
        backbones = list(default_backbones(searched_cells(store, spec["dataset"])))
    for name in backbones:
        where = f"{KIND}: backbones={name!r}"
        if name.startswith(NAS_PREFIXES):
            check_nas_backbone(store, name, where)
        else:
            _check_timm_name(name, where)
    return dict(spec, backbones=list(backbones))


def _check_timm_name(name: str, where: str) -> None:
    import timm

    if not timm.is_model(name):
        raise SpecError(f"{where}: not a timm model{did_you_mean(name, timm.list_models())}")


def plan_line(store, spec: dict) -> str:
    """What a detector search will do, in one line, before it is queued (validates and resolves
    the spec: SpecError / NotFoundError): what the CLI prints and the Search tab shows."""
    cfg = DetectorSearchConfig.from_spec(
        resolve_detector_search(validate_detector_search(spec), store)
    )
    space = cfg.space()
    target = (
        f"{cfg.target_ms:g} ms"
        if cfg.target_ms
        else f"the {SEARCH_PRESET} detector's latency (or its nearest's) on the job's device"
    )
    budget = "no time limit" if cfg.minutes is None else f"{cfg.minutes:g} min for the whole job"
    trials = "" if cfg.trials is None else f", at most {cfg.trials} trials"
    return (
        f"plan: {space.size()} detectors ({', '.join(space.backbones)}; "
        f"{'/'.join(map(str, space.image_sizes))} px; BiFPN "
        f"{'/'.join(map(str, space.fpn_channels))} wide, "
        f"{'/'.join(map(str, space.fpn_cell_repeats))} deep; head "
        f"{'/'.join(map(str, space.box_class_repeats))} deep), each trial a {SEARCH_PRESET} "
        f"training judged after {cfg.min_epochs} epoch{'s' if cfg.min_epochs > 1 else ''}, "
        f"about 1 in {cfg.reduction_factor} going on; target {target}; {budget}{trials}"
    )
