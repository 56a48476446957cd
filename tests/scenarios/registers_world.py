"""A world for the register and whereabouts scenarios (issue 15): two schools, two providers, staff of each with e-mail
addresses, and placements of the first school at the first provider, started on Monday 12 January 2026 with a
session 09:30-14:30 each weekday. Import `world` into a test module to use it (as `world_fixture`: the fixture's name is `world`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from apflow.clock import clock
from apflow.services import instances, organisations, users
from apflow.store.models import Notification, OutboxEmail
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import PASSWORD

SCHOOL, OTHER_SCHOOL, LA, PROVIDER, OTHER_PROVIDER = ("The Nest School", "Hilltop School", "Northshire County Council",
                                                      "Bridges Learning", "Greenfield Farm")
PEOPLE = [  # username, role, organisation
    ("coord", "coordinator", SCHOOL), ("head", "headteacher", SCHOOL), ("dsl", "dsl", SCHOOL), ("senco", "senco", SCHOOL),
    ("boss", "manager", SCHOOL), ("tutor", "provider", PROVIDER), ("farmer", "provider", OTHER_PROVIDER),
    ("la1", "la_officer", LA), ("parent1", "parent", None), ("pupil1", "pupil", None),
    ("othercoord", "coordinator", OTHER_SCHOOL), ("otherdsl", "dsl", OTHER_SCHOOL),
]
ROLE_OF = {"coord": "coordinator", "head": "headteacher", "dsl": "dsl", "senco": "senco", "boss": "manager", "tutor": "provider",
           "la1": "la_officer", "parent1": "parent", "pupil1": "pupil"}


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    """A moment in 2026 (January is GMT, so UK time = UTC)."""
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


@dataclass
class World:
    core: object
    people: dict
    life: Lifecycle

    def placement(self, name: str = "Jordan T.", ref: str = "P-0001") -> tuple[int, int]:
        """A running placement of the first school at the first provider: (instance id, placement id)."""
        iid = self.life.active_placement(pupil_name=name, pupil_ref=ref)
        self.life.to_running(iid)
        return iid, self.life.placement_id(iid)

    def notes(self, username: str) -> list[Notification]:
        with self.core.db.session(readonly=True) as s:
            return list(s.scalars(select(Notification).where(Notification.user_id == self.people[username].id).order_by(Notification.id)))

    def mails(self, username: str) -> list[OutboxEmail]:
        with self.core.db.session(readonly=True) as s:
            return list(s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == f"{username}@example.test").order_by(OutboxEmail.id)))


@pytest.fixture(name="world")
def world_fixture(core, terms, lifecycle_deployed, frozen_clock) -> World:
    organisations.name_default(core, SCHOOL, "school")  # the school is the installation's own: families join it (issue 17)
    for name, kind in [(SCHOOL, "school"), (OTHER_SCHOOL, "school"), (LA, "la"), (OTHER_PROVIDER, "provider")]:
        users.ensure_organisation(core, name, kind)
    seed_approved_provider(core, PROVIDER)
    people = {name: users.create_user(core, name, PASSWORD, [role], display_name=name.capitalize(), email=f"{name}@example.test",
                                      organisations=[org] if org else [])
              for name, role, org in PEOPLE}
    life = Lifecycle(core, {role: people[name] for name, role in ROLE_OF.items()}, frozen_clock)
    clock.freeze(at(12, 8, 0))  # Monday 12 January 2026, before the school day
    return World(core, people, life)


def ready(core, user, iid) -> list[str]:
    return sorted(t["name"] for t in instances.list_ready_tasks(core, user, iid))
