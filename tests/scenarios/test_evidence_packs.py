"""Evidence packs (R110, R111, issue 16): a placement's file and a provider's record printed as a PDF for an Ofsted or
LA visit, every page marked OFFICIAL-SENSITIVE with its title, organisation, who printed it and its number; printed
only for the people who may read the placement or the provider's record (404 for anyone else, families too);
child-protection detail never in a pack; each pack printed logged."""
import io
import re
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from apflow.clock import clock
from apflow.placements.models import ComplianceDocument, EvidencePack, Placement, QaVisit
from apflow.services import incidents, registers, safeguarding
from apflow.web import create_app
from tests.scenarios.registers_world import at, world_fixture  # noqa: F401
from tests.support import browser

MARKER = "CPMARKER"


@pytest.fixture
def app(world):
    return create_app(core=world.core, run_scheduler=False)


def _pages(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages]


def _text(response) -> str:
    return re.sub(r"\s+", " ", "\n".join(_pages(response)))


def _provider_id(world, iid) -> int:
    with world.core.db.session(readonly=True) as s:
        return s.scalar(select(Placement.provider_id).where(Placement.instance_id == iid))


def _registered_week(world, pid):
    """Given: a week of registers, one absence with no reason, coded by the school."""
    for day in range(12, 17):
        clock.freeze(at(day, 15, 0))
        registers.lay_out_registers(world.core)
        status = "absent" if day == 14 else "present"
        registers.record_marks(world.core, world.people["tutor"], [{"placement_id": pid, "day": f"2026-01-{day}", "starts": "09:30",
                                                                     "status": status, **({"reason": "unknown"} if status == "absent" else {})}])
    registers.code_marks(world.core, world.people["coord"], pid, {}, suggested=True)


def test_R110_the_placement_pack_is_a_pdf_of_its_file_and_records_with_every_page_marked(app, world):
    iid, pid = world.placement()
    _registered_week(world, pid)
    response = browser(app, "coord").get(f"/placements/{iid}/evidence-pack.pdf")
    pages = _pages(response)
    assert response.headers["Content-Disposition"] == 'attachment; filename="Evidence pack P-0001 2026-01-16.pdf"'
    assert len(pages) > 1
    for n, page in enumerate(pages, 1):  # every page: marking, title, organisation, who printed it and when, its number
        flat = re.sub(r"\s+", " ", page)
        assert "OFFICIAL-SENSITIVE" in flat and "Evidence pack: Jordan T. (P-0001)" in flat and "The Nest School" in flat
        assert "Printed by Coord on Fri 16 Jan 2026" in flat and f"Page {n} of {len(pages)}" in flat
    text = _text(response)
    for heading in ("The placement", "Attendance from the registers", "Lesson reports", "Plans and their sign-offs", "Reviews",
                    "Risk assessments", "Incidents", "The placement file"):
        assert heading in text
    assert "5 sessions registered from 2026-01-12 to 2026-01-16: 4 present, 0 late, 1 absent (1 with no reason given)" in text
    assert "Attendance: 80.0%" in text and "January 2026" in text and "Reason not yet established" in text  # the N code
    # the file, in the forms' own words: the referral's labels and answers, the plan, the risk assessment
    assert "Record the referral" in text and "Below attendance threshold" in text and "Attendance 42% this term" in text
    assert "Attend 90% of sessions." in text and "Anxiety in large groups." in text
    assert "Personalised plan" in text and "Placement" in text and "Medium" in text  # plan listed, risk assessment rated
    assert "Consent: given, signed by Jo Taylor" in text and "Purchase order PO-7781" in text  # the school's own dealings


def test_R110_R81_child_protection_detail_never_reaches_a_pack(app, world):
    iid, pid = world.placement()
    safeguarding.raise_concern(world.core, world.people["tutor"], pid, f"{MARKER} summary", f"{MARKER} detail", True)
    world.life.do("Respond to the concern and review the placement", iid, user=world.people["dsl"], assessment=f"{MARKER} assessment")
    incidents.record_incident(world.core, world.people["coord"], pid, "safeguarding", "2026-01-12T10:00", f"{MARKER} incident", f"{MARKER} action")
    provider_id = _provider_id(world, iid)
    for who in ("dsl", "coord", "tutor"):
        text = _text(browser(app, who).get(f"/placements/{iid}/evidence-pack.pdf"))
        assert "The placement file" in text and MARKER not in text
        assert "its detail is kept in the child's file" in text  # the incident is listed, its detail is not
        assert MARKER not in _text(browser(app, who).get(f"/providers/{provider_id}/evidence-pack.pdf"))


def test_R110_R81_only_staff_who_read_the_placement_print_its_pack_and_the_provider_reads_its_own_view(app, world):
    iid, _ = world.placement()
    for who in ("othercoord", "farmer", "parent1", "pupil1"):  # another school, another provider, the family
        refused = browser(app, who).get(f"/placements/{iid}/evidence-pack.pdf")
        assert refused.status_code == 404 and refused.mimetype == "text/html"
        assert "Jordan" not in refused.get_data(as_text=True)
    assert browser(app, "coord").get("/placements/999999/evidence-pack.pdf").status_code == 404  # same answer: nothing said
    provider_view = _text(browser(app, "tutor").get(f"/placements/{iid}/evidence-pack.pdf"))
    assert "Evidence pack: Jordan T." in provider_view and "Bridges Learning" in provider_view  # the tutor's own organisation
    assert "Attendance 42% this term" in provider_view  # the referral is shared with the provider...
    assert "Give written consent" not in provider_view and "Consent: given" not in provider_view  # ...the family's consent is not
    assert "Usual register code" not in provider_view and "Absences not yet followed up" not in provider_view  # the school's own
    page = browser(app, "parent1").get(f"/placements/{iid}").get_data(as_text=True)
    assert "Evidence pack (PDF)" not in page
    for who in ("head", "dsl", "senco", "la1", "boss"):  # the school's and the LA's staff: the pack exactly when the file
        client = browser(app, who)
        reads_file = client.get(f"/placements/{iid}").status_code == 200
        assert client.get(f"/placements/{iid}/evidence-pack.pdf").status_code == (200 if reads_file else 404), who
    assert f"/placements/{iid}/evidence-pack.pdf" in browser(app, "coord").get(f"/placements/{iid}").get_data(as_text=True)


def test_R110_the_provider_pack_holds_its_record_and_the_placements_with_outcomes_each_reader_may_see(app, world):
    iid, pid = world.placement()
    _registered_week(world, pid)
    provider_id = _provider_id(world, iid)
    with world.core.db.session() as s:  # given: a termly QA visit on record
        s.add(QaVisit(provider_id=provider_id, visited_on=date(2026, 1, 14), term="Spring 2026", quality="good", outcome="keep",
                      findings={"safeguarding_ok": True, "qa_findings": "Calm, purposeful lessons."}, recorded_at=clock.now(), recorded_by="coord"))
        s.add(ComplianceDocument(provider_id=provider_id, kind="public_liability", title="Acme Insurance", reference="POL-4412",
                                 issued_on=date(2025, 9, 1), expires_on=date(2026, 8, 31), status="accepted", recorded_at=clock.now(),
                                 recorded_by="coord"))
    response = browser(app, "coord").get(f"/providers/{provider_id}/evidence-pack.pdf")
    assert response.headers["Content-Disposition"] == 'attachment; filename="Evidence pack Bridges Learning 2026-01-16.pdf"'
    text = _text(response)
    for heading in ("The provider", "Sites where pupils are taught", "Selection criteria", "Due diligence", "Service level agreement",
                    "Quality assurance visits", "Compliance documents", "Placements and outcomes"):
        assert heading in text
    assert "Hill Farm, Northtown NT9 9ZZ" in text and "Calm, purposeful lessons." in text and "Notice period: 10 school days" in text
    assert "Jordan T." in text and "P-0001" in text and "80.0%" in text and "OFFICIAL-SENSITIVE" in text
    assert "Public liability insurance" in text and "POL-4412" in text and "31 August 2026" in text  # compliance (R25)
    other_school = _text(browser(app, "othercoord").get(f"/providers/{provider_id}/evidence-pack.pdf"))
    assert "Calm, purposeful lessons." in other_school and "Jordan" not in other_school  # the record, none of our pupils
    assert "POL-4412" not in other_school and "they are not shown to you" in other_school  # nor documents it may not read
    assert "0 placements listed (those whose records you may read, of 1 with this provider)" in other_school
    assert browser(app, "parent1").get(f"/providers/{provider_id}/evidence-pack.pdf").status_code == 404
    assert browser(app, "coord").get("/providers/999999/evidence-pack.pdf").status_code == 404
    assert "Evidence pack (PDF)" in browser(app, "coord").get(f"/providers/{provider_id}").get_data(as_text=True)


def test_R111_each_pack_printed_is_logged_with_who_what_and_when(app, world):
    iid, pid = world.placement()
    coord = browser(app, "coord")
    pages = len(_pages(coord.get(f"/placements/{iid}/evidence-pack.pdf")))
    _pages(browser(app, "tutor").get(f"/placements/{iid}/evidence-pack.pdf"))
    browser(app, "othercoord").get(f"/placements/{iid}/evidence-pack.pdf")  # refused: nothing disclosed, nothing logged
    with world.core.db.session(readonly=True) as s:
        logged = list(s.scalars(select(EvidencePack).order_by(EvidencePack.id)))
    assert [(p.kind, p.placement_id, p.produced_by_name, p.audience, p.pupils) for p in logged] == [
        ("placement", pid, "Coord", "school", 1), ("placement", pid, "Tutor", "provider", 1)]
    assert logged[0].pages == pages and logged[0].size_bytes > 1000 and logged[0].produced_at == at(12, 8, 0)
    page = coord.get(f"/placements/{iid}").get_data(as_text=True)
    assert "Packs printed (2 latest)" in page and "Tutor" in page and "provider's view" in page
    assert "Packs printed" not in browser(app, "tutor").get(f"/placements/{iid}").get_data(as_text=True)  # the log is the school's
