"""A placement with organisations on every side, for the lesson tests (R7, R63, R72, R115): the commissioning school
and another school, the provider delivering it and another provider, the pupil's linked parent and another parent."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from apflow.services import instances, users
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import PASSWORD

SCHOOL, OTHER_SCHOOL, PROVIDER, OTHER_PROVIDER, LA = "The Nest School", "Hilltop School", "Bridges Learning", "Greenfield Farm", "Northshire CC"
PEOPLE = [  # username, role, organisation
    ("coord", "coordinator", SCHOOL), ("head", "headteacher", SCHOOL), ("dsl", "dsl", SCHOOL), ("senco", "senco", SCHOOL),
    ("boss", "manager", SCHOOL), ("tutor", "provider", PROVIDER), ("farmer", "provider", OTHER_PROVIDER), ("la1", "la_officer", LA),
    ("parent1", "parent", None), ("parent2", "parent", None), ("pupil1", "pupil", None), ("othercoord", "coordinator", OTHER_SCHOOL),
    ("othersenco", "senco", OTHER_SCHOOL),
]
LESSON = "09:30"  # every weekday's session of the scenario's timetable starts then (tests/scenarios/conftest.py)


def build(core, frozen_clock):
    """(life, people by username, instance id, placement id) with the clock at 10:00 on Monday 12 January 2026, the
    first day of the placement, half an hour into the day's session."""
    for name, kind in [(SCHOOL, "school"), (OTHER_SCHOOL, "school"), (LA, "la"), (OTHER_PROVIDER, "provider")]:
        users.ensure_organisation(core, name, kind)
    seed_approved_provider(core)
    people = {name: users.create_user(core, name, PASSWORD, [role], display_name=name.capitalize(), email=f"{name}@example.test",
                                      organisations=[org] if org else []) for name, role, org in PEOPLE}
    by_role = {role: people[name] for name, role, _ in PEOPLE if name in ("coord", "head", "dsl", "senco", "boss", "tutor", "la1",
                                                                            "parent1", "pupil1")}
    frozen_clock.freeze(datetime(2026, 1, 12, 8, 0, tzinfo=timezone.utc))
    life = Lifecycle(core, by_role, frozen_clock)
    iid = _active_placement(life)
    life.to_running(iid)
    frozen_clock.freeze(datetime(2026, 1, 12, 10, 0, tzinfo=timezone.utc))
    return life, people, iid, life.placement_id(iid)


def _active_placement(life) -> int:
    """life.active_placement, with the provider accepting the referral when the diagram asks it to (R12)."""
    iid = life.refer()
    life.do("Choose the provider", iid)
    if "Decide on the referral" in life.names(iid):
        task = life.task("Decide on the referral", iid)
        instances.complete_task(life.core, life.who(task), task["id"], {"referral_decision": "accept", "criteria_met": ["attendance"],
                                                                        "decision_reason": "We have a place and meet the pupil's needs."})
    for step in ("Draw up the personalised plan", "Assess the placement risks", "Arrange transport and equipment",
                 "Consult the parents or carers", "Give written consent", "Approve the placement"):
        life.do(step, iid)
    life.commission(iid)
    life.start(iid)
    return iid


def next_school_day(frozen_clock, days: int = 1) -> None:
    """Move the clock on by whole days (the scenario's days are all school days: 12 to 16 January 2026, 19 to 23 ...),
    skipping weekends."""
    for _ in range(days):
        frozen_clock.advance(timedelta(days=1))
        while frozen_clock.now().weekday() >= 5:
            frozen_clock.advance(timedelta(days=1))
