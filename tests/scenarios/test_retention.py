"""Retention (R111), with a moved clock: register marks go 6 years after their day, a finished placement's file 6
years after it ended (its concerns kept), child-protection records at the pupil's 25th birthday, read-log entries 6
years after the read, the pupil once nothing else is held. Nothing goes a day early, nothing under a legal hold (an
open concern, an open placement), every deletion is logged without its content, the run happens once a day, and the
managers' dry run deletes nothing."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select, update

from apflow.clock import clock
from apflow.placements.models import (
    Concern,
    CpRead,
    CpRecord,
    Placement,
    Plan,
    Pupil,
    PupilContact,
    ReadLogEntry,
    RegisterMark,
    RetentionDeletion,
    RetentionRun,
)
from apflow.services import registers, retention
from apflow.store.models import Instance
from apflow.web import create_app
from tests.scenarios.registers_world import at, world_fixture  # noqa: F401
from tests.support import browser


def night(year, month, day, hour=3) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=timezone.utc)


def count(world, model, *where) -> int:
    with world.core.db.session(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def pupil_id(world, ref) -> int | None:
    with world.core.db.session(readonly=True) as s:
        return s.scalar(select(Pupil.id).where(Pupil.ref == ref))


@pytest.fixture
def history(world):
    """Jordan (P-0001, born 4 May 2011): a placement run for two days of registers, read on the first, a resolved
    child-protection concern with a file entry and a read, then closed on 31 March 2026. Amir (P-0002): a placement
    still running, with two days of registers."""
    iid, pid = world.placement()
    amir_iid, amir_pid = world.placement("Amir H.", "P-0002")
    for day in (12, 13):
        clock.freeze(at(day, 7, 0))
        registers.lay_out_registers(world.core)
    app = create_app(core=world.core, run_scheduler=False)
    clock.freeze(at(12, 11, 0))
    assert browser(app, "coord").get("/pupils/P-0001").status_code == 200
    jordan = pupil_id(world, "P-0001")
    with world.core.db.session() as s:
        concern = Concern(placement_id=pid, pupil_id=jordan, raised_at=at(12, 11), summary="Bruising", child_protection=True,
                          status="resolved", resolved_at=at(20, 11))
        s.add(concern)
        s.flush()
        s.add(CpRecord(pupil_id=jordan, concern_id=concern.id, placement_id=pid, at=at(12, 11), actor="Dsl", kind="note", summary="Seen"))
        s.add(CpRead(pupil_id=jordan, username="dsl", at=at(12, 12), what="Child-protection file"))
        s.execute(update(Placement).where(Placement.id == pid).values(status="closed", end_date=date(2026, 3, 31)))
    return {"app": app, "iid": iid, "pid": pid, "amir_iid": amir_iid, "amir_pid": amir_pid, "jordan": jordan,
            "marks": count(world, RegisterMark, RegisterMark.placement_id == pid)}


def run_on(world, moment) -> int:
    clock.freeze(moment)
    return retention.run_retention(world.core)


def test_R111_nothing_is_deleted_before_it_is_due(world, history):
    before = {m: count(world, m) for m in (RegisterMark, Placement, Concern, CpRecord, ReadLogEntry, Pupil)}
    assert run_on(world, night(2032, 1, 11)) == 0  # the day before the first register marks fall due
    assert {m: count(world, m) for m in before} == before
    assert count(world, RetentionDeletion) == 0 and count(world, RetentionRun) == 1


def test_R111_everything_due_is_deleted_in_turn_and_each_deletion_is_logged_without_content(world, history):
    pid, jordan = history["pid"], history["jordan"]
    # 12 January 2032: the first day's register marks and the read of that day (six years); the second day's stay
    assert run_on(world, night(2032, 1, 12)) > 0
    assert count(world, RegisterMark, RegisterMark.placement_id == pid, RegisterMark.day == date(2026, 1, 12)) == 0
    assert count(world, RegisterMark, RegisterMark.placement_id == pid, RegisterMark.day == date(2026, 1, 13)) > 0
    assert count(world, ReadLogEntry, ReadLogEntry.pupil_id == jordan) == 0
    # Amir's placement is still open: his old marks are held, not deleted
    assert count(world, RegisterMark, RegisterMark.placement_id == history["amir_pid"], RegisterMark.day == date(2026, 1, 12)) > 0
    # 31 March 2032: the placement's file, six years after it ended, with its workflow; the concern is kept, unlinked
    assert count(world, Placement, Placement.id == pid) == 1
    run_on(world, night(2032, 3, 30))
    assert count(world, Placement, Placement.id == pid) == 1
    run_on(world, night(2032, 3, 31))
    assert count(world, Placement, Placement.id == pid) == 0 and count(world, Plan, Plan.placement_id == pid) == 0
    assert count(world, Instance, Instance.id == history["iid"]) == 0
    assert count(world, Concern, Concern.pupil_id == jordan, Concern.placement_id.is_(None)) == 1
    assert count(world, CpRecord, CpRecord.pupil_id == jordan) == 1 and count(world, Pupil, Pupil.id == jordan) == 1
    # the pupil's 25th birthday, 4 May 2036: the child-protection records, then the pupil, family and all
    run_on(world, night(2036, 5, 3))
    assert count(world, Concern, Concern.pupil_id == jordan) == 1
    run_on(world, night(2036, 5, 4))
    assert count(world, Concern, Concern.pupil_id == jordan) == 0 and count(world, CpRecord, CpRecord.pupil_id == jordan) == 0
    assert count(world, CpRead, CpRead.pupil_id == jordan) == 0 and pupil_id(world, "P-0001") is None
    assert count(world, PupilContact, PupilContact.pupil_id == jordan) == 0
    assert pupil_id(world, "P-0002") is not None and count(world, Placement, Placement.id == history["amir_pid"]) == 1
    # the deletion log is kept, and holds what, whose, which rule and when: never the content
    with world.core.db.session(readonly=True) as s:
        log = [(d.run_day.isoformat(), d.rule, d.record, d.record_id, d.rows) for d in s.scalars(select(RetentionDeletion).order_by(RetentionDeletion.id))]
        placement_row = s.scalar(select(RetentionDeletion).where(RetentionDeletion.record == "placements"))
    first_day_marks = history["marks"] // 2
    assert log[:2] == [("2032-01-12", "registers", "register_marks", None, first_day_marks), ("2032-01-12", "read_log", "read_log", None, 1)]
    assert ("2032-03-30", "registers", "register_marks", None, history["marks"] - first_day_marks) in log  # the second day's
    assert ("2032-03-31", "placements", "placements", pid, 1) in log
    assert placement_row.pupil_id == jordan and "register_marks" not in placement_row.cascaded  # already gone under their own rule
    assert placement_row.cascaded["instances"] == 1 and placement_row.cascaded["plans"] >= 1
    assert [r[1:4] for r in log if r[0] == "2036-05-04"] == [("child_protection", "cp_reads", None), ("child_protection", "cp_records", None),
                                                             ("child_protection", "concerns", log[-2][3]), ("pupils", "pupils", jordan)]
    assert "Bruising" not in str(log) and "Jordan" not in str([placement_row.cascaded])


def test_R111_an_open_concern_holds_everything_about_the_pupil(world, history):
    jordan = history["jordan"]
    with world.core.db.session() as s:
        s.add(Concern(pupil_id=jordan, raised_at=at(14, 11), summary="New worry", status="open"))
    run_on(world, night(2040, 1, 1))
    assert count(world, Placement, Placement.id == history["pid"]) == 1 and count(world, RegisterMark, RegisterMark.placement_id == history["pid"]) == history["marks"]
    assert count(world, ReadLogEntry, ReadLogEntry.pupil_id == jordan) == 1 and count(world, CpRecord, CpRecord.pupil_id == jordan) == 1
    with world.core.db.session(readonly=True) as s:
        run = s.get(RetentionRun, date(2040, 1, 1))
    assert run.held >= 3 and "child_protection" not in run.deleted


def test_R111_the_run_happens_once_a_day_after_its_time(world, history):
    assert run_on(world, night(2032, 1, 12, hour=1)) == 0 and count(world, RetentionRun) == 0  # before 02:00 UK
    assert run_on(world, night(2032, 1, 12, hour=2)) > 0
    assert run_on(world, night(2032, 1, 12, hour=14)) == 0  # claimed: a second scheduler, or a later minute, does nothing
    assert count(world, RetentionRun) == 1


def test_R111_the_dry_run_shows_what_would_go_and_deletes_nothing(world, history):
    boss = browser(history["app"], "boss")
    before = {m: count(world, m) for m in (RegisterMark, Placement, Concern, CpRecord, CpRead, ReadLogEntry, Pupil, Instance)}
    report = boss.get("/api/v1/retention?on=2036-05-04").get_json()
    assert {k: v["records"] for k, v in report["per_rule"].items()} == {
        "child_protection": 3, "placements": 1, "registers": 0, "read_log": 1, "pupils": 1}  # the marks go with the placement
    [jordan] = [p for p in report["pupils"] if p["ref"] == "P-0001"]
    assert jordan["rules"]["placements"] == 1 and jordan["rules"]["pupils"] == 1
    assert any(h["pupil"] == "P-0002" and "still open" in h["reason"] for h in report["held"])
    page = boss.get("/retention?on=2032-03-31").get_data(as_text=True)
    assert "Jordan T." in page and "Due but kept" in page and "the placement is still open" in page
    assert boss.get("/retention?on=31/03/2032").status_code == 422
    assert {m: count(world, m) for m in before if m is not ReadLogEntry} == {m: v for m, v in before.items() if m is not ReadLogEntry}
    assert count(world, RetentionDeletion) == 0
    for name in ("coord", "dsl", "head", "tutor", "parent1", "othercoord"):
        client = browser(history["app"], name)
        assert client.get("/retention").status_code == 404 and client.get("/api/v1/retention").status_code == 403, name


def test_R111_a_manager_of_another_school_sees_none_of_these_pupils(world, history):
    from apflow.services import users
    from tests.scenarios.registers_world import OTHER_SCHOOL
    from tests.support import PASSWORD

    users.create_user(world.core, "otherboss", PASSWORD, ["manager"], organisations=[OTHER_SCHOOL])
    run_on(world, night(2032, 1, 12))
    found = browser(history["app"], "otherboss").get("/api/v1/retention?on=2040-01-01").get_json()
    assert found["pupils"] == [] and found["held"] == [] and found["deletions"] == []
    assert browser(history["app"], "boss").get("/api/v1/retention").get_json()["deletions"]
