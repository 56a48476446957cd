"""Registers and attendance as files (issue 16, part 4; R71, R79, R111): one placement's, one provider's or the whole
school's registers over a date range as CSV and XLSX with exact cells, formulas never run, the school's coordinators,
headteacher and managers exporting their own placements and a provider its own pupils, nobody else; each export in
the read log."""
import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import Invalid, NotFound
from apflow.placements.models import ReadLogEntry
from apflow.services import exports, instances, registers
from apflow.web import create_app
from tests.scenarios.registers_world import at, world_fixture  # noqa: F401
from tests.support import browser

HEADER = ["Day", "Session", "Statutory session", "Pupil", "Pupil ref", "Provider", "Activity", "Where", "Provider's report",
          "Minutes late", "Provider's note", "School's code", "Code meaning", "Followed up on", "Follow-up"]
SITE = "Hill Farm, Northtown NT9 9ZZ"


def mark(pid, day, status="present", **extra):
    return {"placement_id": pid, "day": day, "starts": "09:30", "status": status, **extra}


def three_days(world):
    """Jordan's Monday present (coded B), Tuesday absent with a note that looks like a formula and followed up as
    illness, Wednesday late; Amir's Monday present. Now: Wednesday 14 January 2026, 16:00."""
    iid, pid = world.placement()
    _, other = world.placement("Amir H.", "P-0002")
    tutor, coord = world.people["tutor"], world.people["coord"]
    clock.freeze(at(12, 10, 0))
    registers.record_marks(world.core, tutor, [mark(pid, "2026-01-12"), mark(other, "2026-01-12")])
    registers.code_marks(world.core, coord, pid, {}, suggested=True)
    clock.freeze(at(13, 10, 0))
    registers.record_marks(world.core, tutor, [mark(pid, "2026-01-13", "absent", reason="unknown", note="=HYPERLINK(\"http://x\")")])
    [task] = [t for t in instances.list_ready_tasks(world.core, coord, iid) if t["name"] == "Follow up the absence"]
    instances.complete_task(world.core, coord, task["id"], {"contacted": ["parents"], "absence_outcome": "Mum says he was ill.",
                                                            "pupil_safe": "yes", "absence_code": "I"})
    clock.freeze(at(14, 10, 0))
    registers.record_marks(world.core, tutor, [mark(pid, "2026-01-14", "late", minutes_late=10)])
    clock.freeze(at(14, 16, 0))
    return pid, other


JORDAN = [
    ["2026-01-12", "09:30-14:30", "AM+PM", "Jordan T.", "P-0001", "Bridges Learning", "Engineering", SITE, "Present", "", "", "B",
     "Educated off site: an approved educational activity", "", ""],
    ["2026-01-13", "09:30-14:30", "AM+PM", "Jordan T.", "P-0001", "Bridges Learning", "Engineering", SITE, "Absent: Did not arrive, no reason given",
     "", "'=HYPERLINK(\"http://x\")", "I", "Illness", "2026-01-13", "Mum says he was ill.; contacted: parents; pupil safe: yes"],
    ["2026-01-14", "09:30-14:30", "AM+PM", "Jordan T.", "P-0001", "Bridges Learning", "Engineering", SITE, "Late (10 min)", "10", "", "", "", "", ""],
]


def test_R71_R79_a_placements_register_as_csv_with_exact_cells_and_formulas_escaped(world):
    pid, _ = three_days(world)
    app = create_app(core=world.core, run_scheduler=False)
    response = browser(app, "coord").get(f"/exports/registers.csv?placement={pid}&from=2026-01-12&to=2026-01-14")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=register-P-0001-2026-01-12-to-2026-01-14.csv"
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, so Excel reads any script
    assert list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")))) == [HEADER, *JORDAN]


def test_R71_R79_the_xlsx_has_a_frozen_bold_header_widths_and_dates_as_dates(world):
    pid, _ = three_days(world)
    app = create_app(core=world.core, run_scheduler=False)
    response = browser(app, "head").get(f"/exports/registers.xlsx?placement={pid}&from=2026-01-12&to=2026-01-14")
    assert response.status_code == 200 and response.headers["Content-Disposition"].endswith("2026-01-14.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in sheet[1]] == HEADER and all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2" and sheet.column_dimensions["A"].width == 12 and sheet.column_dimensions["O"].width == 40
    assert sheet.max_row == 4
    assert sheet["A2"].value == datetime(2026, 1, 12) and sheet["A2"].number_format == "yyyy-mm-dd"
    assert sheet["N3"].value == datetime(2026, 1, 13)
    assert [sheet.cell(3, c).value for c in (9, 11, 12, 13, 15)] == [
        "Absent: Did not arrive, no reason given", "'=HYPERLINK(\"http://x\")", "I", "Illness", "Mum says he was ill.; contacted: parents; pupil safe: yes"]
    assert sheet["K3"].data_type == "s"  # text, never a formula
    assert sheet["J4"].value == 10 and sheet["J2"].value is None


def test_R71_the_whole_school_and_one_provider_over_a_range(world):
    pid, other = three_days(world)
    coord, tutor = world.people["coord"], world.people["tutor"]
    whole = exports.register_rows(world.core, coord, exports.Scope(), date(2026, 1, 12), date(2026, 1, 13))
    assert [(r[0].isoformat(), r[3], r[8]) for r in whole["rows"]] == [
        ("2026-01-12", "Amir H.", "Present"), ("2026-01-12", "Jordan T.", "Present"),
        ("2026-01-13", "Amir H.", "Not registered yet"), ("2026-01-13", "Jordan T.", "Absent: Did not arrive, no reason given")]
    assert whole["filename"] == "registers-2026-01-12-to-2026-01-13"
    at_provider = exports.register_rows(world.core, tutor, exports.Scope(provider_id=1), date(2026, 1, 12), date(2026, 1, 12))
    assert {r[3] for r in at_provider["rows"]} == {"Jordan T.", "Amir H."} and at_provider["title"].startswith("Registers at Bridges Learning")
    # a range that ends in the future stops today; one too long is refused in words
    assert exports.register_rows(world.core, coord, exports.Scope(placement_id=pid), date(2026, 1, 14), date(2026, 2, 1))["to"] == date(2026, 1, 14)
    with pytest.raises(Invalid, match="at most 366 days"):
        exports.register_rows(world.core, coord, exports.Scope(), date(2025, 1, 1), date(2026, 1, 14))
    with pytest.raises(Invalid, match="first day must come before"):
        exports.register_rows(world.core, coord, exports.Scope(), date(2026, 1, 14), date(2026, 1, 12))
    app = create_app(core=world.core, run_scheduler=False)
    client = browser(app, "boss")
    assert client.get("/exports/registers.csv?from=2026-01-14&to=2026-01-12").status_code == 422
    assert client.get("/exports/registers.pdf").status_code == 422
    assert client.get("/api/v1/exports/registers?format=xlsx&from=2026-01-12&to=2026-01-12").status_code == 200


def test_R71_a_provider_exports_only_its_own_pupils_and_nobody_else_is_entitled(world):
    pid, other = three_days(world)
    app = create_app(core=world.core, run_scheduler=False)
    tutor = browser(app, "tutor")
    assert tutor.get(f"/exports/registers.csv?placement={pid}").status_code == 200
    page = tutor.get("/exports").get_data(as_text=True)
    assert "Jordan T." in page and "school census" not in page  # the census is the school's
    for name in ("farmer", "othercoord", "otherdsl", "dsl", "senco", "la1", "parent1", "pupil1"):
        client = browser(app, name)
        for path in (f"/exports/registers.csv?placement={pid}", f"/exports/registers.xlsx?placement={pid}", "/exports/registers.csv?provider=1",
                     f"/api/v1/exports/registers?placement={pid}"):
            response = client.get(path)
            assert response.status_code == 404 and b"Jordan" not in response.data, (name, path)
    # a provider that teaches nobody, or another school, exports nothing of this school's, even for "everyone"
    for name in ("farmer", "othercoord"):
        assert exports.register_rows(world.core, world.people[name], exports.Scope(), date(2026, 1, 12), date(2026, 1, 14))["rows"] == []
    for name in ("dsl", "parent1", "pupil1", "la1"):
        assert browser(app, name).get("/exports").status_code == 404
        with pytest.raises(NotFound):
            exports.register_rows(world.core, world.people[name], exports.Scope())


def test_R111_every_register_export_is_in_the_read_log(world):
    pid, other = three_days(world)
    app = create_app(core=world.core, run_scheduler=False)
    browser(app, "coord").get("/exports/registers.xlsx?from=2026-01-12&to=2026-01-14")
    browser(app, "tutor").get(f"/exports/registers.csv?placement={pid}&from=2026-01-12&to=2026-01-14")
    with world.core.db.session(readonly=True) as s:
        logged = sorted((e.username, e.pupil_id, e.what, e.route) for e in s.scalars(select(ReadLogEntry).where(ReadLogEntry.what.like("Register export%"))))
    assert [(u, w) for u, _, w, _ in logged] == [("coord", "Register export (XLSX, 2026-01-12 to 2026-01-14)")] * 2 + [
        ("tutor", "Register export (CSV, 2026-01-12 to 2026-01-14)")]
    assert logged[-1][3] == "/exports/registers.csv"
