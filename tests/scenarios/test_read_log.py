"""Who read a pupil's records (R111): every page and API route that shows a pupil's records logs who, in which role,
what, when and from which route; the pupil's school's managers and DSLs see the log, filtered; nobody else can open it
(404); reads of the child-protection file show only to those entitled to it; a failed log write never fails the read."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import NotFound
from apflow.placements.models import ReadLogEntry
from apflow.services import read_log, registers
from apflow.web import create_app
from tests.scenarios.registers_world import at, world_fixture  # noqa: F401
from tests.support import browser


def entries(world, ref="P-0001") -> list[ReadLogEntry]:
    from apflow.placements.models import Pupil

    with world.core.db.session(readonly=True) as s:
        pupil_id = s.scalar(select(Pupil.id).where(Pupil.ref == ref))
        return list(s.scalars(select(ReadLogEntry).where(ReadLogEntry.pupil_id == pupil_id).order_by(ReadLogEntry.id)))


@pytest.fixture
def placed(world):
    iid, pid = world.placement()
    clock.freeze(at(12, 11, 0))
    registers.lay_out_registers(world.core)
    return world, iid, pid, create_app(core=world.core, run_scheduler=False)


def test_R111_every_read_of_a_pupils_records_is_logged_with_who_what_when_and_the_route(placed):
    world, iid, pid, app = placed
    clients = {name: browser(app, name) for name in ("coord", "tutor", "parent1")}
    before = len(entries(world))
    reads = [("coord", "/pupils/P-0001"), ("coord", f"/placements/{iid}"), ("coord", f"/placements/{iid}/register"),
             ("coord", "/pupils/P-0001/whereabouts"), ("coord", f"/placements/{iid}/lessons"), ("coord", "/api/v1/pupils/P-0001"),
             ("coord", f"/api/v1/placements/{pid}/register"), ("coord", f"/api/v1/instances/{iid}/file"),
             ("tutor", f"/api/v1/placements/{pid}/lesson-reports"), ("tutor", "/registers"), ("parent1", "/family/P-0001"),
             ("parent1", "/api/v1/family/children/P-0001")]
    for name, path in reads:
        assert clients[name].get(path).status_code == 200, path
    logged = entries(world)[before:]
    assert [(e.username, e.route) for e in logged] == reads
    assert [e.what for e in logged][:4] == ["Pupil page", "Placement page and file", "Register", "Whereabouts"]
    assert logged[-2].what == "Family page" and logged[-2].roles == "parent" and logged[-3].roles == "provider"
    assert all(e.at == at(12, 11, 0) and not e.restricted for e in logged)


def test_R111_a_manager_or_dsl_sees_who_looked_at_the_pupil_filtered_and_through_the_api(placed):
    world, iid, pid, app = placed
    browser(app, "tutor").get(f"/api/v1/placements/{pid}/lesson-reports")
    clock.freeze(at(13, 9, 0))
    browser(app, "parent1").get("/family/P-0001")
    dsl, boss = browser(app, "dsl"), browser(app, "boss")
    page = dsl.get("/pupils/P-0001/reads").get_data(as_text=True)
    assert "Tutor" in page and "Parent1" in page and "Lesson reports" in page and "Family page" in page
    found = boss.get("/api/v1/pupils/P-0001/reads").get_json()
    assert [(r["who"], r["roles"], r["what"]) for r in found["reads"]][:2] == [("parent1", ["parent"], "Family page"),
                                                                                ("tutor", ["provider"], "Lesson reports")]
    assert [r["who"] for r in boss.get("/api/v1/pupils/P-0001/reads?role=provider").get_json()["reads"]] == ["tutor"]
    assert [r["who"] for r in boss.get("/api/v1/pupils/P-0001/reads?since=2026-01-13").get_json()["reads"]] == ["parent1"]
    assert [r["who"] for r in boss.get("/api/v1/pupils/P-0001/reads?who=Tut&until=2026-01-12").get_json()["reads"]] == ["tutor"]
    assert boss.get("/api/v1/pupils/P-0001/reads?since=12/01/2026").status_code == 422
    assert "Give a date as YYYY-MM-DD" in dsl.get("/pupils/P-0001/reads?until=soon").get_data(as_text=True)
    # the pupil's page links to it for a manager, the child-protection file for the DSL; not for the coordinator
    assert "Who looked at this pupil" in boss.get("/pupils/P-0001").get_data(as_text=True)
    assert "Who looked at this pupil" in dsl.get("/pupils/P-0001/child-protection").get_data(as_text=True)
    assert "Who looked at this pupil" not in browser(app, "coord").get("/pupils/P-0001").get_data(as_text=True)


def test_R111_nobody_else_can_open_the_read_log_and_a_refused_read_is_not_logged(placed):
    world, iid, pid, app = placed
    before = len(entries(world))
    for name in ("coord", "head", "senco", "tutor", "farmer", "la1", "parent1", "pupil1", "othercoord", "otherdsl"):
        client = browser(app, name)
        assert client.get("/pupils/P-0001/reads").status_code == 404, name
        assert client.get("/api/v1/pupils/P-0001/reads").status_code == 404, name
        with pytest.raises(NotFound):
            read_log.reads(world.core, world.people[name], "P-0001")
    other = browser(app, "othercoord")
    assert other.get("/pupils/P-0001/whereabouts").status_code == 404 and other.get(f"/api/v1/placements/{pid}/register").status_code == 404
    assert browser(app, "farmer").get(f"/api/v1/placements/{pid}/lesson-reports").status_code == 404
    assert len(entries(world)) == before  # nothing was shown, so nothing is logged


def test_R111_reads_of_the_child_protection_file_are_shown_only_to_those_entitled(placed):
    world, iid, pid, app = placed
    dsl = browser(app, "dsl")
    assert dsl.get("/pupils/P-0001/child-protection").status_code == 200
    [entry] = [e for e in entries(world) if e.restricted]
    assert entry.what == "Child-protection file" and entry.username == "dsl"
    assert [r["what"] for r in dsl.get("/api/v1/pupils/P-0001/reads").get_json()["reads"]] == ["Child-protection file"]
    boss = browser(app, "boss").get("/api/v1/pupils/P-0001/reads").get_json()
    assert boss["reads"] == [] and boss["child_protection_included"] is False


def test_R111_the_whereabouts_list_logs_a_read_of_each_pupil_on_it(placed):
    world, iid, pid, app = placed
    world.placement("Amir H.", "P-0002")
    browser(app, "coord").get("/whereabouts")
    assert [e.what for e in entries(world)] == ["Whereabouts list"] and [e.what for e in entries(world, "P-0002")] == ["Whereabouts list"]


def test_R111_a_failed_log_write_does_not_fail_the_read_and_the_entry_goes_to_the_error_log(placed, monkeypatch, caplog):
    world, iid, pid, app = placed
    real = read_log._entry
    monkeypatch.setattr(read_log, "_entry", lambda *a: {**real(*a), "pupil_id": 987654})  # no such pupil: the INSERT fails
    with caplog.at_level(logging.ERROR, logger="apflow.read_log"):
        response = browser(app, "coord").get("/pupils/P-0001")
    assert response.status_code == 200 and "Jordan T." in response.get_data(as_text=True)
    assert entries(world) == []
    [record] = [r for r in caplog.records if "read log entry not written" in r.getMessage()]
    assert "'username': 'coord'" in record.getMessage() and "'route': '/pupils/P-0001'" in record.getMessage()


def test_R111_exports_and_other_readers_log_through_one_function(placed):
    world, iid, pid, app = placed
    from apflow.placements.models import Pupil

    with world.core.db.session() as s:
        pupil_id = s.scalar(select(Pupil.id).where(Pupil.ref == "P-0001"))
        read_log.record(s, world.people["boss"], pupil_id, "Evidence pack", "/evidence/placement/1.pdf")
    assert read_log.write(world.core, world.people["coord"], [pupil_id, pupil_id], "Register export", "/exports/registers.csv")
    assert [(e.username, e.what) for e in entries(world)] == [("boss", "Evidence pack"), ("coord", "Register export")]
