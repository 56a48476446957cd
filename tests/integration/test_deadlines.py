"""Deadlines of human tasks, on SQLite and PostgreSQL, with a moved clock:
reminder at 75%, escalation when overdue, second escalation when the first is ignored."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from apflow.errors import Conflict, Forbidden, NotFound
from apflow.services import deadlines, instances, processes
from apflow.store.models import HumanTask, Notification, OutboxEmail, User
from tests.bpmn_builder import flow_diagram
from tests.support import make_user


@pytest.fixture
def due_in_two_days(core, tmp_path):
    diagram = tmp_path / "due.bpmn"
    diagram.write_text(flow_diagram(pid="due", due_in="P2D"))
    processes.deploy_paths(core, [diagram], by="test")


def with_email(core, user, address):
    with core.db.session() as s:
        s.get(User, user.id).email = address


def notes(core, user):
    with core.db.session() as s:
        return [n.message for n in s.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id))]


def test_reminder_then_escalation_then_second_escalation(core, people, due_in_two_days, frozen_clock):
    head = people["headteacher"]
    with_email(core, people["manager"], "boss@school.example")
    started = instances.start_instance(core, people["coordinator"], "due", {"pupil_name": "Mia K."})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    with core.db.session() as s:
        row = s.get(HumanTask, task["id"])
        assert row.due_at == frozen_clock.now() + timedelta(days=2)
        assert row.due_soon_at == frozen_clock.now() + timedelta(hours=36)
        assert row.pupil_name == "Mia K." and not row.deadline_by_diagram

    frozen_clock.advance(timedelta(hours=35))
    assert deadlines.fire_due_alerts(core) == 0
    frozen_clock.advance(timedelta(hours=1))
    assert deadlines.fire_due_alerts(core) == 1
    for coordinator in (people["coordinator"], people["coordinator2"]):
        assert notes(core, coordinator) == [f"Reminder: 'Check' for Mia K. (placement #{started['id']}) is due by Wed 14 Jan 2026, 09:00."]
    assert notes(core, people["manager"]) == []

    frozen_clock.advance(timedelta(hours=12, minutes=1))
    assert deadlines.fire_due_alerts(core) == 1
    [escalation] = deadlines.list_escalations(core, people["manager"])
    assert escalation["level"] == 1 and escalation["task_name"] == "Check"
    assert escalation["missed_by"] == "the AP Coordinator role"
    assert escalation["overdue_since"] == "2026-01-14T09:00:00+00:00"
    assert notes(core, people["manager"])[0].startswith("Overdue: 'Check' for Mia K.")
    with core.db.session() as s:
        [mail] = s.scalars(select(OutboxEmail)).all()
        assert mail.to_address == "boss@school.example" and "Overdue" in mail.subject

    assert deadlines.list_escalations(core, head) == []
    frozen_clock.advance(timedelta(hours=24))
    assert deadlines.fire_due_alerts(core) == 1
    [second] = deadlines.list_escalations(core, head)
    assert second["level"] == 2 and second["late_hours"] == 24.0
    assert notes(core, head)[0].startswith("Still overdue and not taken on by a manager")


def test_acknowledged_escalation_stops_the_second_level(core, people, due_in_two_days, frozen_clock):
    instances.start_instance(core, people["coordinator"], "due", {})
    frozen_clock.advance(timedelta(days=2, minutes=1))
    deadlines.fire_due_alerts(core)
    [escalation] = deadlines.list_escalations(core, people["manager"])
    with pytest.raises(NotFound):
        deadlines.acknowledge(core, people["coordinator"], escalation["id"], "mine")
    taken = deadlines.acknowledge(core, people["manager"], escalation["id"], "Calling the provider today")
    assert taken["state"] == "acknowledged" and taken["note"] == "Calling the provider today"
    with pytest.raises(Conflict):
        deadlines.acknowledge(core, people["manager"], escalation["id"], "again")
    frozen_clock.advance(timedelta(days=2))
    deadlines.fire_due_alerts(core)
    assert deadlines.list_escalations(core, people["headteacher"]) == []


def test_completing_the_task_cancels_alerts_and_resolves_escalations(core, people, due_in_two_days, frozen_clock):
    started = instances.start_instance(core, people["coordinator"], "due", {})
    frozen_clock.advance(timedelta(days=2, minutes=1))
    deadlines.fire_due_alerts(core)
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    instances.complete_task(core, people["coordinator"], task["id"], {"outcome": "Done late"})
    assert deadlines.list_escalations(core, people["manager"]) == []
    frozen_clock.advance(timedelta(days=3))
    assert deadlines.fire_due_alerts(core) == 0


def test_a_task_whose_diagram_models_its_deadline_gets_no_default_alerts(core, people, triage, frozen_clock):
    started = instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    with core.db.session() as s:
        [row] = s.scalars(select(HumanTask)).all()
        assert row.deadline_by_diagram
    frozen_clock.advance(timedelta(days=4))
    assert deadlines.fire_due_alerts(core) == 0
    instances.fire_due_timers(core)
    assert [t["name"] for t in instances.list_ready_tasks(core, people["headteacher"], started["id"])] == ["Chase late triage"]


def test_assigned_task_reminds_only_the_assignee(core, people, due_in_two_days, frozen_clock):
    started = instances.start_instance(core, people["coordinator"], "due", {})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    with core.db.session() as s:
        s.get(HumanTask, task["id"]).assignee_id = people["coordinator2"].id
    frozen_clock.advance(timedelta(hours=36))
    deadlines.fire_due_alerts(core)
    assert notes(core, people["coordinator"]) == []
    assert len(notes(core, people["coordinator2"])) == 1


def test_dashboard_groups_overdue_and_due_this_week_for_managers(core, people, due_in_two_days, frozen_clock):
    instances.start_instance(core, people["coordinator"], "due", {"pupil_name": "Jordan T.", "provider_name": "Next Steps"})
    frozen_clock.advance(timedelta(days=1))
    instances.start_instance(core, people["coordinator"], "due", {"pupil_name": "Leo B."})
    frozen_clock.advance(timedelta(days=1, hours=5))
    board = deadlines.dashboard(core, people["manager"])
    overdue = [i for i in board["items"] if i["overdue"]]
    assert [(i["pupil"], i["late_hours"]) for i in overdue] == [("Jordan T.", 5.0)]
    assert board["by_role"] == [{"name": "AP Coordinator", "overdue": 1, "due_this_week": 1, "max_late_hours": 5.0, "max_late_school_days": 0}]
    assert board["by_provider"][0] == {"name": "Next Steps", "overdue": 1, "due_this_week": 0, "max_late_hours": 5.0, "max_late_school_days": 0}
    assert deadlines.dashboard(core, people["coordinator"])["items"] == board["items"]  # heads and coordinators see it too
    with pytest.raises(Forbidden):
        deadlines.dashboard(core, people["parent"])


def test_dashboard_counts_lateness_in_school_days_over_a_weekend_and_half_term(core, people, due_in_two_days, frozen_clock):
    from apflow.services import calendars

    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    frozen_clock.freeze(datetime(2026, 2, 10, 9, tzinfo=timezone.utc))  # Tuesday before the February half-term
    instances.start_instance(core, people["coordinator"], "due", {"pupil_name": "Jordan T."})  # due Thursday 12th
    frozen_clock.advance(timedelta(days=13))  # Monday 23rd: Friday 13th, the half-term week off, then Monday
    [item] = deadlines.dashboard(core, people["manager"])["items"]
    assert item["overdue"] and item["late_school_days"] == 2


def test_dashboard_shows_only_the_viewers_organisations(core, people, due_in_two_days, frozen_clock):
    from apflow.services import users

    users.ensure_organisation(core, "Other School", "school")
    outsider = users.create_user(core, "coord3", "correct horse battery", ["coordinator"], organisations=["Other School"])
    instances.start_instance(core, people["coordinator"], "due", {"pupil_name": "Jordan T."})
    frozen_clock.advance(timedelta(days=3))
    assert deadlines.dashboard(core, people["manager"])["items"]
    assert deadlines.dashboard(core, outsider)["items"] == []


def test_second_level_goes_to_the_headteacher_role_members(core, people, due_in_two_days, frozen_clock):
    other_head = make_user(core, "head2", "headteacher")
    instances.start_instance(core, people["coordinator"], "due", {})
    frozen_clock.advance(timedelta(days=2, minutes=1))
    deadlines.fire_due_alerts(core)
    frozen_clock.advance(timedelta(hours=24))
    deadlines.fire_due_alerts(core)
    assert len(notes(core, other_head)) == 1 and len(notes(core, people["headteacher"])) == 1


def test_R81_deadline_alerts_reach_only_the_placements_organisations_and_their_emails_name_no_pupil(core, due_in_two_days, frozen_clock):
    from apflow.services import users
    from tests.support import PASSWORD

    for name in ("The Nest School", "Hilltop School"):
        users.ensure_organisation(core, name, "school")
    coordinator = users.create_user(core, "nestcoord", PASSWORD, ["coordinator"], email="nest@school.example", organisations=["The Nest School"])
    other = users.create_user(core, "hillcoord", PASSWORD, ["coordinator"], email="hill@school.example", organisations=["Hilltop School"])
    started = instances.start_instance(core, coordinator, "due", {"pupil_name": "Mia K."})
    frozen_clock.advance(timedelta(hours=36))
    assert deadlines.fire_due_alerts(core) == 1
    assert notes(core, coordinator) == [f"Reminder: 'Check' for Mia K. (placement #{started['id']}) is due by Wed 14 Jan 2026, 09:00."]
    assert notes(core, other) == []
    with core.db.session() as s:
        [mail] = s.scalars(select(OutboxEmail)).all()
    assert mail.to_address == "nest@school.example" and "Mia" not in mail.subject + mail.body
    assert f"/tasks/{instances.list_ready_tasks(core, coordinator, started['id'])[0]['id']}" in mail.body
