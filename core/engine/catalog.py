"""The store's catalog tables: artifacts, architectures, datasets and models (a Store mixin).

Rows the tasks register and the GUI lists: files a job produced (artifacts), evaluated or
derived cells (architectures, `genotype` = `Genotype.to_dict()`), imported or generated
datasets, trained or imported detectors (models). Paths are stored relative to the home folder
when inside it. Mixed into `core.engine.store.Store`, whose `db`, `_rows` and `relative_path`
these methods use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from time import time as now
from typing import TYPE_CHECKING, Any

from core.errors import NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import sqlite_utils


class CatalogMixin:
    """Artifacts, architectures, datasets and models of one home (see the module docstring)."""

    db: sqlite_utils.Database  # these three come with Store
    _rows: Callable[[str, str, Iterable[Any]], list[dict]]
    relative_path: Callable[[str | os.PathLike], str]

    # -- artifacts and architectures -----------------------------------------------------------
    def add_artifact(self, job_id: int, kind: str, path: str | os.PathLike) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO artifacts (job_id, kind, path, created_at) VALUES (?, ?, ?, ?)",
            [job_id, kind, self.relative_path(path), now()],
        )

    def artifacts(self, job_id: int, kind: str | None = None) -> list[dict]:
        if kind:
            return self._rows(
                "artifacts",
                "SELECT * FROM artifacts WHERE job_id = ? AND kind = ? ORDER BY id",
                [job_id, kind],
            )
        return self._rows(
            "artifacts", "SELECT * FROM artifacts WHERE job_id = ? ORDER BY id", [job_id]
        )

    def add_architecture(
        self,
        job_id: int,
        genotype: dict,
        score: float | None = None,
        params: int | None = None,
        flops: int | None = None,
        latency_ms: float | None = None,
        step: int | None = None,
        extra: dict | None = None,
    ) -> int:
        return (
            self.db["architectures"]
            .insert(
                {
                    "job_id": job_id,
                    "step": step,
                    "genotype": json.dumps(genotype),
                    "score": score,
                    "params": params,
                    "flops": flops,
                    "latency_ms": latency_ms,
                    "extra": json.dumps(extra or {}),
                    "created_at": now(),
                }
            )
            .last_pk
        )

    def architectures(self, job_id: int | None = None, limit: int = 100_000) -> list[dict]:
        if job_id is None:
            return self._rows(
                "architectures", "SELECT * FROM architectures ORDER BY id LIMIT ?", [limit]
            )
        return self._rows(
            "architectures",
            "SELECT * FROM architectures WHERE job_id = ? ORDER BY id LIMIT ?",
            [job_id, limit],
        )

    def get_architecture(self, arch_id: int) -> dict:
        rows = self._rows("architectures", "SELECT * FROM architectures WHERE id = ?", [arch_id])
        if not rows:
            raise NotFoundError(f"no architecture {arch_id}")
        return rows[0]

    # -- datasets and models -------------------------------------------------------------------
    def add_dataset(
        self,
        name: str,
        kind: str,
        path: str | os.PathLike,
        classes: list[str],
        counts: dict,
        report: dict | None = None,
        stats: dict | None = None,
        job_id: int | None = None,
    ) -> int:
        return (
            self.db["datasets"]
            .insert(
                {
                    "name": name,
                    "kind": kind,
                    "path": self.relative_path(path),
                    "classes": json.dumps(classes),
                    "counts": json.dumps(counts),
                    "report": json.dumps(report or {}),
                    "stats": json.dumps(stats or {}),
                    "job_id": job_id,
                    "created_at": now(),
                }
            )
            .last_pk
        )

    def get_dataset(self, name: str) -> dict:
        rows = self._rows("datasets", "SELECT * FROM datasets WHERE name = ?", [name])
        if not rows:
            raise NotFoundError(f"no dataset named {name!r}; `python -m core data list` shows them")
        return rows[0]

    def list_datasets(self) -> list[dict]:
        return self._rows("datasets", "SELECT * FROM datasets ORDER BY name")

    def delete_dataset(self, name: str) -> dict:
        row = self.get_dataset(name)
        self.db.execute("DELETE FROM datasets WHERE name = ?", [name])
        return row

    def add_model(
        self,
        name: str,
        kind: str,
        path: str | os.PathLike,
        classes: list[str],
        metrics: dict | None = None,
        config: dict | None = None,
        job_id: int | None = None,
        replace: bool = False,
    ) -> int:
        row = {
            "name": name,
            "kind": kind,
            "job_id": job_id,
            "path": self.relative_path(path),
            "classes": json.dumps(classes),
            "metrics": json.dumps(metrics or {}),
            "config": json.dumps(config or {}),
            "created_at": now(),
        }
        if replace:
            self.db.execute("DELETE FROM models WHERE name = ?", [name])
        return self.db["models"].insert(row).last_pk

    def get_model(self, name: str) -> dict:
        rows = self._rows("models", "SELECT * FROM models WHERE name = ?", [name])
        if not rows:
            raise NotFoundError(f"no model named {name!r}; `python -m core models list` shows them")
        return rows[0]

    def list_models(self) -> list[dict]:
        return self._rows("models", "SELECT * FROM models ORDER BY id DESC")
