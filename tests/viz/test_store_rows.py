"""core.viz against real store rows: architectures and metrics written by a Reporter-like path."""

from __future__ import annotations

from core.nas.genotypes import PUBLISHED_GENOTYPES
from core.viz import cell_graph, curves


def test_figures_from_store_rows(store):
    job = store.insert_job("search", {})
    g = PUBLISHED_GENOTYPES["DARTS_V1"].to_dict()
    for i, score in enumerate([0.3, 0.5, 0.4]):
        store.add_architecture(
            job,
            g,
            score=score,
            params=1000 * (i + 1),
            latency_ms=1.0 + i,
            step=None if i == 2 else i,
        )
    store.add_metrics(
        [(job, s, None, "train/loss", 1.0 / (s + 1), 0.0) for s in range(10)]
        + [(job, None, 0, "val/AP", 0.2, 0.0)]
    )
    archs = store.architectures(job)
    progress = curves.search_progress_figure(archs)
    assert sorted(progress.data[0].customdata.tolist()) == [a["id"] for a in archs]
    front = curves.search_tradeoff_figure(archs, "params").data[1]
    assert front.customdata.tolist() == [archs[0]["id"], archs[1]["id"]]
    training = curves.training_figure(store.metrics(job))
    assert any(t.name == "run" for t in training.data)
    fig = cell_graph.cell_figure(archs[0]["genotype"], "reduce")
    assert fig.layout.meta["op_edges"] == 8
