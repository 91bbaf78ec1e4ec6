"""Which cell a backbone spec names, looked up in the store or on disk (apart from the model,
core.nas.backbone, which never touches the store).

`resolve_genotype(store, spec)` reads the cell of `nas:JOB_ID` (the search's found cell:
core.nas.results.searched_genotype, i.e. runs/<id>/genotype.json), `nas:NAME` (a published
genotype, e.g. nas:DARTS_V2), `nas-arch:ID` (a row of the architectures table) or
`nas-file:PATH` (a genotype JSON file).
"""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import NotFoundError, SpecError
from core.nas.genotypes import PUBLISHED_GENOTYPES, Genotype, GenotypeError, published
from core.nas.results import searched_genotype


def resolve_genotype(store, spec: str) -> Genotype:
    """The genotype named by `nas:JOB_ID`, `nas:PUBLISHED_NAME`, `nas-arch:ID` or
    `nas-file:PATH`."""
    kind, sep, value = spec.partition(":")
    if not sep or not value:
        raise SpecError(
            f"bad NAS backbone {spec!r}: use nas:JOB_ID, nas:NAME ("
            f"{', '.join(PUBLISHED_GENOTYPES)}), nas-arch:ID or nas-file:PATH"
        )
    if kind == "nas-file":
        return _read_genotype(Path(value) if store is None else store.resolve_path(value))
    if kind == "nas-arch":
        if not value.isdigit():
            raise SpecError(f"nas-arch needs an architecture id, got {value!r}")
        return Genotype.from_dict(store.get_architecture(int(value))["genotype"])
    if kind != "nas":
        raise SpecError(f"bad NAS backbone prefix {kind!r}: use nas:, nas-arch: or nas-file:")
    if not value.isdigit():
        return published(value)
    job = store.get_job(int(value))
    if job["kind"] != "search":
        raise SpecError(
            f"job {value} is a {job['kind']} job, not a search; nas:JOB_ID needs a search job"
        )
    found = searched_genotype(store, int(value))  # THE found cell (runs/<id>/genotype.json)
    if found is None:
        raise NotFoundError(
            f"search job {value} has no genotype yet (status {job['status']}); "
            "wait for its search phase to finish"
        )
    return Genotype.from_dict(found)


def _read_genotype(path: Path) -> Genotype:
    if not path.is_file():
        raise NotFoundError(f"genotype file {path} does not exist")
    try:
        return Genotype.from_json(path.read_text())
    except GenotypeError as exc:
        raise GenotypeError(f"{path}: {exc}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"cannot read genotype file {path}: {exc}") from exc
