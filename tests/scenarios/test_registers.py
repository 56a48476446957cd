"""Registers as records (R71, R72, R79): the provider marks every session of every pupil it teaches at once, a missed
register stays visible and is chased, absences reach the school in minutes and every one is followed up, the school
codes what the provider reports, and patterns open a review. Only the provider delivering a placement keeps its
register; another school sees nothing."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from apflow.clock import clock
from apflow.errors import Forbidden, Invalid, NotFound
from apflow.placements import registers as domain
from apflow.placements.models import Placement, RegisterMark, RegisterReview, TimetableSession
from apflow.services import instances, placements, pupils, registers, trends, watches
from apflow.web import create_app
from tests.scenarios.registers_world import at, ready, world_fixture  # noqa: F401
from tests.support import browser, post

FOLLOW_UP = "Follow up the absence"


def mark(pid, status="present", day="2026-01-12", starts="09:30", **extra):
    return {"placement_id": pid, "day": day, "starts": starts, "status": status, **extra}


def test_R71_registers_are_records_per_session_not_inbox_tasks(world):
    iid, pid = world.placement()
    assert not [n for n in ready(world.core, world.people["boss"], iid) if "egister" in n]  # no task per pupil per day
    clock.freeze(at(12, 9, 35))
    [row] = registers.provider_day(world.core, world.people["tutor"])["rows"]
    assert (row["pupil"], row["starts"], row["ends"], row["half"], row["school"]) == ("Jordan T.", "09:30", "14:30", "AM+PM", "The Nest School")
    assert row["status"] is None and row["started"] and not row["missing"]
    assert registers.lay_out_registers(world.core) == 1 and registers.lay_out_registers(world.core) == 0  # laid out once
    registers.record_marks(world.core, world.people["tutor"], [mark(pid)])
    [stored] = _marks(world, pid)
    assert (stored.status, stored.marked_by, stored.code) == ("present", "Tutor", None)  # the provider never codes
    assert "Follow up the absence" not in ready(world.core, world.people["boss"], iid)


def test_R71_a_tutor_marks_several_pupils_at_once_and_a_double_submit_changes_nothing(world):
    _, first = world.placement()
    _, second = world.placement("Amir H.", "P-0002")
    clock.freeze(at(12, 9, 50))
    marks = [mark(first), mark(second, "late", minutes_late=15, note="Bus was late.")]
    assert registers.record_marks(world.core, world.people["tutor"], marks)["saved"] == 2
    again = registers.record_marks(world.core, world.people["tutor"], marks)
    assert (again["saved"], again["unchanged"], again["absences"]) == (0, 2, 0)
    [late] = _marks(world, second)
    assert (late.status, late.minutes_late, late.note) == ("late", 15, "Bus was late.")
    # "all present" fills only the sessions left blank that have started; a mark already made stays
    registers.record_marks(world.core, world.people["tutor"], [], all_present=[f"{second}:2026-01-12:09:30"])
    assert _marks(world, second)[0].status == "late"


def test_R71_bad_marks_are_refused_field_by_field_and_nothing_is_written(world):
    _, pid = world.placement()
    _, other = world.placement("Amir H.", "P-0002")
    clock.freeze(at(12, 9, 50))
    with pytest.raises(Invalid) as refused:
        registers.record_marks(world.core, world.people["tutor"], [
            mark(pid), mark(other, "late"), mark(other, "absent", starts="13:00"), mark(pid, "maybe", day="2026-01-13")])
    fields = refused.value.details["fields"]
    assert f"{other}:2026-01-12:09:30.minutes_late" in fields and f"{pid}:2026-01-13:09:30.status" in fields
    assert _marks(world, pid) == [] or all(m.status is None for m in _marks(world, pid))  # the good mark was not kept either
    clock.freeze(at(12, 9, 0))
    with pytest.raises(Invalid, match="once it has started"):
        registers.record_marks(world.core, world.people["tutor"], [mark(pid)])
    with pytest.raises(Invalid, match="no register"):
        registers.record_marks(world.core, world.people["tutor"], [mark(pid, "absent", starts="13:00", reason="ill")])


def test_R71_R79_an_unexplained_absence_alerts_the_coordinator_and_dsl_at_once_and_opens_the_follow_up(world):
    iid, pid = world.placement()
    clock.freeze(at(13, 10, 0))  # Tuesday: not the first day
    registers.lay_out_registers(world.core)
    done = registers.record_marks(world.core, world.people["tutor"], [mark(pid, "absent", day="2026-01-13", reason="unknown")])
    assert done["school_alerted"] == 1 and done["follow_ups_opened"] == 1
    for person in ("coord", "dsl"):
        [alert] = [n for n in world.notes(person) if n.kind == "unexplained_absence"]
        assert "Jordan T." in alert.message and "no reason was given" in alert.message
        [mail] = [m for m in world.mails(person) if "absent" in m.body]
        assert "Jordan" not in mail.body and "Jordan" not in mail.subject  # e-mail leaves the product: no name
    for outsider in ("othercoord", "otherdsl", "tutor", "farmer"):
        assert not [n for n in world.notes(outsider) if n.kind == "unexplained_absence"]
    follow_up = next(t for t in instances.list_ready_tasks(world.core, world.people["coord"], iid) if t["name"] == FOLLOW_UP)
    assert follow_up["role"] == "coordinator" and follow_up["due_at"] == "2026-01-13T11:00:00+00:00"  # within the hour
    instances.complete_task(world.core, world.people["coord"], follow_up["id"],
                            {"contacted": ["parents"], "absence_outcome": "Overslept; on the way now.", "pupil_safe": "yes", "absence_code": "O"})
    [absent] = _marks(world, pid, "2026-01-13")
    assert absent.followed_up_at is not None and absent.code == "O" and absent.follow_up["contacted"] == ["parents"]


def test_R71_a_follow_up_not_acted_on_within_the_hour_escalates(world):
    iid, pid = world.placement()
    clock.freeze(at(13, 10, 0))
    registers.record_marks(world.core, world.people["tutor"], [mark(pid, "absent", day="2026-01-13", reason="unknown")])
    from apflow.services import deadlines

    clock.freeze(at(13, 11, 1))
    assert deadlines.fire_due_alerts(world.core) >= 1
    assert [n for n in world.notes("dsl") if n.kind == "escalation" and FOLLOW_UP in n.message]
    assert not [n for n in world.notes("otherdsl") if n.kind == "escalation"]


def test_R79_the_school_follows_up_every_absence_even_an_explained_one(world):
    iid, pid = world.placement()
    clock.freeze(at(13, 9, 45))
    registers.record_marks(world.core, world.people["tutor"], [mark(pid, "absent", day="2026-01-13", reason="ill", note="Mum rang at 9.")])
    assert not [n for n in world.notes("dsl") if n.kind == "unexplained_absence"]  # explained: no alarm to the DSL
    assert FOLLOW_UP in ready(world.core, world.people["coord"], iid)  # but the school still follows it up
    book = registers.placement_register(world.core, world.people["coord"], pid, date(2026, 1, 12), date(2026, 1, 13))
    assert book["to_follow_up"] == 1 and book["follow_up_task"]
    tuesday = book["days"][0]["sessions"][0]
    assert (tuesday["report"], tuesday["note"], tuesday["suggested_code"]) == ("Absent: Ill (family told us)", "Mum rang at 9.", "I")


def test_R71_a_first_day_no_show_alerts_more_strongly(world):
    _, pid = world.placement()
    clock.freeze(at(12, 9, 45))
    registers.record_marks(world.core, world.people["tutor"], [mark(pid, "absent", reason="transport")])
    [alert] = [n for n in world.notes("dsl") if n.kind == "unexplained_absence"]
    assert alert.message.startswith("First day:") and "Check they are safe now" in alert.message


def test_R79_the_school_codes_what_the_provider_reports(world):
    _, pid = world.placement()
    clock.freeze(at(12, 9, 45))
    registers.record_marks(world.core, world.people["tutor"], [mark(pid, "late", minutes_late=10)])
    [row] = _marks(world, pid)
    with pytest.raises(Forbidden):  # the provider reports; the school codes
        registers.code_marks(world.core, world.people["tutor"], pid, {str(row.id): "B"})
    with pytest.raises(Invalid) as bad:
        registers.code_marks(world.core, world.people["coord"], pid, {str(row.id): "Z9"})
    assert f"code-{row.id}" in bad.value.details["fields"]
    assert registers.code_marks(world.core, world.people["coord"], pid, {}, suggested=True) == {"coded": 1}
    assert _marks(world, pid)[0].code == "B"  # the placement's attendance code for a session at the provider
    registers.code_marks(world.core, world.people["coord"], pid, {str(row.id): "K"})
    book = registers.placement_register(world.core, world.people["coord"], pid)
    session = book["days"][0]["sessions"][0]
    assert (session["code"], session["coded_by"], book["attendance_percent"]) == ("K", "Coord", 100.0)


def test_R71_a_missing_register_chases_the_provider_then_tells_the_school(world):
    _, pid = world.placement()
    clock.freeze(at(12, 9, 59))
    watches.run_all(world.core)
    assert not [n for n in world.notes("tutor") if n.kind == "register_missing"]
    clock.freeze(at(12, 10, 0))  # 30 minutes after the session started
    assert registers.chase_missing_registers(world.core) == 1
    [chase] = [n for n in world.notes("tutor") if n.kind == "register_missing"]
    assert "Jordan T." in chase.message and [m for m in world.mails("tutor") if "registers are missing" in m.body]
    assert not world.notes("farmer") and not [n for n in world.notes("coord") if "registered" in n.message]
    assert registers.chase_missing_registers(world.core) == 0  # chased once, whoever runs the check
    clock.freeze(at(12, 10, 30))  # still missing 30 minutes later: the school hears, and on the first day its DSL too
    assert registers.chase_missing_registers(world.core) == 1
    for person in ("coord", "dsl"):
        assert [n for n in world.notes(person) if "has not registered Jordan T." in n.message and n.message.startswith("First day")]
    assert not world.notes("othercoord")
    assert registers.chase_missing_registers(world.core) == 0


def test_R71_days_nobody_registered_stay_visible_as_missing_after_the_scheduler_was_down(world):
    _, pid = world.placement()
    clock.freeze(at(15, 11, 0))  # Thursday: nothing ran since Monday morning
    missing = registers.missing_registers(world.core, world.people["tutor"])
    assert [m["day"] for m in missing] == ["2026-01-12", "2026-01-13", "2026-01-14", "2026-01-15"]
    watches.run_all(world.core)  # catches up: lays the days out, chases them once, tells the school once
    assert len(_marks(world, pid)) == 4
    [chase] = [n for n in world.notes("tutor") if n.kind == "register_missing"]
    assert chase.message.startswith("4 registers are missing")
    assert len([n for n in world.notes("coord") if "has not registered" in n.message]) == 4
    watches.run_all(world.core)
    assert len(world.notes("tutor")) == 1
    registers.record_marks(world.core, world.people["tutor"], [mark(pid, day="2026-01-13")])  # a past day can still be marked
    assert [m["day"] for m in registers.missing_registers(world.core, world.people["tutor"])] == ["2026-01-12", "2026-01-14", "2026-01-15"]


def test_R71_registers_are_kept_on_school_days_while_the_placement_runs(world):
    _, pid = world.placement()
    with world.core.db.session() as s:  # Mondays and Fridays only
        s.execute(TimetableSession.__table__.delete().where(TimetableSession.weekday.in_([1, 2, 3])))
    clock.freeze(at(23, 16, 0, month=2))  # after half-term (16-20 February)
    registers.lay_out_registers(world.core)
    days = sorted({m.day for m in _marks(world, pid)})
    assert date(2026, 1, 13) not in days and date(2026, 1, 16) in days and date(2026, 1, 19) in days
    assert not [d for d in days if date(2026, 2, 16) <= d <= date(2026, 2, 20) or d.weekday() >= 5]
    with world.core.db.session() as s:  # suspended while a concern is dealt with: no register is kept or chased
        s.execute(update(Placement).where(Placement.id == pid).values(status="suspended"))
    clock.freeze(at(27, 10, 30, month=2))
    registers.lay_out_registers(world.core)
    assert not [m for m in _marks(world, pid) if m.day == date(2026, 2, 27)]
    chased = registers.chase_missing_registers(world.core)
    assert chased == 0
    with world.core.db.session() as s:
        s.execute(update(Placement).where(Placement.id == pid).values(status="active"))
    clock.freeze(at(2, 10, 0, month=3))
    registers.lay_out_registers(world.core)
    assert not [m for m in _marks(world, pid) if m.day == date(2026, 2, 27)]  # the suspended Friday stays unkept
    assert [m for m in _marks(world, pid) if m.day == date(2026, 3, 2)]


def test_R71_R73_attendance_below_the_threshold_over_four_weeks_opens_a_review_once(world):
    iid, pid = world.placement()
    for n in range(12):  # 12 school days from Monday 12 January
        day = date(2026, 1, 12) + timedelta(days=n + 2 * (n // 5))
        clock.freeze(at(day.day, 15, 0))
        status = "absent" if n % 3 == 0 else "present"
        registers.record_marks(world.core, world.people["tutor"], [mark(pid, status, day=day.isoformat(), reason="ill")])
    clock.freeze(at(27, 15, 29))
    assert registers.attendance_patterns(world.core) == 0  # not before the school day ends
    clock.freeze(at(27, 15, 31))
    assert registers.attendance_patterns(world.core) == 1
    with world.core.db.session(readonly=True) as s:
        [review] = s.scalars(select(RegisterReview)).all()
    assert review.kind == "low_attendance" and "66.7%" in review.reason and review.review_opened
    assert "Invite everyone to the review" in ready(world.core, world.people["boss"], iid) or review.review_opened
    history = placements.placement_history(world.core, world.people["coord"], pid)
    assert [h for h in history if h["kind"] == "review_requested" and "Attendance was 66.7%" in h["summary"]]
    clock.freeze(at(28, 15, 31))
    assert registers.attendance_patterns(world.core) == 0  # once, not every day


def test_R71_R73_repeated_lateness_opens_a_review(world):
    _, pid = world.placement()
    for day in (12, 13, 14):
        clock.freeze(at(day, 15, 0))
        registers.record_marks(world.core, world.people["tutor"], [mark(pid, "late", day=f"2026-01-{day}", minutes_late=20)])
    clock.freeze(at(14, 16, 0))
    assert registers.attendance_patterns(world.core) == 1
    with world.core.db.session(readonly=True) as s:
        assert [r.kind for r in s.scalars(select(RegisterReview))] == ["lateness"]


def test_R71_a_provider_sees_only_its_own_pupils_and_another_school_sees_nothing(world):
    _, pid = world.placement()
    clock.freeze(at(12, 10, 45))
    assert registers.provider_day(world.core, world.people["farmer"])["rows"] == []
    assert registers.missing_registers(world.core, world.people["farmer"]) == []
    with pytest.raises(NotFound):
        registers.record_marks(world.core, world.people["farmer"], [mark(pid)])
    for outsider in ("othercoord", "otherdsl", "farmer", "parent1", "pupil1"):
        with pytest.raises(NotFound):
            registers.placement_register(world.core, world.people[outsider], pid)
    with pytest.raises(Forbidden):
        registers.provider_day(world.core, world.people["coord"])  # the school does not keep the provider's register
    app = create_app(core=world.core, run_scheduler=False)
    farmer = browser(app, "farmer")
    assert "Jordan T." not in farmer.get("/registers").get_data(as_text=True)
    assert farmer.get(f"/api/v1/placements/{pid}/register").status_code == 404
    assert farmer.post("/api/v1/registers", json={"marks": [mark(pid)]}, headers={"X-CSRF-Token": farmer.csrf}).status_code == 404
    other = browser(app, "othercoord")
    assert other.get(f"/api/v1/placements/{pid}/register").status_code == 404
    assert other.post(f"/api/v1/placements/{pid}/register/codes", json={"codes": {}},
                      headers={"X-CSRF-Token": other.csrf}).status_code == 404


def test_R71_the_today_page_marks_the_grid_at_once_and_the_api_reads_it(world):
    iid, pid = world.placement()
    _, second = world.placement("Amir H.", "P-0002")
    clock.freeze(at(12, 9, 40))
    app = create_app(core=world.core, run_scheduler=False)
    tutor = browser(app, "tutor")
    page = tutor.get("/registers").get_data(as_text=True)
    assert "Jordan T." in page and "Amir H." in page and 'name="status-1:2026-01-12:09:30"' in page
    refused = post(tutor, "/registers", {"key": [f"{pid}:2026-01-12:09:30"], f"status-{pid}:2026-01-12:09:30": "absent"})
    assert refused.status_code == 422 and "Choose why the pupil is absent" in refused.get_data(as_text=True)
    keys = [f"{pid}:2026-01-12:09:30", f"{second}:2026-01-12:09:30"]
    form = {"key": keys, f"status-{keys[0]}": "absent", f"reason-{keys[0]}": "unknown", "all_present": "1"}
    assert post(tutor, "/registers", form).status_code == 302
    assert post(tutor, "/registers", form).status_code == 302  # sent twice: harmless
    assert [m.status for m in _marks(world, pid) + _marks(world, second)] == ["absent", "present"]
    grid = tutor.get("/api/v1/registers").get_json()
    assert {(r["pupil"], r["status"]) for r in grid["rows"]} == {("Jordan T.", "absent"), ("Amir H.", "present")}
    coord = browser(app, "coord")
    register_page = coord.get(f"/placements/{iid}/register").get_data(as_text=True)
    assert "Did not arrive, no reason given" in register_page and "Follow up now" in register_page
    assert post(coord, f"/placements/{iid}/register", {"suggested": "1"}).status_code == 302
    assert _marks(world, pid)[0].code == "N"
    api = coord.get(f"/api/v1/placements/{pid}/register").get_json()
    assert api["days"][0]["sessions"][0]["code"] == "N"


def test_R71_R11_the_pupils_page_and_reports_count_the_sessions_registered(world):
    _, pid = world.placement()
    for day, status in ((12, "present"), (13, "late"), (14, "absent")):
        clock.freeze(at(day, 15, 0))
        registers.record_marks(world.core, world.people["tutor"], [mark(pid, status, day=f"2026-01-{day}", minutes_late=5, reason="unknown")])
    summary = pupils.profile(world.core, world.people["coord"], "P-0001")["attendance"]
    assert summary["overall"] == {"sessions": 3, "present": 1, "late": 1, "absent": 1, "unexplained": 1, "percent": 66.7}
    report = trends.figures(world.core, world.people["coord"])
    assert [(r["sessions"], r["attended"], r["percent"]) for r in report["tables"]["attendance"]["rows"] if r["sessions"]] == [(3, 2, 66.7)]
    detail = placements.get_placement(world.core, world.people["coord"], pid)["attendance"]
    assert [(a["day"], a["status"]) for a in detail] == [("2026-01-12", "present"), ("2026-01-13", "late"), ("2026-01-14", "absent")]


def test_R71_R7_a_family_reads_attendance_in_plain_words_with_no_notes_or_codes(world):
    _, pid = world.placement()
    clock.freeze(at(13, 15, 0))
    registers.record_marks(world.core, world.people["tutor"], [mark(pid, "late", minutes_late=12, note="Upset about home."),
                                                               mark(pid, "absent", day="2026-01-13", reason="refused", note="Refused")])
    registers.code_marks(world.core, world.people["coord"], pid, {}, suggested=True)
    clock.freeze(at(14, 9, 0))  # Wednesday's session has not begun
    with world.core.db.session(readonly=True) as s:
        rows = domain.family_attendance(s, pid, date(2026, 1, 12), date(2026, 1, 16))
    assert rows == [
        {"day": "2026-01-12", "starts": "09:30", "ends": "14:30", "status": "late", "label": "Arrived 12 minutes late", "minutes_late": 12},
        {"day": "2026-01-13", "starts": "09:30", "ends": "14:30", "status": "absent", "label": "Absent", "minutes_late": None}]
    clock.freeze(at(14, 11, 0))
    with world.core.db.session(readonly=True) as s:
        assert domain.family_attendance(s, pid, date(2026, 1, 14), date(2026, 1, 14))[0]["status"] == "not_recorded"


def test_R79_the_follow_up_form_offers_exactly_the_absence_codes_kept_in_one_place():
    import json

    from apflow.config import ROOT

    schema = json.loads((ROOT / "forms" / "absence_follow_up.schema.json").read_text())
    absence = [c for c, (_, kind) in domain.CODES.items() if kind in ("authorised", "unauthorised", "not_counted")]
    assert schema["properties"]["absence_code"]["enum"] == absence
    assert {"B", "K", "D"} <= set(domain.CODES) and domain.CODES["K"][1] == "attending"


def _marks(world, pid, day=None):
    with world.core.db.session(readonly=True) as s:
        query = select(RegisterMark).where(RegisterMark.placement_id == pid).order_by(RegisterMark.day, RegisterMark.starts)
        if day:
            query = query.where(RegisterMark.day == date.fromisoformat(day))
        return list(s.scalars(query))


def test_R71_a_daily_register_task_left_by_an_older_diagram_says_where_registers_are_taken_now():
    """Placements still on a diagram version with the old daily register task are refused with what to do, not
    told that apflow does not know the kind (and nothing is recorded for the day but by the Today page)."""
    from apflow.errors import Invalid
    from apflow.services import records

    with pytest.raises(Invalid, match="Today page") as refused:
        records.apply(None, None, None, None, None, {"records": "attendance"}, {}, {})
    assert "Move running placements" in str(refused.value)
