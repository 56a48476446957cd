"""Subject access (R111): the pupil's school's manager or DSL exports everything held about the pupil as a ZIP of JSON and
CSV with a README explaining each file; child-protection records only for those entitled to the file, in a folder of
their own and flagged; the export is logged; nobody else can make one (404)."""
from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import NotFound
from apflow.placements.models import Concern, CpRecord, Pupil, ReadLogEntry
from apflow.services import documents, lessons, registers, subject_access
from apflow.web import create_app
from tests.scenarios.registers_world import at, world_fixture  # noqa: F401
from tests.support import browser


@pytest.fixture
def held(world):
    """Jordan (P-0001) placed and running, a day's register, a lesson report, a resolved child-protection concern; Amir
    (P-0002) at the same school, whose records must not appear in Jordan's export."""
    iid, pid = world.placement()
    world.placement("Amir H.", "P-0002")
    clock.freeze(at(12, 7, 0))
    registers.lay_out_registers(world.core)
    clock.freeze(at(12, 15, 0))
    lessons.write_report(world.core, world.people["tutor"], pid, "2026-01-12", "09:30", "Rebuilt a carburettor.",
                         {"participation": 4, "behaviour": 4, "relationships": 3, "progress": 3, "wellbeing": 4})
    documents.upload(world.core, world.people["coord"], iid, None, "signed-consent.pdf", "application/pdf", b"%PDF-1.4 consent")
    with world.core.db.session() as s:
        jordan = s.scalar(select(Pupil.id).where(Pupil.ref == "P-0001"))
        concern = Concern(placement_id=pid, pupil_id=jordan, raised_at=at(12, 11), summary="Bruising seen", child_protection=True,
                          status="resolved")
        s.add(concern)
        s.flush()
        s.add(CpRecord(pupil_id=jordan, concern_id=concern.id, at=at(12, 11), actor="Dsl", kind="note", summary="Spoke to social care"))
    return world, pid, create_app(core=world.core, run_scheduler=False)


def unzip(response) -> dict[str, bytes]:
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_R111_a_dsl_exports_everything_held_about_the_pupil_with_child_protection_records_flagged(held):
    world, pid, app = held
    response = browser(app, "dsl").get("/pupils/P-0001/subject-access.zip")
    assert "subject-access-P-0001-" in response.headers["Content-Disposition"]
    files = unzip(response)
    for kind in ("pupils", "placements", "plans", "register_marks", "lesson_reports", "communications", "pupil_contacts",
                 "timetable_sessions", "placement_log", "read_log", "documents"):
        assert f"{kind}.json" in files and f"{kind}.csv" in files, kind
    placements = json.loads(files["placements.json"])
    assert placements["child_protection"] is False and [p["id"] for p in placements["rows"]] == [pid]
    assert [r["name"] for r in json.loads(files["pupils.json"])["rows"]] == ["Jordan T."]
    assert [r["covered"] for r in json.loads(files["lesson_reports.json"])["rows"]] == ["Rebuilt a carburettor."]
    rows = list(csv.DictReader(io.StringIO(files["register_marks.csv"].decode())))
    assert rows and {r["placement_id"] for r in rows} == {str(pid)}
    concerns = json.loads(files["child_protection/concerns.json"])
    assert concerns["child_protection"] is True and concerns["rows"][0]["summary"] == "Bruising seen"
    assert "child_protection/cp_records.csv" in files and "concerns.json" not in files
    readme = files["README.txt"].decode()
    assert "Jordan T. (P-0001)" in readme and "CHILD PROTECTION" in readme
    assert "- placements.json / .csv (1 rows): One pupil's AP placement" in readme
    assert "Amir" not in b"".join(files.values()).decode(errors="ignore")
    assert not any("invite_hash" in json.loads(v) .get("rows", [{}])[0] for k, v in files.items() if k.endswith(".json") and json.loads(v)["rows"])
    reads = [r["what"] for r in json.loads(files["read_log.json"])["rows"]]
    assert "Subject access export (with child-protection records)" in reads  # the export is itself logged, and in it
    [doc] = json.loads(files["documents.json"])["rows"]
    assert doc["filename"] == "signed-consent.pdf" and b"%PDF-1.4" not in b"".join(files.values())  # listed, not the content


def test_R111_a_manager_not_entitled_to_the_file_gets_no_child_protection_records(held):
    world, pid, app = held
    files = unzip(browser(app, "boss").get("/api/v1/pupils/P-0001/subject-access"))
    assert not any(name.startswith("child_protection/") for name in files)
    assert "Bruising" not in b"".join(files.values()).decode(errors="ignore")
    assert "Child-protection records are not included" in files["README.txt"].decode()
    with world.core.db.session(readonly=True) as s:
        [entry] = s.scalars(select(ReadLogEntry).where(ReadLogEntry.what.like("Subject access%")))
    assert (entry.username, entry.what, entry.restricted) == ("boss", "Subject access export", False)


def test_R111_nobody_else_can_export_a_pupils_records(held):
    world, pid, app = held
    for name in ("coord", "head", "senco", "tutor", "farmer", "la1", "parent1", "pupil1", "othercoord", "otherdsl"):
        client = browser(app, name)
        assert client.get("/pupils/P-0001/subject-access.zip").status_code == 404, name
        assert client.get("/api/v1/pupils/P-0001/subject-access").status_code == 404, name
        with pytest.raises(NotFound):
            subject_access.export(world.core, world.people[name], "P-0001")
    assert browser(app, "boss").get("/pupils/P-9999/subject-access.zip").status_code == 404
    with world.core.db.session(readonly=True) as s:
        assert s.scalars(select(ReadLogEntry).where(ReadLogEntry.what.like("Subject access%"))).all() == []
