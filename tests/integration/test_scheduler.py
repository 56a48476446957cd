"""The in-process timer scheduler, on SQLite and PostgreSQL.

Time is moved with the app clock, and nothing here waits for an amount of time. Most tests step the
scheduler themselves by calling run_due(), which is all its start-up, sweep and wake-up jobs do. Where a
real APScheduler thread must be seen to act, the test waits for the scheduler to report finished passes
(wait_for_passes) and counts what they did; HANG_GUARD only turns a stuck scheduler into a failure.
"""
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from apflow.scheduler import SWEEP_JOB, WAKE_JOB, TimerScheduler
from apflow.services import instances

HANG_GUARD = 120  # seconds: far beyond any busy machine; reached only if the scheduler is stuck


@pytest.fixture
def scheduler(core):
    runner = TimerScheduler(core, sweep_seconds=3600)
    yield runner
    runner.shutdown()


def fired(core, people, instance_id):
    return [e for e in instances.list_events(core, people["manager"], instance_id) if e["kind"] == "timer_fired"]


def real_now():
    return datetime.now(timezone.utc)  # APScheduler runs on real time, not the app clock


def passes_until(runner, condition, most=20):
    """Let the scheduler's own threads work until condition() holds, looking again after each pass they
    finish; False if it still fails after `most` more passes (any pass begun after the change would do)."""
    for _ in range(most):
        seen = runner.passes
        if condition():
            return True
        assert runner.wait_for_passes(seen + 1, timeout=HANG_GUARD), "the scheduler's threads stopped working"
    return condition()


def test_committing_a_nearer_timer_re_arms_the_wake_up(core, people, triage, scheduler, frozen_clock, tmp_path):
    from apflow.services import processes
    from tests.bpmn_builder import flow_diagram

    scheduler.start()
    # The start-up pass re-arms from the database when it ends: let it finish so it cannot race the checks.
    assert scheduler.wait_for_passes(1, timeout=HANG_GUARD)
    before = real_now()
    instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    after = real_now()
    assert scheduler._armed_for == frozen_clock.now() + timedelta(days=2)
    assert_wakes_in(scheduler, timedelta(days=2), before, after)
    quick = tmp_path / "quick.bpmn"
    quick.write_text(flow_diagram(pid="quick", timer="PT1H"))
    processes.deploy_paths(core, [quick], by="test")
    before = real_now()
    instances.start_instance(core, people["coordinator"], "quick", {})
    after = real_now()
    assert scheduler._armed_for == frozen_clock.now() + timedelta(hours=1)
    assert_wakes_in(scheduler, timedelta(hours=1), before, after)
    instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["cp"]})
    assert scheduler._armed_for == frozen_clock.now() + timedelta(hours=1)  # a later timer leaves it alone
    assert_wakes_in(scheduler, timedelta(hours=1), before, after)


def assert_wakes_in(scheduler, delay, before, after):
    """The wake-up job was armed, on real time, while the commit between before and after ran: it runs
    delay after some moment in that window, however long the commit took."""
    job = scheduler._scheduler.get_job(WAKE_JOB)
    assert job is not None
    assert before + delay <= job.next_run_time <= after + delay, (before, job.next_run_time, after)


def test_the_sweep_fires_a_timer_once_after_the_clock_passes_it(core, people, triage, scheduler, frozen_clock):
    # Each sweep is one run_due(); step them by hand.
    started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    assert scheduler.run_due() == 0
    frozen_clock.advance(timedelta(days=2, seconds=1))
    assert scheduler.run_due() == 1
    for _ in range(3):  # later sweeps: a duplicate firing would show here
        assert scheduler.run_due() == 0
    assert len(fired(core, people, started["id"])) == 1
    assert scheduler.passes == 5
    assert [t["name"] for t in instances.list_ready_tasks(core, people["headteacher"], started["id"])] == ["Chase late triage"]


def test_a_real_sweep_thread_fires_a_due_timer_exactly_once(core, people, triage, frozen_clock):
    runner = TimerScheduler(core, sweep_seconds=0.2)
    try:
        runner.start()
        sweep = runner._scheduler.get_job(SWEEP_JOB)
        assert sweep.func == runner.run_due
        assert isinstance(sweep.trigger, IntervalTrigger) and sweep.trigger.interval == timedelta(seconds=0.2)
        started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
        # The wake-up is armed two days away in real time: only the sweep thread can fire it in this test.
        frozen_clock.advance(timedelta(days=2, seconds=1))
        assert passes_until(runner, lambda: fired(core, people, started["id"])), "the sweep never fired the timer"
        # Three more passes over the same data, counted rather than timed: a duplicate firing would show.
        assert runner.wait_for_passes(runner.passes + 3, timeout=HANG_GUARD)
    finally:
        runner.shutdown()  # waits for a pass still running
    assert len(fired(core, people, started["id"])) == 1
    assert [t["name"] for t in instances.list_ready_tasks(core, people["headteacher"], started["id"])] == ["Chase late triage"]


def test_timer_due_while_nothing_ran_fires_once_at_start_up(core, people, triage, scheduler, frozen_clock):
    started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    frozen_clock.advance(timedelta(days=5))
    scheduler.start()
    # The first pass to finish is the start-up one: the sweep is an hour away and nothing armed a wake-up job.
    assert scheduler.wait_for_passes(1, timeout=HANG_GUARD)
    assert len(fired(core, people, started["id"])) == 1
    scheduler.shutdown()  # waits for any pass still running, so a duplicate firing would show below
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
