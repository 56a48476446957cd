"""Calendar deadlines in diagrams: timers and due times that follow the school-term calendar."""
from datetime import datetime, timedelta, timezone

import pytest

from apflow.errors import WorkflowFailed
from apflow.services import calendars, instances, processes
from tests.bpmn_builder import flow_diagram


@pytest.fixture
def terms(core):
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")


def deploy(core, tmp_path, **kwargs):
    path = tmp_path / f"{kwargs.get('pid', 'checked')}.bpmn"
    path.write_text(flow_diagram(**kwargs))
    processes.deploy_paths(core, [path], by="test")


def test_R74_half_termly_review_timer_falls_due_at_the_end_of_the_half_term(core, people, terms, tmp_path, frozen_clock):
    deploy(core, tmp_path, pid="review", timer="end_of_half_term()")
    started = instances.start_instance(core, people["coordinator"], "review", {})
    events = instances.list_events(core, people["manager"], started["id"])
    with core.db.session() as s:
        from sqlalchemy import select

        from apflow.store.models import PendingTimer
        [timer] = s.scalars(select(PendingTimer)).all()
    # Monday 12 Jan 2026; the first spring half-term window ends Friday 13 Feb, 15:30 London (GMT).
    assert timer.due_at == datetime(2026, 2, 13, 15, 30, tzinfo=timezone.utc)
    assert events[0]["kind"] == "instance_started"


def test_due_in_counts_school_days_over_a_weekend(core, people, terms, tmp_path, frozen_clock):
    deploy(core, tmp_path, pid="intake", due_in="school_days(5)")
    started = instances.start_instance(core, people["coordinator"], "intake", {})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    assert task["due_at"] == "2026-01-19T15:30:00+00:00"


def test_R74_review_due_six_weeks_ahead_moves_off_the_half_term_holiday(core, people, terms, tmp_path, frozen_clock):
    frozen_clock.freeze(datetime(2026, 1, 9, 10, 0, tzinfo=timezone.utc))  # Friday; +6 weeks = 20 Feb, half-term
    deploy(core, tmp_path, pid="six", due_in="weeks(6)")
    started = instances.start_instance(core, people["coordinator"], "six", {})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    assert task["due_at"] == "2026-02-23T10:00:00+00:00"  # Monday after half-term


def test_without_term_dates_a_calendar_deadline_fails_clearly_and_changes_nothing(core, people, tmp_path):
    deploy(core, tmp_path, pid="review", timer="end_of_half_term()")
    with pytest.raises(WorkflowFailed) as err:
        instances.start_instance(core, people["coordinator"], "review", {})
    assert "No school-term dates are set up" in err.value.message
    assert instances.list_ready_tasks(core, people["manager"]) == []


def test_cycle_timer_that_missed_several_cycles_fires_once_and_records_the_skips(core, people, tmp_path, frozen_clock):
    deploy(core, tmp_path, pid="cycle", timer="R5/PT1H", timer_kind="timeCycle")
    started = instances.start_instance(core, people["coordinator"], "cycle", {})
    frozen_clock.advance(timedelta(hours=3, minutes=30))  # three cycles were due while nothing ran
    assert instances.fire_due_timers(core) == 1
    assert instances.fire_due_timers(core) == 0
    fired = [e for e in instances.list_events(core, people["manager"], started["id"]) if e["kind"] == "timer_fired"]
    assert len(fired) == 1 and fired[0]["detail"]["skipped_cycles"] == 2
    frozen_clock.advance(timedelta(hours=1))
    assert instances.fire_due_timers(core) == 1
    fired = [e for e in instances.list_events(core, people["manager"], started["id"]) if e["kind"] == "timer_fired"]
    assert len(fired) == 2 and "skipped_cycles" not in fired[1]["detail"]
