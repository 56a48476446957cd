"""Safeguarding through the product (R80, R81, R92, R111): raising a concern from the placement page or the API,
the DSL's child-protection file with grants, read log and export, and emergency removal from the placement page."""
import io
import re
from datetime import timedelta

from sqlalchemy import func, select

from apflow.placements.models import Concern
from apflow.services import notifications
from apflow.store.models import Document
from tests.support import browser, make_user, post

RESPOND = "Respond to the concern and review the placement"




def _nonce(page: str) -> str:
    return re.search(r'name="nonce" value="([^"]+)"', page).group(1)


def test_R80_a_tutor_raises_a_concern_from_the_placement_page_with_a_photo_and_the_dsl_is_told(app, core, running):
    life, iid, pid = running
    tutor = browser(app, "tutor")
    assert "Raise a safeguarding concern" in tutor.get(f"/placements/{iid}").get_data(as_text=True)
    page = tutor.get(f"/placements/{iid}/concern").get_data(as_text=True)
    data = {"csrf_token": tutor.csrf, "nonce": _nonce(page), "summary": "Upset and withdrawn after lunch.",
            "detail": "Said someone at home hurt him.", "child_protection": "true",
            "attachments": (io.BytesIO(b"%PDF-1.4 note"), "note.pdf", "application/pdf")}
    sent = tutor.post(f"/placements/{iid}/concern", data=data, content_type="multipart/form-data")
    assert sent.status_code == 302 and "designated safeguarding lead has been told" in tutor.get(sent.headers["Location"]).get_data(as_text=True)
    again = tutor.post(f"/placements/{iid}/concern", data={**data, "attachments": (io.BytesIO(b"%PDF"), "note.pdf", "application/pdf")},
                       content_type="multipart/form-data")
    assert again.status_code == 302
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Concern)) == 1  # a double submit raised it once
        [doc] = s.scalars(select(Document).where(Document.filename == "note.pdf")).all()
        assert doc.restricted
    assert life.names(iid) == [RESPOND]
    assert [n.kind for n in notifications.list_notifications(core, life.people["dsl"])] == ["task_alert"]
    assert "Said someone at home" not in tutor.get(f"/placements/{iid}").get_data(as_text=True)
    assert "note.pdf" not in browser(app, "coord").get(f"/placements/{iid}").get_data(as_text=True)
    dsl_file = browser(app, "dsl").get("/pupils/P-0001/child-protection").get_data(as_text=True)
    assert "Said someone at home hurt him." in dsl_file and "note.pdf" in dsl_file


def test_R80_a_parent_tells_the_school_in_plain_words_and_someone_with_no_part_is_refused(app, core, running):
    life, iid, pid = running
    make_user(core, "parent2", "parent")
    parent = browser(app, "parent1")
    page = parent.get(f"/placements/{iid}/concern").get_data(as_text=True)
    assert "What are you worried about?" in page and "child_protection" not in page
    sent = post(parent, f"/placements/{iid}/concern", {"nonce": _nonce(page), "summary": "He came home with a bruise."})
    assert sent.status_code == 302
    assert browser(app, "parent2").get(f"/placements/{iid}/concern").status_code == 404
    assert post(browser(app, "parent2"), f"/placements/{iid}/concern", {"summary": "Not my child at all."}).status_code == 404
    tutor = browser(app, "tutor")
    api = tutor.post(f"/api/v1/placements/{pid}/concerns", json={"summary": "Seen with an older youth at the gate."},
                     headers={"X-CSRF-Token": tutor.csrf})
    assert api.status_code == 201 and api.get_json()["dsl_told"] is True


def test_R81_R111_the_dsl_grants_a_colleague_until_a_date_and_every_reading_is_in_the_log(app, core, running):
    life, iid, pid = running
    post(browser(app, "tutor"), f"/placements/{iid}/concern", {"summary": "Disclosure in the workshop today.", "detail": "Exact words noted."})
    assert browser(app, "senco").get("/pupils/P-0001/child-protection").status_code == 404
    dsl = browser(app, "dsl")
    until = (life.clock.now() + timedelta(days=14)).date().isoformat()
    granted = post(dsl, "/pupils/P-0001/child-protection/grants", {"username": "senco", "reason": "Chairs the strategy meeting", "expires_on": until})
    assert granted.status_code == 302
    senco = browser(app, "senco")
    assert "Exact words noted." in senco.get("/pupils/P-0001/child-protection").get_data(as_text=True)
    exported = senco.get("/pupils/P-0001/child-protection/export")
    assert exported.headers["Content-Disposition"].startswith("attachment") and exported.get_json()["format"] == "apflow-child-protection-file/1"
    log = dsl.get("/pupils/P-0001/child-protection").get_data(as_text=True)
    assert "Opened the child-protection file" in log and "Exported the child-protection file" in log and "senco" in log
    life.clock.advance(timedelta(days=15))
    assert browser(app, "senco").get("/pupils/P-0001/child-protection").status_code == 404  # the grant has ended
    refused = post(dsl, "/pupils/P-0001/child-protection/grants", {"username": "parent1", "reason": "Wants to read it", "expires_on": until})
    assert refused.status_code == 302
    assert "granted only to staff" in dsl.get("/pupils/P-0001/child-protection").get_data(as_text=True)


def test_R92_the_coordinator_removes_the_pupil_now_and_monitoring_stops(app, core, running):
    life, iid, pid = running
    assert "Termly assessment against the plan" in life.names(iid)
    refused = post(browser(app, "senco"), f"/placements/{iid}/emergency-removal", {"reason": "Unsafe at the site."})
    assert refused.status_code == 302 and "Termly assessment against the plan" in life.names(iid)
    coordinator = browser(app, "coord")
    post(coordinator, f"/placements/{iid}/emergency-removal", {"reason": "The site was found unsafe this morning."})
    assert life.names(iid) == ["Remove the pupil from the placement now"]  # registers and reminders stopped
    life.do("Remove the pupil from the placement now", iid)
    from datetime import datetime, timezone

    from apflow.services import whereabouts
    life.clock.freeze(datetime(2026, 1, 12, 11, 0, tzinfo=timezone.utc))
    where = whereabouts.one_pupil(core, life.people["coordinator"], "P-0001")
    assert where["state"] == "removed" and "not at the provider" in where["words"]  # R62: whereabouts say so
    dsl_file = browser(app, "dsl").get("/pupils/P-0001/child-protection").get_data(as_text=True)
    assert "The site was found unsafe this morning." in dsl_file
    again = post(coordinator, f"/placements/{iid}/emergency-removal", {"reason": "Second attempt."})
    assert again.status_code == 302
    assert "not running" in coordinator.get(f"/placements/{iid}").get_data(as_text=True)


def test_R92_a_pupil_can_be_removed_while_the_placement_is_suspended_for_a_concern(app, core, running):
    life, iid, pid = running
    from apflow.services import safeguarding

    safeguarding.raise_concern(core, life.people["provider"], pid, "Worried about the pupil today.")
    life.do(RESPOND, iid, concern_action="suspend")
    safeguarding.start_emergency_removal(core, life.people["headteacher"], pid, "Police advise removal from this provider.")
    assert life.names(iid) == ["Remove the pupil from the placement now"]
