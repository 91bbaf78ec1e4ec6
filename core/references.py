"""What job specs refer to, resolved at submit (cheap checks: no model is built or loaded).

A dataset must be in the store; a model (`--init`, evaluate, export) a `models` row whose file
exists and looks like a torch checkpoint; a searched-cell backbone (`nas:JOB_ID`, `nas:NAME`,
`nas-arch:ID`, `nas-file:PATH`) a valid genotype no larger than the search space allows; a
`--pretrained-backbone` file readable with a torch checkpoint header. Every error is a
SpecError or NotFoundError "what: field=value: reason" (CLI exit 2, gr.Error in the GUI).
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

from core.errors import NotFoundError, SpecError
from core.nas.config import SearchConfig
from core.nas.genotypes import PUBLISHED_GENOTYPES, Genotype, GenotypeError

MAX_GENOTYPE_FILE_BYTES = 1 << 20  # a genotype JSON is a few hundred bytes
DEFAULT_MAX_CELL_NODES = 8  # when the search config gives no bound for `nodes`
PICKLE_PROTOCOL_2_PLUS = b"\x80"
ZIP_MAGIC = b"PK\x03\x04"


def resolve_model_row(store, name_or_job: str | int) -> dict:
    """The `models` row for a model name, `job-ID`, or a bare job id."""
    name = str(name_or_job).strip()
    try:
        return store.get_model(name)
    except NotFoundError:
        if name.isdigit():
            return store.get_model(f"job-{name}")
        raise


def check_dataset(store, name: str, what: str) -> dict:
    try:
        return store.get_dataset(name)
    except NotFoundError as exc:
        raise NotFoundError(f"{what}: dataset={name!r}: {exc}") from None


def check_model(store, name: str, what: str, field: str = "model") -> dict:
    """The model row, its checkpoint file present and with a torch header."""
    try:
        row = resolve_model_row(store, name)
    except NotFoundError as exc:
        raise NotFoundError(f"{what}: {field}={name!r}: {exc}") from None
    check_checkpoint_file(store.resolve_path(row["path"]), f"{what}: {field}={name!r}")
    return row


def check_checkpoint_file(path: Path, where: str) -> None:
    """Exists, is a readable file, and starts like torch.save output (zip or pickle)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{where}: {path} does not exist or is not a file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise SpecError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    if head == ZIP_MAGIC:
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise SpecError(f"{where}: {path} is a damaged checkpoint ({exc})") from None
        if not any(n.endswith("data.pkl") for n in names):
            raise SpecError(f"{where}: {path} is a zip file but not a torch checkpoint")
    elif head[:1] != PICKLE_PROTOCOL_2_PLUS:
        raise SpecError(f"{where}: {path} is not a torch checkpoint (torch.save file)")


def max_cell_nodes() -> int:
    """Intermediate nodes a cell may have: the search config's bound on `nodes`."""
    nodes = {f.name: f for f in dataclasses.fields(SearchConfig)}.get("nodes")
    bound = nodes.metadata.get("hi") if nodes is not None else None
    return int(bound) if bound else DEFAULT_MAX_CELL_NODES


def check_genotype_dict(data: Any, where: str) -> Any:
    """A genotype JSON object -> Genotype, refusing cells larger than the search space."""
    limit = max_cell_nodes()
    if not isinstance(data, dict):
        raise SpecError(f"{where}: not a genotype JSON object")
    for kind in ("normal", "reduce"):
        pairs = data.get(kind)
        if isinstance(pairs, list) and len(pairs) > 2 * limit:
            raise SpecError(
                f"{where}: the {kind} cell has {len(pairs)} edges; the search space "
                f"allows at most {2 * limit} ({limit} nodes x 2 inputs)"
            )
    try:
        return Genotype.from_dict(data)
    except GenotypeError as exc:
        raise SpecError(f"{where}: {exc}") from None


def read_genotype_file(path: Path, where: str) -> Any:
    if not path.is_file():
        raise SpecError(f"{where}: {path} does not exist or is not a file")
    try:
        size = path.stat().st_size
        if size > MAX_GENOTYPE_FILE_BYTES:
            raise SpecError(
                f"{where}: {path} is {size} bytes; a genotype file is at most "
                f"{MAX_GENOTYPE_FILE_BYTES} bytes"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SpecError(f"{where}: {path} is not a genotype JSON file ({exc})") from None
    return check_genotype_dict(data, where)


def check_nas_backbone(store, spec: str, where: str) -> Any:
    """The genotype a `nas:` / `nas-arch:` / `nas-file:` backbone names, checked."""
    kind, _, value = spec.partition(":")
    if not value:
        raise SpecError(f"{where}: give nas:JOB_ID, nas:NAME, nas-arch:ID or nas-file:PATH")
    if kind == "nas-file":
        return read_genotype_file(store.resolve_path(value), where)
    if kind == "nas-arch":
        if not value.isdigit():
            raise SpecError(f"{where}: nas-arch needs an architecture id")
        try:
            row = store.get_architecture(int(value))
        except NotFoundError as exc:
            raise NotFoundError(f"{where}: {exc}") from None
        return check_genotype_dict(row["genotype"], where)
    if not value.isdigit():
        if value not in PUBLISHED_GENOTYPES:
            raise SpecError(
                f"{where}: no published genotype {value!r}; known: {', '.join(PUBLISHED_GENOTYPES)}"
            )
        return PUBLISHED_GENOTYPES[value]
    return _searched_genotype(store, int(value), where)


def _searched_genotype(store, job_id: int, where: str) -> Any:
    try:
        job = store.get_job(job_id, reconcile=False)
    except NotFoundError as exc:
        raise NotFoundError(f"{where}: {exc}") from None
    if job["kind"] != "search":
        raise SpecError(f"{where}: job {job_id} is a {job['kind']} job, not a search")
    rows = store.artifacts(job_id, "genotype")
    if not rows:
        raise NotFoundError(
            f"{where}: search job {job_id} has no genotype yet (status "
            f"{job['status']}); wait for its search phase to finish"
        )
    return read_genotype_file(store.resolve_path(rows[-1]["path"]), where)
