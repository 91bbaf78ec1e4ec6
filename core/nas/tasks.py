"""Job kind `search` (SEARCH): a NAS run on the proxy task of a dataset, then the final report.

run(spec, reporter): load the proxy crops, run the chosen strategy (darts, enas, evolution,
random; core/nas/strategies/) within its budget, save the best genotype to runs/<id>/genotype.json
(artifact "genotype"), retrain it beside K random genotypes (core.nas.report) and store that
report as the job result and runs/<id>/report.json (artifact "report"). Resumes from
runs/<id>/checkpoint.pt: mid-search, after the search, or mid-report.

Module top stays light: `validate` runs at submit time in the CLI/GUI process.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from core.engine.jobs import TaskDef
from core.io import write_json_atomic
from core.nas.config import SearchConfig

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter

STRATEGY_MODULES = {
    "darts": "core.nas.strategies.darts",
    "enas": "core.nas.strategies.enas",
    "evolution": "core.nas.strategies.evolution",
    "random": "core.nas.strategies.random",
}
GENOTYPE_FILE = "genotype.json"
REPORT_FILE = "report.json"
CONFIG_FILE = "config.json"


def validate_search(spec: dict) -> dict:
    """Fill defaults and check types/ranges (SpecError); returns the normalised spec."""
    return SearchConfig.from_spec(spec).to_spec()


def run_search(spec: dict, reporter: "Reporter") -> dict:
    """The SEARCH task (see the module docstring); `threads` applies to this job only."""
    import torch

    cfg = SearchConfig.from_spec(spec)
    threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg, reporter)
    finally:
        torch.set_num_threads(threads)


def _run(cfg: SearchConfig, reporter: "Reporter") -> dict:
    import torch

    from core.nas.proxy import load_raw, prepare
    from core.nas.report import final_report
    from core.nas.strategies.base import RunState, SearchContext, SearchOutcome

    torch.manual_seed(cfg.seed)
    reporter.progress(0.0, "loading proxy crops")
    raw = load_raw(reporter.store, cfg.dataset, cfg.proxy_path, cfg.size, cfg.context, cfg.seed,
                   cfg.max_per_class)
    data = prepare(raw, cfg.size, cfg.val_fraction, cfg.seed, reporter.device or "cpu")
    run_state = (RunState.load(reporter.checkpoint_path, cfg.strategy)
                 if reporter.has_checkpoint() else RunState(cfg.strategy))
    ctx = SearchContext(cfg, data, reporter, run_state)
    write_json_atomic(reporter.run_dir / CONFIG_FILE, cfg.to_spec(), indent=2)
    reporter.info(f"{cfg.strategy} search on {len(data.search_train_y)}+"
                  f"{len(data.search_val_y)} crops ({data.num_classes} classes, {data.size}px), "
                  f"held-out {len(data.val_y)}; C={cfg.C}, {cfg.layers} cells, budget "
                  f"{'none' if cfg.minutes is None else f'{cfg.minutes:g} min'}")

    if run_state.outcome is None:
        strategy = importlib.import_module(STRATEGY_MODULES[cfg.strategy])
        outcome = strategy.search(ctx)
        run_state.outcome = {**outcome.to_dict(), "seconds": ctx.budget.elapsed}
        ctx.save()
        reporter.info(f"search done in {ctx.budget.elapsed:.0f} s: {outcome.note}; best "
                      f"score {outcome.score:.3f}")
    else:
        outcome = SearchOutcome.from_dict(run_state.outcome)
    genotype_path = reporter.run_dir / GENOTYPE_FILE
    write_json_atomic(genotype_path, outcome.genotype.to_dict(), indent=2)
    reporter.artifact("genotype", genotype_path)
    reporter.result({"genotype": outcome.genotype.to_dict(), "search_score": outcome.score,
                     "report": None})

    report = final_report(ctx, outcome.genotype, outcome.score)
    report.update(search_seconds=run_state.outcome["seconds"], note=outcome.note)
    report_path = reporter.run_dir / REPORT_FILE
    write_json_atomic(report_path, report, indent=2)
    reporter.artifact("report", report_path)
    margin = report["margin"]
    reporter.info("final report: searched {:.3f} +- {:.3f} vs random {} ({})".format(
        report["searched"]["mean"], report["searched"]["std"],
        "n/a" if report["random"]["mean"] is None else
        f"{report['random']['mean']:.3f} +- {report['random']['std']:.3f}",
        "no random cells" if margin is None else f"margin {margin:+.3f}"))
    reporter.progress(1.0, "done")
    return report


SEARCH = TaskDef(run=run_search, validate=validate_search)
