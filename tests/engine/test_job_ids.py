"""Job ids are never reused, in a new home and in one whose database predates that rule."""

from __future__ import annotations

from core.engine import schema
from core.engine.store import Store


def test_a_deleted_jobs_number_stays_retired(store):
    first = store.insert_job("train", {})
    last = store.insert_job("train", {})
    store.finish_job(last, "failed")
    store.delete_job(last)
    assert store.insert_job("train", {}) == last + 1 > first


def test_an_older_database_keeps_its_jobs_and_retires_numbers_from_then_on(home, monkeypatch):
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:3])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 3)
    old = Store(home)
    rows = [{"kind": "search", "status": "queued", "spec": f'{{"n": {n}}}'} for n in range(3)]
    ids = [old.db["jobs"].insert(row).last_pk for row in rows]  # as a version-3 store wrote them
    old.db.execute("UPDATE jobs SET result = '{\"ok\": 1}' WHERE id = ?", [ids[0]])
    old.close()
    monkeypatch.undo()
    store = Store(home)
    assert store.schema_version() == schema.SCHEMA_VERSION
    jobs = {j["id"]: j for j in store.list_jobs()}
    assert sorted(jobs) == ids and jobs[ids[0]]["result"] == {"ok": 1}
    assert [jobs[i]["spec"] for i in ids] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert jobs[ids[0]]["origin"] is None
    store.finish_job(ids[2], "failed")
    store.delete_job(ids[2])
    assert store.insert_job("train", {}) == ids[2] + 1
    indexes = {r[1] for r in store.db.execute("PRAGMA index_list(jobs)").fetchall()}
    assert "idx_jobs_status_id" in indexes
