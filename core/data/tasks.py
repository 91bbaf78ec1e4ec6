"""Job kinds of core.data: dataset.generate (GENERATE) and dataset.import (IMPORT).

Both build the dataset in a work folder under <home>/datasets/.tmp-*, then rename it into place
and register it (core.data.internal.commit_dataset); a failed or cancelled job leaves nothing.
`validate` runs in the submitting process: nothing here loads torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.data.generate import generate_dataset
from core.data.importers import import_dataset
from core.data.internal import commit_dataset, new_workdir, remove_workdir
from core.data.spec import check_new_name, resolve_new_dataset, validate_generate, validate_import
from core.engine.jobs import TaskDef

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter


def run_generate(spec: dict, reporter: Reporter) -> dict:
    """Draw a built-in dataset (spec from validate_generate) and register it."""
    store = reporter.store
    name = check_new_name(store, spec["name"])
    work = new_workdir(store.home, name, reporter.job_id)
    try:
        out = generate_dataset(
            work,
            kind=spec["kind"],
            images=spec["images"],
            size=tuple(spec["size"]),
            objects=tuple(spec["objects"]),
            difficulty=spec["difficulty"],
            val_fraction=spec["val_fraction"],
            seed=spec["seed"],
            progress=lambda f, m: reporter.progress(0.95 * f, m),
            check_stop=reporter.check_stop,
        )
        reporter.progress(0.96, "registering")
        reporter.check_stop(fresh=True)  # the last moment a cancel leaves no dataset
        h, w = spec["size"]
        source = (
            f"generated {spec['kind']}: {spec['images']} images {w}x{h}, objects "
            f"{spec['objects'][0]}-{spec['objects'][1]}, {spec['difficulty']}, "
            f"seed {spec['seed']}"
        )
        report = {
            "source": source,
            "format": "generated",
            "problems": [],
            "summary": {},
            "truncated": 0,
        }
        row = commit_dataset(
            store, work, name, spec["kind"], out["classes"], report, job_id=reporter.job_id
        )
    except BaseException:
        remove_workdir(work)
        raise
    reporter.info(f"dataset {name}: {row['counts']}")
    return {"dataset": name, "counts": row["counts"], "classes": row["classes"]}


def run_import(spec: dict, reporter: Reporter) -> dict:
    """Import a COCO / VOC / YOLO dataset (folder or .zip) with a validation report."""
    store = reporter.store
    name = check_new_name(store, spec["name"])
    work = new_workdir(store.home, name, reporter.job_id)
    try:
        out = import_dataset(
            spec["path"],
            work,
            fmt=spec["format"],
            val_fraction=spec["val_fraction"],
            seed=spec["seed"],
            progress=lambda f, m: reporter.progress(0.95 * f, m),
            check_stop=reporter.check_stop,
        )
        for problem in out.report["problems"][:20]:
            if problem["severity"] != "info":
                reporter.warning(f"{problem['file']}: {problem['problem']} -> {problem['action']}")
        reporter.progress(0.96, "registering")
        reporter.check_stop(fresh=True)  # the last moment a cancel leaves no dataset
        row = commit_dataset(
            store,
            work,
            name,
            out.format,
            out.classes,
            out.report,
            stats=out.stats,
            counts=out.counts,
            job_id=reporter.job_id,
        )
    except BaseException:
        remove_workdir(work)
        raise
    reporter.info(
        f"dataset {name} ({out.format}): {row['counts']}; "
        f"problems: {out.report['summary'] or 'none'}"
    )
    return {
        "dataset": name,
        "format": out.format,
        "counts": row["counts"],
        "classes": row["classes"],
        "problems": out.report["summary"],
    }


GENERATE = TaskDef(run=run_generate, validate=validate_generate, resolve=resolve_new_dataset)
IMPORT = TaskDef(run=run_import, validate=validate_import, resolve=resolve_new_dataset)
