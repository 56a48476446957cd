"""The school census's AP return (issue 16, part 4; R110 records kept, R111 reads logged): the demo school's return
matches a fixture row for row, its columns are exactly those docs/census.md documents, every missing or wrong value is
a problem on the page with how to fix it (and is fixed there), the collection period decides which placements are in,
and only the school's AP coordinators, headteacher and managers see it."""
import csv
import io
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from apflow import demo
from apflow.clock import clock
from apflow.config import ROOT
from apflow.errors import Invalid
from apflow.placements.models import LogEntry, Placement, ProviderNumbers, PupilNumbers, ReadLogEntry
from apflow.services import census, users
from apflow.web import create_app
from tests.scenarios.registers_world import world_fixture  # noqa: F401
from tests.support import browser, post

EXPECTED = Path(__file__).parent / "data" / "census_demo_expected.csv"


def rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def documented_columns() -> list[str]:
    """The Column cells of the table under '## The columns' in docs/census.md, in order."""
    text = (ROOT / "docs" / "census.md").read_text()
    section = text.split("## The columns", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:2] == ["#", "Column"]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [int(c[0]) for c in cells] == list(range(1, len(cells) + 1))
    return [c[1] for c in cells]


def test_R110_the_census_columns_are_exactly_those_documented_in_order():
    assert census.COLUMNS == documented_columns()
    doc = (ROOT / "docs" / "census.md").read_text()
    for codes in (census.SETTING_TYPES, census.REASONS, census.ATTENDANCE_CODES):  # every code documented
        for code in codes:
            assert f"`{code}`" in doc, code


def test_R110_census_days_and_upn_check_letters():
    # DfE census days: 18 May 2023 and 5 October 2023, 18 January 2024
    assert (census.Census("summer", 2023).day, census.Census("autumn", 2023).day, census.Census("spring", 2024).day) == (
        date(2023, 5, 18), date(2023, 10, 5), date(2024, 1, 18))
    assert census.Census("spring", 2026).starts == date(2025, 10, 2)  # the collection period opens on the previous census day
    assert census.Census.on_or_after(date(2026, 1, 16)).key == "summer-2026"
    assert census.upn_problem("Z999400125224") is None
    assert "check letter" in census.upn_problem("A999400125224")
    assert "13 characters" in census.upn_problem("Z99940012522")
    with pytest.raises(Invalid):
        census.Census.parse("winter-2026")


def test_R110_R111_the_demo_schools_return_matches_the_expected_rows_and_each_download_is_logged(core):
    clock.freeze(datetime(2026, 3, 10, 9, 20, tzinfo=timezone.utc))  # a Tuesday in the spring term
    demo.load_demo(core)
    coordinator = users.find_user(core, "coordinator")
    content, filename, problems = census.census_csv(core, coordinator, "summer-2026")
    assert rows_of(content) == list(csv.reader(io.StringIO(EXPECTED.read_text())))
    assert rows_of(content)[0] == documented_columns()
    assert (filename, problems) == ("census-ap-summer-2026-9994001.csv", 0)
    app = create_app(core=core, run_scheduler=False)
    head = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', head.get("/login").get_data(as_text=True)).group(1)
    assert head.post("/login", data={"username": "headteacher", "password": demo.DEMO_PASSWORD, "csrf_token": token}).status_code == 302
    response = head.get("/exports/census.csv?census=summer-2026")
    assert response.status_code == 200 and response.data == content
    assert response.headers["Content-Disposition"] == "attachment; filename=census-ap-summer-2026-9994001.csv"
    assert response.headers["X-Census-Problems"] == "0"
    page = head.get("/exports/census?census=summer-2026").get_data(as_text=True)
    assert "No problems found" in page and "Z999400125224" in page
    with core.db.session(readonly=True) as s:
        logged = s.scalars(select(ReadLogEntry).where(ReadLogEntry.what == "Census AP return (summer-2026)")).all()
    assert sorted((r.username, r.pupil_id) for r in logged)[:3] and {r.username for r in logged} == {"coordinator", "headteacher"}
    assert len(logged) == 6  # three pupils, twice


def test_R110_missing_numbers_are_problems_with_fixes_and_are_fixed_on_the_page(world):
    iid, pid = world.placement()  # started Monday 12 January 2026 at Bridges Learning, nothing census-specific recorded
    clock.freeze(datetime(2026, 1, 14, 16, 0, tzinfo=timezone.utc))
    app = create_app(core=world.core, run_scheduler=False)
    coord = browser(app, "coord")
    page = coord.get("/exports/census?census=spring-2026").get_data(as_text=True)
    for words in ("The school&#39;s URN is not recorded", "No UPN is recorded for this pupil", "Bridges Learning has no URN, UKPRN or setting type",
                  "The placement&#39;s primary reason is not chosen", "6 problems to fix before you send this"):
        assert words in page, words
    # the file is there to look at, the blanks counted, never silently
    blank = coord.get("/exports/census.csv?census=spring-2026")
    assert blank.headers["X-Census-Problems"] == "6"
    assert rows_of(blank.data)[1] == ["", "Jordan T.", "2011-05-04", "", "", "", "2026-01-12", "", "", "10", "B"]
    # bad input: each field says what is wrong; nothing is written
    bad = post(coord, "/exports/census?census=spring-2026", {"form": "row", "target": str(pid), "upn": "A999400125224", "reason": "XYZ"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "The check letter does not match" in text and "Choose a reason from the list" in text and 'value="A999400125224"' in text
    both = post(coord, "/exports/census?census=spring-2026", {"form": "provider", "target": "1", "urn": "123456", "ukprn": "10012345"})
    assert both.status_code == 422 and "Give only one" in both.get_data(as_text=True)
    with world.core.db.session(readonly=True) as s:
        assert s.scalar(select(PupilNumbers)) is None and s.scalar(select(ProviderNumbers)) is None
    # fixed on the page, each saved once however often it is sent
    for _ in range(2):
        assert post(coord, "/exports/census?census=spring-2026", {"form": "row", "target": str(pid), "upn": "z999 4001 2522 4", "reason": "beh"}).status_code == 302
    assert post(coord, "/exports/census?census=spring-2026", {"form": "provider", "target": "1", "urn": "", "ukprn": "10012345", "setting_type": ""}).status_code == 302
    assert post(coord, "/exports/census?census=spring-2026", {"form": "school", "target": "1", "urn": "999901", "la_number": "999",
                                                               "estab_number": "4001"}).status_code == 302
    page = coord.get("/exports/census?census=spring-2026").get_data(as_text=True)
    assert "No problems found" in page
    done = coord.get("/exports/census.csv?census=spring-2026")
    assert done.headers["X-Census-Problems"] == "0"
    assert rows_of(done.data)[1] == ["Z999400125224", "Jordan T.", "2011-05-04", "", "10012345", "", "2026-01-12", "", "BEH", "10", "B"]
    api = coord.get("/api/v1/census?census=spring-2026").get_json()
    assert api["problems"] == 0 and api["rows"][0]["values"][0] == "Z999400125224" and api["columns"] == census.COLUMNS
    # another pupil cannot take the same UPN
    _, second = world.placement("Amir H.", "P-0002")
    with pytest.raises(Invalid, match="Another pupil already has this UPN"):
        census.save_row(world.core, world.people["coord"], None, second, {"upn": "Z999400125224"})
    with world.core.db.session(readonly=True) as s:
        said = [e.summary for e in s.scalars(select(LogEntry).where(LogEntry.kind == "census").order_by(LogEntry.id))]
    assert said[0] == "Census details set by Coord: UPN recorded, census reason BEH" and "ukprn 10012345" in said[-1]


def test_R110_the_collection_period_decides_which_placements_are_in(world):
    _, pid = world.placement()
    clock.freeze(datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc))
    coord = world.people["coord"]

    def rows(key):
        return [(r["pupil"], r["values"][6], r["values"][7]) for r in census.census_return(world.core, coord, key)["rows"]]

    assert rows("autumn-2025") == []  # not started by 2 October 2025
    assert rows("spring-2026") == rows("summer-2026") == [("Jordan T.", "2026-01-12", "")]
    with world.core.db.session() as s:
        s.execute(update(Placement).where(Placement.id == pid).values(end_date=date(2026, 1, 13), status="ended"))
    assert rows("spring-2026") == [("Jordan T.", "2026-01-12", "2026-01-13")]  # ended in the period: in, with its leaving date
    assert rows("summer-2026") == []  # ended before the period opened on 15 January


def test_R110_only_the_schools_coordinators_headteacher_and_managers_see_the_census(world):
    world.placement()
    clock.freeze(datetime(2026, 1, 14, 16, 0, tzinfo=timezone.utc))
    app = create_app(core=world.core, run_scheduler=False)
    for name in ("coord", "head", "boss"):
        assert browser(app, name).get("/exports/census?census=spring-2026").status_code == 200
    for name in ("dsl", "senco", "la1", "tutor", "farmer", "parent1", "pupil1"):
        client = browser(app, name)
        for path in ("/exports/census?census=spring-2026", "/exports/census.csv", "/api/v1/census", "/api/v1/census.csv"):
            response = client.get(path)
            assert response.status_code == 404, (name, path, response.status_code)
            assert "Jordan" not in response.get_data(as_text=True)
    # another school's coordinator sees only its own school's (empty) return, and cannot touch this one's
    other = browser(app, "othercoord")
    page = other.get("/exports/census?census=spring-2026").get_data(as_text=True)
    assert "Hilltop School" in page and "Jordan" not in page and "Bridges" not in page
    assert rows_of(other.get("/exports/census.csv?census=spring-2026").data) == [census.COLUMNS]
    assert other.get("/exports/census?census=spring-2026&school=1").status_code == 404  # The Nest School's
    for form in ({"form": "provider", "target": "1", "ukprn": "10012345"}, {"form": "row", "target": "1", "reason": "BEH"}):
        assert post(other, "/exports/census?census=spring-2026", form).status_code == 404
    with world.core.db.session(readonly=True) as s:
        assert s.scalar(select(ProviderNumbers)) is None
