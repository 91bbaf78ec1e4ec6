"""The `search` job: a NAS run on the proxy task of a dataset, then the final report.

run(spec, reporter): load the proxy crops, time the training of a few report cells and plan the
job (core.nas.planning: `minutes` bounds the whole job; the plan is logged as an event), run the
chosen strategy (darts, enas, evolution, random, zero-cost; core/nas/strategies/) within the
plan's search share, save the best genotype to runs/<id>/genotype.json (artifact "genotype"),
retrain it beside random genotypes in the time left (core.nas.report) and store that report as
the job result and runs/<id>/report.json (artifact "report"). Progress and ETA cover the whole
job. Resumes from runs/<id>/checkpoint.pt: mid-search, after the search, or mid-report.

The job's clock starts when a worker claims it. A budget the plan finds too short for the
strategy (core.nas.planning) is refused at submit (from the CPU cost model) or, once measured,
fails the job at once; loading the crops fails it past PREP_SHARE of the budget. On a CPU the
job trains with CPU_THREADS torch threads unless `threads` says otherwise: the proxy networks
are small, and a second thread waits on the first whenever another process has the other core.
"""

from __future__ import annotations

import importlib
import time

import torch

from core.engine.reporter import Reporter
from core.errors import SearchError
from core.io import write_json_atomic
from core.nas.config import SearchConfig
from core.nas.execution.executor import Executor, make_executor
from core.nas.planning import TOO_SHORT, duration
from core.nas.proxy_training import load_raw, prepare
from core.nas.report import final_report, measured_plan, start_pace
from core.nas.search_context import Budget, RunState, SearchContext, SearchOutcome, ticking

STRATEGY_MODULES = {
    "darts": "core.nas.strategies.darts",
    "enas": "core.nas.strategies.enas",
    "evolution": "core.nas.strategies.evolution",
    "random": "core.nas.strategies.random_search",
    "zero-cost": "core.nas.strategies.zero_cost",
}
GENOTYPE_FILE = "genotype.json"
REPORT_FILE = "report.json"
CONFIG_FILE = "config.json"
CPU_THREADS = 1  # torch threads of a search on a CPU when the spec gives none
PREP_SHARE = 0.5  # loading the proxy crops may take this share of the budget


def run_search(spec: dict, reporter: Reporter) -> dict:
    """The SEARCH task (see the module docstring); `threads` applies to this job only."""

    cfg = SearchConfig.from_spec(spec)
    threads = torch.get_num_threads()
    if cfg.execution.threads is not None:
        torch.set_num_threads(cfg.execution.threads)
    elif (reporter.device or "cpu") == "cpu":
        torch.set_num_threads(CPU_THREADS)
    try:
        with _executor(cfg, reporter) as executor:
            return _run(cfg, reporter, executor)
    finally:
        torch.set_num_threads(threads)


def _executor(cfg: SearchConfig, reporter: Reporter):
    """Where the independent trainings run (core.nas.execution.executor): this process, or Ray."""

    executor = make_executor(
        cfg.execution.executor,
        reporter.device or "cpu",
        cfg.execution.ray_address,
        cpus_per_task=torch.get_num_threads(),
        check=reporter.check_stop,
    )
    if executor.remote:
        where = cfg.execution.ray_address or "a local Ray started for this job"
        reporter.info(
            f"independent trainings run as Ray tasks ({where}); darts/enas "
            "supernets stay on the job's device"
        )
    return executor


def _run(cfg: SearchConfig, reporter: Reporter, executor: Executor) -> dict:

    torch.manual_seed(cfg.seed)
    run_state = (
        RunState.load(reporter.checkpoint_path, cfg.strategy)
        if reporter.has_checkpoint()
        else RunState(cfg.strategy)
    )
    job = Budget(cfg.budget_s, run_state.job_elapsed_s + _since_claim(reporter))
    with ticking(reporter, job, "loading proxy crops"):
        raw = load_raw(
            reporter.store,
            cfg.dataset,
            cfg.proxy_path,
            cfg.crops.size,
            cfg.crops.context,
            cfg.seed,
            cfg.crops.max_per_class,
            check=_preparing(reporter, job),
        )
        data = prepare(
            raw, cfg.crops.size, cfg.crops.val_fraction, cfg.seed, reporter.device or "cpu"
        )
    ctx = SearchContext(cfg, data, reporter, run_state, job, executor)
    write_json_atomic(reporter.run_dir / CONFIG_FILE, cfg.to_spec(), indent=2)
    reporter.info(
        f"{cfg.strategy} search on {len(data.search_train_y)}+"
        f"{len(data.search_val_y)} crops ({data.num_classes} classes, {data.size}px), "
        f"held-out {len(data.val_y)}; C={cfg.network.C}, {cfg.network.layers} cells, budget "
        f"{'none' if cfg.minutes is None else f'{cfg.minutes:g} min for the job'}"
    )
    if run_state.plan is None:
        with ticking(reporter, job, "timing the training of report cells"):
            ctx.set_plan(measured_plan(ctx))
        reporter.info(run_state.plan["text"])
        if run_state.plan["mode"] == TOO_SHORT:
            raise SearchError(f"search: minutes={cfg.minutes:g}: {run_state.plan['text']}")
    else:
        ctx.set_plan(run_state.plan)
        start_pace(ctx, run_state.plan.get("probe_s"))
    outcome = _search_phase(ctx)
    return _report_phase(ctx, outcome)


def _since_claim(reporter: Reporter) -> float:
    """Seconds since a worker claimed this attempt of the job (0 for a job never claimed)."""
    started = reporter.store.get_job(reporter.job_id).get("started_at")
    return max(0.0, time.time() - started) if started else 0.0


def _preparing(reporter: Reporter, job: Budget):
    """The check run while the crops load: a cancel, or past PREP_SHARE of the budget a
    SearchError (the search and its report would not fit the rest)."""

    def check() -> None:
        reporter.check_stop()
        if job.elapsed > PREP_SHARE * job.seconds:
            raise SearchError(
                f"search: loading the proxy crops took more than {PREP_SHARE:.0%} of the "
                f"{duration(job.seconds)} budget on this machine; give a larger --minutes "
                "or fewer crops (--max-per-class)"
            )

    return check


def _search_phase(ctx: SearchContext) -> SearchOutcome:
    """Run the strategy (or read its outcome from the checkpoint); save the genotype."""
    run_state, reporter = ctx.run_state, ctx.reporter
    if run_state.outcome is None:
        strategy = importlib.import_module(STRATEGY_MODULES[ctx.cfg.strategy])
        outcome = strategy.search(ctx)
        run_state.elapsed_s = ctx.budget.elapsed
        run_state.outcome = {**outcome.to_dict(), "seconds": ctx.budget.elapsed}
        ctx.save()
        reporter.info(
            f"search done in {ctx.budget.elapsed:.0f} s: {outcome.note}; best "
            f"score {outcome.score:.3f}"
        )
    else:
        outcome = SearchOutcome.from_dict(run_state.outcome)
    genotype_path = reporter.run_dir / GENOTYPE_FILE
    write_json_atomic(genotype_path, outcome.genotype.to_dict(), indent=2)
    reporter.artifact("genotype", genotype_path)
    reporter.result(
        {"genotype": outcome.genotype.to_dict(), "search_score": outcome.score, "report": None}
    )
    return outcome


def _report_phase(ctx: SearchContext, outcome: SearchOutcome) -> dict:
    """The final report (core.nas.report), saved and summed up in an event."""
    reporter = ctx.reporter
    report = final_report(ctx, outcome.genotype, outcome.score)
    report.update(
        search_seconds=ctx.run_state.outcome["seconds"],
        note=outcome.note,
        plan=ctx.plan,
        job_seconds=round(ctx.job.elapsed, 2),
        executor=ctx.executor.name,
        executor_slots=ctx.executor.slots,
    )
    report_path = reporter.run_dir / REPORT_FILE
    write_json_atomic(report_path, report, indent=2)
    reporter.artifact("report", report_path)
    reporter.info(f"final report ({report['afforded']}): {_scores(report)}")
    reporter.progress(1.0, "done")
    return report


def _scores(report: dict) -> str:
    """'searched 0.512 +- 0.010 vs random 0.430 +- 0.020 (margin +0.082)', or what is missing."""

    def spread(s: dict) -> str:
        return "n/a" if s["mean"] is None else f"{s['mean']:.3f} +- {s['std']:.3f}"

    margin = report["margin"]
    return "searched {} vs random {} ({})".format(
        spread(report["searched"]),
        spread(report["random"]),
        "no margin" if margin is None else f"margin {margin:+.3f}",
    )
