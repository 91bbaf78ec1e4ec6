"""Benchmark of core.nas: supernet speed, budgeted searches with their honest final reports, and
a detector with the searched backbone beside an EfficientNet-B0 one.

Run: `.venv/bin/python bench/search.py [--home DIR] [--images 1000] [--minutes 10]
[--strategies darts,enas,evolution] [--other-minutes 5] [--det-epochs N] [--skip-detector]
[--stage all|detector|render|sweep|strategies]`. `--stage sweep`: the short-budget claim,
`--sweep-strategy` (zero-cost) at `--budgets` 2,4,10 minutes x `--seeds` 0,1,2; `--stage
strategies`: darts, PC-DARTS (K=4), enas, evolution, random and zero-cost at 4 minutes, seed 0.
Torch runs one thread: on a shared 2-core machine two OpenMP threads wait on each other and a
DARTS step runs far slower than with one.
Each search runs the real SEARCH task in this process (a job row and a Reporter in the bench
home), so the numbers include logging, checkpoints and the final report. Results accumulate in
<home>/bench_search.json (a rerun skips what is done) and the section `search` of
docs/BENCHMARKS.md is rewritten at the end of every stage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench.common import machine, parse_sets, table, write_section  # noqa: E402
from core.engine.jobs import submit_job  # noqa: E402
from core.engine.reporter import Reporter  # noqa: E402
from core.engine.store import Store  # noqa: E402

DATASET = "shapes-nas-bench"


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def save_results(path: Path, results: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, path)


def ensure_dataset(store: Store, images: int) -> dict:
    from core.data.generate import generate_dataset
    from core.data.internal import commit_dataset, new_workdir

    try:
        return store.get_dataset(DATASET)
    except Exception:  # noqa: BLE001 - NotFoundError: generate it
        work = new_workdir(store.home, DATASET)
        out = generate_dataset(work, "shapes", images, 256, (1, 6), "medium", 0.2, 0)
        commit_dataset(store, work, DATASET, "shapes", out["classes"])
        return store.get_dataset(DATASET)


def supernet_speed(size: int, batch: int, steps: int = 3) -> dict:
    """Images/s of a first-order DARTS step (alpha step + weight step) and of the discrete net."""
    from core.nas.genotypes import DARTS_V2
    from core.nas.network import CifarNetwork
    from core.nas.strategies.darts import Architect
    from core.nas.supernet import SuperNet

    torch.manual_seed(0)
    net = SuperNet(8, 6, 5).to(memory_format=torch.channels_last)
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.025, momentum=0.9)
    architect = Architect(net, 3e-4, 1e-3, 0.9, 3e-4)
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 6, (batch,))

    def darts_step():
        architect.step((x, y), (x, y), 0.025, w_opt, False)
        loss = F.cross_entropy(net(x), y)
        w_opt.zero_grad()
        loss.backward()
        w_opt.step()

    discrete = CifarNetwork(8, 6, 5, False, DARTS_V2).to(memory_format=torch.channels_last)

    def discrete_step():
        F.cross_entropy(discrete(x)[0], y).backward()

    out = {}
    for name, fn in (("darts_step", darts_step), ("discrete_step", discrete_step)):
        fn()  # warm-up
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        out[name] = batch * steps / (time.perf_counter() - t0)
    return out


def run_search(store: Store, strategy: str, minutes: float, extra: dict) -> dict:
    from core.nas.tasks import SEARCH

    spec = {
        "dataset": DATASET,
        "strategy": strategy,
        "minutes": minutes,
        "execution.threads": 1,
        **extra,
    }
    job_id = submit_job(store, "search", spec)
    job = store.get_job(job_id)
    job["attempts"] = 1
    reporter = Reporter(store, job, store.home / "runs" / str(job_id), "cpu")
    t0 = time.perf_counter()
    result = SEARCH.run(job["spec"], reporter)
    wall = time.perf_counter() - t0
    rows = store.architectures(job_id)
    return {
        "job_id": job_id,
        "wall_s": wall,
        "search_s": search_seconds(store, job_id),
        "budget_s": 60 * minutes,
        "evaluated": sum(r["extra"]["kind"] != "final" for r in rows),
        "search_score": result["search_score"],
        "searched": result["searched"],
        "random": result["random"]["accs"]
        and {k: result["random"][k] for k in ("mean", "std", "accs")},
        "margin": result["margin"],
        "genotype": result["genotype"],
        "train_crops": result["budget"]["train_crops"],
        "val_crops": result["budget"]["val_crops"],
        "afforded": result.get("afforded"),
    }


def search_seconds(store: Store, job_id: int) -> float:
    """Seconds from the job's first event to its genotype artifact: the search phase."""
    start = store.events(job_id)[0]["ts"]
    return store.artifacts(job_id, "genotype")[-1]["created_at"] - start


def run_detector(store: Store, backbone: str, epochs: int | None) -> dict:
    from core.train.tasks import TRAIN

    spec = {"dataset": DATASET, "preset": "quick-cpu", "backbone": backbone, "workers": 0}
    if epochs is not None:
        spec["epochs"] = epochs
    job_id = submit_job(store, "train", spec)
    job = store.get_job(job_id)
    job["attempts"] = 1
    reporter = Reporter(store, job, store.home / "runs" / str(job_id), "cpu")
    t0 = time.perf_counter()
    TRAIN.run(job["spec"], reporter)
    wall = time.perf_counter() - t0
    ap = {m["key"]: m["value"] for m in store.metrics(job_id) if m["key"].startswith("val/")}
    return {
        "job_id": job_id,
        "wall_s": wall,
        "epochs": job["spec"].get("epochs"),
        "AP50": ap.get("val/AP50"),
        "AP": ap.get("val/AP"),
    }


SWEEP_BUDGETS = (2.0, 4.0, 10.0)
SWEEP_SEEDS = (0, 1, 2)
STRATEGY_RUNS = {
    "darts": {},
    "darts PC K=4": {"strategy": "darts", "darts": {"partial_channels": 4}},
    "enas": {},
    "evolution": {},
    "random": {},
    "zero-cost": {},
}


def options_text(extra: dict) -> str:
    """ ", child.batch_size=16" for {"child.batch_size": 16}: how a run with options is named."""
    return "".join(f", {k}={v}" for k, v in extra.items())


def sweep_stage(
    store: Store, path: Path, strategy: str, budgets, seeds, publish, extra: dict | None = None
) -> None:
    """The short-budget claim: `strategy` at each budget (the whole job) with each seed;
    `extra`: search options (--set) of these runs, which sit beside the default ones."""
    extra = extra or {}
    for minutes in budgets:
        for seed in seeds:
            name = f"{strategy} {minutes:g} min seed {seed}{options_text(extra)}"
            if name not in load_results(path).get("sweep", {}):
                run = run_search(store, strategy, minutes, {**extra, "seed": seed})
                results = load_results(path)
                results.setdefault("sweep", {})[name] = {
                    **run,
                    "strategy": strategy,
                    "minutes": minutes,
                    "seed": seed,
                    "options": extra,
                }
                save_results(path, results)
                publish()


def strategies_stage(store: Store, path: Path, minutes: float, publish) -> None:
    """Every strategy (and PC-DARTS) at one budget, seed 0, whatever the outcome."""
    for name, extra in STRATEGY_RUNS.items():
        key = f"{name} ({minutes:g} min)"
        if key not in load_results(path).get("strategies", {}):
            options = {k: v for k, v in extra.items() if k != "strategy"}
            run = run_search(store, extra.get("strategy", name), minutes, options)
            results = load_results(path)
            results.setdefault("strategies", {})[key] = {**run, "options": options}
            save_results(path, results)
            publish()


def _sweep_rows(sweep: dict) -> list[list]:
    groups: dict[tuple[float, str], list[dict]] = {}
    for r in sweep.values():
        groups.setdefault((r["minutes"], options_text(r.get("options", {}))), []).append(r)
    rows = []
    for (minutes, options), runs in sorted(groups.items()):
        margins = [r["margin"] for r in runs if r["margin"] is not None]
        ahead = sum(m > 0 for m in margins)
        mean = sum(margins) / len(margins) if margins else float("nan")
        bound = 1.1 * 60 * minutes + 10
        rows.append(
            [
                f"{runs[0]['strategy']}, {minutes:g} min{options}",
                ", ".join(
                    f"seed {r['seed']}: {r['margin']:+.3f}"
                    if r["margin"] is not None
                    else f"seed {r['seed']}: n/a"
                    for r in runs
                ),
                f"{ahead}/{len(runs)}",
                f"{mean:+.3f}",
                "yes" if ahead * 3 >= 2 * len(runs) and mean > 0 else "NO",
                f"{max(r['wall_s'] for r in runs):.0f} / {bound:.0f}",
                "; ".join(sorted({r.get("afforded") or "-" for r in runs})),
            ]
        )
    return rows


def render(results: dict) -> str:
    lines = [
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores at the end (a shared machine inflates wall times).",
        "Repeat: `.venv/bin/python bench/search.py` (see its docstring for options).",
        "",
    ]
    if "speed" in results:
        rows = [
            [f"{k}", f"{v['darts_step']:.1f}", f"{v['discrete_step']:.1f}"]
            for k, v in results["speed"].items()
        ]
        lines += [
            "Supernet throughput (C=8, 5 cells, 4 nodes, 8 ops; images/s):",
            "",
            table(["crop px x batch", "DARTS step (alpha + w)", "discrete DARTS_V2 fwd+bwd"], rows),
            "",
        ]
    rows = []
    for name, r in results.get("searches", {}).items():
        rnd = r["random"] or {"mean": float("nan"), "std": float("nan")}
        rows.append(
            [
                name,
                f"{r['search_s']:.0f} / {r['budget_s']:.0f}",
                f"{r['wall_s']:.0f}",
                r["evaluated"],
                f"{r['search_score']:.3f}",
                f"{r['searched']['mean']:.3f} +- {r['searched']['std']:.3f}",
                f"{rnd['mean']:.3f} +- {rnd['std']:.3f}",
                "n/a" if r["margin"] is None else f"{r['margin']:+.3f}",
                "yes" if (r["margin"] or 0) >= 0 else "NO",
                r.get("afforded") or "-",
                ", ".join(f"{k}={v}" for k, v in r.get("options", {}).items()) or "defaults",
            ]
        )
    if rows:
        from core.nas.config import SearchConfig

        first, cfg = next(iter(results["searches"].values())), SearchConfig()
        lines += [
            f"Searches on `{DATASET}` ({results.get('images')} generated shapes images; "
            f"proxy {first['train_crops']} train / {first['val_crops']} held-out crops). "
            f"Final report (defaults): the searched cell retrained from scratch with "
            f"up to {cfg.report.repeats} seeds beside up to {cfg.report.random} random "
            f"cells, up to {cfg.report.epochs} epochs each (batch {cfg.child.batch_size}, "
            f"{cfg.child.optimizer} lr {cfg.child.learning_rate}; `--minutes` bounds the "
            f"whole job, so each report trains what it could afford), scored on the "
            f"held-out split; runs with other options say so:",
            "",
            table(
                [
                    "search",
                    "search s / job budget s",
                    "total wall s",
                    "archs evaluated",
                    "search score",
                    "searched acc",
                    "random acc",
                    "margin",
                    ">= random mean",
                    "report afforded",
                    "options",
                ],
                rows,
            ),
            "",
        ]
    if results.get("sweep"):
        from core.nas.config import SearchConfig

        cfg = SearchConfig()
        lines += [
            "Short budgets (the searched-beats-random claim): each run is the whole job "
            "(`--minutes` M: search, report, saving), proxy crops and discrete-network "
            f"training at the defaults ({cfg.child.optimizer} lr {cfg.child.learning_rate}); "
            "margin = searched cell's held-out accuracy minus its report's random mean:",
            "",
            table(
                [
                    "strategy, budget",
                    "margin per seed",
                    "searched ahead",
                    "mean margin",
                    "2 of 3 and on average",
                    "slowest job s / bound (M + 10 % + 10 s)",
                    "report afforded",
                ],
                _sweep_rows(results["sweep"]),
            ),
            "",
        ]
    if results.get("strategies"):
        rows = [
            [
                name,
                f"{r['wall_s']:.0f}",
                r["evaluated"],
                f"{r['searched']['mean']:.3f}",
                "n/a" if not r["random"] else f"{r['random']['mean']:.3f}",
                "n/a" if r["margin"] is None else f"{r['margin']:+.3f}",
                r.get("afforded") or "-",
            ]
            for name, r in results["strategies"].items()
        ]
        lines += [
            "Every strategy at one budget, seed 0 (one run each: a single seed ranks "
            "nothing; it shows what each does with the time):",
            "",
            table(
                [
                    "strategy",
                    "wall s",
                    "archs evaluated",
                    "searched acc",
                    "random acc",
                    "margin",
                    "report afforded",
                ],
                rows,
            ),
            "",
        ]
    det = results.get("detector", {})
    if det:
        rows = [
            [
                name,
                r.get("epochs") or "preset",
                f"{r['wall_s']:.0f}",
                "n/a" if r["AP50"] is None else f"{r['AP50']:.3f}",
            ]
            for name, r in det.items()
        ]
        lines += [
            "Detector (quick-cpu preset) with the searched backbone beside EfficientNet-B0:",
            "",
            table(["backbone", "epochs", "wall s", "AP50"], rows),
            "",
        ]
    if results.get("note"):
        lines += ["Notes: " + results["note"], ""]
    lines.append("GPU: not measured (no GPU on this machine).")
    return "\n".join(lines)


def detector_stage(store: Store, results: dict, det_path: Path, epochs: int | None) -> dict:
    """Train quick-cpu detectors with the darts-searched backbone and with EfficientNet-B0."""
    darts = next((r for n, r in results.get("searches", {}).items() if n.startswith("darts")), None)
    if darts is None:
        jobs = [
            j
            for j in store.list_jobs(kind="search")
            if j["spec"]["strategy"] == "darts" and store.artifacts(j["id"], "genotype")
        ]
        darts = {"job_id": jobs[0]["id"]} if jobs else None
    det = load_results(det_path)
    backbones = {"efficientnet_b0": "efficientnet_b0"}
    if darts is not None:
        backbones = {
            f"nas:{darts['job_id']} (searched cell)": f"nas:{darts['job_id']}",
            **backbones,
        }
    for name, backbone in backbones.items():
        if name not in det:
            det[name] = run_detector(store, backbone, epochs)
            save_results(det_path, det)
    return det


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--home", default="/tmp/nasdet-bench-search")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=10.0, help="darts budget")
    p.add_argument("--other-minutes", type=float, default=5.0, help="enas/evolution budget")
    p.add_argument("--strategies", default="darts,enas,evolution")
    p.add_argument("--det-epochs", type=int, help="override the quick-cpu epochs")
    p.add_argument("--skip-detector", action="store_true")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="search option for these runs (e.g. warmup=0); a run with options is "
        "named by them, so it sits beside the default one",
    )
    p.add_argument("--note", help="a remark stored with the results and printed under them")
    p.add_argument(
        "--budgets",
        default=",".join(f"{m:g}" for m in SWEEP_BUDGETS),
        help="sweep: minutes of each job",
    )
    p.add_argument("--seeds", default=",".join(map(str, SWEEP_SEEDS)), help="sweep: seeds")
    p.add_argument("--sweep-strategy", default="zero-cost", help="sweep: the strategy")
    p.add_argument(
        "--strategies-minutes",
        type=float,
        default=4.0,
        help="strategies: the one budget of every strategy",
    )
    p.add_argument(
        "--stage",
        choices=("all", "detector", "render", "sweep", "strategies"),
        default="all",
        help="detector: only the detector runs (own results file, so it can run "
        "beside a search stage); render: only rewrite the markdown section",
    )
    args = p.parse_args()
    torch.set_num_threads(1)  # two threads wait on each other on a shared 2-core machine
    store = Store(args.home)
    path = store.home / "bench_search.json"
    det_path = store.home / "bench_search_detector.json"
    results = load_results(path)
    if args.note:
        results["note"] = args.note
        save_results(path, results)

    def publish() -> None:  # the sweep and the strategies (own home) have their own section
        merged = {**load_results(path), "detector": load_results(det_path)}
        body = render(merged)
        if args.stage in ("sweep", "strategies"):
            write_section(
                "search_budgets",
                "## Search at short budgets (bench/search.py)\n\n"
                + body.replace(
                    "`.venv/bin/python bench/search.py`",
                    "`.venv/bin/python bench/search.py --home "
                    "/tmp/nasdet-bench-budgets --stage sweep` and `... "
                    "--stage strategies`",
                ),
            )
        else:
            write_section("search", body)
        print(body, flush=True)

    if args.stage == "render":
        for r in results.get("searches", {}).values():
            r["search_s"] = search_seconds(store, r["job_id"])
        save_results(path, results)
        return publish()
    if args.stage == "detector":
        detector_stage(store, results, det_path, args.det_epochs)
        return publish()
    extra = parse_sets(args.set)
    if args.stage in ("sweep", "strategies"):
        results["images"] = sum(
            ensure_dataset(store, args.images)["counts"].get(k, 0)
            for k in ("train_images", "val_images")
        )
        save_results(path, results)
        if args.stage == "sweep":
            sweep_stage(
                store,
                path,
                args.sweep_strategy,
                [float(m) for m in args.budgets.split(",")],
                [int(x) for x in args.seeds.split(",")],
                publish,
                extra,
            )
        else:
            strategies_stage(store, path, args.strategies_minutes, publish)
        return publish()
    results["images"] = sum(
        ensure_dataset(store, args.images)["counts"].get(k, 0)
        for k in ("train_images", "val_images")
    )
    if "speed" not in results:
        results["speed"] = {f"{s} x {b}": supernet_speed(s, b) for s, b in ((32, 16), (16, 16))}
        save_results(path, results)
    publish()
    for strategy in filter(None, args.strategies.split(",")):
        minutes = args.minutes if strategy == "darts" else args.other_minutes
        name = f"{strategy} ({minutes:g} min{options_text(extra)})"
        if name not in load_results(path).get("searches", {}):
            run = {**run_search(store, strategy, minutes, extra), "options": extra}
            results = load_results(path)  # re-read: another bench process may share the home
            results.setdefault("searches", {})[name] = run
            save_results(path, results)
            publish()
    if not args.skip_detector:
        detector_stage(store, results, det_path, args.det_epochs)
    publish()


if __name__ == "__main__":
    main()
