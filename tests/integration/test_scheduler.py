"""The in-process timer scheduler with real APScheduler threads, on SQLite and PostgreSQL.

Time is moved with the app clock; the tests wait only for the scheduler thread to act.
"""
import time
from datetime import datetime, timedelta, timezone

import pytest

from apflow.scheduler import WAKE_JOB, TimerScheduler
from apflow.services import instances


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def scheduler(core):
    runner = TimerScheduler(core, sweep_seconds=3600)
    yield runner
    runner.shutdown()


def fired(core, people, instance_id):
    return [e for e in instances.list_events(core, people["manager"], instance_id) if e["kind"] == "timer_fired"]


def test_committing_a_nearer_timer_re_arms_the_wake_up(core, people, triage, scheduler, frozen_clock, tmp_path):
    from apflow.services import processes
    from tests.bpmn_builder import flow_diagram

    scheduler.start()
    instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    assert scheduler._armed_for == frozen_clock.now() + timedelta(days=2)
    assert_wakes_in(scheduler, timedelta(days=2))
    quick = tmp_path / "quick.bpmn"
    quick.write_text(flow_diagram(pid="quick", timer="PT1H"))
    processes.deploy_paths(core, [quick], by="test")
    instances.start_instance(core, people["coordinator"], "quick", {})
    assert scheduler._armed_for == frozen_clock.now() + timedelta(hours=1)
    assert_wakes_in(scheduler, timedelta(hours=1))
    instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["cp"]})
    assert scheduler._armed_for == frozen_clock.now() + timedelta(hours=1)  # a later timer leaves it alone


def assert_wakes_in(scheduler, delay):
    job = scheduler._scheduler.get_job(WAKE_JOB)
    real_due = datetime.now(timezone.utc) + delay  # APScheduler runs on real time
    assert job is not None and abs((job.next_run_time - real_due).total_seconds()) < 60


def test_the_sweep_fires_a_timer_once_after_the_clock_passes_it(core, people, triage, frozen_clock):
    runner = TimerScheduler(core, sweep_seconds=0.2)
    try:
        runner.start()
        started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
        frozen_clock.advance(timedelta(days=2, seconds=1))
        assert wait_for(lambda: fired(core, people, started["id"]))
        time.sleep(0.5)  # several more sweeps: a duplicate firing would show here
        assert len(fired(core, people, started["id"])) == 1
        assert [t["name"] for t in instances.list_ready_tasks(core, people["headteacher"], started["id"])] == ["Chase late triage"]
    finally:
        runner.shutdown()


def test_timer_due_while_nothing_ran_fires_once_at_start_up(core, people, triage, scheduler, frozen_clock):
    started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    frozen_clock.advance(timedelta(days=5))
    scheduler.start()
    assert wait_for(lambda: fired(core, people, started["id"]))
    time.sleep(0.3)  # give a duplicate firing the chance to show itself
    [event] = fired(core, people, started["id"])
    assert event["detail"]["late_seconds"] == 3 * 24 * 3600


def test_a_burst_of_due_timers_fires_every_one_exactly_once(core, people, triage, scheduler, frozen_clock):
    started = [instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})["id"]
               for _ in range(40)]
    frozen_clock.advance(timedelta(days=2, seconds=1))
    assert scheduler.run_due() == 40
    assert scheduler.run_due() == 0
    for instance_id in started:
        assert len(fired(core, people, instance_id)) == 1
    chases = instances.list_ready_tasks(core, people["headteacher"])
    assert sorted(t["instance_id"] for t in chases) == sorted(started)
