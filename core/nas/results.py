"""What a search's results mean: the roles of its architecture rows and "the found cell".

Architecture rows carry a role in their extra fields (DESIGN.md): derived (a DARTS/ENAS
per-epoch cell), candidate (a scored cell), searched (the search's answer, retrained in the
report), random (a report baseline) or trial (a detector trained by a detector search:
core.nas.detector.results). `ROLE_OF_KIND` maps a row's kind to its role; it is the
one table of that vocabulary (the strategies write it, every reader reads it through
`arch_role`).

"The found cell" of a search is `searched_genotype`: the genotype saved as
runs/<id>/genotype.json (artifact "genotype", what `nas:<job>` trains), else the report's row
with role 'searched'. It is never "the last 'final' row", which may be a random baseline.
Everything here only reads the store.
"""

from __future__ import annotations

from core.engine.queries import list_jobs, read_json_artifact
from core.engine.store import Store

TRIAL_ROLE = "trial"
ROLES = ("derived", "candidate", "searched", "random", TRIAL_ROLE)
# architecture row kind -> role; "final" rows name theirs (searched / random)
ROLE_OF_KIND = {
    "derived": "derived",
    "sampled": "candidate",
    "candidate": "candidate",
    "trained": "candidate",
}


def arch_role(arch: dict) -> str:
    """derived (a DARTS/ENAS per-epoch cell), candidate (a scored cell), searched (the search's
    answer, retrained in the report), random (a report baseline) or trial (a detector search's
    trial)."""
    extra = arch.get("extra") or {}
    role = extra.get("role")
    if role in ROLES:
        return role
    return ROLE_OF_KIND.get(extra.get("kind"), "candidate")


def architectures(store: Store, job_id: int, limit: int = 100_000) -> list[dict]:
    """A search's architecture rows in logging order, each with its `role`."""
    return [dict(a, role=arch_role(a)) for a in store.architectures(job_id, limit=limit)]


def searched_genotype(store: Store, job_id: int) -> dict | None:
    """THE found cell of a search: runs/<id>/genotype.json (artifact "genotype", the cell that
    `nas:<job>` trains), else the report row with role 'searched', else None (the search phase
    has not finished). Never a random baseline."""
    for art in reversed(store.artifacts(int(job_id), kind="genotype")):
        doc = read_json_artifact(store, art["path"])
        if isinstance(doc, dict) and ("normal" in doc or "genotype" in doc):
            return doc if "normal" in doc else doc["genotype"]  # {"genotype": ...} wrapper too
    row = searched_architecture(store, job_id)
    return row["genotype"] if row else None


def searched_architecture(store: Store, job_id: int) -> dict | None:
    """The newest architecture row with role 'searched' (the found cell retrained from scratch
    in the final report: its score is the retrained proxy accuracy), or None."""
    rows = [a for a in architectures(store, job_id) if a["role"] == "searched"]
    return rows[-1] if rows else None


def search_best(store: Store, job_id: int) -> dict | None:
    """What a search view shows as its cell: {"genotype", "final", "arch_id", "score",
    "accuracy", "role"}.

    final=True: the searched genotype (arch_id/score: its report row, when retrained yet).
    final=False (the search phase is still running): DARTS/ENAS's newest derived cell, else the
    best-scoring candidate so far. None when nothing was logged yet. `accuracy` is the cell's
    proxy accuracy (= score, except under the accuracy-latency objective, where the score is
    the latency-weighted reward)."""
    genotype = searched_genotype(store, job_id)
    if genotype is not None:
        row = searched_architecture(store, job_id)
        score = row["score"] if row else None
        return {
            "genotype": genotype,
            "final": True,
            "arch_id": row["id"] if row else None,
            "score": score,
            "accuracy": score,
            "role": "searched",
        }
    rows = architectures(store, job_id)
    derived = [a for a in rows if a["role"] == "derived"]
    scored = [a for a in rows if a["role"] == "candidate" and a["score"] is not None]
    if not derived and not scored:
        return None
    pick = derived[-1] if derived else max(scored, key=lambda a: a["score"])
    return {
        "genotype": pick["genotype"],
        "final": False,
        "arch_id": pick["id"],
        "score": pick["score"],
        "accuracy": proxy_accuracy(pick),
        "role": pick["role"],
    }


def proxy_accuracy(arch: dict) -> float | None:
    """An architecture row's proxy accuracy: extra["accuracy"] where its score is a reward
    (the accuracy-latency objective), else its score."""
    return (arch.get("extra") or {}).get("accuracy", arch.get("score"))


def search_cells(store: Store, limit: int = 100) -> list[dict]:
    """Searches that have a cell to show, newest first: {"job_id", "status", "final"} (final:
    the searched genotype exists; else only cells logged so far)."""
    out = []
    for job in list_jobs(store, kinds=("search",), limit=limit):
        final = bool(store.artifacts(job["id"], kind="genotype"))
        if (
            final
            or store.db.execute(
                "SELECT 1 FROM architectures WHERE job_id = ? LIMIT 1", [job["id"]]
            ).fetchone()
        ):
            out.append({"job_id": job["id"], "status": job["status"], "final": final})
    return out


def cells_trained(store: Store, job_id: int) -> int:
    """How many networks the search phase trained: DARTS/ENAS's derived cells (the supernet
    trained) and the candidates trained from scratch (their rows carry a train accuracy);
    cells only ranked without training do not count."""
    return sum(
        1
        for a in architectures(store, job_id)
        if a["role"] == "derived"
        or (a["role"] == "candidate" and "train_acc" in (a.get("extra") or {}))
    )
