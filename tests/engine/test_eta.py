"""core.engine.eta: monotone progress, no ETA until meaningful, rate and caller estimates."""

from __future__ import annotations

import pytest

from core.engine.eta import EtaEstimator, time_fraction


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rate_estimate_after_min_fraction():
    clock = FakeClock()
    eta = EtaEstimator(min_fraction=0.05, min_elapsed_s=1.0, clock=clock)
    eta.update(0.0)
    clock.t += 2.0
    assert eta.update(0.04).eta_s is None  # under 5 % of the work: no ETA yet
    clock.t += 8.0  # 10 s for 20 %: 40 s left at that rate
    est = eta.update(0.2)
    assert est.fraction == 0.2 and est.eta_s == pytest.approx(40.0)


def test_fraction_never_goes_back_and_rate_uses_this_attempts_start():
    clock = FakeClock()
    eta = EtaEstimator(clock=clock)
    eta.update(0.5)  # a resumed job starts at half
    clock.t += 10.0
    assert eta.update(0.6).eta_s == pytest.approx(40.0)  # 0.1 per 10 s, 0.4 left
    assert eta.update(0.3).fraction == 0.6  # a re-plan cannot move the bar back


def test_caller_estimate_and_measured_flag():
    clock = FakeClock()
    eta = EtaEstimator(clock=clock)
    clock.t += 0.5
    assert eta.update(0.01, remaining_s=30.0, measured=True).eta_s is None  # < min_elapsed_s
    clock.t += 1.0
    assert eta.update(0.01, remaining_s=30.0).eta_s == 30.0  # measured earlier: meaningful
    assert eta.update(0.02, remaining_s=-3.0).eta_s == 0.0
    assert eta.update(1.0).eta_s == 0.0


def test_time_fraction():
    assert time_fraction(30.0, 90.0) == pytest.approx(0.25)
    assert time_fraction(0.0, 0.0) == 1.0
    assert time_fraction(10.0, -5.0) == 1.0


def test_reporter_shows_the_estimators_fraction_and_eta(store):
    from core.engine.reporter import Reporter

    job_id = store.insert_job("test.count", {"steps": 1})
    rep = Reporter(store, store.get_job(job_id), store.home / "runs" / str(job_id), "cpu")
    clock = FakeClock()
    rep._eta = EtaEstimator(clock=clock)
    rep.progress(0.0, "start")
    assert store.get_job(job_id)["eta_s"] is None
    clock.t += 5.0
    rep.progress(0.5, "half", remaining_s=12.0)
    rep.progress(0.4, "re-planned", remaining_s=12.0)
    job = store.get_job(job_id)
    assert job["progress"] == 0.5 and job["eta_s"] == 12.0 and job["message"] == "re-planned"
