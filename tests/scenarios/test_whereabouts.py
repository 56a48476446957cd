"""Where is the pupil now (R62): for the school's staff, one pupil or all their AP pupils at once: the session, provider,
site address, tutor and today's mark, or why the pupil is not in a session, each on the pupil's own school's term
dates. Providers and families get no school-wide list; another school sees nothing."""
from datetime import date

import pytest
from sqlalchemy import func, select, update

from apflow.clock import clock
from apflow.errors import Forbidden, NotFound
from apflow.placements.models import Placement, Pupil, TimetableSession
from apflow.school_calendar import SchoolCalendar
from apflow.services import registers, whereabouts
from apflow.store.models import Organisation, SchoolCalendarRecord
from apflow.web import create_app
from tests.scenarios.registers_world import OTHER_SCHOOL, at, world_fixture  # noqa: F401
from tests.support import browser


def where(world, user="coord", ref="P-0001"):
    return whereabouts.one_pupil(world.core, world.people[user], ref)


def test_R62_in_a_session_the_school_sees_where_with_whom_and_todays_mark(world):
    _, pid = world.placement()
    clock.freeze(at(12, 10, 0))
    now = where(world)
    assert (now["state"], now["provider"], now["tutor"], now["school"]) == ("in_session", "Bridges Learning", "Aisha Begum", "The Nest School")
    assert now["session"]["address"] == "Hill Farm, Northtown NT9 9ZZ" and now["mark"]["report"] == "Not registered yet"
    registers.record_marks(world.core, world.people["tutor"], [{"placement_id": pid, "day": "2026-01-12", "starts": "09:30",
                                                                "status": "late", "minutes_late": 20}])
    assert where(world)["mark"]["report"] == "Late (20 min)"
    registers.record_marks(world.core, world.people["tutor"], [{"placement_id": pid, "day": "2026-01-12", "starts": "09:30",
                                                                "status": "absent", "reason": "unknown"}])
    assert "reported them absent" in where(world)["words"]


@pytest.mark.parametrize("moment, state, words", [
    (at(12, 9, 0), "before_sessions", "the first is at 09:30"),
    (at(12, 15, 0), "after_sessions", "the last ended at 14:30"),
    (at(17, 11, 0), "weekend", "Weekend"),
    (at(17, 11, 0, month=2), "half_term", "Half-term holiday (Spring 2026)"),
    (at(3, 11, 0, month=4), "bank_holiday", "Bank holiday: Good Friday"),
    (at(30, 11, 0, month=3), "holiday", "School holiday"),
    (at(20, 11, 0, month=7), "inset", "INSET day"),
])
def test_R62_out_of_session_the_answer_says_why(world, moment, state, words):
    world.placement()
    clock.freeze(moment)
    now = where(world)
    assert now["state"] == state and words in now["words"]


def test_R62_a_day_with_no_ap_session_says_the_pupil_is_expected_at_school(world):
    _, pid = world.placement()
    with world.core.db.session() as s:
        s.execute(TimetableSession.__table__.delete().where(TimetableSession.placement_id == pid, TimetableSession.weekday == 2))
    clock.freeze(at(14, 11, 0))
    assert where(world)["state"] == "no_session"


@pytest.mark.parametrize("status, state, words", [
    ("suspended", "suspended", "not at the provider"), ("removed", "removed", "not at the provider"),
    ("ended", "ended", "has ended"), ("approved", "not_started", "has not started"),
])
def test_R62_a_placement_not_running_says_so(world, status, state, words):
    _, pid = world.placement()
    with world.core.db.session() as s:
        s.execute(update(Placement).where(Placement.id == pid).values(status=status))
    clock.freeze(at(12, 11, 0))
    now = where(world)
    assert now["state"] == state and words in now["words"]
    assert [p["state"] for p in whereabouts.all_pupils(world.core, world.people["coord"])] == [state]


def test_R62_a_placement_starting_later_is_not_yet_started(world):
    _, pid = world.placement()
    with world.core.db.session() as s:
        s.execute(update(Placement).where(Placement.id == pid).values(start_date=date(2026, 1, 19)))
    clock.freeze(at(13, 11, 0))
    now = where(world)
    assert now["state"] == "not_started" and "Mon 19 Jan 2026" in now["words"]


def test_R62_each_pupil_is_on_their_own_schools_term_dates(world):
    _, nest_pid = world.placement()
    _, hill_pid = world.placement("Amir H.", "P-0002")
    with world.core.db.session() as s:  # Amir is on Hilltop's roll; Hilltop has an INSET day on Wednesday 14 January
        hilltop = s.scalar(select(Organisation.id).where(Organisation.name == OTHER_SCHOOL))
        s.execute(update(Pupil).where(Pupil.ref == "P-0002").values(organisation_id=hilltop))
        default = s.scalar(select(SchoolCalendarRecord).where(SchoolCalendarRecord.organisation_id.is_(None)))
        data = SchoolCalendar.from_dict(default.data).to_dict()
        data["inset_days"] = [*data["inset_days"], "2026-01-14"]
        s.add(SchoolCalendarRecord(organisation_id=hilltop, data=data, updated_at=clock.now(), updated_by="test"))
    clock.freeze(at(14, 11, 0))
    states = {p["pupil"]["ref"]: p["state"] for p in whereabouts.all_pupils(world.core, world.people["coord"])}
    assert states == {"P-0001": "in_session", "P-0002": "inset"}
    registers.lay_out_registers(world.core)
    with world.core.db.session(readonly=True) as s:  # and no register is kept on the pupil's school's INSET day
        from apflow.placements.models import RegisterMark

        days = {(m.placement_id, m.day) for m in s.scalars(select(RegisterMark))}
    assert (nest_pid, date(2026, 1, 14)) in days and (hill_pid, date(2026, 1, 14)) not in days


def test_R62_the_list_is_for_the_schools_staff_only_and_shows_only_their_pupils(world):
    world.placement()
    world.placement("Amir H.", "P-0002")
    clock.freeze(at(12, 11, 0))
    for person in ("coord", "head", "dsl", "senco", "boss"):
        assert [p["pupil"]["name"] for p in whereabouts.all_pupils(world.core, world.people[person])] == ["Amir H.", "Jordan T."]
    assert whereabouts.all_pupils(world.core, world.people["othercoord"]) == []
    with pytest.raises(NotFound):
        where(world, "othercoord")
    for outsider in ("tutor", "farmer", "parent1", "pupil1"):
        with pytest.raises(Forbidden):
            whereabouts.all_pupils(world.core, world.people[outsider])
        with pytest.raises(NotFound):
            where(world, outsider)
    app = create_app(core=world.core, run_scheduler=False)
    coord = browser(app, "coord")
    page = coord.get("/whereabouts").get_data(as_text=True)
    assert "Jordan T." in page and "In a session at Hill Farm" in page
    assert "Aisha Begum" in coord.get("/pupils/P-0001/whereabouts").get_data(as_text=True)
    assert [p["state"] for p in coord.get("/api/v1/whereabouts").get_json()["pupils"]] == ["in_session", "in_session"]
    assert coord.get("/api/v1/pupils/P-0002/whereabouts").get_json()["pupil"]["name"] == "Amir H."
    tutor = browser(app, "tutor")
    assert tutor.get("/api/v1/whereabouts").status_code == 403 and tutor.get("/api/v1/pupils/P-0001/whereabouts").status_code == 404
    other = browser(app, "othercoord")
    nothing = other.get("/api/v1/whereabouts").get_json()
    assert nothing["pupils"] == [] and nothing["total"] == 0 and nothing["attention"] == 0
    assert other.get("/pupils/P-0001/whereabouts").status_code == 404


def test_R62_R111_a_long_list_comes_a_page_at_a_time_searchable_with_who_needs_attention_first_counted(world, monkeypatch):
    """An authority's list is thousands of pupils: the page shows PAGE at a time in name order, finds a pupil by name or
    reference, can show only those absent or not registered in a session now (and always says how many they are), and
    logs a read of each pupil shown, not of the whole list (R111). The API pages the same way with limit/offset."""
    from apflow.placements.models import ReadLogEntry

    _, jordan = world.placement()
    world.placement("Amir H.", "P-0002")
    world.placement("Bella C.", "P-0003")
    clock.freeze(at(12, 10, 0))  # in the morning session: nobody registered yet
    registers.record_marks(world.core, world.people["tutor"], [{"placement_id": jordan, "day": "2026-01-12", "starts": "09:30",
                                                                "status": "present"}])
    coord = world.people["coord"]
    everyone = whereabouts.listing(world.core, coord)
    assert [p["pupil"]["ref"] for p in everyone["pupils"]] == ["P-0002", "P-0003", "P-0001"] and everyone["total"] == 3
    assert everyone["attention"] == 2  # Amir and Bella are due in a session and not registered
    assert [p["pupil"]["ref"] for p in whereabouts.listing(world.core, coord, attention=True)["pupils"]] == ["P-0002", "P-0003"]
    assert [p["pupil"]["ref"] for p in whereabouts.listing(world.core, coord, search="bella")["pupils"]] == ["P-0003"]
    assert [p["pupil"]["ref"] for p in whereabouts.listing(world.core, coord, search="p-0001")["pupils"]] == ["P-0001"]

    monkeypatch.setattr(whereabouts, "PAGE", 2)
    app = create_app(core=world.core, run_scheduler=False)
    client = browser(app, "coord")
    first = client.get("/whereabouts").get_data(as_text=True)
    assert "Amir H." in first and "Bella C." in first and "Jordan T." not in first
    assert "2 need attention now" in first and "3 pupils; page 1 of 2" in first and "Next page" in first
    second = client.get("/whereabouts?page=2").get_data(as_text=True)
    assert "Jordan T." in second and "Amir H." not in second and "Previous page" in second
    assert "Jordan T." in client.get("/whereabouts?page=99").get_data(as_text=True)  # past the end: the last page
    only = client.get("/whereabouts?attention=1&q=amir").get_data(as_text=True)
    assert "Amir H." in only and "Bella C." not in only and "1 pupil matches" in only
    assert "No pupil matches" in client.get("/whereabouts?q=nobody").get_data(as_text=True)
    with world.core.db.session(readonly=True) as s:  # each pupil shown was logged; nobody was logged for a page they were not on
        logged = {ref: n for ref, n in s.execute(select(Pupil.ref, func.count(ReadLogEntry.id)).join(ReadLogEntry, ReadLogEntry.pupil_id == Pupil.id)
                                                 .group_by(Pupil.ref)).all()}
    assert logged == {"P-0002": 2, "P-0003": 1, "P-0001": 2}

    api = client.get("/api/v1/whereabouts?limit=2").get_json()
    assert [p["pupil"]["ref"] for p in api["pupils"]] == ["P-0002", "P-0003"] and api["next_offset"] == 2 and api["total"] == 3
    rest = client.get("/api/v1/whereabouts?limit=2&offset=2").get_json()
    assert [p["pupil"]["ref"] for p in rest["pupils"]] == ["P-0001"] and "next_offset" not in rest
    assert client.get("/api/v1/whereabouts?attention=true").get_json()["total"] == 2
    for bad in ("limit=0", "limit=abc", "limit=5000", "offset=-1", "attention=yes"):
        refused = client.get(f"/api/v1/whereabouts?{bad}")
        assert refused.status_code == 422 and refused.get_json()["error"], bad
