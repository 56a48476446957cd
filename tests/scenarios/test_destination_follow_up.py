"""The sustained-destination follow-up (R101, N 5.3): 3 and 6 months after a destination began, the coordinator gets a
task on that day, once, however often the watch runs; the answer is recorded against the destination and shown on the
pupil's page; another school's staff never see the task."""
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import ServiceError
from apflow.placements.models import DestinationFollowUp
from apflow.placements.outcomes import add_months
from apflow.services import instances, outcomes, watches
from apflow.web import create_app
from tests.scenarios import outcomes_world as ow
from tests.scenarios.registers_world import SCHOOL, world_fixture  # noqa: F401
from tests.support import browser


def on(day: date) -> None:
    clock.freeze(datetime(day.year, day.month, day.day, 7, 0, tzinfo=timezone.utc))


def checks(core) -> list[DestinationFollowUp]:
    with core.db.session(readonly=True) as s:
        return list(s.scalars(select(DestinationFollowUp).order_by(DestinationFollowUp.months)))


def the_task(core, user, instance_id) -> dict:
    [task] = instances.list_ready_tasks(core, user, instance_id)
    return task


def test_R101_the_month_arithmetic_keeps_the_day_or_takes_the_months_last():
    assert add_months(date(2026, 1, 26), 3) == date(2026, 4, 26)
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_R101_the_3_and_6_month_checks_fall_due_on_their_days_once_and_are_recorded_against_the_destination(world):
    core, coord = world.core, world.people["coord"]
    pid = ow.placement(core, SCHOOL, "A-1", date(2025, 11, 3), date(2026, 1, 23), status="closed")
    ow.destination(core, pid, "college", date(2026, 1, 26))

    on(date(2026, 4, 25))
    assert outcomes.open_destination_follow_ups(core) == 0 and checks(core) == []
    on(date(2026, 4, 26))  # three months on (a Sunday: the check is still opened that day, due within ten school days)
    assert watches.run_all(core)["destination follow-ups"] == 1
    assert outcomes.open_destination_follow_ups(core) == 0  # every later run finds it open
    [three] = checks(core)
    assert (three.months, three.due_on, three.sustained) == (3, date(2026, 4, 26), None)
    task = the_task(core, coord, three.instance_id)
    assert task["name"] == "Check the destination is sustained" and task["pupil_ref"] == "A-1"
    assert instances.list_ready_tasks(core, world.people["othercoord"], three.instance_id) == []
    with pytest.raises(ServiceError):  # a second scheduler's start of the same check is refused
        instances.start_for(core, None, "destination_follow_up", {"destination_id": three.destination_id, "months": 3}, None)
    with pytest.raises(ServiceError, match="by hand"):
        instances.start_instance(core, coord, "destination_follow_up", {})
    on(date(2026, 4, 27))
    instances.complete_task(core, coord, task["id"], {"sustained": True, "checked_on": "2026-04-27",
                                                      "follow_up_notes": "Attending every day; spoke to her tutor."})

    on(date(2026, 7, 25))
    assert outcomes.open_destination_follow_ups(core) == 0
    on(date(2026, 7, 26))
    assert outcomes.open_destination_follow_ups(core) == 1
    assert outcomes.open_destination_follow_ups(core) == 0
    three, six = checks(core)
    assert (three.sustained, three.checked_on) == (True, date(2026, 4, 27))
    instances.complete_task(core, coord, the_task(core, coord, six.instance_id)["id"],
                            {"sustained": False, "checked_on": "2026-07-26", "follow_up_notes": "Left the course in June."})
    on(date(2027, 1, 26))
    assert outcomes.open_destination_follow_ups(core) == 0  # two checks only
    assert [(c.months, c.sustained) for c in checks(core)] == [(3, True), (6, False)]

    app = create_app(core=core, run_scheduler=False)
    page = browser(app, "coord").get("/pupils/A-1").get_data(as_text=True)
    assert "3-month check: sustained on" in page and "6-month check: not sustained on" in page and "Left the course in June." in page
    assert browser(app, "othercoord").get("/pupils/A-1").status_code == 404


def test_R101_a_destination_recorded_late_opens_both_checks_at_once_and_a_future_date_is_refused(world):
    core, coord = world.core, world.people["coord"]
    pid = ow.placement(core, SCHOOL, "A-2", date(2025, 5, 1), date(2025, 7, 18), status="closed")
    ow.destination(core, pid, "employment", date(2025, 9, 1))  # recorded today, long after the pupil started work
    on(date(2026, 3, 2))
    assert outcomes.open_destination_follow_ups(core) == 2
    assert outcomes.open_destination_follow_ups(core) == 0
    three, _ = checks(core)
    with pytest.raises(ServiceError) as refused:
        instances.complete_task(core, coord, the_task(core, coord, three.instance_id)["id"], {"sustained": True, "checked_on": "2026-03-09"})
    assert "checked_on" in refused.value.details["fields"]
    assert checks(core)[0].sustained is None  # nothing half-written
