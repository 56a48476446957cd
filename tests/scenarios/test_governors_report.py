"""The headteacher's termly report to governors (R110, R114, N 12.1): exact counts for known records of the school's own
placements only, numbers of concerns but never a word of child-protection detail, saved with its narrative and the
date it went to governors, past reports kept; for the school's leaders only (404 to providers, parents, other schools)."""
from datetime import date, datetime, timezone

import pytest

from apflow.clock import clock
from apflow.errors import Invalid, NotFound
from apflow.placements.models import DestinationFollowUp
from apflow.services import governors
from apflow.web import create_app
from tests.scenarios import outcomes_world as ow
from tests.scenarios.registers_world import OTHER_SCHOOL, SCHOOL, world_fixture  # noqa: F401
from tests.support import browser, post

CP_DETAIL = "SECRET-CP-DETAIL: disclosed at the bus stop"


@pytest.fixture
def spring(world):
    """Spring 2026 (5 January to 27 March; half-terms 6 Jan-13 Feb and 23 Feb-27 Mar) with known records."""
    core = world.core
    p1 = ow.placement(core, SCHOOL, "A-1", date(2026, 1, 12))
    p2 = ow.placement(core, SCHOOL, "A-2", date(2025, 11, 3), date(2026, 2, 6), kind="vocational", status="closed")
    p3 = ow.placement(core, SCHOOL, "A-1", date(2026, 3, 2), kind="college_link", provider=None)  # the same pupil again
    summer = ow.placement(core, SCHOOL, "A-4", date(2026, 4, 20))  # not in the spring term
    autumn = ow.placement(core, SCHOOL, "A-6", date(2025, 9, 8), date(2025, 12, 19), status="closed")  # ended before it
    other = ow.placement(core, OTHER_SCHOOL, "B-1", date(2026, 1, 12))  # another school's
    ow.add(core,
           ow.mark(p1, date(2026, 1, 12), "present"), ow.mark(p1, date(2026, 1, 13), "late"), ow.mark(p1, date(2026, 1, 14), "absent"),
           ow.mark(p1, date(2026, 4, 20), "present"), ow.mark(other, date(2026, 1, 12), "absent"),
           ow.review(p1, date(2026, 1, 30)), ow.review(p1, date(2026, 3, 30)), ow.review(p3, date(2026, 3, 10)),
           ow.review(p3, date(2026, 3, 11), kind="transition"), ow.review(other, date(2026, 1, 20)),
           ow.incident(core, p1, datetime(2026, 2, 2, 10, tzinfo=timezone.utc)),
           ow.incident(core, p2, datetime(2026, 1, 20, 10, tzinfo=timezone.utc), kind="injury"),
           ow.incident(core, p1, datetime(2026, 4, 21, 10, tzinfo=timezone.utc)),
           ow.incident(core, other, datetime(2026, 2, 2, 10, tzinfo=timezone.utc)),
           ow.concern(core, p1, datetime(2026, 2, 3, 10, tzinfo=timezone.utc), CP_DETAIL),
           ow.concern(core, other, datetime(2026, 2, 3, 10, tzinfo=timezone.utc), CP_DETAIL),
           ow.lesson(p1, date(2026, 1, 12), 4), ow.lesson(p1, date(2026, 1, 13), 2),
           ow.qualification(p1, ow.pupil_of(core, p1), date(2026, 1, 20)),
           ow.qualification(autumn, ow.pupil_of(core, autumn), date(2025, 10, 1), gained=True, result_on=date(2026, 1, 22)),
           ow.qualification(autumn, ow.pupil_of(core, autumn), date(2025, 10, 1), gained=False, result_on=date(2026, 1, 22), kind="functional_skills"),
           ow.order(p1, date(2026, 1, 8), 15), ow.order(p2, date(2025, 10, 20), 10), ow.order(p2, date(2026, 1, 5), 12),
           ow.order(summer, date(2026, 4, 1), 20))
    ow.destination(core, p2, "college", date(2026, 2, 9))
    old = ow.destination(core, autumn, "new_school", date(2025, 12, 1))
    ow.add(core, DestinationFollowUp(destination_id=old, placement_id=autumn, months=3, due_on=date(2026, 3, 1), opened_at=ow.T0,
                                     sustained=True, checked_on=date(2026, 3, 2), notes=""))
    clock.freeze(datetime(2026, 3, 30, 12, tzinfo=timezone.utc))  # the Monday after the term
    return world


def test_R110_R114_the_governors_report_counts_exactly_the_schools_own_records_of_the_term(spring):
    f = governors.figures(spring.core, spring.people["head"], "Spring 2026")
    assert (f["pupils"], f["placements"]) == (2, 3)
    assert f["by_type"] == {"college_link": 1, "part_time_ap": 1, "vocational": 1}
    assert f["by_provider"] == {"Bridges Learning": 2, "No provider yet": 1}
    assert f["attendance"] == {"sessions": 3, "present": 1, "late": 1, "absent": 1, "unexplained": 0, "percent": 66.7}
    assert f["engagement"]["lesson_reports"] == 2 and f["engagement"]["participation"] == 3.0
    assert f["incidents"] == {"total": 2, "by_kind": {"behaviour": 1, "injury": 1}}
    assert f["concerns"] == {"raised": 1}
    # p1: first half-term held on 30 Jan (on time), second only on 30 Mar (late); p2 ran in the first and had none; p3
    # started in the second and had it on 10 March (its transition review does not count)
    assert f["reviews"] == {"due": 4, "on_time": 2, "late": 1, "not_held": 1}
    assert f["destinations"] == {"recorded": 1, "by_kind": {"college": 1}, "reintegrated": 1, "checks": 1, "sustained": 1,
                                 "not_sustained": 0, "sustained_at_6_months": 0}
    assert f["qualifications"] == {"entered": 1, "results": 2, "gained": 1, "not_gained": 1, "gained_by_type": {"GCSE Level 2": 1}}
    assert f["cost"] == {"purchase_orders": 3, "placements_with_orders": 2, "hours_per_week": 27.0}
    assert f["compliance"] == {"providers": 1, "without_qa_visit": ["Bridges Learning"], "without_sla": [], "due_diligence_incomplete": [],
                               "issues": 1}
    other = governors.figures(spring.core, spring.people["othercoord"], "Spring 2026")
    assert (other["pupils"], other["incidents"]["total"], other["concerns"]["raised"]) == (1, 1, 1)


def test_R114_the_report_is_saved_with_its_narrative_presented_once_and_past_reports_kept(spring):
    core, head = spring.core, spring.people["head"]
    with pytest.raises(Invalid) as short:
        governors.save_report(core, head, "Spring 2026", "Fine.")
    assert "narrative" in short.value.details["fields"]
    narrative = "Attendance is up; one pupil moved on to college and stayed. We will add a second provider next term."
    saved = governors.save_report(core, head, "Spring 2026", narrative)
    again = governors.save_report(core, head, "Spring 2026", narrative + " Revised.")  # rewritten before governors see it
    assert again["id"] == saved["id"] and again["figures"]["pupils"] == 2
    with pytest.raises(Invalid):
        governors.mark_presented(core, head, saved["id"], "2026-04-30")  # a meeting still to come
    governors.mark_presented(core, head, saved["id"], "2026-03-26")
    with pytest.raises(Invalid, match="kept as they saw it"):
        governors.save_report(core, head, "Spring 2026", narrative)
    governors.save_report(core, spring.people["coord"], "Autumn 2025", "Autumn was the first term of the new arrangements.")
    assert [r["term"] for r in governors.list_reports(core, head)] == ["Spring 2026", "Autumn 2025"]
    assert governors.list_reports(core, spring.people["othercoord"]) == []
    with pytest.raises(NotFound):
        governors.get_report(core, spring.people["othercoord"], saved["id"])


def test_R114_the_governors_pages_show_the_counts_and_never_child_protection_detail(spring):
    app = create_app(core=spring.core, run_scheduler=False)
    head = browser(app, "head")
    page = head.get("/governors?term=Spring+2026").get_data(as_text=True)
    assert "Safeguarding concerns raised" in page and CP_DETAIL not in page and "bus stop" not in page
    response = post(head, "/governors", {"term": "Spring 2026", "narrative": "A steady term: two pupils, one moved on to college."})
    assert response.status_code == 302
    report_path = response.headers["Location"]
    shown = head.get(report_path).get_data(as_text=True)
    printable = head.get(report_path + "/print").get_data(as_text=True)
    for text in (shown, printable):
        assert "A steady term" in text and CP_DETAIL not in text and "Threw a chair" not in text
        assert 'id="fig-concerns">1 ' in text and 'id="fig-incidents">2 ' in text
        assert "4: 2 held on time, 1 held late, 1 not held" in text
    assert "<nav" not in printable  # the printable view is the report alone
    made = head.get(report_path + ".pdf")
    assert made.status_code == 200 and made.data.startswith(b"%PDF") and made.mimetype == "application/pdf"
    assert post(head, report_path + "/presented", {"presented_on": "2026-03-26"}).status_code == 302
    assert "Presented on" in head.get(report_path).get_data(as_text=True)
    report_id = int(report_path.rsplit("/", 1)[1])
    for who in ("tutor", "parent1", "othercoord", "dsl", "senco"):
        client = browser(app, who)
        assert client.get(f"/governors/reports/{report_id}").status_code == 404, who
        assert client.get(f"/governors/reports/{report_id}/print").status_code == 404, who
        assert client.get(f"/governors/reports/{report_id}.pdf").status_code == 404, who
        assert client.get(f"/api/v1/governors/reports/{report_id}").status_code == 404, who
    for who in ("tutor", "parent1", "dsl"):
        assert browser(app, who).get("/governors").status_code == 404, who
    api = head.get("/api/v1/governors/figures?term=Spring+2026").get_json()
    assert api["reviews"] == {"due": 4, "on_time": 2, "late": 1, "not_held": 1} and CP_DETAIL not in str(api)
