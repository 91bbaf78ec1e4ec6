"""CLI verbs of core.data: `python -m core data generate|import|list|show|export|delete`.

generate and import submit jobs (dataset.generate, dataset.import) and print the job id last;
list/show read the store (`--json` for machine-readable output); export and delete run at once.
"""

from __future__ import annotations

import argparse

from core.cli_util import EXIT_OK, add_submit_options, print_json, print_table, store_from, submit
from core.data.export import export_dataset
from core.data.formats.report import format_report
from core.data.internal import delete_dataset
from core.data.spec import EXPORT_FORMATS, GenerateSpec, ImportSpec
from core.spec import add_arguments, args_to_spec

GENERATE_OPTIONS = (
    "kind",
    "name",
    "images",
    "size",
    "objects",
    "difficulty",
    "val_fraction",
    "seed",
)
IMPORT_OPTIONS = ("format", "name", "val_fraction", "seed")

LIST_FIELDS = [
    "name",
    "kind",
    "classes",
    "train_images",
    "val_images",
    "train_objects",
    "val_objects",
    "problems",
    "created_at",
]


def register(sub) -> None:
    """Add the `data` verb and its actions to the top-level subparsers."""
    data = sub.add_parser("data", help="generate, import, list, show, export datasets")
    dsub = data.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = dsub.add_parser("generate", help="draw a built-in dataset (job dataset.generate)")
    add_arguments(p, GenerateSpec, GENERATE_OPTIONS, required=("name",))
    add_submit_options(p)
    p.set_defaults(func=cmd_generate)

    p = dsub.add_parser("import", help="import COCO / VOC / YOLO data (job dataset.import)")
    p.add_argument("path", help="a dataset folder or a .zip of one")
    add_arguments(p, ImportSpec, IMPORT_OPTIONS, required=("name",))
    add_submit_options(p)
    p.set_defaults(func=cmd_import)

    p = dsub.add_parser("list", help="list datasets")
    p.add_argument("--json", action="store_true", help="print JSON objects")
    p.set_defaults(func=cmd_list)

    p = dsub.add_parser("show", help="show a dataset: classes, counts, stats, validation report")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print the store row as JSON")
    p.set_defaults(func=cmd_show)

    p = dsub.add_parser("export", help="write a dataset as COCO or YOLO into a new folder")
    p.add_argument("name")
    p.add_argument("out", help="output folder (must not exist or be empty)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="coco")
    p.set_defaults(func=cmd_export)

    p = dsub.add_parser("delete", help="delete a dataset and its folder")
    p.add_argument("name")
    p.set_defaults(func=cmd_delete)


def cmd_generate(args: argparse.Namespace) -> int:
    return submit(args, "dataset.generate", args_to_spec(args, GENERATE_OPTIONS))


def cmd_import(args: argparse.Namespace) -> int:
    return submit(args, "dataset.import", {**args_to_spec(args, IMPORT_OPTIONS), "path": args.path})


def _list_row(row: dict) -> dict:
    counts = row.get("counts") or {}
    summary = (row.get("report") or {}).get("summary") or {}
    return {
        "name": row["name"],
        "kind": row["kind"],
        "classes": len(row.get("classes") or []),
        **{k: counts.get(k) for k in LIST_FIELDS[3:7]},
        "problems": sum(summary.values()),
        "created_at": row["created_at"],
        "path": row["path"],
    }


def cmd_list(args: argparse.Namespace) -> int:
    rows = [_list_row(r) for r in store_from(args).list_datasets()]
    if args.json:
        print_json(rows)
    else:
        print_table(rows, LIST_FIELDS)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    store = store_from(args)
    row = store.get_dataset(args.name)
    if args.json:
        print_json(row)
        return EXIT_OK
    report = row.get("report") or {}
    print(
        f"name      {row['name']}\nkind      {row['kind']}\nsource    {report.get('source', '-')}\n"
        f"path      {store.resolve_path(row['path'])}\njob       {row.get('job_id') or '-'}"
    )
    counts = row.get("counts") or {}
    print("counts    " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    stats = row.get("stats") or {}
    per_class = stats.get("per_class") or {}
    print("\nclasses (objects train / val):")
    print_table(
        [
            {
                "id": i,
                "class": c,
                "train": per_class.get(c, {}).get("train"),
                "val": per_class.get(c, {}).get("val"),
            }
            for i, c in enumerate(row.get("classes") or [])
        ],
        ["id", "class", "train", "val"],
    )
    opi = stats.get("objects_per_image") or {}
    if opi:
        print(
            f"\nobjects per image: mean {opi.get('mean', 0):.2f}, max {opi.get('max')}, "
            f"images without objects {stats.get('empty_images', 0)}, "
            f"crowd annotations {stats.get('crowd', 0)}"
        )
    size = stats.get("box_size") or {}
    if size:
        edges, counts_ = size["edges"], size["counts"]
        total = max(sum(counts_), 1)
        print("relative box size (sqrt(box area / image area)):")
        for lo, hi, n in zip(edges[:-1], edges[1:], counts_):
            print(f"  {lo:4.2f}-{hi:4.2f} {n:7d} {'#' * round(40 * n / total)}")
    print("\nvalidation report:")
    print(format_report(report))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    out = export_dataset(store_from(args), args.name, args.out, args.format)
    print(out)
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    delete_dataset(store_from(args), args.name)
    print(f"dataset {args.name} deleted")
    return EXIT_OK
